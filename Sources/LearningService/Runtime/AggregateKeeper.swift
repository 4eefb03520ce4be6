import Foundation
import LearningCore
import LearningRepository
import Synchronization
import Logging

/// Keeps the persisted aggregates (`agents.execution_aggregates`) and the figures built from
/// them: builds them at the first start on rows never aggregated, loads them (with the rows they
/// left pending and the recent sample) at every start, checkpoints them with the feed position
/// every `checkpointInterval` seconds, and expires the days retention removed.
final class AggregateKeeper: Sendable {
    /// Seconds between checkpoints of the aggregates (each one a short transaction).
    static let checkpointInterval = 2.0
    /// A checkpoint waits at least this many times as long as the last one took: while a burst
    /// of outside rows touches every cell of the day, each checkpoint merges thousands of
    /// histograms, and the feed (which checkpoints between its polls) would spend most of its
    /// time there. Nothing is lost meanwhile: the cells wait in memory, and after a crash the
    /// feed delivers again what lies past the stored position.
    static let checkpointSpacing = 4.0

    private unowned let state: any RuntimeStateHolder
    private let store: any AggregateRepository & ExecutionRepository & ReplicaRole
    private let logger: Logger
    /// When the aggregates were last checkpointed, and how long until the next one may start.
    private let lastCheckpoint = Mutex((at: Date(), wait: AggregateKeeper.checkpointInterval))
    /// The role the figures were loaded in (`loadFigures`): the leader epoch, nil for a follower.
    private let loadedRole = Mutex<(set: Bool, epoch: Int64?)>((false, nil))

    /// True when the figures were loaded as the leader and this replica still leads in that
    /// epoch: then (only) it may change the stored aggregates.
    var leadsWithFigures: Bool {
        let loaded = loadedRole.withLock { $0 }
        return loaded.set && loaded.epoch != nil && loaded.epoch == store.leaderEpoch
    }

    /// True when the figures were loaded as a follower and this replica still follows.
    var followsWithFigures: Bool {
        let loaded = loadedRole.withLock { $0 }
        return loaded.set && loaded.epoch == nil && store.leaderEpoch == nil
    }

    init(state: any RuntimeStateHolder, store: any AggregateRepository & ExecutionRepository & ReplicaRole, logger: Logger) {
        self.state = state
        self.store = store
        self.logger = logger
    }

    /// Loads the figures of every row that existed at start: the stored aggregates (built first
    /// when they do not describe the table), the rows they left pending, and the recent sample.
    /// Returns the feed position they cover, the TRUNCATE generation, and the role they were
    /// loaded in: the leader epoch (0 without leader election), nil for a follower. A follower
    /// keeps every cell it loads or counts unsaved (it never checkpoints), so that retention can
    /// take a day's cells out of its figures without the table; a change of role reloads.
    func loadFigures() async throws -> (FeedPosition, Int64, Int64?) {
        let role = store.leaderEpoch
        let target = try await store.lastDrawnExecutionID()
        setStartup { startup in
            startup.targetID = target.id
            startup.targetXmax = target.xmax
            startup.notBefore = Date().addingTimeInterval(2)
        }
        var checkpoint = try await store.aggregateCheckpoint()
        if !checkpoint.isCurrent {
            logger.info("aggregates: building them from agents.execution_log (first start on these rows)")
            setStartup { $0.phase = "building_aggregates" }
            let logger = self.logger
            let lastLogged = Mutex(0.0)
            let buildStarted = Date()
            let built = try await store.buildAggregates { [self] progress in
                setStartup { startup in
                    startup.rowsDone = progress.rowsDone
                    startup.rowsTotal = progress.rowsTotal
                }
                let due = lastLogged.withLock { last -> Bool in
                    guard progress.seconds - last >= 2 else { return false }
                    last = progress.seconds
                    return true
                }
                if due {
                    logger.info("aggregates: \(progress.rowsDone) of \(progress.rowsTotal) executions summed (\(String(format: "%.1f", progress.seconds)) s)")
                }
            }
            let summed = state.withState { $0.startup.rowsDone }
            logger.info("aggregates: built over \(summed) executions in \(String(format: "%.1f", Date().timeIntervalSince(buildStarted))) s")
            checkpoint = try await store.aggregateCheckpoint()
            checkpoint.position = built
        }
        setStartup { $0.phase = "loading_aggregates"; $0.rowsDone = 0 }
        // The cells and the position they describe in one snapshot: another replica may
        // checkpoint meanwhile. A read replica may not have replayed a build just made: waited for.
        let follower = role == nil
        while true {
            let loaded = try await store.loadAggregateSnapshot { [self] cells in
                let count = state.withState { state -> Int64 in
                    for cell in cells { state.figures.add(cell) }
                    if follower { state.figures.confirm(cells) }
                    return state.figures.executions
                }
                setStartup { $0.rowsDone = count }
            }
            if loaded.isCurrent {
                checkpoint = loaded
                break
            }
            // Not the current aggregates yet (a read replica behind a build): the cells added
            // are dropped before they are loaded again.
            state.withState { $0.figures = WindowFigures() }
            try await Task.sleep(for: .milliseconds(100))
        }
        let position = checkpoint.position ?? FeedPosition(maxSeen: 0)
        if !checkpoint.pending.isEmpty {
            let records = try await store.executions(ids: checkpoint.pending)
            state.withState { _ = $0.applyFeed(records, arrival: Date()) }
        }
        setStartup { $0.phase = "loading_sample" }
        let capacity = state.withState { $0.analytics.capacity }
        setStartup { $0.rowsDone = 0; $0.rowsTotal = Int64(capacity) }
        let held = try await store.newestExecutions(limit: capacity, atOrBelow: position.maxSeen) { [state] page in
            state.withState { state in
                state.loadSample(page)
                state.startup.rowsDone += Int64(page.count)
            }
        }
        let total = state.withState { state -> Int64 in
            if Int64(held) < state.figures.executions { state.analytics.markOlderExecutionsUnheld() }
            state.startup.rowsDone = state.figures.executions
            state.startup.rowsTotal = 0
            return state.figures.executions
        }
        setStartup { $0.phase = "catching_up" }
        LearningService.returnFreedMemory()
        logger.info("aggregates: \(total) executions in the retention window (position \(position.maxSeen)); \(held) recent executions held for learning; \(LearningService.allocatorFigures())")
        state.refreshSnapshot()
        loadedRole.withLock { $0 = (true, role) }
        return (position, checkpoint.tableGeneration, role)
    }

    private func setStartup(_ change: (inout StartupProgress) -> Void) {
        state.withState { change(&$0.startup) }
    }

    /// The feed starts following from the loaded position: the next checkpoint is one interval away.
    func feedStarted() {
        lastCheckpoint.withLock { $0 = (Date(), Self.checkpointInterval) }
    }

    /// The feed passed `position`: checkpoints the aggregates when `checkpointInterval` seconds
    /// passed since the last checkpoint, or `checkpointSpacing` times its duration if that is
    /// longer (first settling the own writes the feed has not confirmed for too long). A failed
    /// checkpoint keeps its cells for the next one.
    /// `role` is the one the figures were loaded in (`loadFigures`): only the leader checkpoints,
    /// and only in the epoch it loaded in.
    func checkpointIfDue(at position: FeedPosition, generation: Int64, role: Int64?) async {
        let now = Date()
        let due = lastCheckpoint.withLock { last -> Bool in
            guard now.timeIntervalSince(last.at) >= last.wait else { return false }
            last.at = now
            return true
        }
        guard due else { return }
        defer {
            let took = Date().timeIntervalSince(now)
            lastCheckpoint.withLock { $0.wait = max(Self.checkpointInterval, Self.checkpointSpacing * took) }
        }
        let stale = state.withState { $0.staleConfirmations(now: now) }
        if !stale.isEmpty, let records = try? await store.executions(ids: stale) {
            state.withState { state in
                let found = Set(records.compactMap(\.id))
                _ = state.applyFeed(records, arrival: now)
                for id in stale where !found.contains(id) { state.confirmedEarly[id] = nil }
            }
        }
        // A follower keeps its cells (see `loadFigures`); the leader stores them.
        guard let epoch = role, store.leaderEpoch == epoch else { return }
        let (cells, pending) = state.withState { $0.takeCheckpoint() }
        do {
            try await store.checkpointAggregates(cells, position: position, pending: pending, generation: generation,
                                                 leaderEpoch: epoch)
        } catch {
            state.withState { $0.figures.restoreUnsaved(cells) }
            logger.warning("could not checkpoint the aggregates (kept for the next one): \(error)")
        }
    }

    /// Retention of a follower's figures (the leader removed the days from the tables): every
    /// cell of the days before `cutoff` leaves them; a follower holds its cells (`loadFigures`).
    func expireFollowerFigures(before cutoff: Date) {
        let cutoffDay = AggregateCell.day(of: cutoff.timeIntervalSince1970)
        let dropped = state.withState { state -> Int64 in
            let before = state.figures.executions
            state.figures.expire(beforeDay: cutoffDay, stored: [])
            return before - state.figures.executions
        }
        if dropped > 0 { logger.info("retention: \(dropped) executions before day \(cutoffDay) left the figures (the leader dropped them)") }
        state.refreshSnapshot()
    }

    /// Retention of the figures: the aggregate cells of the days retention removed from
    /// execution_log (those before `cutoff`, a UTC midnight) leave the table and the figures together.
    func expire(before cutoff: Date) async throws {
        let cutoffDay = AggregateCell.day(of: cutoff.timeIntervalSince1970)
        let expired = try await store.expireAggregates(beforeDay: cutoffDay)
        let dropped = state.withState { state -> Int64 in
            let before = state.figures.executions
            state.figures.expire(beforeDay: cutoffDay, stored: expired)
            return before - state.figures.executions
        }
        if dropped > 0 { logger.info("retention: \(dropped) executions before day \(cutoffDay) left the figures") }
        state.refreshSnapshot()
    }
}
