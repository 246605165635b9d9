// A service on a three-node RabbitMQ cluster: every node in the URL, quorum queues.

// snippet.hide
import EventBus
import EventBusRabbitMQ

// snippet.show
func clusterConfiguration() throws -> RabbitMQEventBusConfiguration {
    var configuration = try RabbitMQEventBusConfiguration(
        url: "amqp://basket:secret@rabbit1:5672,rabbit2:5672,rabbit3:5672/?heartbeat=10",
        serviceName: "basket")
    configuration.queueType = .quorum    // the service queue, its retry queues and its dead-letter queue
    return configuration
}
