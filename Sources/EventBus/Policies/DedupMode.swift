/// When a subscription consults the processed-message store before handling (DESIGN section 5).
public enum DedupMode: Sendable, Hashable {
    /// Every delivery is checked: guards against publisher-side duplicates such as outbox re-sends. The default.
    case always
    /// Only redelivered messages and retries are checked; trusts the broker's promise that a first delivery
    /// (`redelivered == false`) was never delivered before. Faster; misses duplicates published twice.
    case redeliveredOnly
}
