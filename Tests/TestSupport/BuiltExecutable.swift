import Foundation

/// The executables the build put beside the test executable: `make test` builds every package into one scratch
/// directory, so `eventbus`, `eventbus-gateway`, `catalog` and `basket` sit next to each test bundle.
public enum BuiltExecutable {
    /// The path of executable `name`; the environment variable `override` (when set and not empty) replaces it.
    public static func path(_ name: String, override: String? = nil) throws -> String {
        if let override, let path = TestEnvironment.environment[override], !path.isEmpty { return path }
        #if os(macOS)
        let products = Bundle.allBundles.first { $0.bundlePath.hasSuffix(".xctest") }?.bundleURL.deletingLastPathComponent()
        #else
        let products = Bundle.main.executableURL?.resolvingSymlinksInPath().deletingLastPathComponent()
        #endif
        guard let path = products?.appendingPathComponent(name).path, FileManager.default.isExecutableFile(atPath: path) else {
            throw Missing(name: name, directory: products?.path ?? "?", override: override)
        }
        return path
    }

    /// No such executable beside the tests.
    public struct Missing: Error, CustomStringConvertible {
        public let name: String
        public let directory: String
        public let override: String?
        public var description: String {
            "no \(name) executable in \(directory): build every package first (`make test` does)"
                + (override.map { " or set \($0)" } ?? "")
        }
    }
}

extension ProgramResult {
    /// Whether the program failed (a non-zero status).
    public var failed: Bool { status != 0 }
}
