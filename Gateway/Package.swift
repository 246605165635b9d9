// swift-tools-version:6.1
import Foundation
import PackageDescription

// The Event Grid-style HTTP gateway over the bus: the EventBusGateway library and the `eventbus-gateway` executable,
// apart from the library package (its HTTP server and client stay out of a bus user's dependencies). Depends on the
// library by path; `make test` builds it into the repository's .build (one scratch directory for every package).

/// SwiftPM names a path dependency after its folder, which is whatever the repository was cloned as.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

let package = Package(
    name: "EventBusGateway",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "EventBusGateway", targets: ["EventBusGateway"]),
        .executable(name: "eventbus-gateway", targets: ["EventBusGatewayServer"]),
    ],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.0.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.21.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // Gateway: Event Grid-style HTTP publishing and webhook subscriptions over the bus. Never touches AMQP.
        .target(
            name: "EventBusGateway",
            dependencies: [
                .product(name: "EventBus", package: root),
                .product(name: "EventBusRabbitMQ", package: root),
                .product(name: "EventBusSQLite", package: root),
                .product(name: "EventBusPostgres", package: root),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // `eventbus-gateway`: runs the gateway (`serve`, the default) and lists its subscriptions (`subscriptions`).
        .executableTarget(
            name: "EventBusGatewayServer",
            dependencies: [
                "EventBusGateway",
                .product(name: "EventBus", package: root),
                .product(name: "EventBusRabbitMQ", package: root),
                .product(name: "EventBusSQLite", package: root),
                .product(name: "EventBusPostgres", package: root),
                .product(name: "AMQP", package: root),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The library's test helpers (Tests/TestSupport at the repository root, linked here).
        .target(
            name: "TestSupport",
            dependencies: [
                .product(name: "AMQP", package: root),
                .product(name: "EventBus", package: root),
                .product(name: "EventBusRabbitMQ", package: root),
                .product(name: "EventBusPostgres", package: root),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            path: "Tests/TestSupport"
        ),
        .testTarget(
            name: "EventBusGatewayTests",
            dependencies: [
                "EventBusGateway", "TestSupport",
                .product(name: "AMQP", package: root),
                .product(name: "EventBus", package: root),
                .product(name: "EventBusRabbitMQ", package: root),
                .product(name: "EventBusSQLite", package: root),
                .product(name: "EventBusPostgres", package: root),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
    ]
)
