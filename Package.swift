// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "EventBus",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "AMQP", targets: ["AMQP"]),
        .library(name: "EventBus", targets: ["EventBus"]),
        .library(name: "EventBusRabbitMQ", targets: ["EventBusRabbitMQ"]),
        .executable(name: "eventbus-bench", targets: ["EventBusBench"]),
        .executable(name: "amqp-demo", targets: ["AMQPDemo"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.1.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
    ],
    targets: [
        // C: librabbitmq-c 0.11 from Debian.
        .systemLibrary(
            name: "CRabbitMQ",
            pkgConfig: "librabbitmq",
            providers: [.apt(["librabbitmq-dev", "libssl-dev"])]
        ),
        // AMQP: safe Swift over the C library. Nothing above this layer touches C.
        .target(
            name: "AMQP",
            dependencies: [
                "CRabbitMQ",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Core: events, codec, the EventBus protocol, policies, the delivery pipeline, store protocols,
        // in-memory implementations. Knows nothing of RabbitMQ.
        .target(
            name: "EventBus",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        // Transport: the bus on RabbitMQ, a swift-service-lifecycle Service.
        .target(
            name: "EventBusRabbitMQ",
            dependencies: [
                "AMQP",
                "EventBus",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The raw librabbitmq-c baseline the benchmark measures the Swift layers against.
        .target(name: "CRawBaseline", dependencies: ["CRabbitMQ"]),
        .executableTarget(
            name: "EventBusBench",
            dependencies: [
                "AMQP",
                "CRawBaseline",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "AMQPDemo",
            dependencies: [
                "AMQP",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Helpers shared by the test targets (running scripts, controlling the private broker).
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(
            name: "AMQPTests",
            dependencies: ["AMQP", "TestSupport"]
        ),
        .testTarget(
            name: "EventBusTests",
            dependencies: ["EventBus"]
        ),
        .testTarget(
            name: "EventBusRabbitMQTests",
            dependencies: ["EventBusRabbitMQ", "EventBus", "AMQP", "TestSupport", .product(name: "Logging", package: "swift-log")]
        ),
    ]
)
