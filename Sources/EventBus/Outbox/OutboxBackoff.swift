import Foundation

/// How long a failed outbox event waits before its next attempt: `initial × 2^(timesSent − 1)`, capped at `maximum`.
enum OutboxBackoff {
    static func delay(initial: Duration, maximum: Duration, timesSent: Int) -> Duration {
        let exponent = min(max(timesSent, 1) - 1, 40)
        let seconds = initial.outboxSeconds * pow(2, Double(exponent))
        // Compared in Double first, so the conversion below always fits.
        guard seconds.isFinite, seconds < maximum.outboxSeconds, seconds * 1e9 < 9e18 else { return maximum }
        return .nanoseconds(Int64(max(0, seconds * 1e9)))
    }

    static func nextAttempt(after now: Date, initial: Duration, maximum: Duration, timesSent: Int) -> Date {
        now.addingTimeInterval(delay(initial: initial, maximum: maximum, timesSent: timesSent).outboxSeconds)
    }
}

extension Duration {
    /// The duration in (fractional) seconds.
    var outboxSeconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) / 1e18
    }
}
