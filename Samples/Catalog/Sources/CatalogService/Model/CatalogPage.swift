/// One page of catalog items, in eShop's shape: `{"pageIndex": 0, "pageSize": 10, "count": 12, "data": […]}`.
public struct CatalogPage: Codable, Sendable, Hashable {
    /// The 0-based page number.
    public var pageIndex: Int
    /// Items per page.
    public var pageSize: Int
    /// How many items the whole catalog has.
    public var count: Int
    /// This page's items, by id.
    public var data: [CatalogItem]

    /// Creates a page.
    public init(pageIndex: Int, pageSize: Int, count: Int, data: [CatalogItem]) {
        self.pageIndex = pageIndex
        self.pageSize = pageSize
        self.count = count
        self.data = data
    }
}
