/// The publishing channel's lifecycle as a value: which channel publishes are handed, who waits for one, and what the
/// owner (``ChannelLink``) must do after each event. No locks, no I/O: the owner keeps it in a mutex, feeds it events
/// and carries out the ``Action`` it returns outside the lock.
///
/// ```
///            installed(c)                      closed(c) while its connection lives
///   none ─────────────────▶ ready(c) ───────────────────────────────▶ reopening(c)
///    ▲  ◀──── lost(c) ─────────┘  ◀──── replacementOpened(c, fresh) ───────┘ │
///    └──────────────────────────────── replacementFailed(c) ─────────────────┘
///   any state ── stop(error) ──▶ stopped(error)   (final: waiters fail, every later wait fails)
/// ```
///
/// A channel given up on (``abandon(_:)``: confirms stalled, the broker nacks) stays current until it closes, but is
/// never handed out again. Generic over the channel and the waiter so that every transition is tested without a
/// broker.
struct PublishingChannelStateMachine<Channel: AnyObject, Waiter> {
    enum State {
        /// No channel: the supervisor is connecting.
        case none
        /// `channel` is current.
        case ready(Channel)
        /// `closed` was closed by the broker while its connection lives; a replacement is being opened on it.
        case reopening(after: Channel)
        /// The bus stopped publishing: every wait fails with `error`.
        case stopped(any Error)
    }

    /// What the owner does after an event.
    enum Action {
        case none
        /// Resume `waiters` with `channel`.
        case handOut(Channel, to: [Waiter])
        /// Fail `waiters` with `error`.
        case fail([Waiter], with: any Error)
        /// Open a replacement for `closed` on its connection, then report ``replacementOpened(_:after:)`` or
        /// ``replacementFailed(after:)``.
        case openReplacement(after: Channel)
        /// Close `channel`: it was opened for a state that has moved on.
        case close(Channel)
    }

    /// What a caller that wants a channel gets now.
    enum Lookup {
        case channel(Channel)
        case stopped(any Error)
        /// No usable channel yet: wait (``wait(_:id:isOpen:)``).
        case wait
    }

    private(set) var state: State = .none
    private var waiters: [UInt64: Waiter] = [:]
    /// The last channel given up on: never handed out again, although it may still be current until it closes.
    private weak var abandoned: Channel?

    /// The current channel, if any (ready, or given up on but not yet closed).
    var current: Channel? {
        if case .ready(let channel) = state { return channel }
        return nil
    }

    /// How many callers wait for a channel.
    var waiting: Int { waiters.count }

    /// The supervisor (or a replacement) made `channel` current.
    mutating func installed(_ channel: Channel) -> Action {
        switch state {
        case .stopped: return .close(channel)
        case .none, .ready, .reopening:
            state = .ready(channel)
            return handOut(channel)
        }
    }

    /// `channel`'s connection broke: forget it, unless a newer channel replaced it already.
    mutating func lost(_ channel: Channel) {
        switch state {
        case .ready(let current) where current === channel: state = .none
        case .reopening(let closed) where closed === channel: state = .none
        default: break
        }
    }

    /// `channel` was closed by the broker (its connection still open): start one replacement, however many callers
    /// report the same closure.
    mutating func closed(_ channel: Channel) -> Action {
        switch state {
        case .ready(let current) where current === channel:
            state = .reopening(after: channel)
            return .openReplacement(after: channel)
        case .none:
            state = .reopening(after: channel)
            return .openReplacement(after: channel)
        case .ready, .reopening, .stopped:
            return .none
        }
    }

    /// The replacement for `closed` is open.
    mutating func replacementOpened(_ fresh: Channel, after closed: Channel) -> Action {
        guard case .reopening(let pending) = state, pending === closed else { return .close(fresh) }
        return installed(fresh)
    }

    /// No replacement for `closed` could be opened: its connection is going; the supervisor reconnects.
    mutating func replacementFailed(after closed: Channel) {
        if case .reopening(let pending) = state, pending === closed { state = .none }
    }

    /// Gives up on `channel` (it stalls, or the broker nacks on it). Returns `true` for the first caller only, who
    /// then closes it and reports ``closed(_:)``.
    mutating func abandon(_ channel: Channel) -> Bool {
        guard abandoned !== channel else { return false }
        abandoned = channel
        return true
    }

    /// The bus stops publishing: every waiter fails with `error`, and so does every later wait.
    mutating func stop(_ error: any Error) -> Action {
        state = .stopped(error)
        let failed = Array(waiters.values)
        waiters.removeAll()
        return failed.isEmpty ? .none : .fail(failed, with: error)
    }

    /// The channel to publish on now, when one is usable (`isOpen` tells whether the channel itself is open).
    func lookup(isOpen: (Channel) -> Bool) -> Lookup {
        switch state {
        case .stopped(let error): return .stopped(error)
        case .ready(let channel) where isOpen(channel) && channel !== abandoned: return .channel(channel)
        case .none, .ready, .reopening: return .wait
        }
    }

    /// Registers `waiter` under `id` unless a channel is usable or the machine stopped (then returns that instead).
    mutating func wait(_ waiter: Waiter, id: UInt64, isOpen: (Channel) -> Bool) -> Lookup {
        let now = lookup(isOpen: isOpen)
        if case .wait = now { waiters[id] = waiter }
        return now
    }

    /// The waiter `id` ran out of time: returns it (to be failed) unless it was handed a channel already.
    mutating func timedOut(_ id: UInt64) -> Waiter? {
        waiters.removeValue(forKey: id)
    }

    private mutating func handOut(_ channel: Channel) -> Action {
        guard !waiters.isEmpty else { return .none }
        let taken = Array(waiters.values)
        waiters.removeAll()
        return .handOut(channel, to: taken)
    }
}
