import Foundation
import Testing
@testable import LearningService

@Suite("Anomaly grouping")
struct AnomalyGroupsTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    let slow = AnomalyGroups.Key(kind: "latency_spike", agent: "coder", taskType: "build")

    @Test func aRunOfRepeatsIsOneInsightWithAllItsExecutions() {
        var groups = AnomalyGroups(window: 10)
        #expect(groups.admit(slow, executionIDs: [1], at: t0) == .store)
        groups.stored(slow, insightID: 7)
        for k in 2...1000 { #expect(groups.admit(slow, executionIDs: [Int64(k)], at: t0.addingTimeInterval(Double(k) / 100)) == .merged) }
        #expect(groups.flush(at: t0.addingTimeInterval(11)) == [.init(insightID: 7, executionIDs: Array(2...1000))])
        #expect(groups.flush(at: t0.addingTimeInterval(12)).isEmpty)
    }

    @Test func otherKeysAndLaterRunsAreStoredAfresh() {
        var groups = AnomalyGroups(window: 10)
        #expect(groups.admit(slow, executionIDs: [1], at: t0) == .store)
        #expect(groups.admit(.init(kind: "resource_spike", agent: "coder", taskType: "build"), executionIDs: [2], at: t0) == .store)
        #expect(groups.admit(.init(kind: "latency_spike", agent: "coder", taskType: nil), executionIDs: [3], at: t0) == .store)
        #expect(groups.admit(.init(kind: "latency_spike", agent: "tester", taskType: "build"), executionIDs: [4], at: t0) == .store)
        #expect(groups.admit(slow, executionIDs: [5], at: t0.addingTimeInterval(10.5)) == .store)
    }

    @Test func idsMergedBeforeTheFirstSaveReturnedWaitForItsID() {
        var groups = AnomalyGroups(window: 10)
        _ = groups.admit(slow, executionIDs: [1], at: t0)
        _ = groups.admit(slow, executionIDs: [2, 3], at: t0.addingTimeInterval(1))
        #expect(groups.flush(at: t0.addingTimeInterval(2)).isEmpty)
        groups.stored(slow, insightID: 9)
        #expect(groups.flush(at: t0.addingTimeInterval(3)) == [.init(insightID: 9, executionIDs: [2, 3])])
        // A group whose insight could not be stored is forgotten after the window.
        let other = AnomalyGroups.Key(kind: "failure_burst", agent: "x", taskType: nil)
        _ = groups.admit(other, executionIDs: [4], at: t0)
        groups.stored(other, insightID: nil)
        _ = groups.admit(other, executionIDs: [5], at: t0.addingTimeInterval(1))
        _ = groups.flush(at: t0.addingTimeInterval(20))
        #expect(groups.groups.isEmpty)
    }

    @Test func pendingIdsAreBounded() {
        var groups = AnomalyGroups(window: 10, maxPending: 5)
        _ = groups.admit(slow, executionIDs: [0], at: t0)
        groups.stored(slow, insightID: 1)
        for k in 1...50 { _ = groups.admit(slow, executionIDs: [Int64(k)], at: t0) }
        #expect(groups.flush(at: t0).first?.executionIDs.count == 5)
    }
}

extension AnomalyGroupsTests {
    /// A failure streak's anomalies arrive hours apart: each continues the episode (it began
    /// before the previous one's execution), so they join one insight and the latest totals
    /// replace its own at the next flush; a later episode is stored afresh.
    @Test func anEpisodeJoinsItsInsightHowEverLateAndCarriesItsLatestTotals() {
        var groups = AnomalyGroups(window: 10)
        let burst = AnomalyGroups.Key(kind: "failure_burst", agent: "coder", taskType: nil)
        func totals(_ n: Int) -> AnomalyGroups.Update {
            .init(detail: "coder failed \(n) times in a row", score: Double(n), observed: Double(n), expected: 1, severity: "warning")
        }
        #expect(groups.admit(burst, executionIDs: [1, 2, 3, 4], at: t0, episodeStart: t0, eventAt: t0, update: totals(4)) == .store)
        groups.stored(burst, insightID: 5)
        let later = t0.addingTimeInterval(3_600)
        #expect(groups.admit(burst, executionIDs: [5], at: later, episodeStart: t0, eventAt: later, update: totals(5)) == .merged)
        #expect(groups.flush(at: later) == [.init(insightID: 5, executionIDs: [5], update: totals(5))])
        // After its last execution, a new episode is a new insight.
        let next = later.addingTimeInterval(7_200)
        #expect(groups.admit(burst, executionIDs: [9, 10, 11], at: next, episodeStart: later.addingTimeInterval(60), eventAt: next,
                             update: totals(3)) == .store)
    }
}
