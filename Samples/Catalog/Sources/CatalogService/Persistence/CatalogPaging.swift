/// Turns a page request into the SQL `LIMIT`/`OFFSET` both repositories use, without trapping on any input.
enum CatalogPaging {
    /// `(limit, offset)` for page `index` of `size` items. Throws ``CatalogStorageError/pageOutOfRange(index:size:)``
    /// when either is negative, the size is 0, or `index * size` overflows.
    static func window(index: Int, size: Int) throws -> (limit: Int, offset: Int) {
        let (offset, overflow) = index.multipliedReportingOverflow(by: size)
        guard index >= 0, size > 0, !overflow else { throw CatalogStorageError.pageOutOfRange(index: index, size: size) }
        return (size, offset)
    }
}
