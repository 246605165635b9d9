import Synchronization

/// Collects the decisions of every subscription one event went to; the last one to finish hands them all to
/// `onDone` (the transport then forwards copies and acknowledges). An event is settled only once every subscription
/// it went to is done with it.
final class DeliveryTracker: Sendable {
    private struct State {
        var remaining: Int
        var decisions: [DeliveryDecision] = []
    }

    private let state: Mutex<State>
    private let onDone: @Sendable ([DeliveryDecision]) async -> Void

    init(parts: Int, onDone: @escaping @Sendable ([DeliveryDecision]) async -> Void) {
        self.state = Mutex(State(remaining: parts))
        self.onDone = onDone
    }

    /// Adds one subscription's decisions; the call that adds the last part runs `onDone` with all of them.
    func complete(_ parts: [DeliveryDecision]) async {
        let all: [DeliveryDecision]? = state.withLock { state in
            state.decisions += parts
            state.remaining -= 1
            return state.remaining == 0 ? state.decisions : nil
        }
        if let all { await onDone(all) }
    }
}
