@testable import EventBusRabbitMQ
import Testing

/// Every transition of the publishing channel's state machine, without a broker: the scenarios the broker tests
/// (ResilienceTests, ShutdownAndRaceTests) reach through real connections, here one event at a time.
@Suite struct PublishingChannelStateMachineTests {
    final class Channel: CustomStringConvertible {
        let name: String
        var open = true
        init(_ name: String) { self.name = name }
        var description: String { name }
    }

    typealias Machine = PublishingChannelStateMachine<Channel, String>
    struct Stopped: Error {}

    static func isOpen(_ channel: Channel) -> Bool { channel.open }

    static func channel(_ lookup: Machine.Lookup) -> Channel? {
        if case .channel(let channel) = lookup { return channel }
        return nil
    }

    @Test func waitersGetTheFirstChannelInstalledAndLaterCallersTakeItAtOnce() {
        var machine = Machine()
        let a = Channel("a")
        let first = machine.wait("w1", id: 1, isOpen: Self.isOpen), second = machine.wait("w2", id: 2, isOpen: Self.isOpen)
        #expect(Self.channel(first) == nil && Self.channel(second) == nil)
        #expect(machine.waiting == 2)
        guard case .handOut(let channel, let waiters) = machine.installed(a) else {
            Issue.record("installing a channel hands it to the waiters")
            return
        }
        #expect(channel === a && Set(waiters) == ["w1", "w2"])
        #expect(machine.waiting == 0)
        #expect(Self.channel(machine.lookup(isOpen: Self.isOpen)) === a)
        guard case .none = machine.installed(Channel("b")) else {
            Issue.record("nobody waits: nothing to hand out")
            return
        }
    }

    @Test func aClosedOrAbandonedChannelIsNotHandedOut() {
        var machine = Machine()
        let a = Channel("a")
        _ = machine.installed(a)
        a.open = false
        guard case .wait = machine.lookup(isOpen: Self.isOpen) else {
            Issue.record("a closed channel makes callers wait")
            return
        }
        a.open = true
        let firstAbandon = machine.abandon(a), secondAbandon = machine.abandon(a)
        #expect(firstAbandon, "the first caller to give up on a channel closes it")
        #expect(!secondAbandon, "later callers do not")
        guard case .wait = machine.lookup(isOpen: Self.isOpen) else {
            Issue.record("an abandoned channel is not handed out, although it is still open")
            return
        }
        #expect(machine.current === a, "it stays current (health) until it closes")
        let b = Channel("b")
        _ = machine.installed(b)
        #expect(Self.channel(machine.lookup(isOpen: Self.isOpen)) === b)
        let newer = machine.abandon(b)
        #expect(newer, "a newer channel can be given up on in turn")
    }

    @Test func aChannelClosedByTheBrokerIsReplacedOnceHoweverManyCallersNotice() {
        var machine = Machine()
        let a = Channel("a"), fresh = Channel("fresh")
        _ = machine.installed(a)
        a.open = false
        guard case .openReplacement(let closed) = machine.closed(a) else {
            Issue.record("the first report opens a replacement")
            return
        }
        #expect(closed === a)
        guard case .none = machine.closed(a) else {
            Issue.record("a second report of the same closure does nothing")
            return
        }
        _ = machine.wait("w", id: 7, isOpen: Self.isOpen)
        guard case .handOut(let channel, let waiters) = machine.replacementOpened(fresh, after: a) else {
            Issue.record("the replacement is handed to the waiters")
            return
        }
        #expect(channel === fresh && waiters == ["w"])
    }

    @Test func aReplacementThatArrivesAfterAReconnectIsClosed() {
        var machine = Machine()
        let a = Channel("a"), reconnected = Channel("reconnected"), late = Channel("late")
        _ = machine.installed(a)
        _ = machine.closed(a)
        // The connection broke while the replacement was being opened; the supervisor reconnected.
        machine.lost(a)
        _ = machine.installed(reconnected)
        guard case .close(let stale) = machine.replacementOpened(late, after: a) else {
            Issue.record("a replacement for a state that moved on is closed")
            return
        }
        #expect(stale === late)
        #expect(machine.current === reconnected)
    }

    @Test func aFailedReplacementLeavesTheSupervisorToReconnect() {
        var machine = Machine()
        let a = Channel("a")
        _ = machine.installed(a)
        _ = machine.closed(a)
        machine.replacementFailed(after: a)
        #expect(machine.current == nil)
        guard case .openReplacement = machine.closed(a) else {
            Issue.record("a later closure report may try again")
            return
        }
    }

    @Test func aLostConnectionForgetsOnlyItsOwnChannel() {
        var machine = Machine()
        let old = Channel("old"), new = Channel("new")
        _ = machine.installed(old)
        _ = machine.installed(new)
        machine.lost(old)
        #expect(machine.current === new, "a newer channel stays")
        machine.lost(new)
        #expect(machine.current == nil)
    }

    @Test func stoppingFailsEveryWaiterAndEveryLaterWait() {
        var machine = Machine()
        _ = machine.wait("w1", id: 1, isOpen: Self.isOpen)
        _ = machine.wait("w2", id: 2, isOpen: Self.isOpen)
        guard case .fail(let waiters, let error) = machine.stop(Stopped()) else {
            Issue.record("stopping fails the waiters")
            return
        }
        #expect(Set(waiters) == ["w1", "w2"] && error is Stopped)
        guard case .stopped = machine.wait("w3", id: 3, isOpen: Self.isOpen) else {
            Issue.record("a wait after stop fails at once")
            return
        }
        #expect(machine.waiting == 0)
        let late = Channel("late")
        guard case .close(let closed) = machine.installed(late) else {
            Issue.record("a channel installed after stop is closed, not handed out")
            return
        }
        #expect(closed === late)
        guard case .none = machine.closed(late) else {
            Issue.record("no replacement after stop")
            return
        }
    }

    @Test func aWaiterThatTimedOutIsFailedOnceAndNotHandedOutLater() {
        var machine = Machine()
        _ = machine.wait("w1", id: 1, isOpen: Self.isOpen)
        _ = machine.wait("w2", id: 2, isOpen: Self.isOpen)
        let expired = machine.timedOut(1), again = machine.timedOut(1)
        #expect(expired == "w1")
        #expect(again == nil, "a second expiry finds nothing")
        guard case .handOut(_, let waiters) = machine.installed(Channel("a")) else {
            Issue.record("the waiter left gets the channel")
            return
        }
        #expect(waiters == ["w2"])
        let handed = machine.timedOut(2)
        #expect(handed == nil, "a waiter handed a channel has nothing left to expire")
    }
}
