// swift-tools-version:6.1
import PackageDescription

// The library: the AMQP layer, the bus, its RabbitMQ transport and the two stores, the `eventbus` operator CLI and
// their tests. What a user's package resolves is this manifest's dependencies only. The HTTP gateway (Gateway/),
// the samples (Samples/), the benchmark (Benchmarks/) and the fuzzers (Fuzz/) are packages of their own that depend
// on this one by path, so their dependencies (Hummingbird, swift-prometheus, async-http-client...) stay theirs.

let package = Package(
    name: "EventBus",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "AMQP", targets: ["AMQP"]),
        .library(name: "EventBus", targets: ["EventBus"]),
        .library(name: "EventBusRabbitMQ", targets: ["EventBusRabbitMQ"]),
        .library(name: "EventBusSQLite", targets: ["EventBusSQLite"]),
        .library(name: "EventBusPostgres", targets: ["EventBusPostgres"]),
        .executable(name: "eventbus", targets: ["EventBusCLI"]),
    ],
    // A user of one store can leave the other out, with its dependencies (postgres-nio and the swift-nio stack,
    // or GRDB): `.package(url: ..., from: ..., traits: ["SQLite"])`. Both are on by default.
    traits: [
        .trait(name: "SQLite", description: "The SQLite store (EventBusSQLite, on GRDB)."),
        .trait(name: "PostgreSQL", description: "The PostgreSQL store (EventBusPostgres, on postgres-nio)."),
        .default(enabledTraits: ["SQLite", "PostgreSQL"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.0.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.21.0"),
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
                .product(name: "GRDB", package: "GRDB.swift", condition: .when(traits: ["SQLite"])),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "EventBusPostgres",
            dependencies: [
                "EventBus",
                .product(name: "PostgresNIO", package: "postgres-nio", condition: .when(traits: ["PostgreSQL"])),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Tools: the operator CLI.
        .executableTarget(
            name: "EventBusCLI",
            dependencies: [
                "AMQP", "EventBus", "EventBusRabbitMQ", "EventBusSQLite", "EventBusPostgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "PostgresNIO", package: "postgres-nio", condition: .when(traits: ["PostgreSQL"])),
            ]
        ),
        // Helpers shared by the test targets (running scripts, controlling the private broker).
        .target(
            name: "TestSupport",
            dependencies: [
                "AMQP", "EventBus", "EventBusRabbitMQ", "EventBusPostgres", .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio", condition: .when(traits: ["PostgreSQL"])),
            ],
            path: "Tests/TestSupport"
        ),
        .testTarget(
            name: "AMQPTests",
            dependencies: ["AMQP", "TestSupport"]
        ),
        .testTarget(
            name: "EventBusTests",
            dependencies: ["EventBus", "TestSupport"]
        ),
        .testTarget(
            name: "EventBusSQLiteTests",
            dependencies: [
                "EventBusSQLite", "EventBus", "EventBusRabbitMQ", "TestSupport", .product(name: "GRDB", package: "GRDB.swift", condition: .when(traits: ["SQLite"])),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "EventBusPostgresTests",
            dependencies: ["EventBusPostgres", "EventBus", "EventBusRabbitMQ", "TestSupport", .product(name: "PostgresNIO", package: "postgres-nio", condition: .when(traits: ["PostgreSQL"]))]
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
        // Runs the built `eventbus` executable (`swift build --build-tests` builds it) against the broker.
        .testTarget(
            name: "EventBusCLITests",
            dependencies: [
                "AMQP", "EventBus", "EventBusRabbitMQ", "EventBusSQLite", "EventBusPostgres", "TestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio", condition: .when(traits: ["PostgreSQL"])),
            ]
        ),
    ]
)
