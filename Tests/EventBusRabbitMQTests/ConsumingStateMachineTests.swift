@testable import EventBusRabbitMQ
import Testing

/// Every transition of the consuming side's deliveries and shutdown phases, without a broker: what
/// ShutdownAndRaceTests reaches through a real bus (deliveries arriving during a shutdown go back, handlers that
/// started finish, a handler stuck past the grace period is abandoned).
@Suite struct ConsumingStateMachineTests {
    @Test func deliveriesAreHandledAndCountedUntilTheyFinish() {
        var machine = ConsumingStateMachine()
        #expect(machine.deliveryArrived() == .process)
        #expect(machine.deliveryArrived() == .process)
        #expect(machine.inFlight == 2)
        machine.deliveryFinished()
        #expect(machine.inFlight == 1)
        #expect(machine.phase == .consuming)
    }

    @Test func aShutdownGivesBackNewDeliveriesAndDrainsWhenTheLastStartedHandlerFinishes() {
        var machine = ConsumingStateMachine()
        _ = machine.deliveryArrived()
        _ = machine.deliveryArrived()
        #expect(machine.shutdownRequested() == .stopConsuming(handlersRunning: 2))
        #expect(machine.phase == .draining)
        #expect(machine.deliveryArrived() == .giveBack, "a prefetched delivery that did not start goes back")
        #expect(machine.inFlight == 2, "a delivery given back is not in flight")
        machine.deliveryFinished()
        #expect(machine.phase == .draining)
        machine.deliveryFinished()
        #expect(machine.phase == .drained)
        #expect(machine.graceExpired() == .none, "everything finished in time")
        #expect(machine.shutdownRequested() == .none, "a second request changes nothing")
    }

    @Test func aShutdownWithNothingRunningIsDrainedAtOnce() {
        var machine = ConsumingStateMachine()
        #expect(machine.shutdownRequested() == .stopConsuming(handlersRunning: 0))
        #expect(machine.phase == .drained)
        #expect(machine.deliveryArrived() == .giveBack)
    }

    @Test func aHandlerStuckPastTheGracePeriodIsAbandoned() {
        var machine = ConsumingStateMachine()
        _ = machine.deliveryArrived()
        _ = machine.shutdownRequested()
        #expect(machine.graceExpired() == .abandon(handlersRunning: 1))
        #expect(machine.phase == .abandoned)
        #expect(machine.deliveryArrived() == .giveBack)
        machine.deliveryFinished()
        #expect(machine.phase == .abandoned, "a handler finishing late does not undo the abandonment")
        #expect(machine.graceExpired() == .none)
    }
}
