import Foundation

/// An event one service publishes for others: something that happened, with the data they need.
///
/// ```swift
/// struct ProductPriceChangedIntegrationEvent: IntegrationEvent {
///     var id = UUID.newEventID()  // like UUID(), several times cheaper on Linux
///     var creationDate = Date()
///     var productId: Int
///     var newPrice: Decimal
///     var oldPrice: Decimal
/// }
/// ```
///
/// On the wire the body is the event as JSON; the routing key and the `type` property are ``eventTypeName``,
/// which defaults to the Swift type's name so that it matches eShop's .NET class names.
public protocol IntegrationEvent: Codable, Sendable {
    /// Unique id of this event; consumers deduplicate on it.
    var id: UUID { get }
    /// When the event happened; the event time-to-live counts from here.
    var creationDate: Date { get }
    /// The event type on the wire. Defaults to the type's name, e.g. `ProductPriceChangedIntegrationEvent`.
    static var eventTypeName: String { get }
}

extension IntegrationEvent {
    public static var eventTypeName: String { String(describing: Self.self) }
}
