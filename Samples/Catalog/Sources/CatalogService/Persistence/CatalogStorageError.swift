/// The catalog's tables hold something they should not.
public enum CatalogStorageError: Error, CustomStringConvertible {
    /// A stored price is not a decimal number.
    case corruptPrice(String)

    public var description: String {
        switch self {
        case .corruptPrice(let text): "stored price '\(text)' is not a decimal number"
        }
    }
}
