import EventBus
import Testing

@Suite("Retry policy")
struct RetryPolicyTests {
    @Test(arguments: [
        (0, 1_440, "maxDeliveryAttempts"),
        (31, 1_440, "maxDeliveryAttempts"),
        (-1, 1_440, "maxDeliveryAttempts"),
        (30, 0, "eventTimeToLiveMinutes"),
        (30, 1_441, "eventTimeToLiveMinutes"),
    ])
    func outOfRangeValuesThrowNamingTheField(attempts: Int, minutes: Int, field: String) throws {
        let error = #expect(throws: EventBusError.self) {
            try RetryPolicy(maxDeliveryAttempts: attempts, eventTimeToLiveMinutes: minutes)
        }
        guard case .retryPolicyOutOfRange(let named, _, _) = error else {
            Issue.record("unexpected error \(String(describing: error))")
            return
        }
        #expect(named == field)
    }

    @Test(arguments: [[Duration](), [.zero], [.seconds(86_401)]])
    func emptyOrOutOfRangeDelaysThrow(delays: [Duration]) {
        let error = #expect(throws: EventBusError.self) { try RetryPolicy(delays: delays) }
        guard case .retryPolicyOutOfRange(let field, _, _) = error else {
            Issue.record("unexpected error \(String(describing: error))")
            return
        }
        #expect(field == "delays")
        #expect("\(error!)".contains("delays"))
    }

    @Test func boundaryValuesAreAccepted() throws {
        #expect(try RetryPolicy(maxDeliveryAttempts: 1, eventTimeToLiveMinutes: 1).maxDeliveryAttempts == 1)
        let widest = try RetryPolicy(maxDeliveryAttempts: 30, eventTimeToLiveMinutes: 1_440)
        #expect(widest.eventTimeToLive == .seconds(86_400))
    }

    @Test func defaultsFollowEventGrid() throws {
        let policy = RetryPolicy.eventGrid
        #expect(policy.maxDeliveryAttempts == 30)
        #expect(policy.eventTimeToLive == .seconds(1_440 * 60))
        #expect(policy.delays == RetryPolicy.eventGridDelays)
        #expect(Array(policy.delays.prefix(7)) == [.seconds(10), .seconds(30), .seconds(60), .seconds(300), .seconds(600), .seconds(1_800), .seconds(3_600)])
        #expect(try RetryPolicy() == policy)
        #expect(SubscriptionOptions().retryPolicy == policy)
        #expect(SubscriptionOptions().dedupMode == .always)
    }

    @Test func delayAfterAttemptFollowsTheScheduleAndRepeatsTheLast() throws {
        let policy = RetryPolicy.eventGrid
        #expect(policy.delay(afterAttempt: 1) == .seconds(10))
        #expect(policy.delay(afterAttempt: 2) == .seconds(30))
        #expect(policy.delay(afterAttempt: 7) == .seconds(3_600))
        #expect(policy.delay(afterAttempt: 10) == .seconds(43_200))
        #expect(policy.delay(afterAttempt: 29) == .seconds(43_200))
        #expect(policy.delay(afterAttempt: 0) == .seconds(10))
        let fast = try RetryPolicy(maxDeliveryAttempts: 3, delays: [.milliseconds(5), .milliseconds(50)])
        #expect(fast.delay(afterAttempt: 1) == .milliseconds(5))
        #expect(fast.delay(afterAttempt: 2) == .milliseconds(50))
        #expect(fast.delay(afterAttempt: 3) == .milliseconds(50))
    }

    @Test func usedDelaysAreTheDistinctDelaysWithinTheAttempts() throws {
        #expect(try RetryPolicy(maxDeliveryAttempts: 3).usedDelays == [.seconds(10), .seconds(30)])
        #expect(try RetryPolicy(maxDeliveryAttempts: 1).usedDelays == [.seconds(10)])
        #expect(try RetryPolicy(maxDeliveryAttempts: 5, delays: [.milliseconds(5), .milliseconds(5)]).usedDelays == [.milliseconds(5)])
    }
}

@Suite("Batch policy")
struct BatchPolicyTests {
    @Test(arguments: [
        (0, 64, Duration.milliseconds(20), "maxEventsPerBatch"),
        (5_001, 64, .milliseconds(20), "maxEventsPerBatch"),
        (10, 0, .milliseconds(20), "preferredBatchSizeInKilobytes"),
        (10, 1_025, .milliseconds(20), "preferredBatchSizeInKilobytes"),
        (10, 64, .milliseconds(-1), "maximumWait"),
        (10, 64, .seconds(11), "maximumWait"),
    ])
    func outOfRangeValuesThrowNamingTheField(events: Int, kilobytes: Int, wait: Duration, field: String) {
        let error = #expect(throws: EventBusError.self) {
            try BatchPolicy(maxEventsPerBatch: events, preferredBatchSizeInKilobytes: kilobytes, maximumWait: wait)
        }
        guard case .batchPolicyOutOfRange(let named, _, _) = error else {
            Issue.record("unexpected error \(String(describing: error))")
            return
        }
        #expect(named == field)
    }

    @Test func boundaryValuesAreAccepted() throws {
        _ = try BatchPolicy(maxEventsPerBatch: 1, preferredBatchSizeInKilobytes: 1, maximumWait: .zero)
        let widest = try BatchPolicy(maxEventsPerBatch: 5_000, preferredBatchSizeInKilobytes: 1_024, maximumWait: .seconds(10))
        #expect(widest.maxEventsPerBatch == 5_000)
    }

    @Test func acceptsWithinCountAndSizeLimits() throws {
        let policy = try BatchPolicy(maxEventsPerBatch: 3, preferredBatchSizeInKilobytes: 1)
        #expect(policy.accepts(count: 1, bytes: 100, next: 100))
        #expect(policy.accepts(count: 2, bytes: 1_000, next: 24))
        #expect(!policy.accepts(count: 2, bytes: 1_000, next: 25))
        #expect(!policy.accepts(count: 3, bytes: 30, next: 10))
    }

    @Test func anEmptyBatchAcceptsAnEventLargerThanThePreferredSize() throws {
        let policy = try BatchPolicy(maxEventsPerBatch: 3, preferredBatchSizeInKilobytes: 1)
        #expect(policy.accepts(count: 0, bytes: 0, next: 1_000_000))
        #expect(!policy.accepts(count: 1, bytes: 1_000_000, next: 1))
    }
}

@Suite("Event filter")
struct EventFilterTests {
    @Test func acceptsEverythingByDefault() {
        #expect(EventFilter.all.rejection(source: nil, subject: nil) == nil)
    }

    @Test func rejectsOtherSourcesAndSubjects() {
        let filter = EventFilter(sources: ["catalog"], subjectBeginsWith: "products/", subjectEndsWith: "/price")
        #expect(filter.rejection(source: "catalog", subject: "products/7/price") == nil)
        #expect(filter.rejection(source: "ordering", subject: "products/7/price") != nil)
        #expect(filter.rejection(source: nil, subject: "products/7/price") != nil)
        #expect(filter.rejection(source: "catalog", subject: "orders/7/price") != nil)
        #expect(filter.rejection(source: "catalog", subject: "products/7/stock") != nil)
        #expect(filter.rejection(source: "catalog", subject: nil) != nil)
    }
}
