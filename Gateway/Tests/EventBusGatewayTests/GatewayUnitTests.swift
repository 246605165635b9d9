import EventBus
import EventBusGateway
import Foundation
import TestSupport
import Testing

@Suite struct GatewayUnitTests {
    let parser = IncomingEventParser(maxEventSize: 1_024)

    @Test func aValidCloudEventBecomesABusEventWithItsDataAsThePayload() throws {
        let body = Data(#"{"specversion":"1.0","id":"e1","source":"/shop","type":"PriceChanged","subject":"items/1","time":"2024-05-01T10:00:00Z","data":{"price":12}}"#.utf8)
        let events = try parser.parse(body, schema: .cloudEvent).get()
        #expect(events.count == 1)
        #expect(events[0].id == "e1" && events[0].eventType == "PriceChanged" && events[0].source == "/shop" && events[0].subject == "items/1")
        #expect(try JSONValue.parse(events[0].payload) == .object(["price": .integer(12)]))
    }

    @Test func everyProblemNamesTheEventIndexIdAndField() {
        let body = Data(#"[{"specversion":"1.0","id":"ok","source":"/s","type":"T"},{"specversion":"1.0","id":"bad","type":"T"},{"specversion":"0.3","source":"/s","type":"T"}]"#.utf8)
        guard case .failure(let failure) = parser.parse(body, schema: .cloudEventsBatch) else { Issue.record("accepted"); return }
        #expect(failure.problems.contains { $0.index == 1 && $0.id == "bad" && $0.field == "source" })
        #expect(failure.problems.contains { $0.index == 2 && $0.field == "id" })
        #expect(failure.problems.contains { $0.index == 2 && $0.field == "specversion" })
        #expect(!failure.problems.contains { $0.index == 0 })
    }

    @Test func anEventOverTheMaximumSizeIsRefused() {
        let big = String(repeating: "x", count: 2_000)
        let body = Data(#"[{"id":"e1","subject":"s","eventType":"T","eventTime":"2024-05-01T10:00:00Z","data":"\#(big)"}]"#.utf8)
        guard case .failure(let failure) = parser.parse(body, schema: .eventGrid) else { Issue.record("accepted"); return }
        #expect(failure.problems == [EventValidationProblem(index: 0, id: "e1", field: "event", message: failure.problems[0].message)])
    }

    @Test func eventGridEventsNeedSubjectTypeAndTime() {
        let body = Data(#"[{"id":"e1","eventType":"T","eventTime":"yesterday"}]"#.utf8)
        guard case .failure(let failure) = parser.parse(body, schema: .eventGrid) else { Issue.record("accepted"); return }
        #expect(Set(failure.problems.map(\.field)) == ["subject", "eventTime"])
    }

    @Test func keysAreAcceptedFromTheHeaderOrAsBearerOnly() {
        let authenticator = KeyAuthenticator(keys: ["0123456789abcdef-one", "0123456789abcdef-two"])
        #expect(authenticator.accepts(keyHeader: "0123456789abcdef-two", authorization: nil))
        #expect(authenticator.accepts(keyHeader: nil, authorization: "Bearer 0123456789abcdef-one"))
        #expect(!authenticator.accepts(keyHeader: "0123456789abcdef-thr", authorization: nil))
        #expect(!authenticator.accepts(keyHeader: nil, authorization: "Basic 0123456789abcdef-one"))
        #expect(!authenticator.accepts(keyHeader: nil, authorization: nil))
        #expect(!"\(authenticator)".contains("0123456789abcdef"))
    }

    @Test func theSignatureVerifiesAndATamperedBodyFails() {
        let body = Data(#"{"id":"e1"}"#.utf8)
        let header = WebhookSignature.header(body: body, secret: "a-secret-of-16-bytes")
        #expect(WebhookSignature.verify(header: header, body: body, secret: "a-secret-of-16-bytes"))
        #expect(!WebhookSignature.verify(header: header, body: Data(#"{"id":"e2"}"#.utf8), secret: "a-secret-of-16-bytes"))
        #expect(!WebhookSignature.verify(header: header, body: body, secret: "another-secret-16b"))
        let old = WebhookSignature.header(body: body, secret: "a-secret-of-16-bytes", time: Date().addingTimeInterval(-3_600))
        #expect(!WebhookSignature.verify(header: old, body: body, secret: "a-secret-of-16-bytes"))
    }

    @Test func privateLoopbackAndLinkLocalAddressesAreRestricted() {
        for address in ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "0.0.0.0", "::1", "fe80::1", "fd00::1", "::ffff:10.0.0.1", "100.64.0.1"] {
            #expect(EndpointGuard.restrictedRange(address) != nil, "\(address)")
        }
        for address in ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "172.32.0.1"] {
            #expect(EndpointGuard.restrictedRange(address) == nil, "\(address)")
        }
    }

    @Test func aHostNameIsCheckedByTheAddressItResolvesTo() async {
        await #expect(throws: EndpointGuard.Refusal.self) {
            _ = try await EndpointGuard.resolve(host: "localhost", port: 80, allowPrivateNetworks: false)
        }
        let allowed = try? await EndpointGuard.resolve(host: "localhost", port: 80, allowPrivateNetworks: true)
        #expect(allowed != nil)
    }

    @Test func anAddressLiteralIsCheckedAsItIsAndConnectedToInCanonicalForm() async throws {
        for host in ["127.0.0.1", "[::1]", "10.0.0.7", "[::ffff:192.168.0.1]"] {
            await #expect(throws: EndpointGuard.Refusal.self, "\(host)") {
                _ = try await EndpointGuard.resolve(host: host, port: 80, allowPrivateNetworks: false)
            }
        }
        #expect(try await EndpointGuard.resolve(host: "[0:0:0:0:0:0:0:1]", port: 80, allowPrivateNetworks: true) == "::1")
        #expect(try await EndpointGuard.resolve(host: "8.8.8.8", port: 443, allowPrivateNetworks: false) == "8.8.8.8")
        // Not a dotted quad: the resolver's reading of it (127.0.0.1) is the one checked.
        await #expect(throws: EndpointGuard.Refusal.self) {
            _ = try await EndpointGuard.resolve(host: "127.1", port: 80, allowPrivateNetworks: false)
        }
    }

    @Test func advancedFiltersCompareDataFieldsAndAttributes() {
        let event = RawEvent(eventType: "T", id: "1", source: "/shop", subject: "items/42/red", payload: Data(#"{"price":12.5,"onSale":true,"tags":{"color":"Red"}}"#.utf8))
        let data = try? JSONValue.parse(event.payload)
        func check(_ filter: AdvancedFilter) -> Bool { filter.matches(event, data: data) }
        #expect(check(AdvancedFilter(.numberGreaterThan, key: "data.price", value: .integer(10))))
        #expect(!check(AdvancedFilter(.numberGreaterThan, key: "data.price", value: .integer(20))))
        #expect(check(AdvancedFilter(.numberIn, key: "data.price", values: [.number(12.5), .integer(3)])))
        #expect(check(AdvancedFilter(.boolEquals, key: "data.onSale", value: .bool(true))))
        #expect(check(AdvancedFilter(.stringContains, key: "data.tags.color", values: [.string("red")])))
        #expect(check(AdvancedFilter(.stringBeginsWith, key: "subject", values: [.string("items/")])))
        #expect(!check(AdvancedFilter(.stringBeginsWith, key: "data.missing", values: [.string("x")])))
        #expect(AdvancedFilter(.numberIn, key: "data.price", values: [.string("x")]).validationProblem() != nil)
    }

    @Test func subscriptionsAreValidatedFieldByField() {
        var subscription = WebhookSubscription(endpointUrl: "https://hooks.example.com/x", eventTypes: ["T"])
        #expect(throws: Never.self) { try subscription.validated(name: "ok") }
        subscription.batch = .init(maxEventsPerBatch: 5_001)
        #expect(throws: GatewayError.self) { try subscription.validated(name: "ok") }
        subscription.batch = .init(maxEventsPerBatch: 10, preferredBatchSizeInKilobytes: 2_000)
        #expect(throws: GatewayError.self) { try subscription.validated(name: "ok") }
        subscription.batch = nil
        subscription.retryPolicy = .init(maxDeliveryAttempts: 31)
        #expect(throws: GatewayError.self) { try subscription.validated(name: "ok") }
        subscription.retryPolicy = nil
        subscription.endpointUrl = "ftp://x"
        #expect(throws: GatewayError.self) { try subscription.validated(name: "ok") }
    }

    @Test func aYAMLConfigurationReadsAsTheSameJSONOne() throws {
        let webhooks = TestEnvironment.repositoryRoot.appendingPathComponent("Samples/Webhooks").path + "/"
        func canonical(_ path: String) throws -> String {
            let file = try GatewayConfiguration.File.decode(try Data(contentsOf: URL(fileURLWithPath: webhooks + path)), path: path)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            return String(decoding: try encoder.encode(file), as: UTF8.self)
        }
        let yaml = try canonical("gateway.yaml")
        #expect(yaml == (try canonical("gateway.json")))
        #expect(yaml.contains(#""value":0"#), "a YAML 0 is the number 0, not false: \(yaml)")
        // Without an extension, the text decides: `{` is JSON, anything else YAML.
        let text = Data("listen:\n  port: 7000\nkeys: [a-key-of-sixteen-chars]\n".utf8)
        #expect(try GatewayConfiguration.File.decode(text, path: "gateway.conf").listen?.port == 7000)
        #expect(throws: (any Error).self) { try GatewayConfiguration.File.decode(Data("listen: [1, 2".utf8), path: "bad.yaml") }
    }

    @Test func theConfigurationHidesKeysAndPasswords() throws {
        let configuration = try GatewayConfiguration.load(file: nil, environment: [
            "EVENTBUS_URL": "amqp://user:s3cret-password@host:5672/", "EVENTBUS_GATEWAY_KEYS": "key-0123456789abcdef, key-fedcba9876543210",
        ])
        #expect(configuration.keys.count == 2)
        #expect(!"\(configuration)".contains("s3cret") && !"\(configuration)".contains("0123456789"))
        #expect(throws: GatewayError.self) { try GatewayConfiguration.load(file: nil, environment: [:]) }
    }

    @Test func deadLetterDetailsAreReadBackFromTheHeaders() {
        let failure = WebhookDeliveryFailure(outcome: .badRequest, status: 400, message: "the endpoint answered 400")
        // What the bus writes: its own headers, and the failure's DeadLetterDetails kept through NonRetryableError.
        let wrapped = NonRetryableError(wrapping: failure)
        var headers = DeadLetterDetailsHeaders.of(wrapped)
        headers[EventHeaders.deadLetterReason] = "NonRetryable"
        headers[EventHeaders.deliveryAttempts] = "1"
        headers[EventHeaders.lastError] = wrapped.description
        headers[EventHeaders.time] = "2024-05-01T10:00:00.0000000Z"
        let letter = WebhookDeadLetter(headers: headers)
        #expect(letter?.lastHttpStatusCode == 400 && letter?.lastDeliveryOutcome == .badRequest && letter?.deliveryAttempts == 1)
        #expect(letter?.publishTime == "2024-05-01T10:00:00.0000000Z" && letter?.lastDeliveryAttemptTime == failure.lastDeliveryAttemptTime)
        #expect(letter?.lastError == "non-retryable: BadRequest: the endpoint answered 400")
        let timedOut = WebhookDeliveryFailure(outcome: .timedOut, status: nil, message: "no answer within 30 s")
        #expect(timedOut.deadLetterHeaders[WebhookDeadLetterHeaders.lastHttpStatusCode] == nil)
        #expect(timedOut.deadLetterHeaders[WebhookDeadLetterHeaders.lastDeliveryOutcome] == "TimedOut")
    }
}
