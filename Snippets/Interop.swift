// Interoperating with .NET and Python services: type names, key style, and events without a Swift type.

// snippet.hide
import EventBus
import EventBusRabbitMQ
import Foundation

// snippet.show
// snippet.event
struct OrderStartedIntegrationEvent: IntegrationEvent {
    // The .NET class is Ordering.API's OrderStartedIntegrationEvent: same name, so nothing to set.
    var id = UUID()
    var creationDate = Date()
    var userId: String
}

struct PriceChanged: IntegrationEvent {
    static let eventTypeName = "ProductPriceChangedIntegrationEvent"    // the name on the wire
    var id = UUID()
    var creationDate = Date()
    var productId: Int
    var newPrice: Decimal
    var oldPrice: Decimal
}
// snippet.end

// snippet.eshop
func eShopConfiguration(url: String) throws -> RabbitMQEventBusConfiguration {
    var configuration = try RabbitMQEventBusConfiguration(url: url, serviceName: "Basket")
    configuration.exchange = "eshop_event_bus"    // eShop's exchange: direct, not durable
    configuration.exchangeDurable = false
    configuration.codec = EventCodec(keyStyle: .pascalCase)    // ProductId, NewPrice, ... in what this service publishes
    return configuration
}
// snippet.end

// snippet.raw
func subscribeWithoutSwiftType(bus: RabbitMQEventBus) async throws {
    try await bus.subscribe(eventType: "OrderPaymentSucceededIntegrationEvent") { event, context in
        let body = try JSONSerialization.jsonObject(with: event.payload) as? [String: Any]
        print(event.id, event.source ?? "-", context.headers[EventHeaders.time] ?? "-", body?["OrderId"] ?? "-")
    }
}
// snippet.end
