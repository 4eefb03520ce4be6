import Foundation
import LearningCore
import Testing
@testable import LearningService
import LearningStore

/// How own writes, the feed's reports of them and outside rows combine: each row counted once,
/// whichever arrives first, and no bookkeeping left behind.
@Suite("Runtime state: own writes and the feed")
struct RuntimeStateFeedTests {
    func rows(_ ids: ClosedRange<Int64>) -> [ExecutionRecord] {
        ids.map { ExecutionRecord(id: $0, agentName: "a", taskType: "t", executionTime: 1, success: true, timestamp: Date()) }
    }

    @Test func ownWriteAppliedThenConfirmedCountsOnceAndLeavesNothing() {
        var state = RuntimeState(config: LearningConfig(), historyCapacity: 1000)
        _ = state.applyDirect(rows(1...5), arrival: Date())
        state.confirmOwn(Array(1...5))
        #expect(state.analytics.count == 5)
        #expect(state.appliedDirectly.isEmpty && state.confirmedEarly.isEmpty)
    }

    @Test func feedConfirmingBeforeTheAcknowledgementIsAppliedStillCountsOnce() {
        var state = RuntimeState(config: LearningConfig(), historyCapacity: 1000)
        state.confirmOwn(Array(1...3))
        _ = state.applyDirect(rows(1...5), arrival: Date())
        state.confirmOwn([4, 5])
        #expect(state.analytics.count == 5)
        #expect(state.appliedDirectly.isEmpty && state.confirmedEarly.isEmpty)
    }

    @Test func ownRowReadBackAsAnOutsideRowIsNotCountedTwice() {
        var state = RuntimeState(config: LearningConfig(), historyCapacity: 1000)
        // The feed read row 1 back before the writer registered it; the acknowledgement follows.
        _ = state.applyFeed(rows(1...1), arrival: Date())
        _ = state.applyDirect(rows(1...2), arrival: Date())
        _ = state.applyFeed(rows(2...2), arrival: Date())
        _ = state.applyFeed(rows(3...3), arrival: Date())
        #expect(state.analytics.count == 3)
        #expect(state.appliedDirectly.isEmpty && state.confirmedEarly.isEmpty)
    }

    /// Every row reaches the figures once and the checkpoints once, whichever of the direct
    /// application, the feed's id report and the feed's full row comes first; rows confirmed
    /// before they were applied are named as pending, and count in the next checkpoint.
    @Test func everyRowIsCountedOnceInTheFiguresAndOnceInTheCheckpoints() {
        var state = RuntimeState(config: LearningConfig(), historyCapacity: 1000)
        _ = state.applyDirect(rows(1...4), arrival: Date())       // acknowledged
        state.confirmOwn([1, 2, 5, 6])                            // 5, 6 confirmed before their acks
        _ = state.applyFeed(rows(7...8), arrival: Date())         // an outside writer's rows
        #expect(state.totalExecutions == 6)
        let first = state.takeCheckpoint()
        #expect(first.cells.reduce(0) { $0 + $1.executions } == 4) // 1, 2, 7, 8
        #expect(first.pending == [5, 6])
        _ = state.applyDirect(rows(5...6), arrival: Date())
        state.confirmOwn([3, 4])
        _ = state.applyFeed(rows(9...9), arrival: Date())
        let second = state.takeCheckpoint()
        #expect(second.cells.reduce(0) { $0 + $1.executions } == 5) // 3, 4, 5, 6, 9
        #expect(second.pending.isEmpty)
        #expect(state.totalExecutions == 9)
        #expect(state.appliedDirectly.isEmpty && state.confirmedEarly.isEmpty)
    }

    /// Retention subtracts the expired days' stored cells and unsaved ones from the figures.
    @Test func expiringDaysLeavesTheFiguresOfTheDaysKept() {
        var state = RuntimeState(config: LearningConfig(), historyCapacity: 1000)
        let old = Date(timeIntervalSince1970: 86_400 * 100 + 10), new = Date(timeIntervalSince1970: 86_400 * 102 + 10)
        var stored = AggregateCell(agentName: "a", taskType: "t", day: 100)
        stored.executions = 7; stored.successes = 7; stored.timeCount = 7; stored.timeSum = 7; stored.histogram = [0: 7]
        state.figures.add(stored)
        _ = state.applyFeed([ExecutionRecord(id: 1, agentName: "a", taskType: "t", executionTime: 1, success: true, timestamp: old),
                             ExecutionRecord(id: 2, agentName: "a", taskType: "t", executionTime: 2, success: false, timestamp: new)],
                            arrival: Date())
        #expect(state.totalExecutions == 9)
        state.figures.expire(beforeDay: 101, stored: [stored])
        #expect(state.totalExecutions == 1)
        #expect(state.figures.oldestDay == 102)
        #expect(state.takeCheckpoint().cells.map(\.day) == [102])
        let pair = state.figures.pairs[WindowFigures.PairKey(agent: "a", task: "t")]
        #expect(pair?.executions == 1 && pair?.successes == 0 && pair?.histogram.values.reduce(0, +) == 1)
    }
}
