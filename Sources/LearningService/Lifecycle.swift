public import Foundation
import LearningCore
import LearningML
import LearningRepository
import Synchronization
import Logging

// Start-up and shutdown of the service's learning runtime. Its background work is done by the
// components of Runtime/ (see RuntimeGroup.swift), started and stopped together here.

/// Progress of the start-up: the figures are complete once the aggregates are built (first
/// start on rows never aggregated) or loaded, and the change feed has passed `targetID`, the last
/// id drawn before the start.
public struct StartupProgress: Sendable, Equatable {
    /// `building_aggregates`, `loading_aggregates`, `loading_sample` or `catching_up`.
    public var phase = "loading_aggregates"
    public var rowsDone: Int64 = 0
    public var rowsTotal: Int64 = 0
    public var began = Date()
    /// The last execution id drawn before the start-up.
    var targetID: Int64 = 0
    /// xmax of a snapshot taken when `targetID` was read (see `FeedPosition.covers`).
    var targetXmax: UInt64 = 0
    /// Not before: a writer may draw an id before its transaction has an xid.
    var notBefore = Date()

    /// The report health and status show.
    var report: StartupReport {
        StartupReport(phase: phase, rowsDone: rowsDone, rowsTotal: rowsTotal,
                      percent: rowsTotal > 0 ? min(100, Double(rowsDone) / Double(rowsTotal) * 100) : 0,
                      elapsedSeconds: Date().timeIntervalSince(began))
    }
}

extension LearningService: RuntimeStateHolder {
    /// Loads what the service needs before serving (registered agents, agent definition files,
    /// the latest stored model) and starts the background jobs. Returns once they run; the
    /// first training happens in the background once the feed has replayed the table.
    public func start() async {
        let agents = (try? await store.listAgents()) ?? []
        let registered = (try? await store.agentCount()) ?? Int64(agents.count)
        core.withLock { state in
            state.noteRegistered(agents.map(\.name))
            state.registryCount = Int(registered)
            state.startup = StartupProgress()
        }
        logger.info("registry: \(registered) agents registered (agents.total_agents expects \(config.agents.totalAgents))")
        await runtime.housekeeping.loadDefinitions()
        await insights.seedPublishedInsights()
        await runtime.models.loadLatestModel()
        process.sample()
        group.start(runtime.running, retaining: self)
        core.withLock { $0.lifecycle = .running }
        refreshSnapshot()
        logger.info("learning runtime started: loading the figures of the stored executions")
    }

    /// Waits until the start-up is complete (the figures cover every row stored before it), at
    /// most `timeout` seconds; true when it is.
    public func waitUntilStarted(timeout: Double = 60) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if core.withLock({ $0.replayDone }) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return core.withLock { $0.replayDone }
    }

    /// Stops the background jobs, ends live insight streams and closes the store (flushing
    /// queued writes). Health reports `unhealthy` from the first moment.
    public func shutdown() async {
        core.withLock { $0.lifecycle = .draining }
        refreshSnapshot()
        await group.stop()
        broadcaster.finishAll()
        await store.shutdown()
        logger.info("learning runtime stopped")
    }

    /// Marks the service as draining (health turns unhealthy) without stopping anything yet.
    public func beginDraining() {
        core.withLock { $0.lifecycle = .draining }
        refreshSnapshot()
    }

    /// Writes the `agents.performance_metrics` snapshot of the last day now (see
    /// `PerformanceRollUps.rollUp`). Returns the rows written and whether they came from memory.
    @discardableResult
    public func rollUpPerformance(at date: Date = Date()) async throws -> (rows: Int, fromMemory: Bool) {
        try await runtime.rollUps.rollUp(at: date)
    }

    /// Stores an anomaly as an insight and pushes it to live subscribers (`InsightPublisher`).
    func publish(_ anomaly: LearningML.DetectedAnomaly) async {
        await insights.publish(anomaly)
    }

    func withState<R: Sendable>(_ body: (inout RuntimeState) -> R) -> R {
        core.withLock { body(&$0) }
    }
}
