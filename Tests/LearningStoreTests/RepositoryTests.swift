import Foundation
import LearningTestDatabase
import Testing
@testable import LearningStore
import LearningCore
import LearningRepository

@Suite("Repository", .serialized)
struct RepositoryTests {
    @Test func registryUpsertKeepsRegistrationAndHeartbeatMovesLastSeen() async throws {
        try await TestDatabase.withStore { store, _ in
            let t0 = Date(timeIntervalSince1970: 1_700_000_000)
            let a = AgentDefinition(name: "director", description: "plans", tools: ["bash", "a \"quoted\" tool"],
                                    model: "opus", source: "api", metadata: ["tier": "1"], registeredAt: t0)
            let (stored, created) = try await store.upsertAgent(a)
            #expect(created && stored == a)
            var b = a
            b.description = "plans better"
            b.registeredAt = t0.addingTimeInterval(100)
            let (updated, created2) = try await store.upsertAgent(b)
            #expect(!created2)
            #expect(updated.description == "plans better" && updated.registeredAt == t0)
            let beat = try await store.heartbeat(agentName: "director", at: t0.addingTimeInterval(50))
            #expect(beat.lastSeen == t0.addingTimeInterval(50))
            await #expect(throws: StoreError.self) { _ = try await store.heartbeat(agentName: "nobody") }
            try await store.noteAgentsSeen(["director": t0.addingTimeInterval(10), "newcomer": t0])
            let all = try await store.listAgents()
            #expect(all.map(\.name) == ["director", "newcomer"])
            #expect(all[0].lastSeen == t0.addingTimeInterval(50) && all[0].source == "api")
            #expect(all[1].source == "discovered")
            #expect(try await store.agent(named: "newcomer")?.lastSeen == t0)
            #expect(try await store.counts().agents == 2)
        }
    }

    @Test func submittedMetricsMapOntoPerformanceMetricsColumns() async throws {
        try await TestDatabase.withStore { store, url in
            let id = try await store.submitMetrics(agentName: "coder", taskType: "codegen", sample: MetricsSample(
                responseTime: 1.5, throughput: 3, cpu: 40, memoryMB: 512, resources: ["tokens": 900],
                successRate: 0.9, coordinationEffectiveness: 0.7))
            // The guide's direct-database query sees it.
            let c = try PGConnection(url: url)
            let r = try c.query("""
                SELECT agent_name, avg_execution_time, success_rate, last_updated
                FROM agents.performance_metrics WHERE agent_name = $1 ORDER BY last_updated DESC LIMIT 10
                """, [.text("coder")])
            #expect(r.count == 1 && r.double(0, 1) == 1.5 && r.double(0, 2) == 0.9)
            let latest = try await store.latestPerformance(agentName: "coder")
            #expect(latest.count == 1)
            #expect(latest[0].id == id && latest[0].resourceCPU == 40 && latest[0].resourceMemory == 512)
            #expect(latest[0].coordinationScore == 0.7 && latest[0].throughput == 3 && latest[0].source == "submitted")
            await #expect(throws: StoreError.self) {
                _ = try await store.submitMetrics(agentName: "coder", taskType: nil, sample: MetricsSample(successRate: 7))
            }
        }
    }

    @Test func modelsRoundTripBytesAndHyperparameters() async throws {
        try await TestDatabase.withStore { store, _ in
            let bytes = (0..<5000).map { UInt8(truncatingIfNeeded: $0 * 7) }
            let m1 = StoredModel(name: "performance_prediction", type: "ridge", version: "1", accuracy: 0.8,
                                 trainedOn: Date(timeIntervalSince1970: 1_700_000_000), data: bytes,
                                 hyperparametersJSON: #"{"learning_rate": 0.001}"#)
            _ = try await store.saveModel(m1)
            var m2 = m1
            m2.version = "2"
            m2.trainedOn = m1.trainedOn.addingTimeInterval(60)
            m2.data = [0, 1, 2, 255]
            let id2 = try await store.saveModel(m2)
            let latest = try #require(try await store.latestModel(named: "performance_prediction"))
            #expect(latest.id == id2 && latest.version == "2" && latest.data == [0, 1, 2, 255])
            #expect(latest.hyperparametersJSON == #"{"learning_rate": 0.001}"#)
            #expect(try await store.latestModel(named: "missing") == nil)
            var bad = m1
            bad.hyperparametersJSON = "{not json"
            do { _ = try await store.saveModel(bad) } catch let e as StoreError {
                guard case .invalidInput = e else { Issue.record("got \(e)"); return }
            }
        }
    }

    @Test func savingAModelKeepsOnlyItsNewestVersions() async throws {
        try await TestDatabase.withStore { store, url in
            var ids: [Int64] = []
            for k in 0..<15 {
                let m = StoredModel(name: "anomaly_detection", type: "online", version: "\(k)", accuracy: nil,
                                    trainedOn: Date(timeIntervalSince1970: 1_700_000_000 + Double(k) * 3600), data: [UInt8(k)],
                                    hyperparametersJSON: nil)
                ids.append(try await store.saveModel(m, keepVersions: 10))
            }
            _ = try await store.saveModel(StoredModel(name: "other", type: "x", version: "1", accuracy: nil,
                                                      trainedOn: Date(), data: [1], hyperparametersJSON: nil), keepVersions: 10)
            let c = try PGConnection(url: url)
            let left = try c.query("SELECT id FROM agents.ml_models WHERE model_name = 'anomaly_detection' ORDER BY id")
            #expect((0..<left.count).compactMap { left.int64($0, 0) } == Array(ids.suffix(10)))
            #expect(try c.query("SELECT count(*) FROM agents.ml_models WHERE model_name = 'other'").int64(0, 0) == 1)
            #expect(try await store.latestModel(named: "anomaly_detection")?.version == "14")
        }
    }

    @Test func executionsAreAppendedToAStoredAnomaly() async throws {
        try await TestDatabase.withStore { store, _ in
            let id = try await store.saveInsight(StoredInsight(kind: "latency_spike", severity: "warning", title: "Latency spike: coder",
                                                               detail: "slow", agents: ["coder"], taskType: "build", score: 3,
                                                               observed: 40, expected: 10, threshold: 2, executionID: 5,
                                                               executionIDs: [5], createdAt: Date()))
            try await store.appendInsightExecutionIDs(insightID: id, executionIDs: [6, 9])
            try await store.appendInsightExecutionIDs(insightID: id, executionIDs: [])
            let stored = try #require(try await store.insights(kinds: ["latency_spike"]).first)
            #expect(stored.executionIDs == [5, 6, 9])
            #expect(stored.executionID == 9)
        }
    }

    @Test func insightsAreListedNewestFirstByKindAndAgent() async throws {
        try await TestDatabase.withStore { store, _ in
            let t = Date(timeIntervalSince1970: 1_700_000_000)
            _ = try await store.saveInsight(StoredInsight(kind: "synergy", title: "a+b", agents: ["a", "b"], score: 0.3, createdAt: t))
            _ = try await store.saveInsight(StoredInsight(kind: "latency_spike", severity: "warning", title: "slow", agents: ["a"],
                                                          taskType: "x", score: 4, observed: 9, expected: 1, threshold: 2,
                                                          executionID: 42, createdAt: t.addingTimeInterval(1)))
            let all = try await store.insights()
            #expect(all.map(\.kind) == ["latency_spike", "synergy"])
            #expect(all[0].executionIDs == [] && all[1].executionIDs == [])
            #expect(all[0].executionID == 42 && all[0].observed == 9 && all[0].createdAt == t.addingTimeInterval(1))
            #expect(try await store.insights(kinds: ["synergy"]).count == 1)
            #expect(try await store.insights(agentName: "b").map(\.kind) == ["synergy"])
            #expect(try await store.insights(since: t.addingTimeInterval(0.5)).count == 1)
        }
    }

    @Test func anomalyInsightKeepsEveryExecutionItCovers() async throws {
        try await TestDatabase.withStore { store, _ in
            let burst: [Int64] = [7, 9, 12, 9_000_000_000]
            let id = try await store.saveInsight(StoredInsight(kind: "failure_burst", severity: "critical", title: "burst",
                                                               agents: ["a"], score: 3, executionID: burst.last,
                                                               executionIDs: burst))
            let got = try await store.insights(kinds: ["failure_burst"])
            #expect(got.count == 1 && got[0].id == id)
            #expect(got[0].executionIDs == burst)
            #expect(got[0].executionID == 9_000_000_000)
        }
    }
}
