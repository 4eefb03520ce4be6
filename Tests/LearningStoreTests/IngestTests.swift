import Foundation
import LearningTestDatabase
import Testing
@testable import LearningStore
import LearningCore
import LearningRepository

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

    @Test func binaryParametersKeepNullsUnicodeAndTimestampsExact() async throws {
        try await TestDatabase.withStore { store, url in
            var full = record("agent-ü-\u{1F916}", event: "bin-1", task: "0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D",
                              type: "análisis", time: 1e-6, success: false,
                              at: Date(timeIntervalSince1970: 1_000.25), cpu: 0)
            full.errorMessage = "tab\tnewline\n quote\" backslash\\ {brace}, comma"
            full.resourceUsage.memoryMB = 1.5e9
            full.resourceUsage.other = ["ключ": -2.5]
            let sparse = ExecutionRecord(agentName: "sparse", taskID: nil, taskType: nil, executionTime: nil, success: true,
                                         resourceUsage: ResourceUsage(), timestamp: Date(timeIntervalSince1970: 4_102_444_800.123456),
                                         eventID: "bin-2")
            let late = record("late", event: "bin-3", at: Date(timeIntervalSince1970: 253_402_300_799))
            let early = record("early", event: "bin-4", at: Date(timeIntervalSince1970: -62_135_596_800))
            let anonymous = record("anonymous")
            // Fewer rows than copyThreshold: one INSERT with binary array parameters.
            let acks = try await store.logExecutions([full, sparse, late, early, anonymous])
            for (i, r) in [full, sparse, late, early].enumerated() {
                var expected = r
                expected.id = acks[i].id
                expected.taskID = r.taskID?.lowercased()
                #expect(try await store.execution(eventID: r.eventID!) == expected)
            }
            let c = try PGConnection(url: url)
            let row = try c.query("""
                SELECT task_id IS NULL, task_type IS NULL, execution_time IS NULL, error_message IS NULL,
                       resource_usage IS NULL, event_id IS NULL, timestamp::text
                FROM agents.execution_log WHERE event_id = 'bin-2' OR agent_name = 'anonymous' ORDER BY id
                """)
            #expect(row.rows[0] == ["t", "t", "t", "t", "t", "f", "2100-01-01 00:00:00.123456"])
            #expect(row.rows[1][5] == "t")
            #expect(try c.query("SELECT timestamp::text FROM agents.execution_log WHERE event_id IN ('bin-1', 'bin-3', 'bin-4') ORDER BY id").rows
                    == [["1970-01-01 00:16:40.25"], ["9999-12-31 23:59:59"], ["0001-01-01 00:00:00"]])
        }
    }

    @Test func binaryArraysAreReadByPostgreSQLAsTheirTypes() async throws {
        try await TestDatabase.withStore { _, url in
            var text = PGBinaryArray(.varchar, count: 3, bytesPerElement: 8)
            text.append(text: "plain"); text.append(text: nil); text.append(text: "quote\" comma, brace} ü")
            var uuid = PGBinaryArray(.uuid, count: 2, bytesPerElement: 16)
            uuid.append(uuid: "0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D"); uuid.append(uuid: nil)
            var float = PGBinaryArray(.float8, count: 3, bytesPerElement: 8)
            float.append(float8: -0.5); float.append(float8: 1e300); float.append(float8: nil)
            var bool = PGBinaryArray(.bool, count: 2, bytesPerElement: 1)
            bool.append(bool: true); bool.append(bool: false)
            var json = PGBinaryArray(.jsonb, count: 2, bytesPerElement: 16)
            json.append(jsonb: Array(#"{"cpu": 0.5}"#.utf8)); json.append(jsonb: nil)
            var ts = PGBinaryArray(.timestamp, count: 2, bytesPerElement: 8)
            ts.append(timestamp: Date(timeIntervalSince1970: 946_684_800.000001)); ts.append(timestamp: Date(timeIntervalSince1970: -1))
            let c = try PGConnection(url: url)
            let row = try c.query("""
                SELECT $1::varchar[]::text, $2::uuid[]::text, $3::float8[]::text, $4::bool[]::text, $5::jsonb[]::text, $6::timestamp[]::text
                """, [text, uuid, float, bool, json, ts].map { .bytes($0.bytes) }).rows[0]
            #expect(row == [#"{plain,NULL,"quote\" comma, brace} ü"}"#, "{0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d,NULL}",
                            "{-0.5,1e+300,NULL}", "{t,f}", #"{"{\"cpu\": 0.5}",NULL}"#,
                            #"{"2000-01-01 00:00:00.000001","1969-12-31 23:59:59"}"#])
        }
    }

    @Test func aSecondWriterStartsOnlyOnABacklog() async throws {
        var ingest = IngestSettings()
        ingest.writers = 2
        ingest.maxBatchRows = 1_000
        try await TestDatabase.withStore(ingest: ingest) { store, _ in
            // 200 callers with one record each never queue 256 rows: one transaction at a time,
            // however the two writers take turns.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<200 { group.addTask { _ = try await store.logExecution(record("single-\(i % 9)")) } }
                try await group.waitForAll()
            }
            #expect(store.writer.peakConcurrentBatches == 1)
            #expect(store.writer.stats.rows == 200)
            #expect(store.writer.stats.batches < 200, "records of concurrent callers share transactions")
            // Eight batches of 1,000 rows, each its own transaction (maxBatchRows): while one
            // writer copies, the 7,000 waiting rows start the other.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for b in 0..<8 {
                    group.addTask { _ = try await store.logExecutions((0..<1_000).map { _ in record("batch-\(b)") }) }
                }
                try await group.waitForAll()
            }
            #expect(store.writer.peakConcurrentBatches == 2)
            #expect(try await store.counts().executions == 8_200)
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

    @Test func admissionBoundsRowsOnTheirWayToTheQueueAndFreesThemAfterwards() async throws {
        var ingest = IngestSettings()
        ingest.queueCapacity = 100
        try await TestDatabase.withStore(ingest: ingest) { store, _ in
            // Callers still validating (not yet queued) hold their admission.
            let gate = AsyncStream<Void>.makeStream()
            let holder = Task {
                try await store.withIngestAdmission(rows: 90) { for await _ in gate.stream { break } }
            }
            #expect(await eventually(5) { store.writer.admittedRows == 90 })
            await #expect(throws: StoreError.self) {
                try await store.withIngestAdmission(rows: 20) { Issue.record("admitted beyond capacity") }
            }
            do {
                try await store.withIngestAdmission(rows: 20) {}
            } catch let e as StoreError {
                guard case .overloaded(let after) = e else { Issue.record("\(e)"); return }
                #expect(after > 0)
            }
            // Within capacity still passes, and writes as usual.
            let acks = try await store.withIngestAdmission(rows: 10) { try await store.logExecutions((0..<10).map { _ in record() }) }
            #expect(acks.count == 10)
            gate.continuation.yield()
            try await holder.value
            #expect(store.writer.admittedRows == 0)
            // A failing body releases its rows too.
            await #expect(throws: StoreError.self) {
                try await store.withIngestAdmission(rows: 100) { throw StoreError.invalidInput("bad") }
            }
            #expect(store.writer.admittedRows == 0)
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

    @Test func largeBatchGoesThroughCopyWithTheSameAcksAndFields() async throws {
        try await TestDatabase.withStore { store, _ in
            let old = try await store.logExecution(record(event: "copy-5"))
            var batch: [ExecutionRecord] = []
            for i in 0..<400 {
                var r = record("agent-\(i % 3)", event: i % 2 == 0 ? "copy-\(i % 300)" : nil, task: UUID().uuidString.lowercased(),
                               time: Double(i) / 7, success: i % 3 == 0,
                               at: Date(timeIntervalSince1970: 1_760_000_000 + Double(i) * 86_400.123457), cpu: Double(i))
                r.errorMessage = i % 5 == 0 ? "tab\there\nnew line \\ back\r" : nil
                r.resourceUsage.other = ["k\t\"": 1]
                batch.append(r)
            }
            batch.append(record("agent-1", event: "copy-5"))
            #expect(batch.count >= ExecutionWriter.copyThreshold)
            let acks = try await store.logExecutions(batch)
            #expect(acks.last == IngestAck(id: old.id, duplicate: true), "stored before the batch")
            var byEvent: [String: [IngestAck]] = [:]
            for (r, a) in zip(batch, acks) { if let e = r.eventID { byEvent[e, default: []].append(a) } }
            for (e, list) in byEvent {
                #expect(Set(list.map(\.id)).count == 1, "one row per event \(e)")
                #expect(list.filter { !$0.duplicate }.count == (e == "copy-5" ? 0 : 1))
            }
            // Every stored row reads back exactly as sent.
            let stored = try await store.recentExecutions(agentName: "agent-0", limit: 1_000)
            let sent = Dictionary(uniqueKeysWithValues: zip(batch, acks).filter { !$0.1.duplicate }.map { ($0.1.id, $0.0) })
            #expect(stored.count == sent.values.filter { $0.agentName == "agent-0" }.count)
            for s in stored {
                var expected = try #require(sent[s.id!])
                expected.id = s.id
                // PostgreSQL keeps microseconds: compare the instant to within one.
                #expect(abs(s.timestamp.timeIntervalSince(expected.timestamp)) < 1e-6)
                expected.timestamp = s.timestamp
                #expect(s == expected)
            }
            #expect(try await store.counts().executions == Int64(1 + sent.count))
        }
    }

    @Test func concurrentCopyBatchesWithTheSameEventIDsStoreEachOnce() async throws {
        try await TestDatabase.withStore { store, url in
            let batch = (0..<500).map { record(event: "same-\($0)") }
            async let a = store.logExecutions(batch)
            async let b = store.logExecutions(batch)
            let (x, y) = try await (a, b)
            for i in 0..<500 {
                #expect(x[i].id == y[i].id)
                #expect(x[i].duplicate != y[i].duplicate)
            }
            let c = try PGConnection(url: url)
            #expect(try c.query("SELECT count(*) FROM agents.execution_log").int64(0, 0) == 500)
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

@Suite("Ack matching")
struct AckMatchingTests {
    @Test func returnedRowsMapToInputsAndConflictsBecomeDuplicates() throws {
        let rs = [record(event: "a"), record(), record(event: "a"), record(event: "old"), record()]
        let acks = try ExecutionWriter.matchReturned(rs, ids: [10, 11, 12], eventIDs: ["a", nil, nil])
        #expect(acks == [IngestAck(id: 10, duplicate: false), IngestAck(id: 11, duplicate: false),
                         IngestAck(id: 10, duplicate: true), IngestAck(id: 0, duplicate: true),
                         IngestAck(id: 12, duplicate: false)])
    }

    @Test func inconsistentReturnedRowsAreAnErrorNotAWrongAck() {
        #expect(throws: StoreError.self) { try ExecutionWriter.matchReturned([record(), record()], ids: [5, 4], eventIDs: [nil, nil]) }
        #expect(throws: StoreError.self) { try ExecutionWriter.matchReturned([record(), record()], ids: [5], eventIDs: [nil]) }
        #expect(throws: StoreError.self) { try ExecutionWriter.matchReturned([record(event: "x")], ids: [5, 6], eventIDs: ["x", nil]) }
    }
}

/// `PGText.appendResourceUsageJSON` as a String (nil without usage), for comparing with literals.
private func resourceUsageJSON(_ usage: ResourceUsage) -> String? {
    var out: [UInt8] = []
    return PGText.appendResourceUsageJSON(usage, to: &out) ? String(decoding: out, as: UTF8.self) : nil
}

@Suite("Text formats")
struct TextFormatTests {
    @Test func resourceUsageJSONKeepsNumbersOnlyIncludingZeroAndOne() {
        let u = PGText.resourceUsage(fromJSON: #"{"cpu_percent": 1, "memory_mb": 0, "io_ops": 1, "flag": true, "name": "x", "n": null}"#)
        #expect(u == ResourceUsage(cpu: 1, memoryMB: 0, other: ["io_ops": 1]))
        #expect(PGText.resourceUsage(fromJSON: "[1,2]") == ResourceUsage())
    }

    @Test func resourceUsageFastPathAgreesWithTheFullDecoder() {
        var inputs = [
            "{}", " { } ", #"{"cpu": 40.5, "tokens": 5000, "memory_mb": 1024}"#, #"{"cpu":1e3,"x":-0.5E-2}"#,
            #"{"cpu": 01}"#, #"{"cpu": 1.}"#, #"{"cpu": .5}"#, #"{"cpu": +1}"#, #"{"cpu": 1e}"#, #"{"cpu": --1}"#,
            #"{"cpu": 1,}"#, #"{"cpu" 1}"#, #"{"cpu": 1"#, #"{"cpu": 1} x"#, #"{"c\"pu": 2}"#, #"{"c\u0070u": 2}"#,
            #"{"cpu": 1, "cpu": 2}"#, #"{"a": {"b": 1}}"#, #"{"a": [1]}"#, #"{"a": "1"}"#, #"{"a": true, "b": 2}"#,
            #"{"größe": 3.25, "tokens": 7}"#, #"{"cpu": 1e400}"#, #"{"cpu": -0}"#, "", "null", "[1,2]", "{", "}",
        ]
        var rng = SystemRandomNumberGenerator()
        let keys = ["cpu", "cpu_percent", "memory_mb", "tokens", "io_ops", "gpu"]
        let values = ["0", "1", "-2.5", "3e2", "1E-3", "12345678901234567890", "0.000001"]
        for _ in 0..<300 {
            let n = Int.random(in: 0...4, using: &rng)
            let body = (0..<n).map { _ in "\"\(keys.randomElement(using: &rng)!)\":\(Bool.random(using: &rng) ? " " : "")\(values.randomElement(using: &rng)!)" }
            var text = "{" + body.joined(separator: Bool.random(using: &rng) ? ", " : ",") + "}"
            if Int.random(in: 0..<5, using: &rng) == 0, !text.isEmpty {
                text.remove(at: text.index(text.startIndex, offsetBy: Int.random(in: 0..<text.count, using: &rng)))
            }
            inputs.append(text)
        }
        for text in inputs {
            #expect(PGText.resourceUsage(fromJSON: text) == PGText.decodedResourceUsage(text), "\(text)")
        }
        #expect(PGText.flatNumberObject(#"{"cpu": 40.5, "tokens": 5000}"#) == ["cpu": 40.5, "tokens": 5000])
    }

    @Test func arrayLiteralsEscapeQuotesAndBackslashesAndKeepUnicode() {
        let items: [String?] = ["plain", nil, #"say "hi""#, #"C:\path"#, "größe ✓", "", "NULL", "a,b{c}"]
        #expect(PGText.array(items) == #"{"plain",NULL,"say \"hi\"","C:\\path","größe ✓","","NULL","a,b{c}"}"#)
        #expect(PGText.parseArray(PGText.array(items)) == items)
    }

    @Test func byteNumberFormattingMatchesStringFormatting() {
        var values: [Double] = [0, -0.0, 1, -1, 5000, 256, 1.5, -2.25, 0.1, 1e-7, 123456789012345, 9_007_199_254_740_991,
                                9_007_199_254_740_992, 1e20, -1e300, .leastNonzeroMagnitude, .greatestFiniteMagnitude, .nan, .infinity]
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            values.append(Double(Int.random(in: -1_000_000...1_000_000, using: &rng)))
            values.append(Double.random(in: -1e6...1e6, using: &rng))
            values.append(Double(bitPattern: UInt64.random(in: 0...UInt64.max, using: &rng)))
        }
        for v in values {
            var out: [UInt8] = []
            PGText.appendJSONNumber(v, to: &out)
            #expect(String(decoding: out, as: UTF8.self) == PGText.jsonNumber(v), "\(v)")
        }
        for n: UInt64 in [0, 9, 10, 99, 100, 12345, UInt64.max, 10_000_000_000_000_000_000] {
            var out: [UInt8] = []
            PGText.appendDecimal(n, to: &out)
            #expect(String(decoding: out, as: UTF8.self) == String(n))
        }
    }

    @Test func resourceUsageJSONHasKnownKeysFirstThenOthersSortedAndEscaped() {
        let u = ResourceUsage(cpu: 12.5, memoryMB: 256, tokens: 5000, other: ["z\"q": 1, "a\tb": -0.5, "cpu": 99])
        #expect(resourceUsageJSON(u) == #"{"cpu":12.5,"memory_mb":256.0,"tokens":5000.0,"a\tb":-0.5,"z\"q":1.0}"#)
        #expect(resourceUsageJSON(ResourceUsage()) == nil)
        #expect(PGText.resourceUsage(fromJSON: resourceUsageJSON(u)) == ResourceUsage(cpu: 12.5, memoryMB: 256, tokens: 5000, other: ["z\"q": 1, "a\tb": -0.5]))
    }

    @Test func uuidCheckAcceptsCanonicalFormOnly() {
        #expect(isCanonicalUUID(UUID().uuidString))
        #expect(isCanonicalUUID(UUID().uuidString.lowercased()))
        #expect(!isCanonicalUUID("not-a-uuid"))
        #expect(!isCanonicalUUID(UUID().uuidString + "0"))
        #expect(!isCanonicalUUID(String(UUID().uuidString.dropLast()) + "g"))
        #expect(!isCanonicalUUID(UUID().uuidString.replacingOccurrences(of: "-", with: "")))
    }

    @Test func copyTimestampsAreUTCWithMicroseconds() {
        var out: [UInt8] = []
        CopyText.appendTimestamp(Date(timeIntervalSince1970: 1_760_000_000.123456), to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "2025-10-09 08:53:20.123456")
        out = []
        CopyText.appendTimestamp(Date(timeIntervalSince1970: -1.5), to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "1969-12-31 23:59:58.500000")
    }
}

@Suite("FIFO queue")
struct FIFOQueueTests {
    @Test func keepsOrderAcrossCompactionAndEmptying() {
        var q = FIFOQueue<Int>(compactAfter: 3)
        var taken: [Int] = []
        for i in 0..<10 { q.append(i) }
        for _ in 0..<6 { taken.append(q.popFirst()!) } // compacts after the 4th
        for i in 10..<12 { q.append(i) }
        #expect(q.first == 6)
        while let x = q.popFirst() { taken.append(x) }
        #expect(taken == Array(0..<12))
        #expect(q.isEmpty && q.first == nil && q.popFirst() == nil)
        q.append(12); q.append(13); _ = q.popFirst(); q.append(14)
        #expect(q.removeAll() == [13, 14])
        #expect(q.isEmpty)
    }
}
