import Foundation
import LearningCore
import Testing
@testable import LearningService

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

    @Test func totalCountsRowsTheFeedDeliversAboveTheLastExactCount() {
        var state = RuntimeState(config: LearningConfig(), historyCapacity: 1000)
        state.setCount(executions: 10, maxID: 10)
        _ = state.applyFeed(rows(5...5), arrival: Date())      // a replayed row the count included
        _ = state.applyFeed(rows(11...12), arrival: Date())    // an outside writer's new rows
        _ = state.applyDirect(rows(13...14), arrival: Date())  // our own, reported later by id
        #expect(state.totalExecutions == 12)
        state.confirmOwn([13, 14])
        #expect(state.totalExecutions == 14)
        state.setCount(executions: 9, maxID: 14)               // an operator deleted rows meanwhile
        #expect(state.totalExecutions == 9)
    }
}
