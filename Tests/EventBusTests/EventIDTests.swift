import EventBus
import Foundation
import Testing

@Suite("Event ids")
struct EventIDTests {
    @Test func newEventIDsAreVersion4RFCVariantUniqueAndReadBackFromTheirText() {
        var seen = Set<UUID>()
        for _ in 0..<100_000 {
            let id = UUID.newEventID()
            let bytes = id.uuid
            #expect(bytes.6 >> 4 == 4)
            #expect(bytes.8 >> 6 == 0b10)
            seen.insert(id)
        }
        #expect(seen.count == 100_000)
        let id = UUID.newEventID()
        #expect(UUID(uuidString: id.uuidString.lowercased()) == id)
        #expect(id.uuidString.lowercased().split(separator: "-").map(\.count) == [8, 4, 4, 4, 12])
    }

    @Test func idsDrawnFromManyTasksAtOnceAreAllDifferent() async {
        // The random bytes come from one shared block: tasks racing for it must never get the same bytes.
        let perTask = 20_000
        let ids = await withTaskGroup(of: [UUID].self) { group in
            for _ in 0..<8 { group.addTask { (0..<perTask).map { _ in UUID.newEventID() } } }
            return await group.reduce(into: [UUID]()) { $0 += $1 }
        }
        #expect(ids.count == 8 * perTask)
        #expect(Set(ids).count == 8 * perTask)
    }

    @Test func eachBitOfANewEventIDVariesExceptTheVersionAndVariantBits() {
        // Over 256 ids every random bit is seen both set and clear (a stuck byte would show at once).
        var ones = [UInt8](repeating: 0, count: 16), zeros = [UInt8](repeating: 0, count: 16)
        for _ in 0..<256 {
            var raw = UUID.newEventID().uuid
            withUnsafeBytes(of: &raw) { bytes in
                for index in 0..<16 {
                    ones[index] |= bytes[index]
                    zeros[index] |= ~bytes[index]
                }
            }
        }
        var expectedOnes = [UInt8](repeating: 0xFF, count: 16), expectedZeros = [UInt8](repeating: 0xFF, count: 16)
        expectedOnes[6] = 0x4F; expectedZeros[6] = 0xBF  // version 0100
        expectedOnes[8] = 0xBF; expectedZeros[8] = 0x7F  // variant 10
        #expect(ones == expectedOnes)
        #expect(zeros == expectedZeros)
    }
}
