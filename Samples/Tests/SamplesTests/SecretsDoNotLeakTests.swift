import BasketService
import CatalogService
import EventBus
import EventBusPostgres
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import SampleSupport
import Synchronization
import TestSupport
import Testing

/// A broker user whose password holds every character that ends a URL part (`/ ? # @ : %` and a backtick) runs both
/// samples and the CLI, and fails them in every way a user can: the password, raw or percent-encoded, or any piece of
/// it, appears in no log line, metric, HTTP response, CLI output or error description.
@Suite("Secrets do not leak", .timeLimit(.minutes(5)))
struct SecretsDoNotLeakTests {
    @Test func brokerAndDatabasePasswordsAppearInNoLogMetricResponseOutputOrError() async throws {
        let secret = Secret()
        let user = SamplesEnvironment.unique("secrets")
        try await BrokerControl.run(["ctl", "add_user", user, secret.password])
        do {
            try await BrokerControl.run(["ctl", "set_permissions", "-p", "/", user, ".*", ".*", ".*"])
            try await runEverything(secret: secret, user: user)
        } catch {
            _ = try? await BrokerControl.run(["ctl", "delete_user", user])
            throw error
        }
        try await BrokerControl.run(["ctl", "delete_user", user])
    }

    func runEverything(secret: Secret, user: String) async throws {
        let world = SampleWorld()
        let capture = FullLogCapture()
        let seen = Corpus()
        let port = TestEnvironment.brokerPort
        let brokerURL = "amqp://\(user):\(secret.encoded)@127.0.0.1:\(port)/"
        let rawBrokerURL = "amqp://\(user):\(secret.password)@127.0.0.1:\(port)/"
        let wrongBrokerURL = "amqp://\(user):\(secret.encoded)Wrong@127.0.0.1:\(port)/"
        // The test server trusts loopback logins, so the database takes the password and ignores it.
        let databaseName = "catalog_\(world.id)"
        let databaseURL = try Self.withPassword(try await TemporaryPostgresDatabase.create(databaseName), secret.encoded)
        let rawDatabaseURL = databaseURL.replacingOccurrences(of: secret.encoded, with: secret.password)

        // Both services on the secret broker URL, the catalog on PostgreSQL with the secret in DATABASE_URL.
        var catalogConfiguration = world.catalog(.postgres(url: databaseURL))
        catalogConfiguration.eventBusURL = brokerURL
        catalogConfiguration.logLevel = .trace
        var basketConfiguration = world.basket(.sqlite(path: try SamplesEnvironment.sqlitePath("basket")))
        basketConfiguration.eventBusURL = brokerURL
        basketConfiguration.logLevel = .trace
        let catalog = try await buildCatalogApplication(
            configuration: catalogConfiguration, outboxRelay: SampleWorld.quickRelay, logger: capture.logger("catalog"))
        let basket = try await buildBasketApplication(
            configuration: basketConfiguration, retryPolicy: SampleWorld.quickRetries, logger: capture.logger("basket"))
        try await basket.test(.router) { basket in
            try await basket.waitUntilHealthy()
            seen.add(try await basket.send(.post, "/api/v1/basket", json: basketJSON(buyer: "alice", quantity: 2)))
            try await catalog.test(.router) { catalog in
                try await catalog.waitUntilHealthy()
                let changed = try await catalog.send(.put, "/api/v1/catalog/items", json: #"{"id": 1, "price": 17.25}"#)
                #expect(changed.status == .ok)
                seen.add(changed)
                for uri in ["/health", "/metrics", "/api/v1/catalog/items", "/api/v1/catalog/items/1", "/api/v1/catalog/items/99",
                            "/api/v1/catalog/items?pageIndex=9223372036854775807"] {
                    seen.add(try await catalog.execute(uri: uri, method: .get))
                }
                do {
                    try await eventually("alice's line has the new price") {
                        try await basket.get("/api/v1/basket/alice", as: CustomerBasket.self).items.first?.unitPrice == Decimal(string: "17.25")
                    }
                } catch {
                    let warnings = capture.lines.filter { !$0.hasPrefix("trace") && !$0.hasPrefix("debug") && !$0.hasPrefix("info") }
                    Issue.record("warnings and errors logged so far:\n\(warnings.suffix(40).joined(separator: "\n"))")
                    throw error
                }
                seen.add(try await catalog.execute(uri: "/metrics", method: .get))
            }
            for uri in ["/health", "/metrics", "/api/v1/basket/alice", "/basket/alice"] {
                seen.add(try await basket.execute(uri: uri, method: .get))
            }
            seen.add(try await basket.send(.post, "/api/v1/basket", json: "{"))
        }

        // A wrong password: the services start, cannot connect, and say so.
        var wrongConfiguration = world.catalog(.sqlite(path: try SamplesEnvironment.sqlitePath("catalog-wrong")))
        wrongConfiguration.eventBusURL = wrongBrokerURL
        let wrong = try await buildCatalogApplication(configuration: wrongConfiguration, logger: capture.logger("catalog-wrong"))
        try await wrong.test(.router) { wrong in
            try await eventually("the catalog logs that it cannot connect") {
                capture.lines.contains { $0.contains("catalog-wrong") && $0.contains("cannot connect") }
            }
            let health = try await wrong.execute(uri: "/health", method: .get)
            #expect(health.status == .serviceUnavailable)
            seen.add(health)
        }

        // Malformed URLs, with the raw password in them: every error says what is wrong and quotes nothing of it.
        var rawConfiguration = world.catalog(.sqlite(path: try SamplesEnvironment.sqlitePath("catalog-raw")))
        rawConfiguration.eventBusURL = rawBrokerURL
        await seen.addError { _ = try await buildCatalogApplication(configuration: rawConfiguration, logger: capture.logger("catalog-raw")) }
        await seen.addError { _ = try rawConfiguration.busConfiguration() }
        await seen.addError { _ = try PostgresEventStore.clientConfiguration(url: rawDatabaseURL) }
        await seen.addError {
            _ = try await buildBasketApplication(
                configuration: world.basket(try DatabaseLocation(rawDatabaseURL)), logger: capture.logger("basket-raw"))
        }
        seen.add(try DatabaseLocation(rawDatabaseURL).description)
        seen.add(try DatabaseLocation(databaseURL).description)
        #expect(seen.errors.count == 4, "\(seen.errors)")

        // The executables, as an operator runs them.
        let products = try Self.productsDirectory()
        let sqlite = try SamplesEnvironment.sqlitePath("exe")
        let catalogRun = try await runProgram(products + "/catalog", [], environment: [
            "EVENTBUS_URL": rawBrokerURL, "DATABASE_URL": sqlite, "PORT": "0", "SERVICE_NAME": world.catalogService,
        ])
        #expect(catalogRun.status != 0, "\(catalogRun.output)")
        let basketRun = try await runProgram(products + "/basket", ["--database-url", rawDatabaseURL, "--eventbus-url", brokerURL, "--port", "0"])
        #expect(basketRun.status != 0, "\(basketRun.output)")
        seen.add(catalogRun.output)
        seen.add(basketRun.output)

        // The CLI: commands that work (the event goes to the stopped basket's queue), and the same with a wrong or
        // malformed URL.
        let cli = products + "/eventbus"
        let event = #"{"Id":"\#(UUID().uuidString.lowercased())","ProductId":99,"NewPrice":1,"OldPrice":2}"#
        let published = try await runProgram(
            cli, ["publish", "--exchange", world.exchange, "--type", "ProductPriceChangedIntegrationEvent", event, "--url", brokerURL])
        #expect(published.status == 0 && published.output.contains("confirmed"), "\(published.output)")
        let topology = try await runProgram(cli, ["topology", "show", "--queue", world.basketService, "--url", brokerURL])
        #expect(topology.status == 0, "\(topology.output)")
        let deadLetters = try await runProgram(cli, ["dead-letters", "list", "--queue", world.basketService, "--url", brokerURL])
        #expect(deadLetters.status == 0, "\(deadLetters.output)")
        let outbox = try await runProgram(cli, ["outbox", "status", "--postgres", databaseURL])
        #expect(outbox.status == 0, "\(outbox.output)")
        let refused = try await runProgram(
            cli, ["publish", "--exchange", world.exchange, "--type", "ProductPriceChangedIntegrationEvent", event, "--url", wrongBrokerURL])
        #expect(refused.status != 0, "\(refused.output)")
        let malformed = try await runProgram(cli, ["topology", "show", "--queue", world.basketService, "--url", rawBrokerURL])
        #expect(malformed.status != 0, "\(malformed.output)")
        let badDatabase = try await runProgram(cli, ["outbox", "status", "--postgres", rawDatabaseURL])
        #expect(badDatabase.status != 0, "\(badDatabase.output)")
        for result in [published, topology, deadLetters, outbox, refused, malformed, badDatabase] { seen.add(result.output) }

        // Everything was really produced: the masked URLs, the connection failures, the metrics.
        let logs = capture.lines
        #expect(logs.count > 50, "\(logs.count) log lines")
        #expect(logs.contains { $0.contains("catalog configured") && $0.contains("postgres://eventbus:***@") }, "the database URL is logged, masked")
        #expect(seen.texts.contains { $0.contains("eventbus_published_total") }, "the metrics were read")
        #expect((seen.texts + seen.errors).contains { $0.contains("\(user):***@") }, "an error quotes the broker URL, masked")
        for text in logs + seen.texts + seen.errors {
            #expect(secret.leaks(in: text).isEmpty, "leaks \(secret.leaks(in: text)) in: \(text.prefix(2_000))")
        }

        try await TemporaryPostgresDatabase.drop(databaseName)
        await world.cleanUp()
    }

    /// `url` (`postgres://user@host/db`) with `encodedPassword` added.
    static func withPassword(_ url: String, _ encodedPassword: String) throws -> String {
        guard var components = URLComponents(string: url) else { throw PostgresTestError("not a URL: \(url)") }
        components.percentEncodedPassword = encodedPassword
        guard let text = components.string else { throw PostgresTestError("cannot add a password to \(url)") }
        return text
    }

    /// Where the build put the executables (beside the test bundle): `catalog`, `basket` and the library's `eventbus`.
    static func productsDirectory() throws -> String {
        URL(fileURLWithPath: try BuiltExecutable.path("catalog")).deletingLastPathComponent().path
    }
}

/// A password with `/ ? # @ : %` and a backtick between seven random pieces; a leak of any piece counts.
struct Secret {
    let pieces: [String] = (0..<7).map { "Sec\($0)x\(String(UInt32.random(in: 0x1000_0000...UInt32.max), radix: 16))" }
    var password: String { "\(pieces[0])/\(pieces[1])?\(pieces[2])#\(pieces[3])@\(pieces[4]):\(pieces[5])%`\(pieces[6])" }
    /// The password as a URL carries it: everything but letters and digits percent-encoded.
    var encoded: String { password.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "" }

    /// What of the password (raw, encoded, or a piece) `text` holds.
    func leaks(in text: String) -> [String] {
        ([password, encoded, encoded.lowercased()] + pieces).filter { text.contains($0) }
    }
}

/// Everything a user could read: HTTP responses (status, headers, body), outputs and error descriptions.
final class Corpus: Sendable {
    private let state = Mutex<(texts: [String], errors: [String])>(([], []))

    var texts: [String] { state.withLock { $0.texts } }
    var errors: [String] { state.withLock { $0.errors } }

    func add(_ text: String) { state.withLock { $0.texts.append(text) } }

    func add(_ response: TestResponse) {
        add("\(response.status) \(response.headers) \(String(buffer: response.body))")
    }

    /// Runs `body`, which must fail, and keeps every description of its error.
    func addError(sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void) async {
        do {
            try await body()
            Issue.record("expected an error", sourceLocation: sourceLocation)
        } catch {
            let text = "\(error) | \(String(reflecting: error)) | \(error.localizedDescription)"
            state.withLock { $0.errors.append(text) }
        }
    }
}

/// Every log record in full: level, label, message, metadata (the logger's and the call's), error and source.
final class FullLogCapture: Sendable {
    private let records = Mutex<[String]>([])

    var lines: [String] { records.withLock { $0 } }

    /// A trace-level logger whose records land here.
    func logger(_ label: String) -> Logger {
        var logger = Logger(label: label) { label in Handler(label: label, capture: self) }
        logger.logLevel = .trace
        return logger
    }

    private struct Handler: LogHandler {
        let label: String
        let capture: FullLogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let fields = metadata.merging(event.metadata ?? [:]) { $1 }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            let line = "\(event.level) \(label) \(event.message) \(fields.joined(separator: " ")) \(event.error.map { "\($0)" } ?? "") \(event.source)"
            capture.records.withLock { $0.append(line) }
        }
    }
}
