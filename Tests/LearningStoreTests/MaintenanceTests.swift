import Foundation
import LearningTestDatabase
import Testing
@testable import LearningStore
import LearningCore
import LearningRepository

@Suite("Roll-ups, retention, embeddings", .serialized)
struct MaintenanceTests {
    @Test func rollUpWritesOneSnapshotPerAgentAndTaskType() async throws {
        try await TestDatabase.withStore { store, url in
            let shared = UUID().uuidString
            let solo = UUID().uuidString
            _ = try await store.logExecutions([
                record("a", task: shared, type: "plan", time: 1, success: true, cpu: 10),
                record("b", task: shared, type: "plan", time: 3, success: false, cpu: 30),
                record("a", task: solo, type: "plan", time: 2, success: false, cpu: 20),
                record("a", task: nil, type: "code", time: 4, success: true),
                record("c", type: "plan", time: 1, at: Date().addingTimeInterval(-3 * 86_400)),
            ])
            #expect(try await store.rollUpPerformance(window: 86_400) == 3)
            let snaps = try await store.latestPerformance()
            let aPlan = try #require(snaps.first { $0.agentName == "a" && $0.taskType == "plan" })
            #expect(aPlan.avgExecutionTime == 1.5 && aPlan.successRate == 0.5 && aPlan.resourceCPU == 15)
            #expect(aPlan.coordinationScore == 1.0 && aPlan.executions == 2 && aPlan.source == "rollup")
            let bPlan = try #require(snaps.first { $0.agentName == "b" })
            #expect(bPlan.coordinationScore == 0 && bPlan.successRate == 0)
            let aCode = try #require(snaps.first { $0.agentName == "a" && $0.taskType == "code" })
            #expect(aCode.coordinationScore == nil && aCode.resourceCPU == nil)
            #expect(!snaps.contains { $0.agentName == "c" })
            // The guide's query reads the snapshot.
            let c = try PGConnection(url: url)
            let g = try c.query("""
                SELECT agent_name, avg_execution_time, success_rate, last_updated FROM agents.performance_metrics
                WHERE agent_name = $1 ORDER BY last_updated DESC LIMIT 10
                """, [.text("b")])
            #expect(g.count == 1 && g.double(0, 1) == 3)
        }
    }

    @Test func maintenanceLoopWritesASnapshotEveryTrackingInterval() async throws {
        let url = try TestDatabase.create()
        defer { TestDatabase.drop(url) }
        var config = TestDatabase.config(url)
        config.performance.performanceTrackingInterval = 1
        let store = try await LearningStore.open(config: config)
        _ = try await store.logExecutions([record("loop-a"), record("loop-b", type: "plan")])
        let loop = Task { await store.runMaintenance() }
        #expect(await eventually(10) { ((try? await store.counts().performanceMetrics) ?? 0) >= 6 },
                "two agents, three rounds in about three seconds")
        loop.cancel()
        #expect(try await store.latestPerformance().map(\.agentName) == ["loop-a", "loop-b"])
        await store.shutdown()
    }

    @Test func retentionDeletesOldRowsInBatchesAndKeepsRecentOnes() async throws {
        try await TestDatabase.withStore { store, url in
            let old = Date().addingTimeInterval(-91 * 86_400)
            let recent = Date().addingTimeInterval(-89 * 86_400)
            _ = try await store.logExecutions((0..<1_234).map { _ in record("old", at: old) })
            _ = try await store.logExecutions((0..<100).map { _ in record("recent", at: recent) })
            _ = try await store.submitMetrics(agentName: "old", taskType: nil, sample: MetricsSample(responseTime: 1), at: old)
            _ = try await store.submitMetrics(agentName: "recent", taskType: nil, sample: MetricsSample(responseTime: 1))
            _ = try await store.saveInsight(StoredInsight(kind: "drift", title: "old", createdAt: old))
            let c = try PGConnection(url: url)
            // The old rows' day has no partition (it is before the first day retention keeps): they
            // wait in the default partition, whence retention deletes them in batches.
            #expect(try c.query("SELECT count(*) FROM agents.execution_log_default").int64(0, 0) == 1_234)
            let report = try await store.applyRetention(batch: 500) // performance.metrics_retention_days = 90
            #expect(report.deleted == ["execution_log": 1_234, "execution_event_ids": 0, "performance_metrics": 1, "insights": 1])
            #expect(report.droppedPartitions == [])
            #expect(report.executionCutoff == Partitions.start(ofDay: Partitions.dayNumber(Date()) - 90))
            #expect(try c.query("SELECT count(*) FROM agents.execution_log WHERE agent_name = 'old'").int64(0, 0) == 0)
            #expect(try c.query("SELECT count(*) FROM agents.execution_log WHERE agent_name = 'recent'").int64(0, 0) == 100)
            #expect(try await store.latestPerformance().map(\.agentName) == ["recent"])
        }
    }

    /// Same data, same queries, for whichever embedding mode the store has.
    static func exerciseEmbeddings(_ store: LearningStore) async throws -> [[SimilarEmbedding]] {
        var rng = SplitMix(seed: 7)
        for i in 0..<40 {
            let v = (0..<256).map { _ in Float(rng.next() % 2000) / 1000 - 1 }
            _ = try await store.saveEmbedding(agentName: "agent-\(i)", taskType: i % 2 == 0 ? nil : "plan", vector: v)
        }
        // Replacing keeps one row per (agent, task type).
        _ = try await store.saveEmbedding(agentName: "agent-0", vector: (0..<256).map { Float($0 % 5) - 2 })
        var answers: [[SimilarEmbedding]] = []
        for q in 0..<5 {
            let v = (0..<256).map { _ in Float(rng.next() % 2000) / 1000 - 1 }
            answers.append(try await store.similarEmbeddings(to: v, k: 5, excludingAgent: q == 0 ? "agent-3" : nil))
        }
        return answers
    }

    @Test func realArrayEmbeddingsRankByCosineInSwift() async throws {
        try await TestDatabase.withStore { store, _ in
            #expect(store.embeddingMode == .realArray || store.embeddingMode == .pgvector)
            let answers = try await Self.exerciseEmbeddings(store)
            #expect(answers.allSatisfy { $0.count == 5 })
            #expect(!answers[0].contains { $0.agentName == "agent-3" })
            let v = (0..<256).map { Float($0 % 5) - 2 }
            let top = try await store.similarEmbeddings(to: v, k: 1)
            #expect(top.first?.agentName == "agent-0" && abs((top.first?.similarity ?? 0) - 1) < 1e-6)
            #expect(try await store.embedding(agentName: "agent-0") == v)
        }
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["LEARNING_TEST_PGVECTOR_URL"] != nil,
                   "needs a PostgreSQL with pgvector (LEARNING_TEST_PGVECTOR_URL, scripts/pgvector-cluster.sh starts one)"))
    func pgvectorAndRealArrayModesReturnTheSameTopK() async throws {
        let vectorBase = ProcessInfo.processInfo.environment["LEARNING_TEST_PGVECTOR_URL"]!
        let withVector = try await TestDatabase.withStore(base: vectorBase) { store, _ in
            #expect(store.embeddingMode == .pgvector)
            return try await Self.exerciseEmbeddings(store)
        }
        let withoutVector = try await TestDatabase.withStore { store, _ in
            #expect(store.embeddingMode == .realArray)
            return try await Self.exerciseEmbeddings(store)
        }
        #expect(withVector.map { $0.map(\.agentName) } == withoutVector.map { $0.map(\.agentName) })
        for (a, b) in zip(withVector.joined(), withoutVector.joined()) {
            #expect(abs(a.similarity - b.similarity) < 1e-5)
        }
    }
}

/// A deterministic generator for test data.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
