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
