import Foundation

/// The items a new catalog starts with: eShop's twelve.
public enum CatalogSeed {
    /// Twelve items, ids 1…12.
    public static let items: [CatalogItem] = [
        (".NET Bot Black Hoodie", "A black hoodie with the .NET bot", "19.50"),
        (".NET Black & White Mug", "A mug for your morning coffee", "8.50"),
        ("Prism White T-Shirt", "A white T-shirt with the Prism logo", "12"),
        (".NET Foundation T-shirt", "The .NET Foundation's T-shirt", "12"),
        ("Roslyn Red Sheet", "A red sheet with the Roslyn logo", "8.50"),
        (".NET Blue Hoodie", "A blue hoodie for .NET developers", "12"),
        ("Roslyn Red T-Shirt", "A red T-shirt with the Roslyn logo", "12"),
        ("Kudu Purple Hoodie", "A purple hoodie with the Kudu logo", "8.50"),
        ("Cup<T> White Mug", "A white mug for generic coffee", "12"),
        (".NET Foundation Sheet", "A sheet with the .NET Foundation logo", "12"),
        ("Cup<T> Sheet", "A sheet for generic paper work", "8.50"),
        ("Prism White TShirt", "Another white T-shirt with the Prism logo", "12"),
    ].enumerated().map { index, item in
        CatalogItem(id: index + 1, name: item.0, description: item.1, price: Decimal(string: item.2) ?? 0)
    }
}
