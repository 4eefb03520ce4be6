import Foundation
import LearningCore
import LearningRepository
import Logging

/// Keeps the stored collaboration sums (`agents.collaboration_days`, `collaboration_aggregates`)
/// in step with the table and hands the runtime the sums of the days its sample does not hold
/// whole (see `RuntimeState.coordination`).
///
/// Every `interval` (or ten times as long as the last run took) once the start-up is done, each
/// day before the sample's whole days whose executions in the figures (with the day before and
/// the day after, which its sums read) differ from the rows stored with its sums (new rows by any
/// path, late rows for an old day, a day never summed after a first start or a reset) is summed
/// again by PostgreSQL, newest first; stored days the figures no longer have are forgotten; then
/// the stored days before the sample's first whole day are summed into the runtime state.
/// Comparing counts, not remembering which days were touched, means nothing is lost across a
/// restart. A day reads three days of rows (at 1.1 M rows a day: 3.3 M, 10.9 s of PostgreSQL on a
/// loaded 2-core machine), so a first start over 90 such days fills in over minutes, logging its
/// progress; until then coordination counts the days done.
final class CollaborationKeeper: Sendable {
    /// Seconds between runs.
    static let interval = 30.0

    private unowned let state: any RuntimeStateHolder
    private let store: any CollaborationRepository & ReplicaRole
    private let logger: Logger

    init(state: any RuntimeStateHolder, store: any CollaborationRepository & ReplicaRole, logger: Logger) {
        self.state = state
        self.store = store
        self.logger = logger
    }

    var job: PeriodicJob {
        PeriodicJob("collaboration sums", every: .seconds(Self.interval), firstRunAfter: .zero) { [self] in
            guard state.withState({ $0.replayDone }) else { return .milliseconds(500) }
            let started = ContinuousClock.now
            guard await refresh() else { return .seconds(5) }
            // A day is seconds of PostgreSQL at a million rows a day: at most a tenth of its time.
            return max(.seconds(Self.interval), (ContinuousClock.now - started) * 10)
        }
    }

    /// One run; false when the database failed (the days are compared again next run).
    func refresh() async -> Bool {
        let (perDay, generation, before) = state.withState {
            ($0.figures.executionsPerDay, $0.generation, $0.coordinationSplit.storedBefore)
        }
        // One replica sums the days (docs/SCALING.md); the others read the stored sums.
        guard store.claimLeaderJob("collaboration_sums") else {
            do {
                try await install(generation: generation)
                return true
            } catch {
                logger.warning("collaboration sums could not be read (tried again in 5 s): \(error)")
                return false
            }
        }
        // Only the days the figures take from the stored sums are kept current: those before the
        // days the sample holds whole (none when it holds the whole table). A day the sample
        // stops holding is checked (and summed if stale) once the split passes it.
        guard let before else {
            state.withState { $0.storedCollaboration = nil }
            return true
        }
        // A day's sums read the rows of the day before, the day and the day after (a task's
        // executions from the midnight before its latest's day; a task whose latest execution
        // is the next day belongs there): what the figures count over those three days.
        var expected: [Int32: Int64] = [:]
        for day in perDay.keys {
            expected[day] = (perDay[day - 1] ?? 0) + (perDay[day] ?? 0) + (perDay[day + 1] ?? 0)
        }
        do {
            let stored = try await store.collaborationDays()
            let gone = stored.keys.filter { expected[$0] == nil }
            try await store.deleteCollaboration(days: gone)
            let days = expected.filter { $0.key < before && stored[$0.key] != $0.value }.keys.sorted(by: >)
            let started = Date()
            var lastReport = started
            for (index, day) in days.enumerated() {
                let dayStarted = ContinuousClock.now
                try await store.refreshCollaboration(day: day)
                // Many days (a first start): PostgreSQL works at most half the time on them, so
                // reads and ingest keep their share (at 10 M rows, reads during the 75 s of sums
                // had p99 up to 70 ms).
                if days.count > 1 { try await Task.sleep(for: ContinuousClock.now - dayStarted) }
                if Date().timeIntervalSince(lastReport) >= 10 {
                    lastReport = Date()
                    logger.info("collaboration sums: \(index + 1) of \(days.count) days summed (\(String(format: "%.0f", Date().timeIntervalSince(started))) s)")
                    try await install(generation: generation)
                }
            }
            if days.count > 1 && Date().timeIntervalSince(started) >= 10 {
                logger.info("collaboration sums: \(days.count) days summed in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
            }
            try await install(generation: generation)
            return true
        } catch {
            logger.error("collaboration sums failed (tried again in 5 s): \(error)")
            return false
        }
    }

    /// Reads the stored sums of the days before the sample's first whole day into the state.
    private func install(generation: Int) async throws {
        guard let before = state.withState({ $0.coordinationSplit.storedBefore }) else {
            state.withState { $0.storedCollaboration = nil }
            return
        }
        let sums = try await store.collaborationSums(before: before)
        state.withState { state in
            guard state.generation == generation else { return }
            state.storedCollaboration = (before, generation, ExecutionAnalytics.Coordination(sums))
        }
    }
}
