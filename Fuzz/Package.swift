// swift-tools-version:6.1
import Foundation
import PackageDescription

// libFuzzer entry points for the two decoders that read what arrives from outside, built apart from the main package
// (`make fuzz`, into .build-fuzz) so that the sanitizer flags never touch its build.

/// SwiftPM names a path dependency after its folder, which is whatever the repository was cloned as.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

/// libFuzzer supplies `main`.
let entryPoint: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

let package = Package(
    name: "EventBusFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: "..")],
    targets: [
        .executableTarget(
            name: "FuzzEventCodec",
            dependencies: [.product(name: "EventBus", package: root)],
            swiftSettings: entryPoint
        ),
        .executableTarget(
            name: "FuzzInboundDecoder",
            dependencies: [.product(name: "EventBus", package: root), .product(name: "EventBusRabbitMQ", package: root), .product(name: "AMQP", package: root)],
            swiftSettings: entryPoint
        ),
    ]
)
