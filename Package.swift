// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "EventBus",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "AMQP", targets: ["AMQP"]),
        .library(name: "EventBus", targets: ["EventBus"]),
        .library(name: "EventBusRabbitMQ", targets: ["EventBusRabbitMQ"]),
        .library(name: "EventBusSQLite", targets: ["EventBusSQLite"]),
        .library(name: "EventBusPostgres", targets: ["EventBusPostgres"]),
        .executable(name: "eventbus-bench", targets: ["EventBusBench"]),
        .executable(name: "eventbus", targets: ["EventBusCLI"]),
        .executable(name: "catalog", targets: ["Catalog"]),
        .executable(name: "basket", targets: ["Basket"]),
        .executable(name: "amqp-demo", targets: ["AMQPDemo"]),
        .library(name: "EventBusGateway", targets: ["EventBusGateway"]),
        .executable(name: "eventbus-gateway", targets: ["EventBusGatewayServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.0.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.21.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
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
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
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
        // Stores: the outbox (integration event log) and processed-message store on SQLite and PostgreSQL.
        .target(
            name: "EventBusSQLite",
            dependencies: [
                "EventBus",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "EventBusPostgres",
            dependencies: [
                "EventBus",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Samples: the ProductPriceChanged flow (DESIGN section 9). Each service is a library (tested in process)
        // and a thin executable.
        .target(
            name: "SampleSupport",
            dependencies: [
                "EventBus", "EventBusRabbitMQ", "EventBusSQLite", "EventBusPostgres",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Samples/SampleSupport"
        ),
        .target(name: "CatalogService", dependencies: ["SampleSupport"], path: "Samples/Catalog/Sources/CatalogService"),
        .executableTarget(
            name: "Catalog",
            dependencies: ["CatalogService", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Samples/Catalog/Sources/Catalog"
        ),
        .target(name: "BasketService", dependencies: ["SampleSupport"], path: "Samples/Basket/Sources/BasketService"),
        .executableTarget(
            name: "Basket",
            dependencies: ["BasketService", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Samples/Basket/Sources/Basket"
        ),
        // Tools: the operator CLI.
        .executableTarget(
            name: "EventBusCLI",
            dependencies: [
                "AMQP", "EventBus", "EventBusRabbitMQ", "EventBusSQLite", "EventBusPostgres", "EventBusGateway",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        // The raw librabbitmq-c baseline the benchmark measures the Swift layers against.
        .target(name: "CRawBaseline", dependencies: ["CRabbitMQ"]),
        .executableTarget(
            name: "EventBusBench",
            dependencies: [
                "AMQP",
                "CRawBaseline",
                "EventBus",
                "EventBusRabbitMQ",
                "EventBusSQLite",
                "EventBusPostgres",
                "EventBusGateway",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .executableTarget(
            name: "AMQPDemo",
            dependencies: [
                "AMQP",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Gateway: Event Grid-style HTTP publishing and webhook subscriptions over the bus (issue 18). Never touches AMQP.
        .target(
            name: "EventBusGateway",
            dependencies: [
                "EventBus", "EventBusRabbitMQ", "EventBusSQLite", "EventBusPostgres",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "EventBusGatewayServer",
            dependencies: [
                "EventBusGateway",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Helpers shared by the test targets (running scripts, controlling the private broker).
        .target(
            name: "TestSupport",
            dependencies: [
                "AMQP", "EventBus", "EventBusRabbitMQ", "EventBusPostgres", .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            path: "Tests/TestSupport"
        ),
        .testTarget(
            name: "AMQPTests",
            dependencies: ["AMQP", "TestSupport"]
        ),
        .testTarget(
            name: "EventBusTests",
            dependencies: ["EventBus"]
        ),
        .testTarget(
            name: "EventBusSQLiteTests",
            dependencies: [
                "EventBusSQLite", "EventBus", "EventBusRabbitMQ", "TestSupport", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "EventBusPostgresTests",
            dependencies: ["EventBusPostgres", "EventBus", "EventBusRabbitMQ", "TestSupport", .product(name: "PostgresNIO", package: "postgres-nio")]
        ),
        .testTarget(
            name: "SamplesTests",
            dependencies: [
                "CatalogService", "BasketService", "SampleSupport", "EventBus", "EventBusRabbitMQ", "TestSupport",
                "AMQP", "EventBusPostgres", .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        .testTarget(
            name: "EventBusRabbitMQTests",
            dependencies: [
                "EventBusRabbitMQ", "EventBus", "AMQP", "TestSupport", .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ]
        ),
        .testTarget(
            name: "EventBusGatewayTests",
            dependencies: [
                "EventBusGateway", "EventBus", "EventBusRabbitMQ", "EventBusSQLite", "EventBusPostgres", "TestSupport", "AMQP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Runs the built `eventbus` executable (`swift build --build-tests` builds it) against the broker.
        .testTarget(
            name: "EventBusCLITests",
            dependencies: [
                "AMQP", "EventBus", "EventBusRabbitMQ", "EventBusSQLite", "EventBusPostgres", "EventBusGateway", "TestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
    ]
)
