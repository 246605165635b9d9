import EventBus
import Foundation
import Testing

private struct Rejected: Error, DeadLetterDetails {
    var deadLetterHeaders: [String: String]
}

@Suite struct DeadLetterDetailsHeadersTests {
    @Test func reservedEmptyAndOverlongNamesAreDroppedAndValuesCut() {
        let kept = DeadLetterDetailsHeaders.sanitized([
            "x-eventgrid-last-http-status-code": "400", EventHeaders.lastError: "forged", "X-Death": "forged",
            "cloudEvents_type": "forged", "x-eventbus-subscription": "forged", "": "empty",
            String(repeating: "n", count: 200): "long", "x-long-value": String(repeating: "v", count: 5_000),
        ])
        #expect(kept.keys.sorted() == ["x-eventgrid-last-http-status-code", "x-long-value"])
        #expect(kept["x-long-value"]?.count == DeadLetterDetailsHeaders.maxValueLength)
    }

    @Test func atMostMaxCountHeadersAreKept() {
        let many = Dictionary(uniqueKeysWithValues: (0..<40).map { ("x-test-\($0)", "\($0)") })
        #expect(DeadLetterDetailsHeaders.sanitized(many).count == DeadLetterDetailsHeaders.maxCount)
    }

    @Test func nonRetryableErrorKeepsTheHeadersOfTheErrorItWraps() {
        let wrapped = NonRetryableError(wrapping: Rejected(deadLetterHeaders: ["x-test": "1"]))
        #expect(DeadLetterDetailsHeaders.of(wrapped) == ["x-test": "1"])
        #expect(DeadLetterDetailsHeaders.of(NonRetryableError("plain")).isEmpty)
    }

    @Test func theInMemoryBusWritesTheHeadersOnItsDeadLetter() async throws {
        struct Ping: IntegrationEvent { var id = UUID(); var creationDate = Date() }
        let bus = InMemoryEventBus()
        try await bus.subscribe(Ping.self) { _, _ in throw NonRetryableError(wrapping: Rejected(deadLetterHeaders: ["x-test": "1", EventHeaders.lastError: "forged"])) }
        try await bus.publish(Ping())
        await bus.waitUntilIdle()
        let letter = try #require(bus.deadLetters.first)
        #expect(letter.event.headers["x-test"] == "1")
        #expect(letter.event.headers[EventHeaders.lastError] != "forged")
    }
}
