import AMQP
import ArgumentParser
import EventBus
import Foundation

/// `eventbus publish`: publishes one event (JSON) with the bus's wire format, confirmed.
struct Publish: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Publish one event (confirmed, persistent, mandatory).")

    @OptionGroup var broker: BrokerOptions
    @Option(help: "Exchange.") var exchange = "event_bus"
    @Option(help: "Event type name (routing key).") var type: String
    @Option(help: "Event id (default: the body's Id/id, else a new UUID).") var id: String?
    @Option(help: "Source (app_id / cloudEvents_source).") var source = "eventbus-cli"
    @Argument(help: "The event body as JSON.") var json: String

    /// Checked before anything connects, so the error shows this command's usage.
    func validate() throws {
        guard (try? JSONSerialization.jsonObject(with: Data(json.utf8))) != nil else {
            throw ValidationError("the body is not valid JSON")
        }
    }

    func run() async throws {
        let body = Data(json.utf8)
        let eventID = id ?? EventCodec().bodyID(body) ?? UUID().uuidString.lowercased()
        let connection = try await broker.connect("publish")
        let channel = try await connection.openChannel()
        try await channel.confirmSelect()
        try await channel.publish(
            body, exchange: exchange, routingKey: type, mandatory: true,
            properties: AMQPProperties(
                contentType: "application/json",
                headers: ["cloudEvents_specversion": "1.0", "cloudEvents_id": .string(eventID), "cloudEvents_type": .string(type),
                          "cloudEvents_source": .string(source), "cloudEvents_time": .string(EventDate.format(Date()))],
                deliveryMode: .persistent, messageID: eventID, timestamp: Date(), type: type, appID: source))
        print("published \(type) \(eventID) to \(exchange): confirmed")
        await connection.close()
    }
}
