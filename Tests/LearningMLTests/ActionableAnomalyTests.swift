import Foundation
import LearningCore
@testable import LearningML
import Testing

/// Anomalies a user can act on: a failure streak is flagged while it happens (its failures an
/// hour apart, beyond the burst window), each failure that extends it reports the grown totals,
/// severities follow the impact, and schedules need support.
@Suite struct ActionableAnomalyTests {
    static let now = day0.addingTimeInterval(5 * 86_400)

    func trained() -> LearningEngine {
        var w = WorkloadBuilder()
        w.series(agent: "a", task: "t", count: 500, days: 5) { _ in 0.93 }
        w.series(agent: "a", task: "u", count: 200, days: 5) { _ in 0.93 }
        w.series(agent: "b", task: "t", count: 500, days: 5) { _ in 0.93 }
        var e = LearningEngine()
        _ = e.retrain(on: w.sorted, now: Self.now)
        return e
    }

    @Test func aFailureStreakIsFlaggedWhileItHappensAndReportedAsItGrows() {
        var e = trained()
        var found: [(failure: Int, anomaly: DetectedAnomaly)] = []
        for i in 0..<18 {
            let at = Self.now.addingTimeInterval(Double(i) * 3_600)   // an hour apart: never 3 in the 2 h window
            for a in e.observe(ExecutionRecord(id: Int64(50_000 + i), agentName: "a", taskType: i % 2 == 0 ? "t" : "u",
                                               executionTime: 10, success: false, errorMessage: "boom", timestamp: at))
            where a.kind == .failureBurst { found.append((i + 1, a)) }
        }
        let first = try! #require(found.first, "18 consecutive failures of a 93 % agent raise no anomaly")
        #expect(first.failure <= 6, "flagged while it happens, at failure \(first.failure)")
        #expect(first.anomaly.description.contains("in a row"), "\(first.anomaly.description)")
        // Every failure is reported once, each later one with the streak's grown totals.
        let ids = found.flatMap(\.anomaly.recordIDs)
        #expect(ids == (0..<18).map { Int64(50_000 + $0) }, "\(ids)")
        #expect(found.map { Int($0.anomaly.observed) } == found.map(\.failure))
        #expect(found.last?.anomaly.description.contains("failed 18 times in a row over 17.0 hours") == true,
                "\(found.last!.anomaly.description)")
        #expect(Set(found.compactMap(\.anomaly.startedAt)) == [Self.now], "one episode")
        #expect(found.map(\.anomaly.severity) == found.map { $0.failure >= 10 ? .critical : .warning })
        // A success ends the streak; the next failures start afresh (not flagged alone).
        _ = e.observe(ExecutionRecord(id: 60_000, agentName: "a", taskType: "t", executionTime: 10, success: true,
                                      timestamp: Self.now.addingTimeInterval(18 * 3_600)))
        let after = e.observe(ExecutionRecord(id: 60_001, agentName: "a", taskType: "t", executionTime: 10, success: false,
                                              timestamp: Self.now.addingTimeInterval(19 * 3_600)))
        #expect(after.isEmpty)
    }

    @Test func ordinaryFailuresMakeNoStreak() {
        var e = trained()
        var rng = SplitMix(7)
        var flagged = 0
        for i in 0..<3_000 {
            let ok = rng.bernoulli(0.93)
            flagged += e.observe(ExecutionRecord(id: Int64(70_000 + i), agentName: "b", taskType: "t", executionTime: 10,
                                                 success: ok, timestamp: Self.now.addingTimeInterval(Double(i) * 600)))
                .filter { $0.kind == .failureBurst }.count
        }
        #expect(flagged == 0, "3,000 runs at the usual 7 % failure rate")
    }

    @Test func severitiesAreRankedByImpact() {
        var e = trained()
        let hungry = e.observe(ExecutionRecord(id: 1, agentName: "b", taskType: "t", executionTime: 10, success: true,
                                               resourceUsage: ResourceUsage(cpu: 40, memoryMB: 30_000, tokens: 5000),
                                               timestamp: Self.now))
        let spike = try! #require(hungry.first { $0.kind == .resourceBlowup })
        #expect(spike.severity < .critical, "one execution's memory spike: \(spike.severity)")
        var burst: [DetectedAnomaly] = []
        for i in 0..<25 {
            burst += e.observe(ExecutionRecord(id: Int64(100 + i), agentName: "a", taskType: "t", executionTime: 10, success: false,
                                               timestamp: Self.now.addingTimeInterval(Double(i) * 60)))
        }
        let last = try! #require(burst.last { $0.kind == .failureBurst })
        #expect(last.severity == .critical && last.observed == 25, "\(last)")
        #expect(last.severity > spike.severity)
    }

    @Test func schedulesNeedSupportInTheirHours() {
        var w = WorkloadBuilder()
        // "busy" runs every hour for days; "rare" ran twice, in two hours.
        w.series(agent: "a", task: "busy", count: 24 * 20, days: 20) { _ in 0.9 }
        w.add(agent: "a", task: "rare", at: day0.addingTimeInterval(3 * 3_600), success: true, time: 5)
        w.add(agent: "a", task: "rare", at: day0.addingTimeInterval(9 * 3_600), success: false, time: 50)
        var e = LearningEngine()
        _ = e.retrain(on: w.sorted, now: day0.addingTimeInterval(20 * 86_400))
        let types = e.schedulePatterns().map(\.taskType)
        #expect(types == ["busy"], "\(types)")
    }
}
