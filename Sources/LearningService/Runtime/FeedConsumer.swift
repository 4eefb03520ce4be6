import Foundation
import LearningCore
import LearningML
import LearningRepository
import Logging

/// Follows the store's change feed: brings the figures up to the table through the
/// `AggregateKeeper`, counts every execution in the figures and hands it to the `FeedLearner`
/// (during the start-up's replay, learns from it at once), declares the start-up complete once the feed passed the last id drawn
/// before it (then the first training starts), checkpoints at feed positions, and starts over
/// after a TRUNCATE or a failure.
final class FeedConsumer: RuntimeComponent {
    private unowned let state: any RuntimeStateHolder
    private let store: any ExecutionChangeFeed & AgentRegistry & ReplicaRole
    private let logger: Logger
    private let aggregates: AggregateKeeper
    private let insights: InsightPublisher
    private let models: ModelKeeper
    private let learner: FeedLearner

    init(state: any RuntimeStateHolder, store: any ExecutionChangeFeed & AgentRegistry & ReplicaRole, aggregates: AggregateKeeper, insights: InsightPublisher,
         models: ModelKeeper, learner: FeedLearner, logger: Logger) {
        self.state = state
        self.store = store
        self.aggregates = aggregates
        self.insights = insights
        self.models = models
        self.learner = learner
        self.logger = logger
    }

    /// Brings the figures up to the table (the stored aggregates, built first when they do not
    /// describe it), loads the recent sample, then follows the change feed from the aggregates'
    /// position, checkpointing them; after a TRUNCATE, starts over.
    func run() async {
        while !Task.isCancelled {
            do {
                let (position, generation, role) = try await aggregates.loadFigures()
                try await follow(from: position, generation: generation, role: role)
            } catch is RoleChanged {
                // Leader to follower or back (docs/SCALING.md): the figures are loaded again from
                // the stored aggregates, as at a start, so that the new leader checkpoints from
                // exactly what the table holds, and a follower holds every cell it counts.
                resetLearnedState()
                logger.info("replica role changed (now \(store.isLeader ? "leader" : "follower")): figures reloaded from the stored aggregates")
            } catch {
                if Task.isCancelled { break }
                // The figures are loaded again from the stored aggregates, which add to what is
                // held: start from nothing, as after a role change (else every count doubles).
                resetLearnedState()
                logger.warning("change feed stopped (\(error)); figures reloaded from the stored aggregates in 1 s")
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// The replica's leader role changed since its figures were loaded.
    struct RoleChanged: Error {}

    /// Follows the change feed from `position`; returns after a TRUNCATE (the figures are reset).
    /// Throws `RoleChanged` when this replica became the leader, or stopped being it, since
    /// `role` (the leader epoch the figures were loaded in, nil for a follower).
    private func follow(from position: FeedPosition, generation: Int64, role: Int64?) async throws {
        aggregates.feedStarted()
        // The position comes at least every second, idle or not (`FeedSettings.positionRepeat`).
        try await store.followChanges(from: position, stopAtReset: true) { [self] event in
            if case .position(let position) = event {
                if store.leaderEpoch != role { throw RoleChanged() }
                await notePosition(position, generation: generation, role: role)
            } else {
                await handle(event)
            }
        }
    }

    /// The feed passed `position`: declares the start-up done once it covers the target, and
    /// checkpoints the aggregates every `AggregateKeeper.checkpointInterval` seconds.
    private func notePosition(_ position: FeedPosition, generation: Int64, role: Int64?) async {
        learner.noteFeed(behind: !position.readToEnd)
        let reachedTarget = state.withState { state -> Bool in
            state.startup.rowsDone = state.figures.executions
            let startup = state.startup
            return !state.replayDone && (position.cursor >= startup.targetID
                || (Date() >= startup.notBefore && position.covers(startup.targetID, drawnBeforeXmax: startup.targetXmax)))
        }
        if reachedTarget { completeStartup() }
        await aggregates.checkpointIfDue(at: position, generation: generation, role: role)
    }

    /// The figures cover every row that existed at start: status turns operational and the
    /// first training starts.
    private func completeStartup() {
        let first = state.withState { state -> Bool in
            if state.replayDone { return false }
            state.replayDone = true
            state.coordinationWanted = Date()  // computed once after the start-up, then for readers
            return true
        }
        guard first else { return }
        state.refreshSnapshot()
        let (count, held, began) = state.withState { ($0.figures.executions, $0.analytics.count, $0.startup.began) }
        logger.info("start-up complete in \(String(format: "%.1f", Date().timeIntervalSince(began))) s: \(count) executions in the figures, \(held) held for learning; training")
        models.trainAfterStartup()
    }

    /// Forgets everything learned from the table; the start-up runs again.
    private func resetLearnedState() {
        learner.clear()
        state.withState { state in
            state.reset()
            state.replayDone = false
            state.startup = StartupProgress()
        }
        state.refreshSnapshot()
    }

    private func handle(_ event: FeedEvent) async {
        switch event {
        case .position:
            break
        case .reset:
            resetLearnedState()
            logger.warning("execution_log was truncated: learned state reset, rebuilding from the table")
        case .ownWrites(let ids):
            state.withState { state in state.confirmOwn(ids) }
        case .summary(let summary):
            // A burst far behind, summed by PostgreSQL: counted, not learned from (the feed
            // reads the burst's newest rows whole, and those are learned from).
            state.withState { state in state.countSummary(summary) }
            learner.noteCountedOnly(summary.ids.count)
            await noteAgentsSeen(summary.cells.lazy.filter { $0.lastTimestamp.isFinite }
                .map { ($0.agentName, Date(timeIntervalSince1970: $0.lastTimestamp)) })
        case .executions(let records):
            let now = Date()
            // Counted at once; learned from by the learner once the start-up is done (before, at
            // once, so the first training sees every replayed row).
            let anomalies = state.withState { state -> [LearningML.DetectedAnomaly]? in
                let fresh = state.countFeed(records)
                guard state.replayDone else { return state.learn(fresh, arrival: now, new: false) }
                learner.enqueue(fresh, generation: state.generation, arrival: now)
                return nil
            }
            await noteAgentsSeen(records.lazy.map { ($0.agentName, $0.timestamp) })
            for anomaly in anomalies ?? [] { await insights.publish(anomaly) }
        }
    }

    /// Records when each agent was last seen: the latest of its sightings, none later than now.
    private func noteAgentsSeen(_ sightings: some Sequence<(String, Date)>) async {
        let now = Date()
        var seen: [String: Date] = [:]
        for (agent, at) in sightings {
            let at = min(at, now)
            if let previous = seen[agent], previous >= at { continue }
            seen[agent] = at
        }
        do {
            try await store.noteAgentsSeen(seen)
        } catch {
            logger.warning("could not record agents seen: \(error)")
        }
    }
}
