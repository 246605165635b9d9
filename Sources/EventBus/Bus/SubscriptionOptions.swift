/// Names a subscription; returned by `subscribe`, passed to `unsubscribe`.
public struct SubscriptionID: Hashable, Sendable, CustomStringConvertible {
    /// The subscription's name, unique within one bus.
    public let name: String
    /// Creates an id.
    public init(name: String) { self.name = name }
    public var description: String { name }
}

/// How one subscription treats its events.
public struct SubscriptionOptions: Sendable, Hashable {
    /// The subscription's name; defaults to the event type name. Processed ids are recorded per name, so keep it
    /// stable across deployments.
    public var name: String?
    /// Retries and time-to-live. Default: ``RetryPolicy/eventGrid``.
    public var retryPolicy: RetryPolicy
    /// When to consult the processed-message store. Default: ``DedupMode/always``.
    public var dedupMode: DedupMode
    /// Source and subject filter. Default: accept all.
    public var filter: EventFilter
    /// Whether an event the ``filter`` rejects is dead-lettered with ``DeadLetterReason/filteredOut`` (to make
    /// misrouted events visible). Default `false`: it is acknowledged and counted (`eventbus_filtered_total`), since
    /// another subscription of the same service may want it.
    public var deadLettersFilteredEvents: Bool

    /// Creates options.
    public init(
        name: String? = nil, retryPolicy: RetryPolicy = .eventGrid, dedupMode: DedupMode = .always,
        filter: EventFilter = .all, deadLettersFilteredEvents: Bool = false
    ) {
        self.name = name
        self.retryPolicy = retryPolicy
        self.dedupMode = dedupMode
        self.filter = filter
        self.deadLettersFilteredEvents = deadLettersFilteredEvents
    }
}
