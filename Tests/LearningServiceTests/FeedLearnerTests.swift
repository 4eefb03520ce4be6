import Foundation
import LearningCore
import LearningML
import Synchronization
import Testing
@testable import LearningService
import LearningServiceScenarios

/// A runtime state behind a lock, as the service holds it.
final class LockedState: RuntimeStateHolder {
    let state: Mutex<RuntimeState>
    init(_ state: RuntimeState) { self.state = Mutex(state) }
    func withState<R: Sendable>(_ body: (inout RuntimeState) -> R) -> R { state.withLock { body(&$0) } }
    func refreshSnapshot() {}
}

/// The feed's rows are counted at once and learned from later, off the feed's path; a burst
/// larger than the learner's queue is counted whole and learned from its newest rows.
@Suite("Feed learner")
struct FeedLearnerTests {
    func rows(_ ids: ClosedRange<Int64>, agent: String = "a") -> [ExecutionRecord] {
        ids.map { ExecutionRecord(id: $0, agentName: agent, taskType: "t", executionTime: Double($0 % 7 + 1), success: $0 % 5 != 0,
                                  timestamp: Date()) }
    }

    func holder() -> LockedState {
        var state = RuntimeState(config: LearningConfig(), historyCapacity: 500_000)
        state.replayDone = true
        return LockedState(state)
    }

    @Test func rowsAreCountedBeforeTheyAreLearnedFrom() async {
        let holder = holder()
        let learner = FeedLearner(state: holder, publish: { _ in }, logger: LogCapture().logger)
        let fresh = holder.withState { state in state.countFeed(rows(1...2_500)) }
        learner.enqueue(fresh, generation: 0, arrival: Date())
        #expect(holder.withState { ($0.totalExecutions, $0.analytics.count, $0.engine.observedCount) } == (2_500, 0, 0))
        #expect(learner.backlog == 2_500)
        await learner.drain()
        #expect(holder.withState { ($0.totalExecutions, $0.analytics.count, $0.engine.observedCount) } == (2_500, 2_500, 2_500))
        #expect(learner.backlog == 0 && learner.skipped == 0)
    }

    @Test func learningWaitsWhileTheFeedReadsABacklogAndKeepsTheNewestOfABurst() async {
        let holder = holder()
        let log = LogCapture()
        let learner = FeedLearner(state: holder, publish: { _ in }, logger: log.logger)
        learner.noteFeed(behind: true)
        let burst = Int64(FeedLearner.capacity) + 30_000
        var next: Int64 = 1
        while next <= burst {
            let last = min(next + 4_999, burst)
            let fresh = holder.withState { state in state.countFeed(rows(next...last)) }
            learner.enqueue(fresh, generation: 0, arrival: Date())
            next = last + 1
        }
        await learner.drain()  // the feed is behind: nothing is learned yet
        #expect(holder.withState { $0.analytics.count } == 0)
        #expect(holder.withState { $0.totalExecutions } == burst)
        #expect(learner.backlog == FeedLearner.capacity && learner.skipped == 30_000)
        learner.noteFeed(behind: false)
        await learner.drain()
        let learned = holder.withState { state in state.analytics.records().compactMap(\.id) }
        #expect(learned.count == FeedLearner.capacity)
        #expect(learned.min() == 30_001 && learned.max() == burst)  // the newest rows of the burst
        let logged = log.lines
        #expect(logged.count == 2, "one line when skipping starts, one when the feed caught up: \(logged)")
        #expect(logged.last?.contains("30000 rows") == true)
    }

    @Test func rowsOfAnEarlierGenerationAreNotLearnedAfterAReset() async {
        let holder = holder()
        let learner = FeedLearner(state: holder, publish: { _ in }, logger: LogCapture().logger)
        let fresh = holder.withState { state in state.countFeed(rows(1...10)) }
        learner.enqueue(fresh, generation: 0, arrival: Date())
        holder.withState { state in state.reset() }  // a TRUNCATE: generation 1
        await learner.drain()
        #expect(holder.withState { $0.analytics.count } == 0)
        learner.enqueue(rows(11...12), generation: 0, arrival: Date())
        learner.clear()
        #expect(learner.backlog == 0)
    }
}
