import Foundation
import LearningCore
import LearningRepository
import Logging

/// Retention, on two timers: every hour (first as soon as the start-up is complete) the day
/// partitions ahead are ensured, `agents.execution_log` and the other tables lose what is
/// older than their retention, and the aggregates of the removed days leave the figures; every
/// 60 s the in-memory history loses executions older than `performance.metrics_retention_days`.
final class Retention: Sendable {
    /// Seconds between runs of the table retention.
    static let tableInterval = 3_600.0

    private unowned let state: any RuntimeStateHolder
    private let store: any RetentionRepository & ReplicaRole
    private let config: LearningConfig
    private let logger: Logger
    private let aggregates: AggregateKeeper

    init(state: any RuntimeStateHolder, store: any RetentionRepository & ReplicaRole, config: LearningConfig, aggregates: AggregateKeeper,
         logger: Logger) {
        self.state = state
        self.store = store
        self.config = config
        self.aggregates = aggregates
        self.logger = logger
    }

    var jobs: [PeriodicJob] {
        // A failed retention is tried again after the roll-up interval, as when both shared a loop.
        let retry = Duration.seconds(max(1, config.performance.performanceTrackingInterval))
        return [
            PeriodicJob("retention", every: .seconds(Self.tableInterval), firstRunAfter: .zero) { [self] in
                // Waits for the start-up: the aggregates being built must not count days
                // retention is removing meanwhile.
                guard state.withState({ $0.replayDone }) else { return .milliseconds(200) }
                return await applyRetention() ? nil : retry
            },
            .every(.seconds(60), "history retention") { [self] in expireHistory() },
        ]
    }

    /// Ensures the day partitions, applies retention to the tables and expires the aggregates of
    /// the removed days; false when retention failed.
    private func applyRetention() async -> Bool {
        // One replica applies retention to the tables; the others take the same days out of
        // their figures (docs/SCALING.md). Between a change of role and the reload, neither.
        guard aggregates.leadsWithFigures, store.claimLeaderJob("retention") else {
            if aggregates.followsWithFigures {
                let cutoff = Date().addingTimeInterval(-Double(config.performance.metricsRetentionDays) * 86_400)
                aggregates.expireFollowerFigures(before: Date(timeIntervalSince1970: (cutoff.timeIntervalSince1970 / 86_400).rounded(.down) * 86_400))
            }
            return true
        }
        do {
            let created = try await store.ensurePartitions()
            if created > 0 { logger.info("partitions: created \(created) day partitions of execution_log") }
        } catch {
            logger.error("partitions failed: \(error)")
        }
        do {
            let report = try await store.applyRetention()
            do {
                try await aggregates.expire(before: report.executionCutoff)
                let deleted = report.deleted
                let total = deleted.values.reduce(0, +)
                if total > 0 { logger.info("retention: deleted \(deleted.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", "))") }
                if !report.droppedPartitions.isEmpty { logger.info("retention: dropped \(report.droppedPartitions.joined(separator: ", "))") }
            } catch {
                logger.error("retention failed: \(error)")
            }
            return true
        } catch {
            logger.error("retention failed: \(error)")
            return false
        }
    }

    /// Drops the held executions older than the retention window.
    private func expireHistory() {
        let cutoff = Date().addingTimeInterval(-Double(config.performance.metricsRetentionDays) * 86_400)
        let dropped = state.withState { $0.analytics.expire(before: cutoff) }
        if dropped > 0 { logger.info("retention: \(dropped) executions older than \(config.performance.metricsRetentionDays) days left the learned history") }
    }
}
