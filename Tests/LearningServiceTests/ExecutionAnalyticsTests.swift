import Foundation
import LearningCore
import Testing
@testable import LearningService

@Suite("Execution analytics")
struct ExecutionAnalyticsTests {
    let base = Date(timeIntervalSince1970: 1_800_000_000)

    func record(_ agent: String, _ task: String?, _ time: Double?, _ success: Bool, at offset: Double, id: Int64 = 0) -> ExecutionRecord {
        ExecutionRecord(id: id, agentName: agent, taskType: task, executionTime: time, success: success,
                        resourceUsage: ResourceUsage(cpu: 10, memoryMB: 100), timestamp: base.addingTimeInterval(offset))
    }

    @Test func totalsMediansAndSuccessRatesFollowTheExecutions() {
        var analytics = ExecutionAnalytics(capacity: 100)
        for i in 1...9 { analytics.add(record("a", "t", Double(i), i != 9, at: Double(i)), arrival: base) }
        analytics.add(record("b", nil, nil, true, at: 10), arrival: base)
        #expect(analytics.overall.executions == 10)
        #expect(analytics.overall.successes == 9)
        let groups = analytics.groups(since: nil)
        let a = groups.first { $0.agent == "a" }!.totals
        #expect(a.averageTime == 5)
        #expect(abs(a.quantile(0.5) - 5) / 5 < 0.02)
        #expect(abs(a.quantile(0.9) - 9) / 9 < 0.02)
        #expect(a.averageCPU == 10)
        #expect(groups.first { $0.agent == "b" }?.task == nil)
    }

    @Test func aSlowSQLRollUpStretchesThePauseToKeepItsShareOfTheTimeAndAFastOneDoesNot() {
        // From memory, or quick: the tracking interval.
        #expect(PerformanceRollUps.rollUpPause(interval: 60, lastDuration: 4.9, fromMemory: true) == 60)
        #expect(PerformanceRollUps.rollUpPause(interval: 60, lastDuration: 0.5, fromMemory: false) == 60)
        // 4.9 s of SQL: the pause makes it 5% of each period (4.9 / (93.1 + 4.9)).
        let pause = PerformanceRollUps.rollUpPause(interval: 60, lastDuration: 4.9, fromMemory: false)
        #expect(abs(pause - 93.1) < 1e-9)
        #expect(abs(4.9 / (pause + 4.9) - PerformanceRollUps.sqlRollUpShare) < 1e-9)
        // A longer interval than the share needs stays as configured.
        #expect(PerformanceRollUps.rollUpPause(interval: 300, lastDuration: 4.9, fromMemory: false) == 300)
    }

    @Test func rollUpHasTheSQLRollUpsFiguresAndDeclinesAWindowItNoLongerHolds() {
        let shared = UUID().uuidString.lowercased(), solo = UUID().uuidString.lowercased()
        func execution(_ agent: String, task: String?, type: String?, time: Double?, success: Bool, cpu: Double?,
                       at offset: Double) -> ExecutionRecord {
            ExecutionRecord(agentName: agent, taskID: task, taskType: type, executionTime: time, success: success,
                            resourceUsage: ResourceUsage(cpu: cpu, memoryMB: cpu.map { $0 * 10 }), timestamp: base.addingTimeInterval(offset))
        }
        var analytics = ExecutionAnalytics(capacity: 100)
        for record in [
            execution("a", task: shared, type: "plan", time: 1, success: true, cpu: 10, at: 0),
            execution("b", task: shared, type: "plan", time: 3, success: false, cpu: 30, at: 1),
            execution("a", task: solo, type: "plan", time: 2, success: false, cpu: 20, at: 2),
            execution("a", task: nil, type: "code", time: 4, success: true, cpu: nil, at: 3),
            execution("a", task: nil, type: nil, time: nil, success: true, cpu: nil, at: 4),
            execution("c", task: shared, type: "plan", time: 1, success: true, cpu: 5, at: -100), // before the window
        ] { analytics.add(record, arrival: base) }
        let rows = try! #require(analytics.rollUp(since: base))
        #expect(rows == [
            PerformanceRollUp(agentName: "a", taskType: nil, avgExecutionTime: nil, successRate: 1, resourceCPU: nil,
                              resourceMemory: nil, coordinationScore: nil, executions: 1),
            PerformanceRollUp(agentName: "a", taskType: "code", avgExecutionTime: 4, successRate: 1, resourceCPU: nil,
                              resourceMemory: nil, coordinationScore: nil, executions: 1),
            PerformanceRollUp(agentName: "a", taskType: "plan", avgExecutionTime: 1.5, successRate: 0.5, resourceCPU: 15,
                              resourceMemory: 150, coordinationScore: 1, executions: 2),
            PerformanceRollUp(agentName: "b", taskType: "plan", avgExecutionTime: 3, successRate: 0, resourceCPU: 30,
                              resourceMemory: 300, coordinationScore: 0, executions: 1),
        ])
        // "c" shared the task only before the window: within it, "a" and "b" did.
        #expect(analytics.rollUp(since: base.addingTimeInterval(1))?.first { $0.taskType == "plan" }?.coordinationScore == nil)
        // Once executions of the window were dropped (capacity), only the table can say.
        var small = ExecutionAnalytics(capacity: 2)
        for i in 0..<3 { small.add(execution("a", task: nil, type: "t", time: 1, success: true, cpu: nil, at: Double(i)), arrival: base) }
        #expect(small.rollUp(since: base) == nil)
        #expect(small.rollUp(since: base.addingTimeInterval(1)) != nil)
    }

    @Test func visitingInChunksSeesTheWholeRangeAndRefusesADroppedStart() {
        var analytics = ExecutionAnalytics(capacity: 10)
        for i in 0..<8 { analytics.add(record("a", "t", Double(i), true, at: Double(i), id: Int64(i + 1)), arrival: base) }
        var whole: [Int64] = [], chunked: [Int64] = []
        #expect(analytics.visit(analytics.oldestSequence..<analytics.ingested) { whole.append($0.id) })
        var next = analytics.oldestSequence
        while next < analytics.ingested {
            #expect(analytics.visit(next..<next + 3) { chunked.append($0.id) })
            next += 3
        }
        #expect(whole == Array(1...8) && chunked == whole)
        // The builder over chunks gives what the one-go roll-up gives.
        var builder = RollUpBuilder(since: base)
        for pass in 0..<2 {
            var s = analytics.oldestSequence
            while s < analytics.ingested {
                _ = analytics.visit(s..<s + 3) { pass == 0 ? builder.noteTask($0) : builder.add($0) }
                s += 3
            }
        }
        #expect(builder.rows(names: analytics.names(of:)) == analytics.rollUp(since: base))
        // Four more wrap the ring past capacity: sequences 0 and 1 are gone.
        for i in 8..<12 { analytics.add(record("a", "t", 1, true, at: Double(i), id: Int64(i + 1)), arrival: base) }
        #expect(analytics.oldestSequence == 2)
        var none: [Int64] = []
        #expect(!analytics.visit(1..<5) { none.append($0.id) } && none.isEmpty)
        var tail: [Int64] = []
        #expect(analytics.visit(10..<99) { tail.append($0.id) } && tail == [11, 12])
    }

    @Test func capacityAndRetentionDropAndSubtract() {
        var analytics = ExecutionAnalytics(capacity: 5)
        for i in 0..<8 { analytics.add(record("a", "t", 1, true, at: Double(i)), arrival: base) }
        #expect(analytics.count == 5)
        #expect(analytics.overall.executions == 5)
        #expect(analytics.ingested == 8)
        #expect(analytics.expire(before: base.addingTimeInterval(5)) == 2)
        #expect(analytics.overall.executions == 3)
        #expect(analytics.groups(since: nil).first?.totals.executions == 3)
    }

    @Test func windowedGroupsCountOnlyRecentExecutions() {
        var analytics = ExecutionAnalytics()
        analytics.add(record("a", "t", 100, false, at: -7200), arrival: base)
        analytics.add(record("a", "t", 2, true, at: -60), arrival: base)
        let window = analytics.groups(since: base.addingTimeInterval(-3600))
        #expect(window.count == 1)
        #expect(window[0].totals.executions == 1)
        #expect(window[0].totals.successRate == 1)
        #expect(analytics.groups(since: nil)[0].totals.executions == 2)
    }

    @Test func recentWindowCountsArrivalsOfTheLastMinute() {
        var analytics = ExecutionAnalytics(recentWindowSeconds: 60)
        analytics.add(record("a", "t", 4, true, at: 0), arrival: base.addingTimeInterval(-120))
        analytics.add(record("a", "t", 2, true, at: 0), arrival: base.addingTimeInterval(-5))
        analytics.add(record("a", "t", 4, false, at: 0), arrival: base)
        let recent = analytics.recent(now: base)
        #expect(recent.executions == 2)
        #expect(recent.successRate == 0.5)
        #expect(recent.averageTime == 3)
        #expect(analytics.track(agent: "a")?.recent.total == 3)
    }
}

extension ExecutionAnalytics {
    /// The roll-up of the executions since `since` in one unchunked go: the figures the
    /// service's chunked `PerformanceRollUps.rollUpFromMemory` must reproduce; nil when executions
    /// of the window were dropped from the history.
    func rollUp(since: Date) -> [PerformanceRollUp]? {
        guard holdsWindow(since: since) else { return nil }
        var builder = RollUpBuilder(since: since)
        let all = oldestSequence..<ingested
        _ = visit(all) { builder.noteTask($0) }
        _ = visit(all) { builder.add($0) }
        return builder.rows(names: names(of:))
    }
}
