/// The catalog's tables hold something they should not, or a page was asked for that cannot exist.
public enum CatalogStorageError: Error, CustomStringConvertible {
    /// A stored price is not a decimal number.
    case corruptPrice(String)
    /// A page was asked for that no catalog can have: a negative index or size, or one so far out that its first
    /// row's position overflows.
    case pageOutOfRange(index: Int, size: Int)

    public var description: String {
        switch self {
        case .corruptPrice(let text): "stored price '\(text)' is not a decimal number"
        case .pageOutOfRange(let index, let size): "page \(index) of \(size) items is out of range"
        }
    }
}
