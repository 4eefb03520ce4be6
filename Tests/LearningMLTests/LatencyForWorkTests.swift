import Foundation
import LearningCore
@testable import LearningML
import Testing

/// Issue 16 across the workload family, session 13: latency judged for the work a run did (its
/// tokens), and 80 % intervals calibrated on the held-out window.
@Suite struct LatencyForWorkTests {
    static let now = day0.addingTimeInterval(10 * 86_400)

    /// One pair whose runs vary a lot in how much work they do: log time follows that work
    /// (sd 0.8), and the tokens of a run follow it too, so time given tokens is tight (sd ~0.2).
    func workDrivenPair(runs: Int = 1_500) -> WorkloadBuilder {
        var w = WorkloadBuilder()
        for i in 0..<runs {
            let at = day0.addingTimeInterval(10 * 86_400 * (Double(i) + w.rng.uniform()) / Double(runs))
            let work = 0.8 * w.rng.normal()
            w.add(agent: "a", task: "t", at: at, success: true, time: 10 * exp(work + 0.15 * w.rng.normal()),
                  tokens: 5_000 * exp(0.9 * work + 0.1 * w.rng.normal()))
        }
        return w
    }

    func run(_ id: Int64, time: Double, tokens: Double) -> ExecutionRecord {
        ExecutionRecord(id: id, agentName: "a", taskID: UUID().uuidString, taskType: "t", executionTime: time,
                        success: true, resourceUsage: ResourceUsage(cpu: 40, memoryMB: 1_000, tokens: tokens),
                        timestamp: Self.now)
    }

    @Test func theLineRecoversTimeOnTokensAndTheOutcome() throws {
        var rng = SplitMix(7)
        var line = TimeOnTokens()
        for _ in 0..<20_000 {
            let x = 8 + rng.normal()
            let o = rng.bernoulli(0.3) ? log(2.2) : 0
            line.add(x: x, o: o, y: 2 + 0.8 * x + o + 0.3 * rng.normal())
        }
        let fit = try #require(line.fit())
        #expect(abs(fit.beta - 0.8) < 0.01, "\(fit.beta)")
        #expect(abs(fit.gamma - 1) < 0.02, "\(fit.gamma)")
        #expect(abs(fit.sd - 0.3) < 0.01, "\(fit.sd)")
        let p = try #require(line.predict(x: 9, o: 0))
        #expect(abs(p.mu - (2 + 0.8 * 9)) < 0.02, "\(p.mu)")
        // Too few runs, or no spread at all in either regressor, still gives a finite answer or none.
        var few = TimeOnTokens()
        for i in 0..<4 { few.add(x: 8, o: 0, y: Double(i)) }
        #expect(few.fit() == nil)
        var flat = TimeOnTokens()
        for i in 0..<50 { flat.add(x: 8, o: 0, y: 2 + 0.01 * Double(i % 5)) }
        let f = try #require(flat.fit())
        #expect(f.beta.isFinite && f.gamma.isFinite && f.sd.isFinite)
    }

    @Test func aSlowRunWithItsUsualTokensIsASpikeAndASlowRunThatDidMoreWorkIsNot() throws {
        var e = LearningEngine()
        _ = e.retrain(on: workDrivenPair().sorted, now: Self.now)
        // Four times the usual time for the usual tokens: 1.4 in log, ~7 sd of time given tokens
        // (but under 2 sd of the pair's whole spread).
        let slow = e.observe(run(90_001, time: 40, tokens: 5_000)).filter { $0.kind == .latencySpike }
        let spike = try #require(slow.first, "a run four times slower than its tokens explain")
        #expect(spike.description.contains("for 5000 tokens"), "\(spike.description)")
        #expect(spike.expected > 7 && spike.expected < 14, "expected about 10 s for the usual tokens: \(spike.expected)")
        // The same 40 s for four times the work (tokens up by 4^0.9) is what such a run takes.
        let busy = e.observe(run(90_002, time: 40, tokens: 5_000 * pow(4, 0.9)))
        #expect(busy.filter { $0.kind == .latencySpike }.isEmpty, "\(busy.map(\.description))")

        // Against the pace alone, the slow run is within the pair's spread: not found. This is
        // what the token baseline adds.
        var params = EngineParameters()
        params.latencyGivenTokens = false
        var pace = LearningEngine(parameters: params)
        _ = pace.retrain(on: workDrivenPair().sorted, now: Self.now)
        #expect(pace.observe(run(90_001, time: 40, tokens: 5_000)).filter { $0.kind == .latencySpike }.isEmpty)
    }

    @Test func aRunThatUsedFarMoreTokensThanItsTimeExplainsBlewThemUp() throws {
        // 7.4x the usual tokens at the usual time: 2.7 sd of the pair's tokens (under the 4 sd a
        // resource needs), but ~12 sd of the tokens its 10 s explain.
        let tokens = 5_000 * exp(2.0)
        var e = LearningEngine()
        _ = e.retrain(on: workDrivenPair().sorted, now: Self.now)
        let found = e.observe(run(90_001, time: 10, tokens: tokens)).filter { $0.kind == .resourceBlowup }
        let blowUp = try #require(found.first, "tokens far beyond what the run's time explains")
        #expect(blowUp.expected > 3_500 && blowUp.expected < 7_000, "about 5000 for 10 s: \(blowUp.expected)")
        // Tokens that follow a long run are not a blow-up.
        #expect(e.observe(run(90_002, time: 10 * exp(2.2), tokens: tokens)).filter { $0.kind == .resourceBlowup }.isEmpty)

        var params = EngineParameters()
        params.latencyGivenTokens = false
        var plain = LearningEngine(parameters: params)
        _ = plain.retrain(on: workDrivenPair().sorted, now: Self.now)
        #expect(plain.observe(run(90_001, time: 10, tokens: tokens)).filter { $0.kind == .resourceBlowup }.isEmpty)
    }

    @Test func whereTokensExplainNothingThePaceStaysTheYardstick() throws {
        // Tokens always 5000 (the builder's series): the line explains nothing, so latency is
        // judged against the pace with its own unit; 3.5 sd of the pace is flagged (the pace's
        // 3.1 sd bound), which the standard 4 sd would miss.
        var w = WorkloadBuilder()
        for i in 0..<1_500 {
            let at = day0.addingTimeInterval(10 * 86_400 * (Double(i) + w.rng.uniform()) / 1_500)
            w.add(agent: "a", task: "t", at: at, success: true, time: 10 * exp(0.3 * w.rng.normal()))
        }
        var e = LearningEngine()
        _ = e.retrain(on: w.sorted, now: Self.now)
        let sd = try #require(e.pairs.first?.paceLogTime?.sd)
        let found = e.observe(run(90_001, time: 10 * exp(3.6 * sd), tokens: 5_000)).filter { $0.kind == .latencySpike }
        let spike = try #require(found.first, "3.6 sd of the pace (sd \(sd))")
        #expect(!spike.description.contains("tokens"), "\(spike.description)")
    }

    @Test func aTokenBlowUpIsLeftOutOfTheLine() throws {
        var w = workDrivenPair()
        // Twenty runs with 30x the tokens at their usual time (resource blow-ups).
        for i in 0..<20 {
            w.add(agent: "a", task: "t", at: day0.addingTimeInterval(86_400 * (1 + 0.4 * Double(i))), success: true,
                  time: 10, tokens: 150_000)
        }
        var e = LearningEngine()
        _ = e.retrain(on: w.sorted, now: Self.now)
        let fit = try #require(e.pairs.first?.timeOnTokens?.fit())
        // Without them: slope 0.9·0.64 / (0.81·0.64 + 0.01) = 1.09, residual sd 0.19. Twenty
        // points at +3.4 in log tokens and no extra time would pull the slope far down.
        #expect(abs(fit.beta - 1.09) < 0.1, "\(fit.beta)")
        #expect(fit.sd < 0.3, "\(fit.sd)")
    }

    /// Log times whose errors are far from normal: mostly tight (sd 0.2), sometimes wide (sd 1).
    func heavyTailedPair(runs: Int, days: Double, start: Date = day0, seed: UInt64 = 42) -> [ExecutionRecord] {
        var w = WorkloadBuilder()
        w.rng = SplitMix(seed)
        for i in 0..<runs {
            let at = start.addingTimeInterval(days * 86_400 * (Double(i) + w.rng.uniform()) / Double(runs))
            let sd = w.rng.bernoulli(0.15) ? 1.0 : 0.2
            w.add(agent: "a", task: "t", at: at, success: true, time: 10 * exp(sd * w.rng.normal()))
        }
        return w.sorted
    }

    func coverage(calibrated: Bool) -> Double {
        var params = EngineParameters()
        params.calibratedIntervals = calibrated
        var e = LearningEngine(parameters: params)
        _ = e.retrain(on: heavyTailedPair(runs: 10_000, days: 10), now: Self.now)
        let p = e.predict(agent: "a", taskType: "t", at: Self.now.addingTimeInterval(86_400))
        let future = heavyTailedPair(runs: 4_000, days: 1, start: Self.now, seed: 99)
        let inside = future.filter { ($0.executionTime ?? 0) >= p.intervalLow && ($0.executionTime ?? 0) <= p.intervalHigh }
        return Double(inside.count) / Double(future.count)
    }

    @Test func theEightyPercentIntervalCoversEightyPercentWhenErrorsAreNotNormal() {
        let normal = coverage(calibrated: false)
        let calibrated = coverage(calibrated: true)
        #expect(normal > 0.85, "a normal interval over-covers heavy tails: \(normal)")
        #expect(normal - calibrated > 0.04, "\(normal) vs \(calibrated)")
        #expect(abs(calibrated - 0.80) < 0.03, "calibrated on the held-out window: \(calibrated)")
    }

    @Test func theIntervalEndsAreTheHeldOutQuantilesShrunkTowardsTheNormal() throws {
        var none: [Double] = []
        #expect(LearningEngine.intervalEnds(calibratedOn: &none) == nil)
        var rng = SplitMix(3)
        var wide = (0..<20_000).map { _ in 1.5 * rng.normal() }
        let ends = try #require(LearningEngine.intervalEnds(calibratedOn: &wide))
        let shrunk = (20_000 * 1.5 * 1.2816 + 200 * 1.2816) / 20_200
        #expect(abs(ends.low + shrunk) < 0.05 && abs(ends.high - shrunk) < 0.05, "\(ends)")
        // A handful of held-out runs hardly moves the normal ends; wild ones are bounded.
        var few = [-40.0, 40, -30, 30, 50]
        let bounded = try #require(LearningEngine.intervalEnds(calibratedOn: &few))
        #expect(bounded.low >= -3 && bounded.high <= 3, "\(bounded)")
        #expect(bounded.low < -1.2816 && bounded.high > 1.2816)
        // A model keeps its calibrated ends through serialization.
        var e = LearningEngine()
        _ = e.retrain(on: heavyTailedPair(runs: 3_000, days: 10), now: Self.now)
        let low = try #require(e.model.intervalLowZ), high = try #require(e.model.intervalHighZ)
        #expect(low < 0 && high > 0)
        let back = try LearningEngine(serialized: e.serialize())
        #expect(back.model.intervalLowZ == low && back.model.intervalHighZ == high)
    }
}
