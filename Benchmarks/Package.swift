// swift-tools-version:6.1
import Foundation
import PackageDescription

// The benchmark (`make bench`): the AMQP layer, the bus, the outbox and the gateway measured against raw
// librabbitmq-c (CRawBaseline) in the same run, and `amqp-demo`. Apart from the library package: a bus user never
// resolves it. Depends on the library and the gateway by path; built into the repository's .build.

/// SwiftPM names a path dependency after its folder, which is whatever the repository was cloned as.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

let package = Package(
    name: "EventBusBenchmarks",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "eventbus-bench", targets: ["EventBusBench"]),
        .executable(name: "amqp-demo", targets: ["AMQPDemo"]),
    ],
    dependencies: [
        .package(path: ".."),
        .package(path: "../Gateway"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.0.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.21.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        // The raw librabbitmq-c baseline the benchmark measures the Swift layers against (Debian's headers and library).
        .target(name: "CRawBaseline", linkerSettings: [.linkedLibrary("rabbitmq")]),
        .executableTarget(
            name: "EventBusBench",
            dependencies: [
                "CRawBaseline",
                .product(name: "AMQP", package: root),
                .product(name: "EventBus", package: root),
                .product(name: "EventBusRabbitMQ", package: root),
                .product(name: "EventBusSQLite", package: root),
                .product(name: "EventBusPostgres", package: root),
                .product(name: "EventBusGateway", package: "Gateway"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The AMQP layer alone: publish and consume a few messages.
        .executableTarget(
            name: "AMQPDemo",
            dependencies: [.product(name: "AMQP", package: root), .product(name: "Logging", package: "swift-log")]
        ),
    ]
)
