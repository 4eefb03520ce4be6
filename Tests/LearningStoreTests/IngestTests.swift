import Foundation
import Testing
@testable import LearningStore
import LearningCore

@Suite("Group-commit ingest", .serialized)
struct IngestTests {
    @Test func acknowledgedRecordIsStoredWithAllFields() async throws {
        try await TestDatabase.withStore { store, _ in
            let task = UUID().uuidString.lowercased()
            var r = record("writer", event: "e-1", task: task, time: 2.25, success: false,
                           at: Date(timeIntervalSince1970: 1_760_000_000.5), cpu: 12.5)
            r.errorMessage = "timeout \"quoted\" \\ back"
            r.resourceUsage.memoryMB = 256
            r.resourceUsage.other = ["io_ops": 42]
            let ack = try await store.logExecution(r)
            #expect(ack.id > 0 && !ack.duplicate)
            let stored = try #require(try await store.execution(eventID: "e-1"))
            #expect(stored.id == ack.id)
            var expected = r
            expected.id = ack.id
            #expect(stored == expected)
        }
    }

    @Test func retriedEventIDIsStoredOnceAndAnsweredWithTheFirstID() async throws {
        try await TestDatabase.withStore { store, _ in
            let first = try await store.logExecution(record(event: "retry-1"))
            let again = try await store.logExecution(record(event: "retry-1"))
            #expect(again == IngestAck(id: first.id, duplicate: true))
            // Duplicates inside one batch and against the table, mixed with records without ids.
            let acks = try await store.logExecutions([record(event: "b-1"), record(), record(event: "b-1"),
                                                      record(event: "retry-1"), record()])
            #expect(!acks[0].duplicate && !acks[1].duplicate && !acks[4].duplicate)
            #expect(acks[2] == IngestAck(id: acks[0].id, duplicate: true))
            #expect(acks[3] == IngestAck(id: first.id, duplicate: true))
            #expect(Set([acks[0].id, acks[1].id, acks[4].id]).count == 3)
            #expect(try await store.counts().executions == 4)
        }
    }

    @Test func concurrentCallersWithTheSameEventIDsGetOneRowEach() async throws {
        try await TestDatabase.withStore { store, url in
            let acks = try await withThrowingTaskGroup(of: (String, IngestAck).self) { group in
                for i in 0..<400 {
                    group.addTask { let e = "c-\(i % 100)"; return (e, try await store.logExecution(record("a\(i % 7)", event: e))) }
                }
                return try await group.reduce(into: [(String, IngestAck)]()) { $0.append($1) }
            }
            #expect(acks.count == 400)
            let byEvent = Dictionary(grouping: acks, by: \.0)
            for (_, list) in byEvent {
                #expect(Set(list.map(\.1.id)).count == 1, "one id per event id")
                #expect(list.filter { !$0.1.duplicate }.count == 1, "exactly one caller stored it")
            }
            let c = try PGConnection(url: url)
            #expect(try c.query("SELECT count(*), count(DISTINCT event_id) FROM agents.execution_log").rows[0] == ["100", "100"])
        }
    }

    @Test func invalidRecordIsRejectedBeforeItCanFailOthers() async throws {
        try await TestDatabase.withStore { store, _ in
            await #expect(throws: StoreError.self) { _ = try await store.logExecution(record(task: "not-a-uuid")) }
            await #expect(throws: StoreError.self) { _ = try await store.logExecution(record("")) }
            await #expect(throws: StoreError.self) { _ = try await store.logExecution(record(time: .nan)) }
            await #expect(throws: StoreError.self) { _ = try await store.logExecution(record(String(repeating: "x", count: 256))) }
            do { _ = try await store.logExecution(record(task: "nope")) } catch let e as StoreError {
                guard case .invalidInput = e else { Issue.record("expected invalidInput, got \(e)"); return }
            }
            let ok = try await store.logExecution(record())
            #expect(ok.id > 0)
        }
    }

    @Test func fullQueueFailsFastWithOverloadedAndRecovers() async throws {
        var ingest = IngestSettings()
        ingest.queueCapacity = 50
        ingest.writers = 1
        try await TestDatabase.withStore(ingest: ingest) { store, url in
            // An outside transaction locks the table: the writer blocks, the queue fills.
            let blocker = try PGConnection(url: url)
            try blocker.execute("BEGIN")
            try blocker.execute("LOCK TABLE agents.execution_log IN EXCLUSIVE MODE")
            let pending = Task { try await store.logExecutions((0..<40).map { record(event: "p-\($0)") }) }
            try await Task.sleep(for: .milliseconds(300)) // the writer holds these 40 in its blocked transaction
            let queued = Task { try await store.logExecutions((0..<45).map { record(event: "q-\($0)") }) }
            #expect(await eventually(5) { store.writer.queuedRows == 45 })
            var overloaded = 0
            for i in 0..<20 {
                do {
                    _ = try await store.logExecutions((0..<10).map { record(event: "o-\(i)-\($0)") })
                } catch let e as StoreError {
                    if case .overloaded(let after) = e, after > 0 { overloaded += 1 }
                }
            }
            #expect(overloaded == 20, "every call beyond the capacity fails fast")
            try blocker.execute("COMMIT")
            #expect(try await pending.value.count == 40)
            #expect(try await queued.value.count == 45)
            #expect(try await store.counts().executions == 85)
            // Capacity is free again.
            #expect(try await store.logExecutions((0..<10).map { record(event: "after-\($0)") }).count == 10)
        }
    }

    @Test func batchLargerThanTheQueueIsInvalid() async throws {
        var ingest = IngestSettings()
        ingest.queueCapacity = 10
        try await TestDatabase.withStore(ingest: ingest) { store, _ in
            do { _ = try await store.logExecutions((0..<11).map { _ in record() }) } catch let e as StoreError {
                guard case .invalidInput = e else { Issue.record("got \(e)"); return }
            }
        }
    }
}
