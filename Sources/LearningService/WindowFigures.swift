import Foundation
import LearningCore
import LearningML
import LearningRepository

/// The figures of every execution in the retention window, at any volume: sums per (agent, task
/// type) over the window and per UTC day per agent and per task type, built from the persisted
/// aggregates (`agents.execution_aggregates`) and kept up to date with every execution applied.
/// Memory grows with agents x task types x days, never with executions.
///
/// It also collects, per (agent, task type, day), the executions the change feed confirmed since
/// the last checkpoint (`takeUnsaved`), which the aggregate keeper adds to the stored aggregates.
///
/// Pure state, no I/O; not thread-safe (kept inside `RuntimeState`).
struct WindowFigures {
    typealias Totals = ExecutionAnalytics.Totals

    struct PairKey: Hashable {
        var agent: String
        var task: String?
    }

    struct CellKey: Hashable {
        var pair: PairKey
        var day: Int32
    }

    /// Per (agent, task type) over the whole window.
    private(set) var pairs: [PairKey: Totals] = [:]
    /// Per day, per agent.
    private(set) var dayAgents: [Int32: [String: Totals]] = [:]
    /// Per day, per task type (nil key: executions without one).
    private(set) var dayTasks: [Int32: [String?: Totals]] = [:]
    /// Executions in the window.
    private(set) var executions: Int64 = 0
    /// Bumped by every change (answers computed from the figures are cached by it).
    private(set) var version: Int64 = 0
    /// Executions the feed confirmed since the last checkpoint.
    private var unsaved: [CellKey: AggregateCell] = [:]

    // MARK: Changing

    /// Adds (sign 1) or subtracts (sign -1) a stored cell.
    mutating func add(_ cell: AggregateCell, sign: Int64 = 1) {
        let pair = PairKey(agent: cell.agentName, task: cell.taskType)
        pairs[pair, default: Totals()].add(cell, sign: sign)
        if pairs[pair]?.executions == 0 { pairs[pair] = nil }
        dayAgents[cell.day, default: [:]][cell.agentName, default: Totals()].add(cell, sign: sign)
        dayTasks[cell.day, default: [:]][cell.taskType, default: Totals()].add(cell, sign: sign)
        if dayAgents[cell.day]?[cell.agentName]?.executions == 0 { dayAgents[cell.day]?[cell.agentName] = nil }
        if dayTasks[cell.day]?[cell.taskType]?.executions == 0 { dayTasks[cell.day]?[cell.taskType] = nil }
        if dayAgents[cell.day]?.isEmpty == true { dayAgents[cell.day] = nil }
        if dayTasks[cell.day]?.isEmpty == true { dayTasks[cell.day] = nil }
        executions += sign * cell.executions
        version &+= 1
    }

    /// Executions summed per (agent, task type, day) before they reach the figures: a feed poll
    /// of 5,000 rows touches the figures once per cell, not three times per row.
    struct Batch {
        private(set) var cells: [CellKey: AggregateCell] = [:]

        mutating func add(_ record: ExecutionRecord) {
            let timestamp = record.timestamp.timeIntervalSince1970
            let key = CellKey(pair: PairKey(agent: record.agentName, task: record.taskType), day: AggregateCell.day(of: timestamp))
            cells[key, default: AggregateCell(agentName: record.agentName, taskType: record.taskType, day: key.day)]
                .include(record, at: timestamp)
        }
    }

    /// Adds a batch of stored executions to the figures.
    mutating func add(_ batch: Batch) {
        for cell in batch.cells.values { add(cell) }
    }

    /// Notes that the change feed confirmed a batch of stored executions.
    mutating func confirm(_ batch: Batch) {
        restoreUnsaved(Array(batch.cells.values))
    }

    /// Notes that the change feed confirmed stored executions, summed as cells.
    mutating func confirm(_ cells: [AggregateCell]) {
        restoreUnsaved(cells)
    }

    /// The confirmed executions since the last call, as cells; they are forgotten here.
    mutating func takeUnsaved() -> [AggregateCell] {
        let cells = Array(unsaved.values)
        unsaved.removeAll(keepingCapacity: true)
        return cells
    }

    /// Gives back cells `takeUnsaved` returned whose checkpoint failed.
    mutating func restoreUnsaved(_ cells: [AggregateCell]) {
        for cell in cells {
            let key = CellKey(pair: PairKey(agent: cell.agentName, task: cell.taskType), day: cell.day)
            if unsaved[key] == nil { unsaved[key] = cell } else { unsaved[key]!.merge(cell) }
        }
    }

    /// Retention: subtracts the stored cells of days before `day` (deleted from the table by the
    /// caller) and the unsaved ones, so the figures cover exactly the days kept.
    mutating func expire(beforeDay day: Int32, stored: [AggregateCell]) {
        for cell in stored { add(cell, sign: -1) }
        for (key, cell) in unsaved where key.day < day {
            add(cell, sign: -1)
            unsaved[key] = nil
        }
    }

    // MARK: Reading

    /// Executions per day (the days with any).
    var executionsPerDay: [Int32: Int64] {
        var days: [Int32: Int64] = [:]
        for (day, agents) in dayAgents {
            let executions = agents.values.reduce(Int64(0)) { $0 + $1.executions }
            if executions > 0 { days[day] = executions }
        }
        return days
    }

    /// The oldest day with executions (nil when none).
    var oldestDay: Int32? { dayAgents.keys.min() }

    /// Totals per agent and per task type of the days from `day` on.
    func days(from day: Int32) -> (agents: [String: Totals], tasks: [String?: Totals]) {
        var agents: [String: Totals] = [:]
        var tasks: [String?: Totals] = [:]
        for (d, perAgent) in dayAgents where d >= day {
            for (name, totals) in perAgent { agents[name, default: Totals()].merge(totals) }
        }
        for (d, perTask) in dayTasks where d >= day {
            for (name, totals) in perTask { tasks[name, default: Totals()].merge(totals) }
        }
        return (agents, tasks)
    }

    /// The performance analytics of the whole window (`sinceDay` nil) or of the days from
    /// `sinceDay` on. Pure: the service runs it on a copy, off the runtime's lock.
    func performanceAnalytics(sinceDay: Int32?) -> PerformanceAnalytics {
        var overall = Totals()
        var perAgent: [String: Totals] = [:]
        var perTask: [String: Totals] = [:]
        if let sinceDay, let oldest = oldestDay, sinceDay > oldest {
            let (agents, tasks) = days(from: sinceDay)
            perAgent = agents
            for (task, totals) in tasks {
                overall.merge(totals)
                perTask[TaskTypeName.reported(task), default: Totals()].merge(totals)
            }
        } else {
            for (pair, totals) in pairs {
                overall.merge(totals)
                perAgent[pair.agent, default: Totals()].merge(totals)
                perTask[TaskTypeName.reported(pair.task), default: Totals()].merge(totals)
            }
        }
        return RuntimeState.performanceAnalytics(overall: overall, perAgent: perAgent, perTask: perTask)
    }

    /// The executions of the window that `sample` (the rows held for learning) does not hold,
    /// per agent and task type: the window's sums less the sample's. Pure; the trainer runs it
    /// off the runtime's lock on a copy of `pairs`.
    static func history(window: [PairKey: Totals], sample: [ExecutionRecord]) -> [PairHistory] {
        var held: [PairKey: AggregateCell] = [:]
        for record in sample {
            let key = PairKey(agent: record.agentName, task: record.taskType)
            held[key, default: AggregateCell(agentName: record.agentName, taskType: record.taskType, day: 0)]
                .include(record, at: record.timestamp.timeIntervalSince1970)
        }
        var history: [PairHistory] = []
        for (key, totals) in window {
            let inSample = held[key]
            let executions = totals.executions - (inSample?.executions ?? 0)
            guard executions > 0 else { continue }
            var times: [(time: Double, count: Int)] = []
            for (bucket, count) in totals.histogram where bucket != AggregateCell.zeroBucket {
                let older = count - (inSample?.histogram[bucket] ?? 0)
                if older > 0 { times.append((AggregateCell.value(of: bucket), Int(older))) }
            }
            history.append(PairHistory(agent: key.agent, taskType: key.task, executions: Int(executions),
                                       successes: Int(max(0, totals.successes - (inSample?.successes ?? 0))), times: times))
        }
        return history
    }

    /// Executions of an agent in the window.
    func executions(agent: String) -> Int64 {
        pairs.reduce(0) { $0 + ($1.key.agent == agent ? $1.value.executions : 0) }
    }
}
