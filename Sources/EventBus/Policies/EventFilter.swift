/// Which events a subscription accepts, beyond its event type: the seeds' advice is to check the topic and the
/// event type and never assume. An event that arrives on the subscription's queue but does not pass is not handled:
/// it is acknowledged and counted (`eventbus_filtered_total`), or dead-lettered with ``DeadLetterReason/filteredOut``
/// when ``SubscriptionOptions/deadLettersFilteredEvents`` asks for it.
public struct EventFilter: Sendable, Hashable {
    /// Accepted publishing services (CloudEvents `source`); `nil` accepts any.
    public var sources: Set<String>?
    /// Accepted subject prefix; `nil` accepts any.
    public var subjectBeginsWith: String?
    /// Accepted subject suffix; `nil` accepts any.
    public var subjectEndsWith: String?

    /// Creates a filter; every field defaults to "accept any".
    public init(sources: Set<String>? = nil, subjectBeginsWith: String? = nil, subjectEndsWith: String? = nil) {
        self.sources = sources
        self.subjectBeginsWith = subjectBeginsWith
        self.subjectEndsWith = subjectEndsWith
    }

    /// Accepts everything.
    public static let all = EventFilter()

    /// Whether an event with this source and subject passes; when not, why.
    public func rejection(source: String?, subject: String?) -> String? {
        if let sources, !sources.contains(source ?? "") {
            return "source '\(source ?? "")' is not one of \(sources.sorted())"
        }
        if let prefix = subjectBeginsWith, !(subject ?? "").hasPrefix(prefix) {
            return "subject '\(subject ?? "")' does not begin with '\(prefix)'"
        }
        if let suffix = subjectEndsWith, !(subject ?? "").hasSuffix(suffix) {
            return "subject '\(subject ?? "")' does not end with '\(suffix)'"
        }
        return nil
    }
}
