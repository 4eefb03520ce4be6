import Foundation
import LearningCore
import Testing
@testable import LearningService
import LearningStore
import LearningML
import LearningRepository

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

    /// A burst the feed summed in PostgreSQL may hold our own rows that it did not know as ours:
    /// one applied directly before (counted then) is not counted again; one whose
    /// acknowledgement comes after is not applied again. Every row reaches the checkpoint once.
    @Test func ownRowsInsideASummedBurstAreCountedOnce() {
        var state = RuntimeState(config: LearningConfig(), historyCapacity: 1000)
        _ = state.applyDirect(rows(1...1), arrival: Date())
        func summary(_ ids: ClosedRange<Int64>) -> ExecutionSummary {
            var batch = WindowFigures.Batch()
            for record in rows(ids) { batch.add(record) }
            return ExecutionSummary(cells: Array(batch.cells.values), ids: Array(ids))
        }
        state.countSummary(summary(1...3))
        #expect(state.totalExecutions == 3)
        _ = state.applyDirect(rows(3...4), arrival: Date())  // 3 was summed: only 4 is new
        state.confirmOwn([4])
        #expect(state.totalExecutions == 4)
        #expect(state.takeCheckpoint().cells.reduce(0) { $0 + $1.executions } == 4)
        #expect(state.appliedDirectly.isEmpty && state.confirmedEarly.isEmpty)
        // Summaries are not learned from (the feed reads a burst's newest rows whole for that).
        #expect(state.analytics.count == 2)
        #expect(state.knownAgents.contains(rows(1...1)[0].agentName))
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

/// What the trainer learns beside the held sample: the window's executions the sample lacks.
@Suite("Window history for training")
struct WindowHistoryTests {
    @Test func historyIsTheWindowLessTheSamplePerPair() throws {
        let start = Date(timeIntervalSince1970: 1_790_000_000)
        var rows: [ExecutionRecord] = []
        for i in 0..<10 {
            let agent = i < 8 ? "a" : "b"
            let type: String? = i == 9 ? nil : "t"
            let time: Double = i == 0 ? 0 : Double(i)
            rows.append(ExecutionRecord(id: Int64(i + 1), agentName: agent, taskType: type, executionTime: time,
                                        success: i % 3 != 0, timestamp: start.addingTimeInterval(Double(i) * 86_400)))
        }
        var figures = WindowFigures()
        var batch = WindowFigures.Batch()
        for row in rows { batch.add(row) }
        figures.add(batch)
        // The sample holds the newest four of (a, t): rows 4...7; (b, t) and (b, none) not at all.
        let history = WindowFigures.history(window: figures.pairs, sample: Array(rows[4...7]))
        let a: PairHistory = try #require(history.first { $0.agent == "a" && $0.taskType == "t" })
        #expect(a.executions == 4 && a.successes == 2)  // rows 0...3: 0 and 3 failed
        // Row 0's zero time is no log time; rows 1...3 each in their own bucket, at its middle.
        let times: [Double] = a.times.map { $0.time }.sorted()
        #expect(a.times.map { $0.count } == [1, 1, 1])
        #expect(times.count == 3 && abs(times[0] - 1) < 0.02 && abs(times[1] - 2) < 0.04 && abs(times[2] - 3) < 0.06)
        let bTyped = history.filter { $0.agent == "b" && $0.taskType == "t" }
        let bUntyped = history.filter { $0.agent == "b" && $0.taskType == nil }
        #expect(bTyped.map { $0.executions } == [1])
        #expect(bUntyped.map { $0.executions } == [1] && bUntyped.map { $0.successes } == [0])
        #expect(history.count == 3)
        // A sample holding the whole window leaves no history.
        #expect(WindowFigures.history(window: figures.pairs, sample: rows).isEmpty)
    }
}
