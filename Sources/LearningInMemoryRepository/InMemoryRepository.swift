// The service's repository in memory: everything LearningStore does for the service, without
// PostgreSQL, so the service's handlers, runtime and analytics can be tested in a plain process.
// One lock over plain values; no SQL. Where PostgreSQL needs machinery for concurrency (the feed's
// gaps and snapshots, the writer's group commit) there is none to need: ids are handed out and
// rows become visible under the same lock, so every id up to the last one drawn is final.
public import Foundation
public import LearningCore
public import LearningRepository
import Synchronization

/// `LearningRepository` in memory, for tests: the same answers as the PostgreSQL store for
/// everything the service uses, plus a few doors a test needs (`insertOutside`,
/// `truncateExecutions`, `setConnected`, the stored rows).
///
/// ```swift
/// let repository = InMemoryRepository()
/// let service = LearningService(config: LearningConfig(), store: repository)
/// await service.start()
/// repository.insertOutside([record])   // another program's row: the change feed delivers it
/// ```
public final class InMemoryRepository: LearningRepository {
    /// How long the change feed waits between looks when it has delivered everything.
    public let pollInterval: Duration
    /// `performance.metrics_retention_days` of the configuration the repository stands for.
    public let retentionDays: Int

    struct State {
        /// Set by `interruptFeed`: the next step of a running feed throws (a lost connection).
        var feedInterrupted = false
        /// The executions, ascending by id (ids are handed out in order, under the lock).
        var rows: [ExecutionRecord] = []
        var lastID: Int64 = 0
        /// Event id to the row that claimed it, and that row's time (claims expire with their day).
        var claims: [String: (id: Int64, timestamp: Date)] = [:]
        /// Runs of each leader-only job (reported as a single server's would be).
        var leaderJobRuns: [String: Int64] = [:]
        /// Ids of rows stored by `logExecution(s)` that no feed has delivered yet.
        var own: Set<Int64> = []
        /// Bumped by `truncateExecutions` (PostgreSQL: the TRUNCATE trigger's generation).
        var generation: Int64 = 0
        /// Bumped by every write of executions, aggregates or agents (PostgreSQL: transaction ids):
        /// the feed's position carries it, so a position is reported again after a write, as
        /// PostgreSQL's snapshot xmin moves on.
        var writes: UInt64 = 0
        var connected = true
        var closed = false

        var cells: [CellKey: AggregateCell] = [:]
        var aggregatedGeneration: Int64?
        var position: FeedPosition?
        var pending: [Int64] = []

        var collaboration: [Int32: (rows: Int64, sums: CollaborationSums)] = [:]
        var agents: [String: AgentDefinition] = [:]
        var metrics: [PerformanceSnapshot] = []
        var models: [StoredModel] = []
        var embeddings: [String: (id: Int64, vector: [Float])] = [:]
        var insights: [StoredInsight] = []
        var nextRowID: Int64 = 0
        /// Days prepared by `ensurePartitions` (PostgreSQL: day partitions).
        var partitions: Set<Int32> = []

        mutating func newID() -> Int64 {
            nextRowID += 1
            return nextRowID
        }

        /// Index of the first row with an id above `id`.
        func firstRow(after id: Int64) -> Int {
            var lo = 0, hi = rows.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if (rows[mid].id ?? 0) <= id { lo = mid + 1 } else { hi = mid }
            }
            return lo
        }
    }

    struct CellKey: Hashable {
        var agent: String
        var task: String
        var day: Int32
    }

    let state = Mutex(State())

    /// Creates an empty repository.
    public init(retentionDays: Int = 90, pollInterval: Duration = .milliseconds(10)) {
        self.retentionDays = retentionDays
        self.pollInterval = pollInterval
    }

    // MARK: - Test doors

    /// Stores executions as another program would (a direct INSERT): the change feed delivers
    /// them as `.executions`. Event ids are claimed as by the service's writes. Returns the acks.
    @discardableResult
    public func insertOutside(_ records: [ExecutionRecord]) -> [IngestAck] {
        state.withLock { Self.insert(records, own: false, into: &$0) }
    }

    /// Empties the executions as a TRUNCATE does: the feed reports `.reset`; the aggregates no
    /// longer describe the table.
    public func truncateExecutions() {
        state.withLock { s in
            s.rows.removeAll()
            s.claims.removeAll()
            s.own.removeAll()
            s.generation += 1
        }
    }

    /// What the next process over the same storage sees, after `shutdown()`: everything stored,
    /// with a writer of its own (rows written before come to its feed as other writers' rows).
    /// Returns the repository, open again.
    public func reopened() -> InMemoryRepository {
        state.withLock { s in
            s.closed = false
            s.own.removeAll()
        }
        return self
    }

    /// Makes `databaseState` report `connected` or `disconnected`.
    public func setConnected(_ connected: Bool) {
        state.withLock { $0.connected = connected }
    }

    /// Every stored execution, ascending by id.
    public var storedExecutions: [ExecutionRecord] { state.withLock { $0.rows } }

    /// Every `performance_metrics` row, oldest first.
    public var performanceRows: [PerformanceSnapshot] { state.withLock { $0.metrics } }

    /// Every saved model version, oldest first.
    public var savedModels: [StoredModel] { state.withLock { $0.models } }

    /// The stored embeddings by agent name (overall ones only).
    public var embeddings: [String: [Float]] {
        state.withLock { s in
            var result: [String: [Float]] = [:]
            for (key, value) in s.embeddings where !key.contains("\u{0}") { result[key] = value.vector }
            return result
        }
    }

    // MARK: - LearningRepository

    public var databaseState: String { state.withLock { $0.connected } ? "connected" : "disconnected" }

    // MARK: Replica role: the only replica, always the leader

    public var isLeader: Bool { true }
    public var leaderEpoch: Int64? { 0 }

    public func claimLeaderJob(_ job: String) -> Bool {
        state.withLock { $0.leaderJobRuns[job, default: 0] += 1 }
        return true
    }

    public var replication: ReplicationState {
        ReplicationState(isLeader: true, electionEnabled: false, replicas: 0, leaderJobRuns: state.withLock { $0.leaderJobRuns },
                         readReplica: false, lagSeconds: nil, lagBytes: nil)
    }

    public func shutdown() async {
        state.withLock { $0.closed = true }
    }

    private func open() throws(StoreError) {
        let (closed, connected) = state.withLock { ($0.closed, $0.connected) }
        if closed { throw .closed }
        if !connected { throw .unavailable("the in-memory repository is set disconnected") }
    }

    // MARK: Executions

    public func withIngestAdmission<T>(rows: Int, _ body: () async throws -> T) async throws -> T {
        try open()
        return try await body()
    }

    public func logExecution(prepare: () throws -> ExecutionRecord,
                             completion: @escaping @Sendable (Result<(record: ExecutionRecord, ack: IngestAck), any Error>) -> Void) {
        do {
            try open()
            let record = try prepare()
            let ack = state.withLock { Self.insert([record], own: true, into: &$0)[0] }
            completion(.success((record, ack)))
        } catch {
            completion(.failure(error))
        }
    }

    public func logExecutions(_ records: [ExecutionRecord]) async throws -> [IngestAck] {
        try open()
        return state.withLock { Self.insert(records, own: true, into: &$0) }
    }

    /// Stores records in order; a record whose event id was claimed (before, or earlier in the
    /// batch) is a duplicate with the first row's id.
    static func insert(_ records: [ExecutionRecord], own: Bool, into s: inout State) -> [IngestAck] {
        s.writes += 1
        return records.map { record in
            if let event = record.eventID, let claim = s.claims[event] {
                return IngestAck(id: claim.id, duplicate: true)
            }
            s.lastID += 1
            var stored = record
            stored.id = s.lastID
            s.rows.append(stored)
            if let event = record.eventID { s.claims[event] = (s.lastID, record.timestamp) }
            if own { s.own.insert(s.lastID) }
            return IngestAck(id: s.lastID, duplicate: false)
        }
    }

    public func executions(ids: [Int64]) async throws -> [ExecutionRecord] {
        try open()
        let wanted = Set(ids)
        return state.withLock { s in s.rows.filter { wanted.contains($0.id ?? 0) } }
    }

    @discardableResult
    public func newestExecutions(limit: Int, atOrBelow maxID: Int64, page: Int,
                                 _ body: @Sendable ([ExecutionRecord]) -> Void) async throws -> Int {
        try open()
        guard limit > 0 else { return 0 }
        let newest = state.withLock { s in s.rows[..<s.firstRow(after: maxID)].suffix(limit) }
        var start = newest.startIndex
        while start < newest.endIndex {
            let end = min(start + max(1, page), newest.endIndex)
            body(Array(newest[start..<end]))
            start = end
        }
        return newest.count
    }

    public func lastDrawnExecutionID() async throws -> (id: Int64, xmax: UInt64) {
        try open()
        return state.withLock { ($0.lastID, 0) }
    }

    // MARK: Change feed

    /// Makes a running `followChanges` throw at its next step, as a database connection lost
    /// mid-feed would: tests of what the runtime does after a feed failure.
    public func interruptFeed() {
        state.withLock { $0.feedInterrupted = true }
    }

    /// The error `interruptFeed` makes the feed throw.
    public struct FeedInterrupted: Error {}

    public func followChanges(from start: FeedPosition?, stopAtReset: Bool,
                              _ handler: @Sendable (FeedEvent) async throws -> Void) async throws {
        // Ids below the start's highest seen that it had not seen (its gaps): delivered if stored.
        var unseen = Set(start?.gaps.flatMap { Array($0) } ?? [])
        var maxSeen = start?.maxSeen ?? 0
        var generation: Int64? = nil
        var reported: FeedPosition? = nil
        while !Task.isCancelled {
            if state.withLock({ s in defer { s.feedInterrupted = false }; return s.feedInterrupted }) { throw FeedInterrupted() }
            let (current, drawn, writes, records, own) = state.withLock { s -> (Int64, Int64, UInt64, [ExecutionRecord], [Int64]) in
                var records: [ExecutionRecord] = []
                var own: [Int64] = []
                guard s.generation == (generation ?? s.generation) else { return (s.generation, s.lastID, s.writes, [], []) }
                let from = unseen.isEmpty ? s.firstRow(after: maxSeen) : 0
                for row in s.rows[from...] {
                    let id = row.id ?? 0
                    guard id > maxSeen || unseen.contains(id) else { continue }
                    if s.own.remove(id) != nil { own.append(id) } else { records.append(row) }
                }
                return (s.generation, s.lastID, s.writes, records, own)
            }
            if let previous = generation, previous != current {
                try await handler(.reset)
                if stopAtReset { return }
                (generation, maxSeen, unseen, reported) = (current, 0, [], nil)
                continue
            }
            generation = current
            unseen.removeAll()
            maxSeen = max(maxSeen, drawn)
            if !records.isEmpty { try await handler(.executions(records)) }
            if !own.isEmpty { try await handler(.ownWrites(own)) }
            var position = FeedPosition(maxSeen: maxSeen)
            position.snapshotXmin = writes
            position.readToEnd = true
            if position != reported {
                reported = position
                try await handler(.position(position))
            }
            try? await Task.sleep(for: pollInterval)
        }
    }

    // MARK: Aggregates

    public func aggregateCheckpoint() async throws -> AggregateCheckpoint {
        try open()
        return state.withLock { s in
            AggregateCheckpoint(tableGeneration: s.generation, aggregatedGeneration: s.aggregatedGeneration,
                                position: s.position, pending: s.pending)
        }
    }

    public func buildAggregates(grace: Double, workers: Int,
                                progress: @escaping @Sendable (AggregateBuildProgress) -> Void) async throws -> FeedPosition {
        try open()
        let (position, total) = state.withLock { s -> (FeedPosition, Int64) in
            s.cells.removeAll()
            for row in s.rows { Self.add(row, to: &s.cells) }
            s.collaboration.removeAll()
            s.aggregatedGeneration = s.generation
            s.position = FeedPosition(maxSeen: s.lastID)
            s.pending = []
            return (FeedPosition(maxSeen: s.lastID), Int64(s.rows.count))
        }
        progress(AggregateBuildProgress(rowsDone: total, rowsTotal: total, seconds: 0))
        return position
    }

    static func add(_ row: ExecutionRecord, to cells: inout [CellKey: AggregateCell]) {
        let timestamp = row.timestamp.timeIntervalSince1970
        let day = AggregateCell.day(of: timestamp)
        let key = CellKey(agent: row.agentName, task: row.taskType ?? "", day: day)
        cells[key, default: AggregateCell(agentName: row.agentName, taskType: row.taskType, day: day)].include(row, at: timestamp)
    }

    /// The checkpoint and the cells at one instant (one lock: nothing checkpoints in between).
    public func loadAggregateSnapshot(page: Int, _ body: @escaping @Sendable ([AggregateCell]) -> Void) async throws -> AggregateCheckpoint {
        try open()
        let (checkpoint, cells) = state.withLock { s in
            (AggregateCheckpoint(tableGeneration: s.generation, aggregatedGeneration: s.aggregatedGeneration,
                                 position: s.position, pending: s.pending), Self.orderedCells(s))
        }
        if checkpoint.isCurrent { Self.inPages(cells, page, body) }
        return checkpoint
    }

    public func loadAggregates(page: Int, _ body: @escaping @Sendable ([AggregateCell]) -> Void) async throws {
        try open()
        Self.inPages(state.withLock { Self.orderedCells($0) }, page, body)
    }

    /// The stored cells in key order (as the store pages them).
    private static func orderedCells(_ s: State) -> [AggregateCell] {
        s.cells.sorted { ($0.key.agent, $0.key.task, $0.key.day) < ($1.key.agent, $1.key.task, $1.key.day) }.map(\.value)
    }

    /// Calls `body` with `cells` in pages of at most `page` (once, with none, when there are none).
    private static func inPages(_ cells: [AggregateCell], _ page: Int, _ body: ([AggregateCell]) -> Void) {
        var start = 0
        repeat {
            let end = min(start + max(1, page), cells.count)
            body(Array(cells[start..<end]))
            start = end
        } while start < cells.count
    }

    @discardableResult
    /// `leaderEpoch` is the repository's own (always 0: it is the only replica).
    public func checkpointAggregates(_ cells: [AggregateCell], position: FeedPosition, pending: [Int64],
                                     generation: Int64, leaderEpoch: Int64) async throws -> Bool {
        try open()
        return state.withLock { s in
            guard s.generation == generation, s.aggregatedGeneration == generation else { return false }
            s.writes += 1
            for cell in cells {
                let key = CellKey(agent: cell.agentName, task: cell.taskType ?? "", day: cell.day)
                s.cells[key, default: AggregateCell(agentName: cell.agentName, taskType: cell.taskType, day: cell.day)]
                    .merge(cell)
            }
            s.position = FeedPosition(maxSeen: position.maxSeen, gaps: position.gaps)
            s.pending = pending
            return true
        }
    }

    public func expireAggregates(beforeDay day: Int32) async throws -> [AggregateCell] {
        try open()
        return state.withLock { s in
            let expired = s.cells.filter { $0.key.day < day }
            for key in expired.keys { s.cells[key] = nil }
            return Array(expired.values)
        }
    }

    // MARK: Collaboration

    @discardableResult
    public func refreshCollaboration(day: Int32) async throws -> Int64 {
        try open()
        return state.withLock { s in
            let from = Date(timeIntervalSince1970: Double(day - 1) * 86_400)
            let dayStart = from.addingTimeInterval(86_400), dayEnd = from.addingTimeInterval(2 * 86_400)
            let threeDays = s.rows.filter { $0.timestamp >= from && $0.timestamp < from.addingTimeInterval(3 * 86_400) }
            var byTask: [String: [ExecutionRecord]] = [:]
            for row in threeDays { if let task = row.taskID { byTask[task, default: []].append(row) } }
            var sums = CollaborationSums()
            for rows in byTask.values {
                // A task of this day: two agents or more, its latest execution on the day; it
                // counts its executions from the midnight before the day on.
                guard Set(rows.map(\.agentName)).count > 1, let latest = rows.map(\.timestamp).max(),
                      latest >= dayStart, latest < dayEnd else { continue }
                let counted = rows.filter { $0.timestamp < dayEnd }
                let outcome = counted.max { ($0.timestamp, $0.id ?? 0) < ($1.timestamp, $1.id ?? 0) }?.success ?? false
                Self.addTask(counted, succeeded: outcome, to: &sums)
            }
            s.collaboration[day] = (Int64(threeDays.count), sums)
            return Int64(threeDays.count)
        }
    }

    /// Adds one multi-agent task to the sums: to each agent's, to each pair's and to the totals.
    static func addTask(_ rows: [ExecutionRecord], succeeded: Bool, to sums: inout CollaborationSums) {
        var per: [String: (executions: Int64, successes: Int64)] = [:]
        for row in rows { per[row.agentName, default: (0, 0)].executions += 1; if row.success { per[row.agentName]!.successes += 1 } }
        sums.multiAgentTasks += 1
        if succeeded { sums.succeededTasks += 1 }
        let names = per.keys.sorted()
        for (i, name) in names.enumerated() {
            sums.agents[name, default: .init()].add(tasks: 1, per[name]!, succeeded: succeeded)
            for other in names[(i + 1)...] {
                let a = per[name]!, b = per[other]!
                sums.pairs[.init(name, other), default: .init()]
                    .add(tasks: 1, (a.executions + b.executions, a.successes + b.successes), succeeded: succeeded)
            }
        }
    }

    public func collaborationDays() async throws -> [Int32: Int64] {
        try open()
        return state.withLock { $0.collaboration.mapValues(\.rows) }
    }

    public func deleteCollaboration(days: [Int32]) async throws {
        try open()
        state.withLock { s in for day in days { s.collaboration[day] = nil } }
    }

    public func collaborationSums(before: Int32) async throws -> CollaborationSums {
        try open()
        return state.withLock { s in
            var total = CollaborationSums()
            for (day, stored) in s.collaboration where day < before {
                total.multiAgentTasks += stored.sums.multiAgentTasks
                total.succeededTasks += stored.sums.succeededTasks
                for (name, counts) in stored.sums.agents { total.agents[name, default: .init()].add(counts) }
                for (pair, counts) in stored.sums.pairs { total.pairs[pair, default: .init()].add(counts) }
            }
            return total
        }
    }

    // MARK: Registry

    private static func check(name: String) throws(StoreError) {
        if name.isEmpty { throw .invalidInput("agent name is required") }
        if name.count > 255 { throw .invalidInput("agent name is longer than 255 characters") }
    }

    public func upsertAgent(_ agent: AgentDefinition) async throws -> (agent: AgentDefinition, created: Bool) {
        try open()
        try Self.check(name: agent.name)
        return state.withLock { s in
            guard var stored = s.agents[agent.name] else {
                s.agents[agent.name] = agent
                return (agent, true)
            }
            (stored.description, stored.tools, stored.model) = (agent.description, agent.tools, agent.model)
            (stored.source, stored.metadata) = (agent.source, agent.metadata)
            stored.lastSeen = Self.later(stored.lastSeen, agent.lastSeen)
            s.agents[agent.name] = stored
            return (stored, false)
        }
    }

    /// The later of two optional dates (PostgreSQL's GREATEST: nil only when both are).
    static func later(_ a: Date?, _ b: Date?) -> Date? {
        guard let a else { return b }
        guard let b else { return a }
        return max(a, b)
    }

    public func noteAgentsSeen(_ seen: [String: Date]) async throws {
        try open()
        for name in seen.keys { try Self.check(name: name) }
        let now = Date()
        state.withLock { s in
            s.writes += 1
            for (name, at) in seen {
                if s.agents[name] != nil {
                    s.agents[name]!.lastSeen = Self.later(s.agents[name]!.lastSeen, at)
                } else {
                    s.agents[name] = AgentDefinition(name: name, source: "discovered", registeredAt: now, lastSeen: at)
                }
            }
        }
    }

    public func heartbeat(agentName: String, at date: Date, status: String?) async throws -> AgentDefinition {
        try open()
        return try state.withLock { s throws(StoreError) in
            guard var agent = s.agents[agentName] else { throw .notFound("agent \(agentName)") }
            agent.lastSeen = Self.later(agent.lastSeen, date)
            agent.reportedStatus = status
            agent.reportedAt = date
            s.agents[agentName] = agent
            return agent
        }
    }

    public func agent(named name: String) async throws -> AgentDefinition? {
        try open()
        return state.withLock { $0.agents[name] }
    }

    public func listAgents() async throws -> [AgentDefinition] {
        try open()
        return state.withLock { $0.agents.values.sorted { $0.name < $1.name } }
    }

    public func agentCount() async throws -> Int64 {
        try open()
        return state.withLock { Int64($0.agents.count) }
    }

    // MARK: Performance metrics

    public func submitMetrics(agentName: String, taskType: String?, sample: MetricsSample, at date: Date) async throws -> Int64 {
        try open()
        try Self.check(name: agentName)
        let values = [sample.responseTime, sample.throughput, sample.cpu, sample.memoryMB, sample.successRate,
                      sample.coordinationEffectiveness]
        if values.contains(where: { $0.map { !$0.isFinite } ?? false }) { throw StoreError.invalidInput("metrics must be finite numbers") }
        if let rate = sample.successRate, !(0...1).contains(rate) { throw StoreError.invalidInput("success_rate must be within 0..1") }
        return state.withLock { s in
            let id = s.newID()
            s.metrics.append(PerformanceSnapshot(
                id: id, agentName: agentName, taskType: taskType.flatMap { $0.isEmpty ? nil : $0 },
                avgExecutionTime: sample.responseTime, successRate: sample.successRate, resourceCPU: sample.cpu,
                resourceMemory: sample.memoryMB, coordinationScore: sample.coordinationEffectiveness,
                throughput: sample.throughput, executions: nil, source: "submitted", lastUpdated: date))
            return id
        }
    }

    @discardableResult
    public func storeRollUp(_ rows: [PerformanceRollUp], at date: Date) async throws -> Int {
        try open()
        state.withLock { s in
            for row in rows {
                s.metrics.append(PerformanceSnapshot(
                    id: s.newID(), agentName: row.agentName, taskType: row.taskType, avgExecutionTime: row.avgExecutionTime,
                    successRate: row.successRate, resourceCPU: row.resourceCPU, resourceMemory: row.resourceMemory,
                    coordinationScore: row.coordinationScore, throughput: nil, executions: row.executions,
                    source: "rollup", lastUpdated: date))
            }
        }
        return rows.count
    }

    /// The roll-up of the stored executions, by the rules of LearningStore's SQL: per (agent, task
    /// type) the means of the known values, and the success rate on tasks other agents shared.
    @discardableResult
    public func rollUpPerformance(window: Double, at date: Date) async throws -> Int {
        try open()
        let recent = state.withLock { s in s.rows.filter { $0.timestamp >= date.addingTimeInterval(-window) } }
        var agentsOfTask: [String: Set<String>] = [:]
        for row in recent { if let task = row.taskID { agentsOfTask[task, default: []].insert(row.agentName) } }
        var groups: [CellKey: [ExecutionRecord]] = [:]
        for row in recent { groups[CellKey(agent: row.agentName, task: row.taskType ?? "\u{0}", day: 0), default: []].append(row) }
        func mean(_ values: [Double]) -> Double? { values.isEmpty ? nil : values.reduce(0, +) / Double(values.count) }
        func rate(_ rows: [ExecutionRecord]) -> Double? { mean(rows.map { $0.success ? 1 : 0 }) }
        let rows = groups.values.map { group in
            let shared = group.filter { ($0.taskID.flatMap { agentsOfTask[$0]?.count } ?? 0) > 1 }
            return PerformanceRollUp(agentName: group[0].agentName, taskType: group[0].taskType,
                                     avgExecutionTime: mean(group.compactMap(\.executionTime)), successRate: rate(group),
                                     resourceCPU: mean(group.compactMap(\.resourceUsage.cpu)),
                                     resourceMemory: mean(group.compactMap(\.resourceUsage.memoryMB)),
                                     coordinationScore: rate(shared), executions: Int64(group.count))
        }
        return try await storeRollUp(rows, at: date)
    }

    /// The newest `performance_metrics` row per (agent, task type), for one agent or all.
    public func latestPerformance(agentName: String? = nil) -> [PerformanceSnapshot] {
        state.withLock { s in
            var newest: [CellKey: PerformanceSnapshot] = [:]
            for row in s.metrics where agentName == nil || row.agentName == agentName {
                newest[CellKey(agent: row.agentName, task: row.taskType ?? "\u{0}", day: 0)] = row
            }
            return newest.values.sorted { ($0.agentName, $0.taskType ?? "") < ($1.agentName, $1.taskType ?? "") }
        }
    }

    // MARK: Models

    public func saveModel(_ model: StoredModel, keepVersions: Int) async throws -> Int64 {
        try open()
        if model.name.isEmpty { throw StoreError.invalidInput("model name is required") }
        return state.withLock { s in
            var saved = model
            saved.id = s.newID()
            s.models.append(saved)
            let kept = Set(Self.newestFirst(s.models.filter { $0.name == model.name }).prefix(max(1, keepVersions)).map(\.id))
            s.models.removeAll { $0.name == model.name && !kept.contains($0.id) }
            return saved.id!
        }
    }

    /// Saved last first (by id, as the store orders them).
    static func newestFirst(_ models: [StoredModel]) -> [StoredModel] {
        models.sorted { ($0.id ?? 0) > ($1.id ?? 0) }
    }

    public func latestModel(named name: String) async throws -> StoredModel? {
        try open()
        return state.withLock { s in Self.newestFirst(s.models.filter { $0.name == name }).first }
    }

    public func latestModelID(named name: String) async throws -> Int64? {
        try await latestModel(named: name)?.id
    }

    public func saveEmbedding(agentName: String, taskType: String?, vector: [Float]) async throws -> Int64 {
        try open()
        let key = taskType.map { "\(agentName)\u{0}\($0)" } ?? agentName
        return state.withLock { s in
            let id = s.newID()
            s.embeddings[key] = (id, vector)
            return id
        }
    }

    // MARK: Insights

    public func saveInsight(_ insight: StoredInsight) async throws -> Int64 {
        try open()
        return state.withLock { s in
            var saved = insight
            saved.id = s.newID()
            s.insights.append(saved)
            return saved.id!
        }
    }

    public func appendInsightExecutionIDs(insightID: Int64, executionIDs: [Int64]) async throws {
        try open()
        guard let last = executionIDs.last else { return }
        state.withLock { s in
            guard let index = s.insights.firstIndex(where: { $0.id == insightID }) else { return }
            s.insights[index].executionIDs += executionIDs
            s.insights[index].executionID = last
        }
    }

    public func updateInsightTotals(insightID: Int64, detail: String, score: Double, observed: Double, expected: Double,
                                    severity: String) async throws {
        try open()
        state.withLock { s in
            guard let index = s.insights.firstIndex(where: { $0.id == insightID }) else { return }
            s.insights[index].detail = detail
            s.insights[index].score = score
            s.insights[index].observed = observed
            s.insights[index].expected = expected
            s.insights[index].severity = severity
        }
    }

    public func insights(kinds: [String], agentName: String?, since: Date?, limit: Int) async throws -> [StoredInsight] {
        try open()
        return state.withLock { s in
            let matching = s.insights.filter { insight in
                (kinds.isEmpty || kinds.contains(insight.kind)) && (agentName.map { insight.agents.contains($0) } ?? true)
                    && (since.map { insight.createdAt >= $0 } ?? true)
            }
            return Array(matching.sorted { ($0.createdAt, $0.id ?? 0) > ($1.createdAt, $1.id ?? 0) }.prefix(max(1, limit)))
        }
    }

    // MARK: Retention

    @discardableResult
    public func ensurePartitions(now: Date) async throws -> Int {
        try open()
        let first = AggregateCell.day(of: now.timeIntervalSince1970 - Double(retentionDays) * 86_400)
        let last = AggregateCell.day(of: now.timeIntervalSince1970) + 7
        return state.withLock { s in (first...last).reduce(0) { $0 + (s.partitions.insert($1).inserted ? 1 : 0) } }
    }

    /// As LearningStore: the executions of the days before the cutoff's day go (a prepared day
    /// whole, as a dropped partition; the rest counted as deleted rows), with their event-id
    /// claims and collaboration sums; metrics rows and insights older than the cutoff itself.
    @discardableResult
    public func applyRetention(olderThan cutoff: Date?, now: Date, batch: Int) async throws -> RetentionReport {
        try open()
        let cutoff = cutoff ?? now.addingTimeInterval(-Double(retentionDays) * 86_400)
        let cutoffDay = AggregateCell.day(of: cutoff.timeIntervalSince1970)
        let executionCutoff = Date(timeIntervalSince1970: Double(cutoffDay) * 86_400)
        return state.withLock { s in
            let dropped = s.partitions.filter { $0 < cutoffDay }.sorted()
            s.partitions.subtract(dropped)
            let droppedDays = Set(dropped)
            var deleted = ["execution_log": 0, "execution_event_ids": 0, "performance_metrics": 0, "insights": 0]
            deleted["execution_log"] = s.rows.count(where: { $0.timestamp < executionCutoff
                && !droppedDays.contains(AggregateCell.day(of: $0.timestamp.timeIntervalSince1970)) })
            s.rows.removeAll { $0.timestamp < executionCutoff }
            let claims = s.claims.count
            s.claims = s.claims.filter { $0.value.timestamp >= executionCutoff }
            deleted["execution_event_ids"] = claims - s.claims.count
            for day in s.collaboration.keys where day < cutoffDay { s.collaboration[day] = nil }
            let metrics = s.metrics.count, insights = s.insights.count
            s.metrics.removeAll { $0.lastUpdated < cutoff }
            s.insights.removeAll { $0.createdAt < cutoff }
            deleted["performance_metrics"] = metrics - s.metrics.count
            deleted["insights"] = insights - s.insights.count
            return RetentionReport(deleted: deleted, droppedPartitions: dropped.map(Self.partitionName),
                                   executionCutoff: executionCutoff)
        }
    }

    /// `execution_log_pYYYYMMDD`, as LearningStore names a day's partition.
    static func partitionName(_ day: Int32) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day], from: Date(timeIntervalSince1970: Double(day) * 86_400))
        return String(format: "execution_log_p%04d%02d%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
    }
}

extension CollaborationSums.Counts {
    mutating func add(tasks: Int64, _ counts: (executions: Int64, successes: Int64), succeeded: Bool) {
        self.tasks += tasks
        executions += counts.executions
        successes += counts.successes
        if succeeded { succeededTasks += 1 }
    }

    mutating func add(_ other: CollaborationSums.Counts) {
        tasks += other.tasks
        executions += other.executions
        successes += other.successes
        succeededTasks += other.succeededTasks
    }
}
