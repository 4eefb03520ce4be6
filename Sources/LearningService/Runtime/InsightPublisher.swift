import Foundation
import LearningCore
import LearningML
import LearningRepository
import Synchronization
import Logging

/// Stores insights in `agents.insights` and pushes them to live subscribers (`broadcaster`):
/// anomalies, merged by `AnomalyGroups` into the insight of the first of a run, and what a
/// training learned (collaboration insights once per pair and kind, across restarts).
final class InsightPublisher: Sendable {
    /// The live insight streams (`WatchInsights`).
    let broadcaster = InsightBroadcaster()
    private let store: any InsightRepository & ReplicaRole
    private let config: LearningConfig
    private let logger: Logger
    /// Keys (`kind:agent+agent`) of collaboration insights already published.
    private let published = Mutex<Set<String>>([])
    /// Repeated anomalies merged into the insight of the first (see `AnomalyGroups`).
    private let anomalyGroups = Mutex(AnomalyGroups())
    /// On a follower: the newest stored anomaly already streamed (nil: not following yet).
    private let relayed = Mutex<(id: Int64, createdAt: Date)?>(nil)

    init(store: any InsightRepository & ReplicaRole, config: LearningConfig, logger: Logger) {
        self.store = store
        self.config = config
        self.logger = logger
    }

    /// Adds the ids of merged anomalies to their stored insights every 0.5 s.
    var flushJob: PeriodicJob {
        .every(.milliseconds(500), "anomaly-group flush") { [self] in await flushAnomalyGroups() }
    }

    /// On a follower, streams the anomalies the leader stored to this replica's `WatchInsights`
    /// subscribers every 0.5 s (the follower stores none itself: docs/SCALING.md).
    var relayJob: PeriodicJob {
        .every(.milliseconds(500), "anomaly relay") { [self] in await relayLeaderAnomalies() }
    }

    /// One look for anomalies the leader stored since the last; see `relayJob`.
    func relayLeaderAnomalies() async {
        guard !store.isLeader else {
            relayed.withLock { $0 = nil }
            return
        }
        let last = relayed.withLock { $0 }
        // The leader stamps created_at from its clock when it stores: a minute's margin, then by id.
        let since: Date? = last.map { $0.createdAt.addingTimeInterval(-60) }
        guard let stored = try? await store.insights(kinds: LearningService.anomalyKinds, agentName: nil, since: since, limit: 500)
        else { return }
        let newest: (Int64, Date)? = stored.compactMap { row -> (Int64, Date)? in row.id.map { ($0, row.createdAt) } }
            .max { $0.0 < $1.0 }
        guard let last else {
            // Following from now: what was stored before is history, not news.
            relayed.withLock { $0 = newest ?? (0, Date()) }
            return
        }
        let fresh = stored.filter { ($0.id ?? 0) > last.id }.sorted { ($0.id ?? 0) < ($1.id ?? 0) }
        for row in fresh { broadcaster.publish(.anomaly(LearningService.anomaly(from: row))) }
        if let newest, newest.0 > last.id { relayed.withLock { $0 = newest } }
    }

    /// Stores an anomaly as an insight and pushes it to live subscribers.
    func publish(_ anomaly: LearningML.DetectedAnomaly) async {
        // One replica stores (and streams) anomalies: every replica detects them in the same
        // rows, the leader sees all of them through its feed (docs/SCALING.md).
        guard store.isLeader else { return }
        let kind = LearningService.apiAnomalyKind(anomaly.kind.rawValue)
        // A failure burst (or streak) is the agent's, across task types: one insight per episode,
        // its totals kept up to date as it grows.
        let burst = anomaly.kind == .failureBurst
        let key = AnomalyGroups.Key(kind: kind, agent: anomaly.agentName, taskType: burst ? nil : anomaly.taskType)
        let update = AnomalyGroups.Update(detail: anomaly.description, score: anomaly.score, observed: anomaly.observed,
                                          expected: anomaly.expected, severity: anomaly.severity.rawValue)
        let decision = anomalyGroups.withLock {
            $0.admit(key, executionIDs: anomaly.recordIDs, at: Date(), episodeStart: burst ? anomaly.startedAt : nil,
                     eventAt: anomaly.timestamp, update: burst ? update : nil)
        }
        if decision == .merged { return }
        let threshold = config.performance.anomalyDetectionThreshold
        let title: String
        switch anomaly.kind {
        case .latencySpike: title = "Latency spike: \(anomaly.agentName)"
        case .resourceBlowup: title = "Resource spike: \(anomaly.agentName)"
        case .failureBurst: title = "Failure burst: \(anomaly.agentName)"
        }
        let stored = StoredInsight(kind: kind, severity: anomaly.severity.rawValue,
                                   title: anomaly.taskType.map { "\(title) on \($0)" } ?? title, detail: anomaly.description,
                                   agents: [anomaly.agentName], taskType: anomaly.taskType, score: anomaly.score,
                                   observed: anomaly.observed, expected: anomaly.expected, threshold: threshold,
                                   executionID: anomaly.recordIDs.last, executionIDs: anomaly.recordIDs, createdAt: Date())
        var saved = stored
        do {
            saved.id = try await store.saveInsight(stored)
        } catch {
            logger.warning("could not store an anomaly: \(error)")
        }
        anomalyGroups.withLock { $0.stored(key, insightID: saved.id) }
        var event = LearningService.anomaly(from: saved)
        if saved.id == nil { event.id = UUID().uuidString.lowercased() }
        broadcaster.publish(.anomaly(event))
    }

    /// Adds the execution ids of merged anomalies to their stored insights (every 0.5 s, and
    /// before anomalies are read, so a query sees every flagged execution).
    func flushAnomalyGroups() async {
        let due = anomalyGroups.withLock { $0.flush(at: Date()) }
        for flush in due {
            do {
                try await store.appendInsightExecutionIDs(insightID: flush.insightID, executionIDs: flush.executionIDs)
                if let u = flush.update {
                    try await store.updateInsightTotals(insightID: flush.insightID, detail: u.detail, score: u.score,
                                                        observed: u.observed, expected: u.expected, severity: u.severity)
                }
            } catch {
                logger.warning("could not add \(flush.executionIDs.count) executions to anomaly \(flush.insightID): \(error)")
            }
        }
    }

    /// Stores an insight and pushes it to live subscribers.
    func publish(insight stored: StoredInsight) async {
        var saved = stored
        do {
            saved.id = try await store.saveInsight(stored)
        } catch {
            logger.warning("could not store an insight: \(error)")
        }
        var insight = LearningService.insight(from: saved)
        if saved.id == nil { insight.id = UUID().uuidString.lowercased() }
        broadcaster.publish(.insight(insight))
    }

    /// Remembers the collaboration insights stored before, so a restart does not repeat them.
    func seedPublishedInsights() async {
        guard let stored = try? await store.insights(kinds: ["synergy", "conflict"], limit: 1000) else { return }
        published.withLock { keys in for insight in stored { keys.insert("\(insight.kind):\(insight.agents.joined(separator: "+"))") } }
    }

    /// Publishes what a training learned: the `model` insight, and the collaboration patterns
    /// (|z| >= 3, at most 10 new ones) not published before.
    func publishTrainingInsights(_ engine: LearningEngine, info: TrainingInfo, records: Int, reason: String) async {
        await publish(insight: StoredInsight(
            kind: "model", severity: "info", title: "Models retrained (\(reason))",
            detail: "Trained on \(records) executions in \(String(format: "%.3f", info.durationSeconds)) s; "
                + "held-out accuracy \(String(format: "%.4f", info.accuracy)) over \(info.holdoutRecords) executions; version \(info.version)",
            score: info.accuracy, createdAt: info.trainedOn))
        guard config.agents.patternRecognition else { return }
        // Another replica may have published some since this one started (docs/SCALING.md).
        await seedPublishedInsights()
        var fresh: [LearningML.CollaborationEffect] = []
        for pattern in engine.collaborationPatterns() where abs(pattern.zScore) >= 3 {
            let kind = pattern.zScore > 0 ? "synergy" : "conflict"
            let names = [pattern.agents.0, pattern.agents.1].sorted()
            let key = "\(kind):\(names.joined(separator: "+"))"
            if published.withLock({ $0.insert(key).inserted }) { fresh.append(pattern) }
            if fresh.count >= 10 { break }
        }
        for pattern in fresh {
            let names = [pattern.agents.0, pattern.agents.1].sorted()
            let synergy = pattern.zScore > 0
            await publish(insight: StoredInsight(
                kind: synergy ? "synergy" : "conflict", severity: synergy ? "info" : "warning",
                title: "\(names[0]) and \(names[1]) do \(synergy ? "better" : "worse") together",
                detail: String(format: "Over %d shared tasks their success differs from expectation by %+.1f points (z = %.2f).",
                               pattern.sharedTasks, pattern.successLift * 100, pattern.zScore),
                agents: names, score: pattern.zScore, createdAt: Date()))
        }
    }
}
