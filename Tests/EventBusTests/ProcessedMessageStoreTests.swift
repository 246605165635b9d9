import EventBus
import Foundation
import Testing

@Suite("In-memory processed-message store")
struct InMemoryProcessedMessageStoreTests {
    @Test func markingIsIdempotentAndPerConsumer() async throws {
        let store = InMemoryProcessedMessageStore()
        #expect(try await !store.contains(consumer: "basket/a", messageID: "1"))
        #expect(try await store.markProcessed(consumer: "basket/a", messageID: "1", at: Date()))
        #expect(try await !store.markProcessed(consumer: "basket/a", messageID: "1", at: Date()))
        #expect(try await store.contains(consumer: "basket/a", messageID: "1"))
        #expect(try await !store.contains(consumer: "basket/b", messageID: "1"))
        #expect(store.count == 1)
    }

    @Test func beyondCapacityTheOldestIdsAreForgotten() async throws {
        let store = InMemoryProcessedMessageStore(capacity: 3)
        let now = Date()
        for id in 1...5 {
            try await store.markProcessed(consumer: "c", messageID: "\(id)", at: now)
        }
        #expect(store.count == 3)
        #expect(try await !store.contains(consumer: "c", messageID: "1"))
        #expect(try await !store.contains(consumer: "c", messageID: "2"))
        for id in 3...5 { #expect(try await store.contains(consumer: "c", messageID: "\(id)")) }
    }

    @Test func idsOlderThanTheRetentionAreForgottenOnTheNextMark() async throws {
        let store = InMemoryProcessedMessageStore(retention: .seconds(60))
        let now = Date()
        try await store.markProcessed(consumer: "c", messageID: "old", at: now.addingTimeInterval(-120))
        try await store.markProcessed(consumer: "c", messageID: "recent", at: now.addingTimeInterval(-30))
        try await store.markProcessed(consumer: "c", messageID: "new", at: now)
        #expect(try await !store.contains(consumer: "c", messageID: "old"))
        #expect(try await store.contains(consumer: "c", messageID: "recent"))
        #expect(store.count == 2)
    }

    @Test func pruneForgetsIdsProcessedBeforeTheDate() async throws {
        let store = InMemoryProcessedMessageStore()
        let now = Date()
        try await store.markProcessed(consumer: "c", messageID: "1", at: now.addingTimeInterval(-300))
        try await store.markProcessed(consumer: "c", messageID: "2", at: now.addingTimeInterval(-200))
        try await store.markProcessed(consumer: "c", messageID: "3", at: now)
        #expect(try await store.prune(processedBefore: now.addingTimeInterval(-100)) == 2)
        #expect(try await !store.contains(consumer: "c", messageID: "1"))
        #expect(try await store.contains(consumer: "c", messageID: "3"))
        #expect(try await store.prune(processedBefore: now.addingTimeInterval(-100)) == 0)
        // A forgotten id can be recorded again, and capacity eviction still works after a prune.
        #expect(try await store.markProcessed(consumer: "c", messageID: "1", at: now))
        #expect(store.count == 2)
    }

    @Test func evictionAfterPruneKeepsTheNewestIds() async throws {
        let store = InMemoryProcessedMessageStore(capacity: 2)
        let now = Date()
        try await store.markProcessed(consumer: "c", messageID: "a", at: now.addingTimeInterval(-10))
        try await store.markProcessed(consumer: "c", messageID: "b", at: now)
        try await store.prune(processedBefore: now.addingTimeInterval(-5))
        try await store.markProcessed(consumer: "c", messageID: "c", at: now)
        try await store.markProcessed(consumer: "c", messageID: "d", at: now)
        #expect(store.count == 2)
        #expect(try await !store.contains(consumer: "c", messageID: "b"))
        #expect(try await store.contains(consumer: "c", messageID: "d"))
    }
}
