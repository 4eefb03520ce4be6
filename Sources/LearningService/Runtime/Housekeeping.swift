import Foundation
import LearningCore
import LearningRepository
import Synchronization
import Logging

/// The small periodic jobs that keep what reads see current, each on its own timer: the process
/// figures (every 1 s), the snapshot health, status and metrics read (0.5 s), the coordination
/// figures of a large held sample (30 s), the registry count (2 s) and the agent definition
/// files (3 s).
final class Housekeeping: Sendable {
    private unowned let state: any RuntimeStateHolder
    private let store: any AgentRegistry
    private let config: LearningConfig
    private let logger: Logger
    private let process: ProcessMetrics
    /// The folder of agent definition files, once `loadDefinitions` read it.
    private let definitionScanner = Mutex<AgentDirectoryScanner?>(nil)

    init(state: any RuntimeStateHolder, store: any AgentRegistry, config: LearningConfig, process: ProcessMetrics,
         logger: Logger) {
        self.state = state
        self.store = store
        self.config = config
        self.process = process
        self.logger = logger
    }

    var jobs: [PeriodicJob] {
        [
            .every(.seconds(1), "process sampling") { [self] in process.sample() },
            .every(.milliseconds(500), "snapshot refresh") { [self] in state.refreshSnapshot() },
            .every(.seconds(30), "coordination refresh") { [self] in refreshCoordination() },
            // The registry is small: counted every 2 s. Executions are counted by the aggregates.
            .every(.seconds(2), "registry count") { [self] in
                // A count read while an agent registered may predate it (health said 0 after a 201
                // under load): `agentsRegistered` never falls below the agents this service knows.
                guard let agents = try? await store.agentCount() else { return }
                state.withState { $0.registryCount = Int(agents) }
                state.refreshSnapshot()
            },
            .every(.seconds(3), "agent definition files") { [self] in
                if let scanner = definitionScanner.withLock({ $0 }) { await syncDefinitions(scanner) }
            },
        ]
    }

    /// Registers the agents of the definition folder (`agents.definitions_directory`) at start,
    /// then watches it.
    func loadDefinitions() async {
        guard let directory = config.agents.definitionsDirectory else { return }
        let scanner = AgentDirectoryScanner(directory: directory)
        await syncDefinitions(scanner)
        definitionScanner.withLock { $0 = scanner }
    }

    private func syncDefinitions(_ scanner: AgentDirectoryScanner) async {
        let changes = scanner.scan()
        for error in changes.errors { logger.warning("agent definition skipped: \(error)") }
        for definition in changes.updated {
            do {
                let (agent, created) = try await store.upsertAgent(definition)
                state.withState { $0.noteRegistered([agent.name]) }
                logger.info("agent definition \(created ? "registered" : "updated"): \(agent.name)")
            } catch {
                logger.warning("could not register agent \(definition.name) from \(definition.metadata["file"] ?? "?"): \(error)")
            }
        }
    }

    /// Computes the coordination figures of the held executions off the runtime's lock: copies
    /// them in chunks of `PerformanceRollUps.rollUpChunk` (the lock released in between), groups
    /// them by task on this task's thread and stores the result for reads (see
    /// `RuntimeState.coordination`).
    func refreshCoordination() {
        let start = state.withState { state -> (first: Int64, end: Int64, generation: Int, split: RuntimeState.SampleSplit)? in
            let split = state.coordinationSplit.sample
            guard state.analytics.count > RuntimeState.coordinationInlineLimit, split.fromDay < .max,
                  Date().timeIntervalSince(state.coordinationWanted) < 600 else { return nil }
            if let cache = state.coordinationCache, cache.generation == state.generation, cache.split == split,
               cache.ingested == state.analytics.ingested, cache.oldest == state.analytics.oldestSequence { return nil }
            return (state.analytics.oldestSequence, state.analytics.ingested, state.generation, split)
        }
        guard let start else { return }
        // The executions a task of `fromDay` or later counts (see `ExecutionAnalytics.coordination`).
        let floor = max(start.split.earliest, Double(start.split.fromDay - 1) * 86_400)
        var copied: [ExecutionAnalytics.Entry] = []
        copied.reserveCapacity(Int(start.end - start.first))
        var next = start.first
        while next < start.end {
            let chunk = next..<min(next + PerformanceRollUps.rollUpChunk, start.end)
            let visited = state.withState { state in
                state.generation == start.generation
                    && state.analytics.visit(chunk) { if $0.taskID != nil && $0.timestamp >= floor { copied.append($0) } }
            }
            // Dropped meanwhile (capacity): what is left is still the newest executions.
            if !visited { copied.removeAll(); next = state.withState { $0.analytics.oldestSequence }; continue }
            next = chunk.upperBound
        }
        let names = state.withState { $0.analytics.agentNames }
        let value = ExecutionAnalytics.coordination(of: copied, fromDay: start.split.fromDay, agentNames: names)
        state.withState { state in
            if state.generation == start.generation {
                state.coordinationCache = (start.first, start.end, start.generation, Date(), start.split, value)
            }
        }
    }
}
