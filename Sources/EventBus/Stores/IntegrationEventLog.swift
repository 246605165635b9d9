import Foundation

/// The publication state of an outbox row (DESIGN section 6).
public enum EventState: String, Sendable, Hashable, CaseIterable {
    /// Saved with the domain change; not sent yet.
    case notPublished = "NotPublished"
    /// Being sent (a relay or the saving service claimed it).
    case inProgress = "InProgress"
    /// The broker confirmed it.
    case published = "Published"
    /// Sending failed; retried at `nextAttemptAt`. Without a next attempt it can never be sent as it is (too large,
    /// unreadable): the relay leaves it until an operator fixes the cause and runs `eventbus outbox retry`.
    case publishedFailed = "PublishedFailed"
}

/// One row of the integration event log (the transactional outbox).
public struct IntegrationEventLogEntry: Sendable, Hashable {
    /// The event id (primary key).
    public var eventID: UUID
    /// The event type name, used as routing key.
    public var eventTypeName: String
    /// Publication state.
    public var state: EventState
    /// How many times a send was started.
    public var timesSent: Int
    /// When the event was saved.
    public var creationTime: Date
    /// The event body (JSON).
    public var content: String
    /// The local transaction that saved it, when the store knows it.
    public var transactionID: String?
    /// When a failed event may be tried again.
    public var nextAttemptAt: Date?
    /// The last send error, in words.
    public var lastError: String?

    /// Creates an entry.
    public init(
        eventID: UUID, eventTypeName: String, state: EventState = .notPublished, timesSent: Int = 0,
        creationTime: Date, content: String, transactionID: String? = nil, nextAttemptAt: Date? = nil, lastError: String? = nil
    ) {
        self.eventID = eventID
        self.eventTypeName = eventTypeName
        self.state = state
        self.timesSent = timesSent
        self.creationTime = creationTime
        self.content = content
        self.transactionID = transactionID
        self.nextAttemptAt = nextAttemptAt
        self.lastError = lastError
    }

    /// Whether sending failed for good: `PublishedFailed` with no next attempt (see ``EventState/publishedFailed``).
    public var failedPermanently: Bool { state == .publishedFailed && nextAttemptAt == nil }

    /// The entry as a raw event for publishing.
    public var rawEvent: RawEvent {
        RawEvent(eventType: eventTypeName, id: eventID.lowercasedText, time: creationTime, payload: Data(content.utf8))
    }
}

/// The transactional outbox's storage. Saving happens inside the caller's own database transaction and so is
/// store-specific (see the SQLite and PostgreSQL stores); this protocol covers what happens after commit.
public protocol IntegrationEventLog: Sendable {
    /// Claims up to `limit` events due for (re)publishing, oldest first (events with the same creation time in the
    /// order they were saved), and marks them `InProgress` (times sent + 1): `NotPublished`, `PublishedFailed` whose
    /// next attempt is due, and `InProgress` older than `staleAfter` (a sender that died). Safe with several relays:
    /// no event is claimed twice at once.
    func claimPending(limit: Int, staleAfter: Duration, now: Date) async throws -> [IntegrationEventLogEntry]
    /// Marks one event `InProgress` before sending it right after commit; `false` when another sender has it.
    func markInProgress(eventID: UUID, now: Date) async throws -> Bool
    /// Marks an event `Published` (the broker confirmed it).
    func markPublished(eventID: UUID) async throws
    /// Marks an event `PublishedFailed` with the error and when to try again.
    func markFailed(eventID: UUID, error: String, nextAttemptAt: Date) async throws
    /// Marks an event `PublishedFailed` with the error and no next attempt: it can never be published as it is (too
    /// large, unencodable), so the relay leaves it (`eventbus outbox status` shows it with its error; `eventbus outbox
    /// retry` makes it due again once the cause is fixed). The default marks it failed with a next attempt in the
    /// distant future.
    func markFailedPermanently(eventID: UUID, error: String) async throws
    /// Restarts the in-flight time (`updated_at`) of claimed events just before they are published, so that a batch
    /// that waited after its claim (the relay claims the next batch while one is being published) is not taken as
    /// stale by another relay while it is in flight. Returns the events still held by this claim (`InProgress` with
    /// the claim's times sent); the others were taken by someone else and must not be sent. The default renews
    /// nothing and returns every event.
    func renewClaims(_ entries: [IntegrationEventLogEntry], now: Date) async throws -> Set<UUID>
    /// Deletes `Published` events created before `date`; returns how many.
    @discardableResult
    func prunePublished(createdBefore date: Date) async throws -> Int
    /// How many events are not yet published, and when the oldest of them was created.
    func pendingSummary() async throws -> (count: Int, oldest: Date?)
    /// The outbox at a glance, for operators: counts per state, the oldest unpublished event's creation time, and
    /// up to `failedLimit` `PublishedFailed` events, oldest first.
    func status(failedLimit: Int) async throws -> OutboxStatus
    /// Makes `PublishedFailed` events due now (their next attempt becomes `now`), so that a running ``OutboxRelay``
    /// sends them at its next poll instead of after their back-off: those among `eventIDs`, or all when `nil`.
    /// Returns how many were made due (events in other states are left alone).
    @discardableResult
    func retryFailed(eventIDs: [UUID]?, now: Date) async throws -> Int

    /// Marks the `NotPublished` events among `eventIDs` `InProgress` (times sent + 1) in one transaction; returns
    /// those it marked (the others are being sent by someone else, or were sent). Stores implement it as one
    /// statement; the default calls ``markInProgress(eventID:now:)`` per event.
    func markInProgress(eventIDs: [UUID], now: Date) async throws -> Set<UUID>
    /// Marks events `Published` in one transaction. Stores implement it as one statement; the default calls
    /// ``markPublished(eventID:)`` per event.
    func markPublished(eventIDs: [UUID]) async throws
    /// Returns once every transaction committed before the call is durable. ``OutboxPublisher`` calls it before
    /// publishing entries that were saved `InProgress` already (no marking transaction, whose commit would have made
    /// them durable), so that no event reaches the broker before the transaction that saved it is on disk. The
    /// default does nothing: for stores whose commits are durable when they return (PostgreSQL with its default
    /// `synchronous_commit`).
    func makeCommitsDurable() async throws
}

extension IntegrationEventLog {
    /// Marks each event in turn with ``markInProgress(eventID:now:)``: one store call per event.
    public func markInProgress(eventIDs: [UUID], now: Date) async throws -> Set<UUID> {
        var marked: Set<UUID> = []
        for eventID in eventIDs where try await markInProgress(eventID: eventID, now: now) { marked.insert(eventID) }
        return marked
    }

    /// Marks each event in turn with ``markPublished(eventID:)``: one store call per event.
    public func markPublished(eventIDs: [UUID]) async throws {
        for eventID in eventIDs { try await markPublished(eventID: eventID) }
    }

    /// Nothing to do: commits are durable when they return.
    public func makeCommitsDurable() async throws {}

    /// Marks the event failed with its next attempt in the distant future.
    public func markFailedPermanently(eventID: UUID, error: String) async throws {
        try await markFailed(eventID: eventID, error: error, nextAttemptAt: .distantFuture)
    }

    /// Renews nothing: every event is still this claim's.
    public func renewClaims(_ entries: [IntegrationEventLogEntry], now: Date) async throws -> Set<UUID> {
        Set(entries.map(\.eventID))
    }
}
