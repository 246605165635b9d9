import BasketService
import EventBusPostgres
import Foundation
import SampleSupport
import Testing

@Suite("Sample configuration and rules")
struct SampleConfigurationTests {
    @Test func environmentVariablesConfigureTheService() throws {
        let configuration = try SampleConfiguration(
            environment: [
                "EVENTBUS_URL": "amqp://u:p@broker:5672/", "DATABASE_URL": "postgres://app:secret@db:5432/basket", "PORT": "8080",
                "SERVICE_NAME": "Basket", "EVENTBUS_EXCHANGE": "eshop_event_bus", "EVENTBUS_EXCHANGE_TYPE": "direct",
                "EVENTBUS_QUEUE": "Basket", "HOST": "0.0.0.0", "LOG_LEVEL": "debug",
            ],
            defaultServiceName: "basket", defaultPort: 5103)
        #expect(configuration.port == 8080)
        #expect(configuration.host == "0.0.0.0")
        #expect(configuration.serviceName == "Basket")
        #expect(configuration.database == .postgres(url: "postgres://app:secret@db:5432/basket"))
        #expect(configuration.database.description == "postgres://app:***@db:5432/basket", "no password in logs")
        #expect(configuration.exchangeDurable == false, "eShop declares its exchange non-durable")
        let bus = try configuration.busConfiguration()
        #expect(bus.exchange == "eshop_event_bus")
        #expect(bus.queue == "Basket")
        #expect(bus.exchangeDurable == false)
    }

    @Test func defaultsSuitALocalRun() throws {
        let configuration = try SampleConfiguration(environment: [:], defaultServiceName: "catalog", defaultPort: 5101)
        #expect(configuration.port == 5101)
        #expect(configuration.database == .sqlite(path: "catalog.sqlite"))
        #expect(configuration.exchange == "event_bus")
        #expect(configuration.exchangeDurable)
        #expect(configuration.queueName == nil)
    }

    @Test func invalidValuesAreRejectedWithTheVariableName() {
        #expect(throws: (any Error).self) { try SampleConfiguration(environment: ["PORT": "http"], defaultServiceName: "c", defaultPort: 1) }
        #expect(throws: (any Error).self) { try SampleConfiguration(environment: ["PORT": "70000"], defaultServiceName: "c", defaultPort: 1) }
        #expect(throws: (any Error).self) {
            try SampleConfiguration(environment: ["EVENTBUS_EXCHANGE_TYPE": "headers"], defaultServiceName: "c", defaultPort: 1)
        }
        #expect(throws: (any Error).self) { try SampleConfiguration(environment: ["LOG_LEVEL": "loud"], defaultServiceName: "c", defaultPort: 1) }
    }

    @Test func queueTypeIsClassicUnlessQuorumIsAskedForAndABadValueNamesTheVariable() throws {
        let classic = try SampleConfiguration(environment: [:], defaultServiceName: "basket", defaultPort: 5103)
        #expect(classic.queueType == .classic)
        #expect(try classic.busConfiguration().queueType == .classic)
        let quorum = try SampleConfiguration(
            environment: ["EVENTBUS_QUEUE_TYPE": " Quorum ", "EVENTBUS_URL": "amqp://u:p@n1:5672,n2:5672,n3:5672/"],
            defaultServiceName: "basket", defaultPort: 5103)
        #expect(quorum.queueType == .quorum)
        let bus = try quorum.busConfiguration()
        #expect(bus.queueType == .quorum)
        #expect(bus.connection.endpoints.map(\.host) == ["n1", "n2", "n3"], "every node of a cluster reaches the bus")
        #expect(quorum.description.contains("queue basket (quorum)"), "\(quorum)")
        do {
            _ = try SampleConfiguration(environment: ["EVENTBUS_QUEUE_TYPE": "stream"], defaultServiceName: "c", defaultPort: 1)
            Issue.record("a queue type of 'stream' was accepted")
        } catch {
            #expect("\(error)".contains("EVENTBUS_QUEUE_TYPE must be classic or quorum, not 'stream'"), "\(error)")
        }
    }

    @Test func handlerConcurrencyIsOneUnlessSetAndOutOfRangeValuesNameTheVariable() throws {
        let ordered = try SampleConfiguration(environment: [:], defaultServiceName: "basket", defaultPort: 5103)
        #expect(try ordered.busConfiguration().handlerConcurrency == 1)
        let parallel = try SampleConfiguration(environment: ["EVENTBUS_HANDLER_CONCURRENCY": "8"], defaultServiceName: "basket", defaultPort: 5103)
        #expect(try parallel.busConfiguration().handlerConcurrency == 8)
        #expect(parallel.description.contains("handler concurrency 8"), "\(parallel)")
        for bad in ["0", "257", "-1", "eight", "1e3"] {
            do {
                _ = try SampleConfiguration(environment: ["EVENTBUS_HANDLER_CONCURRENCY": bad], defaultServiceName: "c", defaultPort: 1)
                Issue.record("a handler concurrency of '\(bad)' was accepted")
            } catch {
                #expect("\(error)".contains("EVENTBUS_HANDLER_CONCURRENCY must be a whole number from 1 to 256, not '\(bad)'"), "\(error)")
            }
        }
    }

    @Test func databaseURLsSelectTheStore() throws {
        #expect(try DatabaseLocation("basket.sqlite") == .sqlite(path: "basket.sqlite"))
        #expect(try DatabaseLocation("sqlite:///data/basket.sqlite") == .sqlite(path: "/data/basket.sqlite"))
        #expect(try DatabaseLocation("postgresql://u@h/db") == .postgres(url: "postgresql://u@h/db"))
        #expect(throws: (any Error).self) { try DatabaseLocation(" ") }
    }

    /// A password with every character that ends a URL part (`/ ? # @ : %` and a backtick), in pieces that must
    /// never show.
    static let passwordPieces = ["Pw1", "Pw2", "Pw3", "Pw4", "Pw5", "Pw6", "Pw7"]
    static let hostilePassword = "Pw1/Pw2?Pw3#Pw4@Pw5:Pw6%`Pw7"
    static func leakedPieces(_ text: String) -> [String] { passwordPieces.filter { text.contains($0) } }

    @Test(arguments: [
        "postgres://app:\(hostilePassword)@db:5432/basket",
        "postgresql://app:\(hostilePassword)@db/basket?sslmode=require",
        "postgres://app:\(hostilePassword.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")@db/basket",
        "postgres://app:Pw1@Pw2@db/basket",
        "postgres://app:Pw1Pw2/Pw3?Pw4",
    ])
    func databaseURLPasswordsAreMaskedWhetherOrNotTheURLParses(url: String) throws {
        let location = try DatabaseLocation(url)
        #expect(Self.leakedPieces(location.description).isEmpty, "\(location)")
        #expect(location.description.hasPrefix(url.hasPrefix("postgresql") ? "postgresql://app:***" : "postgres://app:***"))
        // Configuration errors quote the URL masked the same way; a URL that parses gives no error.
        do {
            _ = try PostgresEventStore.clientConfiguration(url: url)
        } catch {
            #expect(Self.leakedPieces("\(error)").isEmpty, "\(error)")
        }
    }

    @Test func configurationPrintsNeitherPassword() throws {
        let configuration = try SampleConfiguration(
            environment: ["EVENTBUS_URL": "amqp://u:\(Self.hostilePassword)@broker/", "DATABASE_URL": "postgres://app:\(Self.hostilePassword)@db/b"],
            defaultServiceName: "basket", defaultPort: 5103)
        for text in ["\(configuration)", String(reflecting: configuration)] {
            #expect(Self.leakedPieces(text).isEmpty, "\(text)")
            #expect(text.contains("amqp://u:***@broker/") && text.contains("postgres://app:***@db/b"), "\(text)")
        }
    }

    @Test func databaseURLMaskingKeepsWhatIsNotThePassword() throws {
        #expect(try DatabaseLocation("postgres://app:s%40c@db:5432/basket").description == "postgres://app:***@db:5432/basket")
        #expect(try DatabaseLocation("postgres://app@db/basket").description == "postgres://app@db/basket")
        #expect(try DatabaseLocation("postgres://app:a/b?c@db/basket").description == "postgres://app:***@db/basket")
    }

    @Test func pricesShowTwoDecimalsWithoutRounding() {
        #expect(Decimal(string: "19.5")!.priceText == "19.50")
        #expect(Decimal(8).priceText == "8.00")
        #expect(Decimal(string: "1.125")!.priceText == "1.125")
    }

    @Test func newestPriceChangeWinsAndStaleOnesDoNotOverwrite() {
        let t1 = Date(timeIntervalSince1970: 100)
        let t2 = Date(timeIntervalSince1970: 200)
        let first = PriceChange(productId: 1, oldPrice: 10, newPrice: 12, changedAt: t1)
        let second = PriceChange(productId: 1, oldPrice: 12, newPrice: 15, changedAt: t2)
        // In order.
        let afterFirst = PriceChangeRule.newest(first, known: nil)
        #expect(afterFirst == KnownPrice(price: 12, changedAt: t1))
        #expect(PriceChangeRule.updates(PricedLine(buyerId: "b", lineId: "l", unitPrice: 10, priceUpdatedAt: nil), for: first, target: afterFirst))
        let afterSecond = PriceChangeRule.newest(second, known: afterFirst)
        #expect(afterSecond == KnownPrice(price: 15, changedAt: t2))
        #expect(PriceChangeRule.updates(PricedLine(buyerId: "b", lineId: "l", unitPrice: 12, priceUpdatedAt: t1), for: second, target: afterSecond))
        // Out of order: the late first change brings a line still at 10 to the newest price.
        let late = PriceChangeRule.newest(first, known: afterSecond)
        #expect(late == afterSecond)
        #expect(PriceChangeRule.updates(PricedLine(buyerId: "b", lineId: "l", unitPrice: 10, priceUpdatedAt: nil), for: first, target: late))
        // A line whose price a newer change set is never touched by an older one.
        let stale = PriceChange(productId: 1, oldPrice: 15, newPrice: 9, changedAt: t1)
        #expect(!PriceChangeRule.updates(
            PricedLine(buyerId: "b", lineId: "l", unitPrice: 15, priceUpdatedAt: t2), for: stale, target: PriceChangeRule.newest(stale, known: afterSecond)))
        // A line at another price is not this change's business.
        #expect(!PriceChangeRule.updates(PricedLine(buyerId: "b", lineId: "l", unitPrice: 11, priceUpdatedAt: nil), for: first, target: afterFirst))
    }
}
