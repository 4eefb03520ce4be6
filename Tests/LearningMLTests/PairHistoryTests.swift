import Foundation
import LearningCore
import Testing
@testable import LearningML

/// Training on the recent executions plus the older ones summed per pair must tell what
/// training on every execution tells about long-run rates, not what the recent ones alone say.
@Suite("Training with the window's older executions summed")
struct PairHistoryTests {
    static let now = Date(timeIntervalSince1970: 1_790_000_000)

    /// Pair (a, t): 3,000 older executions at ~50% success around 20 s, then 200 recent ones at
    /// ~90% around 10 s; pair (b, t): 400 executions at ~80% around 15 s, all older; (c, t):
    /// recent only, so the fit has agents and pairs on both sides.
    static func executions() -> (older: [ExecutionRecord], recent: [ExecutionRecord]) {
        var older: [ExecutionRecord] = [], recent: [ExecutionRecord] = []
        var id: Int64 = 0
        func add(_ agent: String, _ success: Bool, _ time: Double, daysAgo: Double, to list: inout [ExecutionRecord]) {
            id += 1
            list.append(ExecutionRecord(id: id, agentName: agent, taskType: "t", executionTime: time, success: success,
                                        timestamp: now.addingTimeInterval(-daysAgo * 86_400)))
        }
        for i in 0..<3_000 { add("a", i % 2 == 0, 20 * exp(Double(i % 7 - 3) * 0.05), daysAgo: 60 - Double(i) / 100, to: &older) }
        for i in 0..<400 { add("b", i % 5 != 0, 15 * exp(Double(i % 5 - 2) * 0.05), daysAgo: 50 - Double(i) / 40, to: &older) }
        for i in 0..<200 { add("a", i % 10 != 0, 10 * exp(Double(i % 7 - 3) * 0.05), daysAgo: 2 - Double(i) / 200, to: &recent) }
        for i in 0..<300 { add("c", i % 4 != 0, 12 * exp(Double(i % 3 - 1) * 0.05), daysAgo: 2 - Double(i) / 300, to: &recent) }
        return (older, recent)
    }

    /// The older executions as the service sums them: per pair, counts and times.
    static func summed(_ records: [ExecutionRecord]) -> [PairHistory] {
        Dictionary(grouping: records) { $0.agentName }.map { agent, rows in
            PairHistory(agent: agent, taskType: "t", executions: rows.count, successes: rows.filter(\.success).count,
                        times: rows.compactMap(\.executionTime).map { ($0, 1) })
        }
    }

    @Test func olderExecutionsSummedCountLikeTheRowsThemselves() throws {
        let (older, recent) = Self.executions()
        var everything = LearningEngine(), withHistory = LearningEngine(), recentOnly = LearningEngine()
        _ = everything.retrain(on: older + recent, now: Self.now)
        let report = withHistory.retrain(on: recent, history: Self.summed(older), now: Self.now)
        _ = recentOnly.retrain(on: recent, now: Self.now)
        #expect(report.records == recent.count)

        // Every execution behind the pair's estimate, as when trained on all rows.
        let all = everything.predict(agent: "a", taskType: "t", at: Self.now)
        let summed = withHistory.predict(agent: "a", taskType: "t", at: Self.now)
        let recentA = recentOnly.predict(agent: "a", taskType: "t", at: Self.now)
        #expect(summed.sampleSize == all.sampleSize && summed.sampleSize == 3_200)
        #expect(recentA.sampleSize == 200)
        // The recent rows (200 at ~10 s) outweigh the older times (3,000 at ~20 s, undated, so a
        // change among them cannot be told apart): the forecast follows the present pace.
        #expect(abs(summed.medianExecutionTime - 10) < 1.5, "\(summed.medianExecutionTime)")
        #expect(abs(recentA.medianExecutionTime - 10) < 1.5)
        // A pair seen only in the older executions is known, with its rate and times.
        let b = withHistory.predict(agent: "b", taskType: "t", at: Self.now)
        #expect(b.sampleSize == 400)
        #expect(abs(b.successProbability - 0.8) < 0.08)
        #expect(abs(b.medianExecutionTime - 15) < 2)
        #expect(b.intervalLow > 0 && b.intervalLow < b.medianExecutionTime && b.medianExecutionTime < b.intervalHigh)
        #expect(recentOnly.predict(agent: "b", taskType: "t", at: Self.now).sampleSize == 0)
        // What the older executions taught survives a save and a load of the model.
        let restored = try LearningEngine(serialized: withHistory.serialize())
        #expect(restored.predict(agent: "b", taskType: "t", at: Self.now).medianExecutionTime == b.medianExecutionTime)
    }

    @Test func aSampleWithinTheHeldOutDaysIsScoredAgainstTheOlderExecutions() {
        let (older, recent) = Self.executions()
        var parameters = EngineParameters()
        parameters.holdoutDays = 3  // every recent execution (the last 2 days) is held out
        var alone = LearningEngine(parameters: parameters), withHistory = LearningEngine(parameters: parameters)
        let unscored = alone.retrain(on: recent, now: Self.now)
        let scored = withHistory.retrain(on: recent, history: Self.summed(older), now: Self.now)
        #expect(unscored.holdoutRecords == 0)
        // Agent a's 200 (c has no executions before the held-out days, so nothing to score it by).
        #expect(scored.holdoutRecords == 200)
        #expect(scored.accuracy > 0.5 && scored.accuracy <= 1, "\(scored.accuracy)")
    }

    @Test func noHistoryTrainsExactlyAsBefore() {
        let (_, recent) = Self.executions()
        var plain = LearningEngine(), empty = LearningEngine()
        _ = plain.retrain(on: recent, now: Self.now)
        _ = empty.retrain(on: recent, history: [], now: Self.now)
        let p = plain.predict(agent: "a", taskType: "t", at: Self.now), q = empty.predict(agent: "a", taskType: "t", at: Self.now)
        #expect(p.successProbability == q.successProbability && p.medianExecutionTime == q.medianExecutionTime)
    }
}
