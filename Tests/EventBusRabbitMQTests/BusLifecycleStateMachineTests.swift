@testable import EventBusRabbitMQ
import Testing

/// Every transition of the bus's lifecycle, without a broker: what ShutdownAndRaceTests reaches through a real bus
/// (shutdown with publishes pending, a forward finishing after consuming stopped, a subscription arriving while the
/// consuming side waits), one event at a time.
@Suite struct BusLifecycleStateMachineTests {
    final class Connection {}
    final class Consumer {}
    typealias Machine = BusLifecycleStateMachine<Connection, Consumer, String>

    @Test func runStartsOnceAndMayStartAgainAfterItEnded() throws {
        var machine = Machine()
        try machine.start()
        #expect(throws: Machine.StartRefusal.alreadyRunning) { try machine.start() }
        machine.ended()
        try machine.start()
        #expect(machine.running)
    }

    @Test func shutdownWaitsForPendingPublishesAndForConsumingToEnd() {
        var machine = Machine()
        #expect(throws: Never.self) { try machine.beginPublish() }
        #expect(throws: Never.self) { try machine.beginPublish() }
        _ = machine.beginShutdown()
        #expect(throws: Machine.PublishRefusal.shuttingDown, "no new publish once shutting down") { try machine.beginPublish() }
        machine.beginForward()
        let drainedAtOnce = machine.waitForDrain("publisher")
        #expect(!drainedAtOnce)
        let afterFirst = machine.finishPublish()
        #expect(afterFirst.isEmpty, "one publish and one forward still pending")
        let afterConsuming = machine.endConsuming()
        #expect(afterConsuming.isEmpty, "still pending")
        let afterSecond = machine.finishPublish()
        #expect(afterSecond.isEmpty)
        let afterForward = machine.finishPublish()
        #expect(afterForward == ["publisher"], "the last one out wakes the drain")
        #expect(machine.pendingPublishes == 0)
        let later = machine.waitForDrain("late")
        #expect(later, "drained: a later wait returns at once")
    }

    @Test func drainWaitsForConsumingEvenWithNothingPending() {
        var machine = Machine()
        _ = machine.beginShutdown()
        let drained = machine.waitForDrain("publisher")
        #expect(!drained, "a finishing handler may still forward a retry")
        #expect(machine.endConsuming() == ["publisher"])
    }

    @Test func theConsumingSideWaitsForASubscriptionAndIsWokenByOneOrByShutdown() {
        var machine = Machine()
        let immediate = machine.waitForSubscription("consumer", hasSubscriptions: true)
        #expect(immediate, "a subscription exists: no wait")
        let waits = machine.waitForSubscription("consumer", hasSubscriptions: false)
        #expect(!waits)
        let added = machine.subscriptionAdded()
        #expect(added.wake == "consumer" && added.connection == nil, "not consuming yet: nothing to bind on")
        #expect(machine.subscriptionAdded().wake == nil, "woken once")
        _ = machine.waitForSubscription("consumer", hasSubscriptions: false)
        let shutdown = machine.beginShutdown()
        #expect(shutdown.wake == "consumer")
        let afterShutdown = machine.waitForSubscription("again", hasSubscriptions: false)
        #expect(afterShutdown, "shutting down: no wait")
    }

    @Test func aConsumerStartedDuringShutdownIsCancelledAndOneStartedBeforeIsHandedToTheShutdown() {
        var machine = Machine()
        let connection = Connection(), consumer = Consumer()
        machine.consumerConnected(connection)
        #expect(machine.subscriptionAdded().connection === connection, "a subscription added now binds on it")
        let stopAtOnce = machine.consumerStarted(consumer)
        #expect(!stopAtOnce)
        #expect(machine.beginShutdown().consumer === consumer, "shutdown cancels the running consumer")
        machine.consumerGone()
        #expect(machine.consumerConnection == nil)
        let late = machine.consumerStarted(Consumer())
        #expect(late, "started after the shutdown began: cancel it at once")
    }
}
