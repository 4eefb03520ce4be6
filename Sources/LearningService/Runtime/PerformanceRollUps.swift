import Foundation
import LearningCore
import LearningRepository
import Synchronization
import Logging

/// Writes the `agents.performance_metrics` snapshot of the last day every
/// `performance.performance_tracking_interval` seconds (when performance tracking is on; less
/// often while only the SQL aggregate can compute it and it is slow, see `rollUpPause`), once
/// the start-up is complete.
final class PerformanceRollUps: Sendable {
    /// Executions the roll-up visits per hold of the runtime's lock: the ingest path (the event
    /// loops, applying their callers' records) waits for that lock, and a whole scan of 900,000
    /// held executions held it for ~160 ms.
    static let rollUpChunk: Int64 = 20_000

    /// Longest share of the time the SQL roll-up (`LearningStore.rollUpPerformance`) may keep
    /// PostgreSQL busy: it aggregates a whole day of rows, and it runs only when the day holds
    /// more executions than the in-memory history (1,000,000): 4.9 s at 1.02M rows on the 2-core
    /// machine of docs/BENCHMARKS.md, during which unary ingest ran at half its rate.
    static let sqlRollUpShare = 0.05

    private unowned let state: any RuntimeStateHolder
    private let store: any PerformanceMetricsRepository & ReplicaRole
    private let config: LearningConfig
    private let logger: Logger
    /// Whether the pause is stretched beyond the interval (logged when it changes).
    private let stretched = Mutex(false)

    init(state: any RuntimeStateHolder, store: any PerformanceMetricsRepository & ReplicaRole, config: LearningConfig,
         logger: Logger) {
        self.state = state
        self.store = store
        self.config = config
        self.logger = logger
    }

    /// Seconds from the end of one roll-up to the start of the next: the tracking interval, or
    /// longer after a roll-up by SQL that took more than `sqlRollUpShare` of interval + duration,
    /// so that the aggregate over a day too large for memory costs at most that share of the
    /// database's time (at 4.9 s: a snapshot every ~98 s instead of every 60 s).
    static func rollUpPause(interval: Double, lastDuration: Double, fromMemory: Bool) -> Double {
        guard !fromMemory, lastDuration > 0 else { return interval }
        return max(interval, lastDuration * (1 - sqlRollUpShare) / sqlRollUpShare)
    }

    /// The roll-up job: first as soon as the start-up is complete (polled every 200 ms: until the
    /// figures are complete a roll-up would need PostgreSQL's aggregate over a day of rows), then
    /// after each roll-up's pause.
    var job: PeriodicJob {
        let interval = Double(max(1, config.performance.performanceTrackingInterval))
        return PeriodicJob("performance roll-up", every: .seconds(interval), firstRunAfter: .zero) { [self] in
            guard state.withState({ $0.replayDone }) else { return .milliseconds(200) }
            guard config.agents.performanceTracking else { return nil }
            // One replica writes the snapshots (docs/SCALING.md).
            guard store.claimLeaderJob("performance_rollup") else { return nil }
            return .seconds(await rollUpOnce(interval: interval))
        }
    }

    /// One scheduled roll-up; returns the pause before the next.
    private func rollUpOnce(interval: Double) async -> Double {
        do {
            let started = ContinuousClock.now
            let (_, fromMemory) = try await rollUp()
            let took = started.duration(to: .now)
            let seconds = took / .seconds(1)
            let pause = Self.rollUpPause(interval: interval, lastDuration: seconds, fromMemory: fromMemory)
            let changed = stretched.withLock { stretched -> Bool in
                guard (pause > interval) != stretched else { return false }
                stretched = pause > interval
                return true
            }
            if changed {
                logger.info(pause > interval
                    ? "performance roll-up: computed by PostgreSQL's aggregate (the start-up replay was not done, or the last day's executions outgrew the in-memory history), which took \(String(format: "%.1f", seconds)) s, so snapshots are now written every \(Int(pause.rounded())) s instead of every \(Int(interval)) s (at most \(Int(Self.sqlRollUpShare * 100))% of the database's time)"
                    : "performance roll-up: back to a snapshot every \(Int(interval)) s")
            }
            return pause
        } catch {
            logger.error("performance roll-up failed: \(error)")
            return interval
        }
    }

    /// Writes the `agents.performance_metrics` snapshot of the last day now: from the executions
    /// held in memory when they cover the day (`rollUpFromMemory`), else by PostgreSQL's aggregate
    /// over the table (the start-up replay is not done yet, or the day's executions outgrew the
    /// held history). The aggregate reads a day of rows each time: 2.3 s on 620,000 rows on the
    /// 2-core machine of docs/BENCHMARKS.md, competing with ingest (the job then waits longer,
    /// see `rollUpPause`). Returns the rows written and whether they came from memory.
    func rollUp(at date: Date = Date()) async throws -> (rows: Int, fromMemory: Bool) {
        let window = 86_400.0
        if let rows = rollUpFromMemory(since: date.addingTimeInterval(-window)) {
            return (try await store.storeRollUp(rows, at: date), true)
        }
        return (try await store.rollUpPerformance(window: window, at: date), false)
    }

    /// The roll-up of the executions held in memory since `since`, built in two passes of chunks
    /// of `rollUpChunk` with the lock released in between (the held executions of a sequence
    /// range do not change while held); nil when the history does not hold the whole window, or
    /// lost part of it (capacity, a truncate) during the passes.
    func rollUpFromMemory(since: Date) -> [PerformanceRollUp]? {
        let start = state.withState { state -> (first: Int64, end: Int64, generation: Int)? in
            guard state.replayDone, state.analytics.holdsWindow(since: since) else { return nil }
            return (state.analytics.oldestSequence, state.analytics.ingested, state.generation)
        }
        guard let start else { return nil }
        var builder = RollUpBuilder(since: since)
        for pass in 0..<2 {
            var next = start.first
            while next < start.end {
                let chunk = next..<min(next + Self.rollUpChunk, start.end)
                let visited = state.withState { state in
                    state.generation == start.generation
                        && state.analytics.visit(chunk) { pass == 0 ? builder.noteTask($0) : builder.add($0) }
                }
                guard visited else { return nil }
                next = chunk.upperBound
            }
        }
        // Names are interned per generation: a truncate meanwhile would make them another table's.
        return state.withState { state in
            state.generation == start.generation ? builder.rows(names: state.analytics.names(of:)) : nil
        }
    }
}
