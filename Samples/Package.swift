// swift-tools-version:6.1
import Foundation
import PackageDescription

// The samples: Catalog and Basket, the ProductPriceChanged flow end to end (each service a library tested in process
// and a thin executable), apart from the library package so that their web framework and metrics exporter stay out
// of a bus user's dependencies. Depends on the library by path; `make test` builds it into the repository's .build.

/// SwiftPM names a path dependency after its folder, which is whatever the repository was cloned as.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

let library: [Target.Dependency] = [
    .product(name: "AMQP", package: root),
    .product(name: "EventBus", package: root),
    .product(name: "EventBusRabbitMQ", package: root),
    .product(name: "EventBusSQLite", package: root),
    .product(name: "EventBusPostgres", package: root),
]

let package = Package(
    name: "EventBusSamples",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "catalog", targets: ["Catalog"]),
        .executable(name: "basket", targets: ["Basket"]),
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
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.0"),
        // OTLP over HTTP only: the gRPC exporter (the other default trait) would add gRPC to the build.
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
    ],
    targets: [
        // What both services share: configuration, database, HTTP, lifecycle, metrics, money.
        .target(
            name: "SampleSupport",
            dependencies: library + [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "OTel", package: "swift-otel"),
            ],
            path: "SampleSupport"
        ),
        .target(name: "CatalogService", dependencies: ["SampleSupport"], path: "Catalog/Sources/CatalogService"),
        .executableTarget(
            name: "Catalog",
            dependencies: ["CatalogService", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Catalog/Sources/Catalog"
        ),
        .target(name: "BasketService", dependencies: ["SampleSupport"], path: "Basket/Sources/BasketService"),
        .executableTarget(
            name: "Basket",
            dependencies: ["BasketService", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Basket/Sources/Basket"
        ),
        // The library's test helpers (Tests/TestSupport at the repository root, linked here).
        .target(
            name: "TestSupport",
            dependencies: library + [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            path: "Tests/TestSupport"
        ),
        .testTarget(
            name: "SamplesTests",
            dependencies: library + [
                "CatalogService", "BasketService", "SampleSupport", "TestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
            ]
        ),
    ]
)
