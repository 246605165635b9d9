import EventBus
import Foundation

/// A webhook subscription as operators write it (config file, `PUT /api/subscriptions/{name}`): where to deliver
/// which events, in which schema, and how hard to try. Every field but ``endpointUrl`` and ``eventTypes`` has Event
/// Grid's default. ``validated(name:)`` checks it and turns it into the settings the delivery engine runs with.
///
/// ```json
/// {"endpointUrl": "https://hooks.example.com/prices", "eventTypes": ["ProductPriceChangedIntegrationEvent"],
///  "secret": "…", "retryPolicy": {"maxDeliveryAttempts": 10, "eventTimeToLiveInMinutes": 120},
///  "batch": {"maxEventsPerBatch": 100, "preferredBatchSizeInKilobytes": 64}}
/// ```
public struct WebhookSubscription: Sendable, Hashable, Codable {
    /// The payload shape a webhook receives.
    public enum Schema: String, Sendable, Hashable, Codable {
        /// CloudEvents 1.0 JSON: `application/cloudevents+json` (one event) or `application/cloudevents-batch+json`.
        case cloudEvents = "CloudEventSchemaV1_0"
        /// An Event Grid array (`application/json`), one event or several.
        case eventGrid = "EventGridSchema"
    }

    /// Retry settings; see `RetryPolicy`.
    public struct Retry: Sendable, Hashable, Codable {
        /// 1...30; default 30.
        public var maxDeliveryAttempts: Int?
        /// 1...1440; default 1440.
        public var eventTimeToLiveInMinutes: Int?
        /// The delays between attempts in milliseconds (the last repeats); default Event Grid's 10 s, 30 s, 1 min, ….
        public var delaysInMilliseconds: [Int]?

        public init(maxDeliveryAttempts: Int? = nil, eventTimeToLiveInMinutes: Int? = nil, delaysInMilliseconds: [Int]? = nil) {
            self.maxDeliveryAttempts = maxDeliveryAttempts
            self.eventTimeToLiveInMinutes = eventTimeToLiveInMinutes
            self.delaysInMilliseconds = delaysInMilliseconds
        }
    }

    /// Batch settings (off when absent); see `BatchPolicy`.
    public struct Batch: Sendable, Hashable, Codable {
        /// 1...5000.
        public var maxEventsPerBatch: Int?
        /// 1...1024; default 64.
        public var preferredBatchSizeInKilobytes: Int?

        public init(maxEventsPerBatch: Int? = nil, preferredBatchSizeInKilobytes: Int? = nil) {
            self.maxEventsPerBatch = maxEventsPerBatch
            self.preferredBatchSizeInKilobytes = preferredBatchSizeInKilobytes
        }
    }

    /// Where events go: `https://…` (certificates verified) or `http://…`.
    public var endpointUrl: String
    /// The event types delivered (routing keys on the bus); at least one.
    public var eventTypes: [String]
    /// Only events whose subject begins with this.
    public var subjectBeginsWith: String?
    /// Only events whose subject ends with this.
    public var subjectEndsWith: String?
    /// Only events from these sources.
    public var sources: [String]?
    /// Conditions on attributes and data fields, all of which must hold.
    public var advancedFilters: [AdvancedFilter]?
    /// Payload schema; default CloudEvents.
    public var schema: Schema?
    public var retryPolicy: Retry?
    public var batch: Batch?
    /// The HMAC-SHA256 key the gateway signs every request with (``WebhookSignature``). Never returned by `GET`.
    public var secret: String?
    /// Requests in flight at once; default 1 (in order). 1...100.
    public var maxConcurrentDeliveries: Int?
    /// Seconds a request may take; default 30. 1...300.
    public var timeoutInSeconds: Int?
    /// Allows endpoints that resolve to loopback, link-local or private addresses (off: no SSRF via subscriptions).
    public var allowPrivateNetworks: Bool?
    /// Whether the endpoint must answer the validation handshake before the first delivery; default `true`.
    public var validationHandshake: Bool?
    /// The bus's queue type for this subscription's queues: `classic` (default) or `quorum` (clusters).
    public var queueType: String?

    public init(endpointUrl: String, eventTypes: [String]) {
        self.endpointUrl = endpointUrl
        self.eventTypes = eventTypes
    }

    /// The definition with its secret removed, for `GET` answers and logs.
    public var redacted: WebhookSubscription {
        var copy = self
        if copy.secret != nil { copy.secret = "<redacted>" }
        return copy
    }

    /// Checks every field and returns the settings the engine runs with, or a ``GatewayError/invalidSubscription(name:field:reason:)``
    /// naming the field.
    public func validated(name: String) throws(GatewayError) -> WebhookSettings {
        func invalid(_ field: String, _ reason: String) -> GatewayError { .invalidSubscription(name: name, field: field, reason: reason) }
        guard WebhookSettings.isValidName(name) else {
            throw invalid("name", "1...64 characters of letters, digits, '-' and '_'")
        }
        guard let url = URL(string: endpointUrl), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty
        else { throw invalid("endpointUrl", "an absolute http:// or https:// URL with a host") }
        if url.user != nil || url.password != nil { throw invalid("endpointUrl", "credentials in the URL are not allowed; use secret") }
        guard !eventTypes.isEmpty, eventTypes.count <= 100, eventTypes.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 255 }) else {
            throw invalid("eventTypes", "1...100 event type names of 1...255 bytes")
        }
        var retry = RetryPolicy.eventGrid
        if let policy = retryPolicy {
            do {
                retry = try RetryPolicy(
                    maxDeliveryAttempts: policy.maxDeliveryAttempts ?? 30,
                    eventTimeToLiveMinutes: policy.eventTimeToLiveInMinutes ?? 1_440,
                    delays: policy.delaysInMilliseconds.map { $0.map { .milliseconds($0) } } ?? RetryPolicy.eventGridDelays)
            } catch {
                throw invalid("retryPolicy", "\(error)")
            }
        }
        var batchPolicy: BatchPolicy?
        if let batch, batch.maxEventsPerBatch != nil || batch.preferredBatchSizeInKilobytes != nil {
            do {
                batchPolicy = try BatchPolicy(
                    maxEventsPerBatch: batch.maxEventsPerBatch ?? 10, preferredBatchSizeInKilobytes: batch.preferredBatchSizeInKilobytes ?? 64,
                    maximumWait: .zero)
            } catch {
                throw invalid("batch", "\(error)")
            }
        }
        let concurrency = maxConcurrentDeliveries ?? 1
        guard (1...100).contains(concurrency) else { throw invalid("maxConcurrentDeliveries", "1...100") }
        let timeout = timeoutInSeconds ?? 30
        guard (1...300).contains(timeout) else { throw invalid("timeoutInSeconds", "1...300") }
        for (index, filter) in (advancedFilters ?? []).enumerated() {
            if let problem = filter.validationProblem() { throw invalid("advancedFilters[\(index)]", problem) }
        }
        guard (advancedFilters ?? []).count <= 25 else { throw invalid("advancedFilters", "at most 25") }
        if let secret, secret.utf8.count < 16 || secret.utf8.count > 512 {
            throw invalid("secret", "16...512 bytes (a random value; the receiver keeps a copy)")
        }
        let resolvedQueueType: WebhookSettings.QueueType
        switch self.queueType {
        case nil, "classic"?: resolvedQueueType = .classic
        case "quorum"?: resolvedQueueType = .quorum
        default: throw invalid("queueType", "classic or quorum")
        }
        return WebhookSettings(
            name: name, endpoint: url, eventTypes: Array(Set(eventTypes)).sorted(),
            filter: EventFilter(sources: sources.map(Set.init), subjectBeginsWith: subjectBeginsWith, subjectEndsWith: subjectEndsWith),
            advancedFilters: advancedFilters ?? [], schema: schema ?? .cloudEvents, retryPolicy: retry, batch: batchPolicy,
            secret: secret, maxConcurrentDeliveries: concurrency, timeout: .seconds(timeout),
            allowPrivateNetworks: allowPrivateNetworks ?? false, validationHandshake: validationHandshake ?? true,
            queueType: resolvedQueueType, definition: self)
    }
}

/// A validated ``WebhookSubscription``: what one ``WebhookDispatcher`` runs with.
public struct WebhookSettings: Sendable, Hashable {
    public enum QueueType: String, Sendable, Hashable { case classic, quorum }

    public var name: String
    public var endpoint: URL
    public var eventTypes: [String]
    public var filter: EventFilter
    public var advancedFilters: [AdvancedFilter]
    public var schema: WebhookSubscription.Schema
    public var retryPolicy: RetryPolicy
    public var batch: BatchPolicy?
    public var secret: String?
    public var maxConcurrentDeliveries: Int
    public var timeout: Duration
    public var allowPrivateNetworks: Bool
    public var validationHandshake: Bool
    public var queueType: QueueType
    /// What it was made from (stored and returned by `GET`, redacted).
    public var definition: WebhookSubscription

    /// Subscription names: 1...64 of `A-Z a-z 0-9 - _` (they become queue names and URL path segments).
    public static func isValidName(_ name: String) -> Bool {
        (1...64).contains(name.count) && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }
}
