import Foundation
import LearningCore
import Testing
@testable import LearningML

@Suite struct PredictionTests {
    @Test func shrunkEstimateLiesBetweenPairRateAndItsPrior() {
        var w = WorkloadBuilder()
        // Task "b": most agents succeed half the time; agent "x" is mediocre elsewhere too.
        for k in 0..<6 { w.series(agent: "peer-\(k)", task: "b", count: 200, days: 10) { _ in 0.5 } }
        w.series(agent: "x", task: "a", count: 300, days: 10) { _ in 0.6 }
        for k in 0..<6 { w.series(agent: "peer-\(k)", task: "a", count: 100, days: 10) { _ in 0.6 } }
        // x on b: 4 runs, all successful (raw rate 1.0).
        for i in 0..<4 { w.add(agent: "x", task: "b", at: day0.addingTimeInterval(Double(i) * 3600), success: true, time: 10) }
        var e = LearningEngine()
        let now = day0.addingTimeInterval(10 * 86_400)
        _ = e.retrain(on: w.sorted, now: now)
        let p = e.predict(agent: "x", taskType: "b", at: now)
        #expect(p.sampleSize == 4)
        #expect(p.successProbability < 0.9, "shrunk below the raw pair rate 1.0: \(p.successProbability)")
        #expect(p.successProbability > 0.5, "above the task type's prior 0.5: \(p.successProbability)")
        let rich = e.predict(agent: "x", taskType: "a", at: now)
        #expect(rich.confidence > p.confidence)
        #expect(abs(rich.successProbability - 0.6) < 0.07)
        #expect(rich.intervalLow < rich.medianExecutionTime && rich.medianExecutionTime < rich.intervalHigh)
    }

    @Test func driftingAgentsForecastFollowsItsDecline() {
        var w = WorkloadBuilder()
        // "drifter" falls from 0.9 to 0.4 between day 8 and day 20; "steady" stays at 0.9.
        for task in ["a", "b"] {
            w.series(agent: "drifter", task: task, count: 600, days: 20) { t in t < 8 ? 0.9 : 0.9 - 0.5 * (t - 8) / 12 }
            w.series(agent: "steady", task: task, count: 600, days: 20) { _ in 0.9 }
        }
        var e = LearningEngine()
        let now = day0.addingTimeInterval(20 * 86_400)
        _ = e.retrain(on: w.sorted, now: now)
        let allTime = Double(w.records.filter { $0.agentName == "drifter" && $0.success }.count)
            / Double(w.records.filter { $0.agentName == "drifter" }.count)
        let p = e.predict(agent: "drifter", taskType: "a", at: now.addingTimeInterval(3 * 86_400))
        let steady = e.predict(agent: "steady", taskType: "a", at: now.addingTimeInterval(3 * 86_400))
        #expect(p.successProbability < allTime - 0.1, "forecast \(p.successProbability) vs all-time \(allTime)")
        #expect(p.driftDetected)
        #expect(abs(steady.successProbability - 0.9) < 0.05)
        let ranked = e.recommend(taskType: "a", at: now.addingTimeInterval(3 * 86_400))
        #expect(ranked.first?.agentName == "steady")
    }

    @Test func agentWhoseSuccessDropsAbruptlyIsFollowedByItsForecast() {
        var w = WorkloadBuilder()
        // "stepper" succeeds 90 % of the time until day 14, then 45 % (a step, not a ramp).
        for task in ["a", "b"] {
            w.series(agent: "stepper", task: task, count: 600, days: 20) { t in t < 14 ? 0.9 : 0.45 }
            w.series(agent: "steady", task: task, count: 600, days: 20) { _ in 0.8 }
        }
        var e = LearningEngine()
        let now = day0.addingTimeInterval(20 * 86_400)
        _ = e.retrain(on: w.sorted, now: now)
        let later = now.addingTimeInterval(3 * 86_400)
        let p = e.predict(agent: "stepper", taskType: "a", at: later)
        // All-time rate about 0.76; the forecast must follow the new level, not the average.
        #expect(p.successProbability < 0.6, "forecast \(p.successProbability) after the step to 0.45")
        #expect(p.successProbability > 0.3)
        #expect(p.driftDetected)
        #expect(e.recommend(taskType: "a", at: later).first?.agentName == "steady")
    }

    @Test func rankingPoolsAnAgentsStrengthButKeepsAWellAttestedSpeciality() {
        var w = WorkloadBuilder()
        // Eight task types. "strong" succeeds 95 % on seven of them, "lucky" 55 %, "specialist"
        // 60 %, "generalist" 88 %, eight peers 75 %; on t7: strong 5 of 6, lucky 3 of 3 (a raw
        // rate of 1.0), the specialist 98 % over 120 runs (its speciality), the generalist 88 %.
        let types = (0..<8).map { "t\($0)" }
        for t in types.dropLast() {
            w.series(agent: "strong", task: t, count: 80, days: 10) { _ in 0.95 }
            w.series(agent: "lucky", task: t, count: 80, days: 10) { _ in 0.55 }
            w.series(agent: "specialist", task: t, count: 80, days: 10) { _ in 0.6 }
        }
        for t in types { w.series(agent: "generalist", task: t, count: 120, days: 10) { _ in 0.88 } }
        for k in 0..<8 { for t in types { w.series(agent: "peer-\(k)", task: t, count: 40, days: 10) { _ in 0.75 } } }
        w.series(agent: "specialist", task: "t7", count: 120, days: 10) { _ in 0.98 }
        for i in 0..<6 { w.add(agent: "strong", task: "t7", at: day0.addingTimeInterval(Double(i) * 7200), success: i != 2, time: 10) }
        for i in 0..<3 { w.add(agent: "lucky", task: "t7", at: day0.addingTimeInterval(Double(i) * 7200 + 3600), success: true, time: 10) }
        var e = LearningEngine()
        let now = day0.addingTimeInterval(10 * 86_400)
        _ = e.retrain(on: w.sorted, now: now)
        let prior = e.model.deviationPrior ?? []
        #expect(prior.count == LearningEngine.deviationGrid.count)
        #expect(abs(prior.reduce(0, +) - 1) < 1e-9)
        let names = e.recommend(taskType: "t7", at: now, limit: 20).map(\.agentName)
        let rank = { (name: String) in names.firstIndex(of: name) ?? Int.max }
        #expect(rank("strong") < rank("lucky"), "ranking \(names)")
        #expect(names.first == "specialist", "ranking \(names)")
        let lucky = e.predict(agent: "lucky", taskType: "t7", at: now).successProbability
        #expect(lucky < 0.8, "3 of 3 from a 55 % agent is pooled towards its strength: \(lucky)")
        // Without the pooled prior (beta-binomial shrinkage of one strength for every pair) the
        // speciality is shrunk towards the specialist's 60 % elsewhere and loses first place.
        var params = EngineParameters()
        params.pooledSuccessPrior = false
        var old = LearningEngine(parameters: params)
        _ = old.retrain(on: w.sorted, now: now)
        #expect(old.recommend(taskType: "t7", at: now, limit: 20).first?.agentName != "specialist")
    }

    @Test func recommendationsTradeSuccessForSpeed() {
        var w = WorkloadBuilder()
        w.series(agent: "careful", task: "t", count: 400, days: 10, median: 100) { _ in 0.92 }
        w.series(agent: "quick", task: "t", count: 400, days: 10, median: 5) { _ in 0.85 }
        var e = LearningEngine()
        let now = day0.addingTimeInterval(10 * 86_400)
        _ = e.retrain(on: w.sorted, now: now)
        #expect(e.recommend(taskType: "t", at: now).map(\.agentName) == ["careful", "quick"])
        #expect(e.recommend(taskType: "t", at: now, speedWeight: 0.5).first?.agentName == "quick")
        #expect(e.recommend(taskType: "t", at: now, limit: 1).count == 1)
        #expect(!(e.recommend(taskType: "t", at: now).first?.reason.isEmpty ?? true))
    }

    @Test func unknownAgentsAndTaskTypesFallBackWithTheirBasis() {
        var w = WorkloadBuilder()
        w.series(agent: "a", task: "t", count: 100, days: 5) { _ in 0.8 }
        var e = LearningEngine()
        _ = e.retrain(on: w.sorted, now: day0.addingTimeInterval(5 * 86_400))
        #expect(e.predict(agent: "new", taskType: "t", at: day0).basis == .taskType)
        #expect(e.predict(agent: "new", taskType: "other", at: day0).basis == .global)
        #expect(e.predict(agent: "a", taskType: "t", at: day0).basis == .pair)
        #expect(e.predict(agent: "new", taskType: "t", at: day0).lowConfidence)
    }
}

@Suite struct AnomalyTests {
    @Test func burstOfOneAgentsFailuresIsFlagged() {
        var w = WorkloadBuilder()
        w.series(agent: "a", task: "t", count: 500, days: 5) { _ in 0.9 }
        w.series(agent: "b", task: "t", count: 500, days: 5) { _ in 0.9 }
        var e = LearningEngine()
        let now = day0.addingTimeInterval(5 * 86_400)
        _ = e.retrain(on: w.sorted, now: now)
        var flagged: [DetectedAnomaly] = []
        var burstIDs: [Int64] = []
        for i in 0..<10 {
            let id = Int64(10_000 + i)
            burstIDs.append(id)
            flagged += e.observe(ExecutionRecord(id: id, agentName: "a", taskType: "t", executionTime: 10, success: false,
                                                 errorMessage: "Deadlock detected on transaction 0x1f2e after \(i) retries",
                                                 timestamp: now.addingTimeInterval(Double(i) * 120)))
        }
        let bursts = flagged.filter { $0.kind == .failureBurst }
        #expect(!bursts.isEmpty)
        let ids = Set(bursts.flatMap(\.recordIDs))
        #expect(ids.isSuperset(of: burstIDs[3...]), "flagged \(ids.sorted())")
        #expect(bursts.allSatisfy { $0.agentName == "a" && $0.score >= 2 }, "\(flagged)")
        #expect(bursts.first?.kind.rawValue == "failure_burst")
        // The same failures spread over two days among the agent's usual successes are normal (ten
        // failures in a row, however far apart, are a streak: ActionableAnomalyTests).
        var quiet = e
        var spread: [DetectedAnomaly] = []
        for i in 0..<100 {
            spread += quiet.observe(ExecutionRecord(id: Int64(20_000 + i), agentName: "b", taskType: "t", executionTime: 10,
                                                    success: i % 10 != 0, timestamp: now.addingTimeInterval(Double(i) * 1_728)))
        }
        #expect(spread.filter { $0.kind == .failureBurst }.isEmpty)
    }

    @Test func latencySpikeAndResourceBlowupAreFlaggedAndThresholdHonoured() {
        var w = WorkloadBuilder()
        w.series(agent: "a", task: "t", count: 400, days: 5, median: 10, sigma: 0.3) { _ in 0.9 }
        var e = LearningEngine()
        let now = day0.addingTimeInterval(5 * 86_400)
        _ = e.retrain(on: w.sorted, now: now)
        let normal = ExecutionRecord(id: 1, agentName: "a", taskType: "t", executionTime: 11, success: true,
                                     resourceUsage: ResourceUsage(cpu: 41, memoryMB: 1000, tokens: 5000), timestamp: now)
        #expect(e.observe(normal).isEmpty)
        let slow = ExecutionRecord(id: 2, agentName: "a", taskType: "t", executionTime: 80, success: true,
                                   resourceUsage: ResourceUsage(cpu: 41, memoryMB: 1000, tokens: 5000), timestamp: now)
        #expect(e.observe(slow).map(\.kind) == [.latencySpike])
        let hungry = ExecutionRecord(id: 3, agentName: "a", taskType: "t", executionTime: 10, success: true,
                                     resourceUsage: ResourceUsage(cpu: 41, memoryMB: 9000, tokens: 5000), timestamp: now)
        #expect(e.observe(hungry).map(\.kind) == [.resourceBlowup])
        var lax = EngineParameters()
        lax.anomalyThreshold = 50
        var e2 = LearningEngine(parameters: lax)
        _ = e2.retrain(on: w.sorted, now: now)
        #expect(e2.observe(slow).isEmpty)
    }
}

extension AnomalyTests {
    @Test func beforeTheFirstRetrainBaselinesPoolTheTaskTypeSoOnlyRealSpikesAreFlagged() {
        // An untrained engine (a fresh service) sees agents with very different typical times.
        var w = WorkloadBuilder()
        for (k, median) in [5.0, 30, 120, 400, 900].enumerated() {
            w.series(agent: "agent-\(k)", task: "t", count: 40, days: 0.5, median: median, sigma: 0.3) { _ in 0.9 }
        }
        var e = LearningEngine()
        var flagged: [DetectedAnomaly] = []
        for r in w.sorted { flagged += e.observe(r) }
        #expect(!e.isTrained)
        #expect(flagged.filter { $0.kind == .latencySpike }.isEmpty, "\(flagged.map(\.description))")
        let spike = ExecutionRecord(id: 9_999, agentName: "agent-3", taskType: "t", executionTime: 400 * 30, success: true,
                                    resourceUsage: ResourceUsage(cpu: 40, memoryMB: 1000, tokens: 5000),
                                    timestamp: day0.addingTimeInterval(43_200))
        #expect(e.observe(spike).map(\.kind) == [.latencySpike])
    }

    @Test func youngResourceBaselinesNeedMoreEvidenceThanMatureOnes() {
        // Memory alternates 905 / 1105 MB (log sd 0.1); 1,600 MB is about 4.7 sd above the mean.
        func engine(runs: Int) -> LearningEngine {
            var e = LearningEngine()
            for i in 0..<runs {
                _ = e.observe(ExecutionRecord(id: Int64(i), agentName: "a", taskType: "t", executionTime: 10, success: true,
                                              resourceUsage: ResourceUsage(cpu: 40, memoryMB: i % 2 == 0 ? 905 : 1105, tokens: 5000),
                                              timestamp: day0.addingTimeInterval(Double(i) * 60)))
            }
            return e
        }
        let hungry = ExecutionRecord(id: 100_000, agentName: "a", taskType: "t", executionTime: 10, success: true,
                                     resourceUsage: ResourceUsage(cpu: 40, memoryMB: 1600, tokens: 5000),
                                     timestamp: day0.addingTimeInterval(86_400))
        var young = engine(runs: 12)
        #expect(young.observe(hungry).isEmpty, "12 runs do not pin the spread down")
        var mature = engine(runs: 400)
        #expect(mature.observe(hungry).map(\.kind) == [.resourceBlowup])
    }
}

@Suite struct PatternTests {
    @Test func knownSynergyPairIsFoundWithSignificance() {
        var w = WorkloadBuilder()
        var rng = SplitMix(7)
        let agents = (0..<6).map { "agent-\($0)" }
        for k in 0..<1500 {
            let at = day0.addingTimeInterval(Double(k) * 300)
            let i = Int(rng.next() % 6)
            var j = Int(rng.next() % 6)
            if j == i { j = (j + 1) % 6 }
            let together = Set([i, j]) == Set([0, 1])
            let p = together ? 0.95 : 0.6
            let task = UUID().uuidString
            w.add(agent: agents[i], task: "t", at: at, success: rng.bernoulli(p), time: 10, taskID: task)
            w.add(agent: agents[j], task: "t", at: at.addingTimeInterval(60), success: rng.bernoulli(p), time: 10, taskID: task)
        }
        var e = LearningEngine()
        _ = e.retrain(on: w.sorted, now: day0.addingTimeInterval(6 * 86_400))
        let patterns = e.collaborationPatterns()
        let top = patterns.max { $0.zScore < $1.zScore }!
        #expect(Set([top.agents.0, top.agents.1]) == ["agent-0", "agent-1"])
        #expect(top.zScore > 3)
        #expect(top.successLift > 0.1)
        #expect(!e.handoffs().isEmpty)
        // Forecasts are for solo work: agent-0's estimate drops from its raw rate (inflated by
        // its good partner) towards its solo rate 0.6.
        let own = w.records.filter { $0.agentName == "agent-0" }
        let raw = Double(own.filter(\.success).count) / Double(own.count)
        let solo = e.predict(agent: "agent-0", taskType: "t", at: day0.addingTimeInterval(6 * 86_400)).successProbability
        #expect(abs(solo - 0.6) < abs(raw - 0.6), "solo \(solo), raw \(raw)")
    }

    @Test func aTaskIDReusedByManyExecutionsKeepsOneMemberPerAgentAndABoundedTeam() {
        var e = LearningEngine()
        let task = UUID().uuidString
        // One agent retrying the same task 5,000 times, then 100 distinct agents joining it.
        for k in 0..<5_000 {
            _ = e.observe(ExecutionRecord(id: Int64(k), agentName: "retrier", taskID: task, taskType: "t", executionTime: 5,
                                          success: true, timestamp: day0.addingTimeInterval(Double(k))))
        }
        #expect(e.openTasks[task]?.count == 1)
        #expect(e.openTasks[task]?.first?.time == e.openTasks[task]?.map(\.time).max())
        for k in 0..<100 {
            _ = e.observe(ExecutionRecord(id: Int64(5_000 + k), agentName: "joiner-\(k)", taskID: task, taskType: "t", executionTime: 5,
                                          success: true, timestamp: day0.addingTimeInterval(5_000 + Double(k))))
        }
        #expect(e.openTasks[task]?.count == LearningEngine.maxTaskMembers)
        // The hand-off from the retrier (its latest execution) to the first joiner is still seen.
        #expect(e.handoffs().contains { $0.from == "retrier" && $0.to == "joiner-0" })
    }

    @Test func errorSignaturesGroupVariantsAndSeparateTemplates() {
        var w = WorkloadBuilder()
        let messages = [
            "Timeout after 783s waiting for response from worker-36.cluster.local",
            "Timeout after 12s waiting for response from worker-8.cluster.local",
            "ConnectionRefusedError: connect to 10.46.65.181:443 failed",
            "ConnectionRefusedError: connect to 10.1.2.3:5432 failed",
            "FileNotFoundError: [Errno 2] No such file or directory: '/data/a/run-1/out_3.json'",
            "FileNotFoundError: [Errno 2] No such file or directory: '/data/b/x.csv'",
            "Task 0152ed55-f844-473b-8237-3fadee3a98d0 cancelled by supervisor after 3 retries",
            "Task 8c1d5249-e5c4-4ced-b22b-23e3734bfbee cancelled by supervisor after 4 retries",
            "ValidationError: field 'tags' expected object, got string",
            "ValidationError: field 'payload' expected integer, got null",
            "Deadlock detected on transaction 0x3eaa29b2 after 4 retries",
        ]
        for (i, m) in messages.enumerated() {
            w.add(agent: "a\(i % 3)", task: "t\(i % 2)", at: day0.addingTimeInterval(Double(i) * 60), success: false,
                  time: 5, error: m)
        }
        var e = LearningEngine()
        for r in w.sorted { _ = e.observe(r) }
        let sig = messages.map { e.errorSignature(of: $0) }
        for k in stride(from: 0, to: 10, by: 2) { #expect(sig[k] == sig[k + 1], "\(sig[k]) vs \(sig[k + 1])") }
        #expect(Set(sig).count == 6)
        #expect(!sig[0].contains("783"))
        let patterns = e.failurePatterns()
        #expect(patterns.count == 6)
        #expect(patterns.first?.count == 2)
        #expect(LearningEngine.normalizeErrorMessage("id 0152ed55-f844-473b-8237-3fadee3a98d0 at /tmp/x.txt: 'q'")
                == "id <uuid> at <path>: <str>")
    }

    @Test func schedulesAndResourceProfilesReflectTheData() {
        var w = WorkloadBuilder()
        var rng = SplitMix(3)
        for k in 0..<3000 {
            let at = day0.addingTimeInterval(Double(k) * 600)
            let hour = Int(at.timeIntervalSince1970 / 3600) % 24
            let slow = hour == 15 ? 3.0 : 1.0
            let ok = hour == 2 ? rng.bernoulli(0.3) : rng.bernoulli(0.9)
            let heavy = k % 2 == 0
            w.add(agent: heavy ? "heavy-\(k % 4)" : "light-\(k % 4)", task: "t", at: at, success: ok,
                  time: 10 * slow * exp(0.2 * rng.normal()), memory: heavy ? 8000 : 500, tokens: heavy ? 50_000 : 2000,
                  cpu: heavy ? 90 : 10)
        }
        var e = LearningEngine()
        _ = e.retrain(on: w.sorted, now: day0.addingTimeInterval(3000 * 600))
        let s = e.schedulePatterns().first!
        #expect(s.worstFailureHour == 2)
        #expect(s.hourTimeFactor[15] > 2)
        #expect(s.bestHour != 15)
        let profiles = e.resourceProfiles(clusters: 2)
        #expect(profiles.count == 2)
        #expect(profiles.map { Set($0.agents.map { $0.hasPrefix("heavy") }) }.allSatisfy { $0.count == 1 })
    }

    @Test func embeddingsOfSimilarAgentsAreCloser() {
        var w = WorkloadBuilder()
        for name in ["coder-1", "coder-2"] {
            w.series(agent: name, task: "code", count: 300, days: 10, median: 30) { _ in 0.9 }
            w.series(agent: name, task: "review", count: 100, days: 10, median: 20) { _ in 0.8 }
        }
        w.series(agent: "writer", task: "docs", count: 300, days: 10, median: 5) { _ in 0.6 }
        w.series(agent: "writer", task: "review", count: 50, days: 10, median: 40) { _ in 0.5 }
        var e = LearningEngine()
        _ = e.retrain(on: w.sorted, now: day0.addingTimeInterval(10 * 86_400))
        let c1 = e.embedding(agent: "coder-1")!, c2 = e.embedding(agent: "coder-2")!, wr = e.embedding(agent: "writer")!
        #expect(c1.count == 256)
        #expect(LearningEngine.cosine(c1, c2) > LearningEngine.cosine(c1, wr))
        #expect(e.similarAgents(to: "coder-1", threshold: 0.5).first?.agent == "coder-2")
        #expect(e.nearestAgents(to: c2, limit: 1, threshold: 0.9).first?.agent == "coder-2")
        // Deterministic: the same data gives the same vector.
        var again = LearningEngine()
        _ = again.retrain(on: w.sorted, now: day0.addingTimeInterval(10 * 86_400))
        #expect(again.embedding(agent: "coder-1") == c1)
    }
}

@Suite struct ModelStoreTests {
    @Test func serializationRoundTripsPredictionsAndRejectsDamage() throws {
        var w = WorkloadBuilder()
        w.series(agent: "a", task: "t", count: 300, days: 10) { _ in 0.8 }
        w.series(agent: "b", task: "t", count: 300, days: 10) { t in 0.9 - 0.02 * t }
        var e = LearningEngine()
        let now = day0.addingTimeInterval(10 * 86_400)
        let report = e.retrain(on: w.sorted, now: now)
        #expect(report.accuracy > 0.5 && report.accuracy <= 1)
        #expect(report.holdoutRecords > 0)
        let bytes = e.serialize()
        let back = try LearningEngine(serialized: bytes)
        for agent in ["a", "b"] {
            #expect(back.predict(agent: agent, taskType: "t", at: now) == e.predict(agent: agent, taskType: "t", at: now))
        }
        #expect(back.accuracy == e.accuracy)
        #expect(back.hyperparameters == e.hyperparameters)
        #expect(throws: ModelDecodingError.notAModel) { try LearningEngine(serialized: [1, 2, 3]) }
        var wrongVersion = bytes
        wrongVersion[4] = 99
        #expect(throws: ModelDecodingError.unsupportedVersion(99)) { try LearningEngine(serialized: wrongVersion) }
        #expect(throws: (any Error).self) { try LearningEngine(serialized: Array(bytes.prefix(bytes.count / 2))) }
    }

    @Test func quantileSketchesStayBoundedAndAccurate() {
        var s = LogSketch()
        var rng = SplitMix(1)
        var xs: [Double] = []
        for _ in 0..<20_000 {
            let x = 50 * exp(0.5 * rng.normal())
            xs.append(x); s.add(x)
        }
        xs.sort()
        let median = s.quantile(0.5)!
        #expect(abs(log(median) - log(xs[10_000])) < 0.05)
        #expect(s.counts.count == LogSketch.bins)
        #expect(LearningEngine.bytesPerPair < 4096)
    }
}

@Suite struct RobustnessTests {
    @Test func incompleteAndOddRecordsAreCountedWithoutBreakingForecasts() {
        var e = LearningEngine()
        let odd = [
            ExecutionRecord(agentName: "a", success: true, timestamp: day0),
            ExecutionRecord(agentName: "a", taskType: "t", executionTime: -3, success: false, timestamp: day0),
            ExecutionRecord(agentName: "a", taskType: "t", executionTime: .nan, success: true,
                            resourceUsage: ResourceUsage(cpu: .infinity, memoryMB: 0, tokens: -1), timestamp: day0),
            ExecutionRecord(agentName: "", taskType: "", executionTime: 1e300, success: false, errorMessage: "",
                            timestamp: .distantPast),
        ]
        for r in odd { _ = e.observe(r) }
        #expect(e.observedCount == 4)
        _ = e.retrain(on: odd, now: day0)
        let p = e.predict(agent: "a", taskType: "t", at: day0, hour: 99)
        #expect(p.successProbability >= 0 && p.successProbability <= 1)
        #expect(p.medianExecutionTime.isFinite && p.confidence.isFinite)
        #expect(e.recommend(taskType: "t", at: day0).count == 1)
        #expect(LearningEngine().recommend(taskType: "t", at: day0).isEmpty)
    }
}

@Suite struct OpenTaskBoundTests {
    /// A bulk load of a day's executions, each on its own task id: the engine follows at most
    /// `maxOpenTasks` tasks, and after a prune at most half of them, so the next prune is far
    /// away (before, every execution past the limit filtered all 200,000 open tasks).
    @Test func aDayOfManyDistinctTasksKeepsTheOpenTasksBoundedAndPrunesRarely() {
        var engine = LearningEngine()
        let now = Date()
        let total = LearningEngine.maxOpenTasks + 60_000
        var sizesAfterPrune: [Int] = []
        var previous = 0
        for i in 0..<total {
            _ = engine.observe(ExecutionRecord(id: Int64(i + 1), agentName: "a\(i % 5)", taskID: UUID().uuidString.lowercased(),
                                               taskType: "t", executionTime: 1, success: true,
                                               timestamp: now.addingTimeInterval(Double(i) * 0.01)))
            if engine.openTasks.count < previous { sizesAfterPrune.append(engine.openTasks.count) }
            previous = engine.openTasks.count
        }
        #expect(engine.openTasks.count <= LearningEngine.maxOpenTasks)
        #expect(sizesAfterPrune.count == 1)
        #expect(sizesAfterPrune.allSatisfy { $0 <= LearningEngine.maxOpenTasks / 2 + 1 })
    }
}
