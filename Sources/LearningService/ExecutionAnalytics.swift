import Foundation
import LearningCore
import LearningRepository

/// The recent sample of stored executions: per-agent recent outcomes for health, the recent
/// window of status figures, and the executions training, coordination and exact short windows
/// read. (The figures of the whole retention window are `WindowFigures`, from the aggregates.)
///
/// Fed with every execution the store's change feed delivers (each exactly once), and with the
/// newest stored ones at start-up. It keeps a compact copy of each execution (no strings) in
/// arrival order, up to `capacity`; executions older than the retention window or beyond the
/// capacity are dropped. Totals over held executions (`groups`, `overall`) are computed by
/// scanning them when asked: no running sums are kept per execution added, since the service
/// reads its totals from the aggregates (log-scale histograms, bucket width 2%).
///
/// Not thread-safe: the service keeps it behind a lock.
struct ExecutionAnalytics {
    /// One execution, compactly.
    struct Entry {
        var id: Int64
        var agent: Int32
        var task: Int32
        var time: Double       // NaN: unknown
        var success: Bool
        var timestamp: Double  // seconds since 1970
        var cpu: Double        // NaN: unknown
        var memory: Double
        var tokens: Double
        var taskID: UUID?
        var error: String?
    }

    /// Running sums of one group of executions.
    struct Totals {
        var executions: Int64 = 0
        var successes: Int64 = 0
        var timeCount: Int64 = 0
        var timeSum: Double = 0
        var cpuCount: Int64 = 0
        var cpuSum: Double = 0
        var memoryCount: Int64 = 0
        var memorySum: Double = 0
        var tokensCount: Int64 = 0
        var tokensSum: Double = 0
        var histogram: [Int32: Int64] = [:]
        var lastTimestamp: Double = -.infinity

        mutating func add(_ entry: Entry, sign: Int64) {
            executions += sign
            if entry.success { successes += sign }
            if !entry.time.isNaN {
                timeCount += sign
                timeSum += Double(sign) * entry.time
                let bucket = Self.bucket(entry.time)
                let count = (histogram[bucket] ?? 0) + sign
                histogram[bucket] = count == 0 ? nil : count
            }
            if !entry.cpu.isNaN { cpuCount += sign; cpuSum += Double(sign) * entry.cpu }
            if !entry.memory.isNaN { memoryCount += sign; memorySum += Double(sign) * entry.memory }
            if !entry.tokens.isNaN { tokensCount += sign; tokensSum += Double(sign) * entry.tokens }
            if sign > 0 { lastTimestamp = max(lastTimestamp, entry.timestamp) }
        }

        mutating func merge(_ other: Totals) {
            executions += other.executions
            successes += other.successes
            timeCount += other.timeCount
            timeSum += other.timeSum
            cpuCount += other.cpuCount
            cpuSum += other.cpuSum
            memoryCount += other.memoryCount
            memorySum += other.memorySum
            tokensCount += other.tokensCount
            tokensSum += other.tokensSum
            for (bucket, count) in other.histogram { histogram[bucket, default: 0] += count }
            lastTimestamp = max(lastTimestamp, other.lastTimestamp)
        }

        /// Adds (sign 1) or subtracts (sign -1) a persisted aggregate cell.
        mutating func add(_ cell: AggregateCell, sign: Int64) {
            executions += sign * cell.executions
            successes += sign * cell.successes
            timeCount += sign * cell.timeCount
            timeSum += Double(sign) * cell.timeSum
            cpuCount += sign * cell.cpuCount
            cpuSum += Double(sign) * cell.cpuSum
            memoryCount += sign * cell.memoryCount
            memorySum += Double(sign) * cell.memorySum
            tokensCount += sign * cell.tokensCount
            tokensSum += Double(sign) * cell.tokensSum
            for (bucket, count) in cell.histogram {
                let merged = (histogram[bucket] ?? 0) + sign * count
                histogram[bucket] = merged == 0 ? nil : merged
            }
            if sign > 0 { lastTimestamp = max(lastTimestamp, cell.lastTimestamp) }
        }

        var successRate: Double { executions > 0 ? Double(successes) / Double(executions) : 0 }
        var averageTime: Double { timeCount > 0 ? timeSum / Double(timeCount) : 0 }
        var averageCPU: Double { cpuCount > 0 ? cpuSum / Double(cpuCount) : 0 }
        var averageMemory: Double { memoryCount > 0 ? memorySum / Double(memoryCount) : 0 }
        var averageTokens: Double { tokensCount > 0 ? tokensSum / Double(tokensCount) : 0 }

        /// The `fraction` quantile of the times, from the histogram.
        func quantile(_ fraction: Double) -> Double {
            guard timeCount > 0 else { return 0 }
            let target = fraction * Double(timeCount)
            var cumulative = 0.0
            for bucket in histogram.keys.sorted() {
                cumulative += Double(histogram[bucket] ?? 0)
                if cumulative >= target { return Self.value(of: bucket) }
            }
            return histogram.keys.max().map(Self.value(of:)) ?? 0
        }

        /// The buckets of the persisted aggregates (`AggregateCell`), so both histograms merge.
        static func bucket(_ time: Double) -> Int32 { AggregateCell.bucket(time) }

        static func value(of bucket: Int32) -> Double { AggregateCell.value(of: bucket) }
    }

    /// Recent outcomes of one agent, for its health.
    struct AgentTrack {
        var lastSeen: Double = -.infinity
        var outcomes: [Bool] = []
        var next = 0

        mutating func record(success: Bool, at timestamp: Double, keep: Int) {
            lastSeen = max(lastSeen, timestamp)
            if outcomes.count < keep {
                outcomes.append(success)
            } else {
                outcomes[next] = success
                next = (next + 1) % keep
            }
        }

        var recent: (successes: Int, total: Int) { (outcomes.filter { $0 }.count, outcomes.count) }
    }

    /// One second of recent arrivals.
    struct Second {
        var second: Int64 = -1
        var executions = 0
        var successes = 0
        var timeCount = 0
        var timeSum = 0.0
    }

    let capacity: Int
    let recentWindowSeconds: Int
    private(set) var agentNames: [String] = []
    private(set) var taskNames: [String] = []
    private var agentIndex: [String: Int32] = [:]
    private var taskIndex: [String: Int32] = [:]
    private var entries: [Entry] = []
    private var head = 0  // index of the oldest entry once `entries` is full (ring)
    private var held = 0
    private var tracks: [Int32: AgentTrack] = [:]
    private var seconds: [Second]
    /// Executions ever added (including those since dropped).
    private(set) var ingested: Int64 = 0
    /// The newest timestamp among the executions dropped from the held history (at capacity or
    /// past retention): a window that starts after it is held whole.
    private var droppedNewest = -Double.infinity

    init(capacity: Int = 1_000_000, recentWindowSeconds: Int = 60) {
        self.capacity = max(1, capacity)
        self.recentWindowSeconds = max(1, recentWindowSeconds)
        seconds = Array(repeating: Second(), count: self.recentWindowSeconds)
    }

    /// Forgets everything (after the execution table was truncated).
    mutating func reset() {
        self = ExecutionAnalytics(capacity: capacity, recentWindowSeconds: recentWindowSeconds)
    }

    var count: Int { held }

    /// Totals over every held execution, by a scan.
    var overall: Totals {
        var totals = Totals()
        for offset in 0..<held { totals.add(entries[(head + offset) % capacity], sign: 1) }
        return totals
    }

    // MARK: Adding and dropping

    private mutating func intern(agent name: String) -> Int32 {
        if let index = agentIndex[name] { return index }
        let index = Int32(agentNames.count)
        agentNames.append(name)
        agentIndex[name] = index
        return index
    }

    private mutating func intern(task name: String?) -> Int32 {
        guard let name else { return -1 }
        if let index = taskIndex[name] { return index }
        let index = Int32(taskNames.count)
        taskNames.append(name)
        taskIndex[name] = index
        return index
    }

    static func pairKey(_ agent: Int32, _ task: Int32) -> Int64 { Int64(agent) << 32 | Int64(UInt32(bitPattern: task)) }

    /// Adds one stored execution; `arrival` is when the service saw it (for the recent window).
    mutating func add(_ record: ExecutionRecord, arrival: Date = Date()) {
        let time = record.executionTime.flatMap { $0.isFinite && $0 >= 0 ? $0 : nil } ?? .nan
        let entry = Entry(id: record.id ?? 0, agent: intern(agent: record.agentName), task: intern(task: record.taskType),
                          time: time, success: record.success, timestamp: record.timestamp.timeIntervalSince1970,
                          cpu: record.resourceUsage.cpu ?? .nan, memory: record.resourceUsage.memoryMB ?? .nan,
                          tokens: record.resourceUsage.tokens ?? .nan, taskID: record.taskID.flatMap(parseCanonicalUUID),
                          error: record.success ? nil : record.errorMessage)
        if held == capacity { dropOldest() }
        if entries.count < capacity {
            entries.append(entry)
        } else {
            entries[(head + held) % capacity] = entry
        }
        held += 1
        ingested += 1
        tracks[entry.agent, default: AgentTrack()].record(success: entry.success, at: min(entry.timestamp, arrival.timeIntervalSince1970),
                                                          keep: AgentHealthRule.recentExecutions)
        let second = Int64(arrival.timeIntervalSince1970.rounded(.down))
        let slot = Int(second % Int64(recentWindowSeconds))
        if seconds[slot].second != second { seconds[slot] = Second(second: second) }
        seconds[slot].executions += 1
        if entry.success { seconds[slot].successes += 1 }
        if !time.isNaN { seconds[slot].timeCount += 1; seconds[slot].timeSum += time }
    }

    private mutating func dropOldest() {
        guard held > 0 else { return }
        let entry = entries[head]
        droppedNewest = max(droppedNewest, entry.timestamp)
        head = (head + 1) % capacity
        held -= 1
        if held == 0 { head = 0 }
    }

    /// Declares that executions older than the held ones exist but were never added (the sample
    /// loaded at start-up is the newest part of a larger table): no time window counts as held.
    mutating func markOlderExecutionsUnheld() {
        droppedNewest = .infinity
    }

    /// Drops executions whose timestamp is before `cutoff` (the retention horizon) from the oldest
    /// end while they are older; returns how many were dropped.
    @discardableResult
    mutating func expire(before cutoff: Date) -> Int {
        let limit = cutoff.timeIntervalSince1970
        var dropped = 0
        while held > 0, entries[head].timestamp < limit {
            dropOldest()
            dropped += 1
        }
        return dropped
    }

    // MARK: History

    /// The held executions from sequence number `sequence` on (sequence numbers count every
    /// execution ever added, from 0), as records for training.
    func records(fromSequence sequence: Int64 = 0) -> [ExecutionRecord] {
        let oldest = ingested - Int64(held)
        let start = Int(max(0, sequence - oldest))
        guard start < held else { return [] }
        var result: [ExecutionRecord] = []
        result.reserveCapacity(held - start)
        for offset in start..<held {
            let entry = entries[(head + offset) % capacity]
            var usage = ResourceUsage()
            if !entry.cpu.isNaN { usage.cpu = entry.cpu }
            if !entry.memory.isNaN { usage.memoryMB = entry.memory }
            if !entry.tokens.isNaN { usage.tokens = entry.tokens }
            result.append(ExecutionRecord(
                id: entry.id, agentName: agentNames[Int(entry.agent)], taskID: entry.taskID?.uuidString.lowercased(),
                taskType: entry.task < 0 ? nil : taskNames[Int(entry.task)], executionTime: entry.time.isNaN ? nil : entry.time,
                success: entry.success, errorMessage: entry.error, resourceUsage: usage,
                timestamp: Date(timeIntervalSince1970: entry.timestamp)))
        }
        return result
    }

    /// Success fraction of the latest `count` held executions (nil when none).
    func latestSuccessRate(count: Int) -> Double? {
        let n = min(count, held)
        guard n > 0 else { return nil }
        var successes = 0
        for offset in (held - n)..<held where entries[(head + offset) % capacity].success { successes += 1 }
        return Double(successes) / Double(n)
    }

    /// Multi-agent work: tasks (by task id) that two or more agents worked on.
    struct Coordination {
        /// Tasks with at least two distinct agents.
        var multiAgentTasks = 0
        /// Of those, the ones whose latest execution succeeded.
        var succeededTasks = 0
        /// Per agent pair (sorted names): shared tasks, and executions and successes of the two on them.
        var pairs: [String: (tasks: Int, executions: Int, successes: Int)] = [:]
        /// Per agent: multi-agent tasks joined and how many of them succeeded.
        var agents: [String: (tasks: Int, succeeded: Int)] = [:]

        static func pairKey(_ a: String, _ b: String) -> String { a < b ? "\(a)\u{0}\(b)" : "\(b)\u{0}\(a)" }

        init() {}

        /// The figures of stored collaboration sums.
        init(_ sums: CollaborationSums) {
            multiAgentTasks = Int(sums.multiAgentTasks)
            succeededTasks = Int(sums.succeededTasks)
            for (name, agent) in sums.agents { agents[name] = (Int(agent.tasks), Int(agent.succeededTasks)) }
            for (names, pair) in sums.pairs {
                pairs[Self.pairKey(names.first, names.second)] = (Int(pair.tasks), Int(pair.executions), Int(pair.successes))
            }
        }

        /// Adds the figures of other days.
        mutating func merge(_ other: Coordination) {
            multiAgentTasks += other.multiAgentTasks
            succeededTasks += other.succeededTasks
            for (name, agent) in other.agents {
                var mine = agents[name] ?? (0, 0)
                mine.tasks += agent.tasks
                mine.succeeded += agent.succeeded
                agents[name] = mine
            }
            for (key, pair) in other.pairs {
                var mine = pairs[key] ?? (0, 0, 0)
                mine.tasks += pair.tasks
                mine.executions += pair.executions
                mine.successes += pair.successes
                pairs[key] = mine
            }
        }
    }

    /// One task's executions on one UTC day, while grouping: its latest (ties: the one added
    /// last) and each agent's executions.
    struct TaskDay {
        var latest: Double
        var success: Bool
        var agents: [Int32: (executions: Int, successes: Int)] = [:]
    }

    /// A task counted on a day, while summing.
    struct CoordinatedTask {
        var agents: [Int32: (executions: Int, successes: Int)]
        var success: Bool
    }

    /// Groups the held executions by task id. The rule, the same as the stored collaboration
    /// sums': a task counts on day D when, of its executions on D and the days either side, the
    /// latest (ties: the one added last) is on D; then its executions on D and the day before
    /// count, and it succeeded when that latest execution did. A task across one midnight counts
    /// whole and once. Only days from `fromDay` on count, and only executions at or after
    /// `earliest` (seconds since 1970).
    func coordination(fromDay: Int32 = .min, earliest: Double = -.infinity) -> Coordination {
        let from = fromDay == .min ? -Double.infinity : Double(fromDay - 1) * 86_400
        let floor = max(from, earliest)
        return Self.coordination(of: (0..<held).lazy.map { self.entries[(self.head + $0) % self.capacity] }
                                    .filter { $0.timestamp >= floor }, fromDay: fromDay, agentNames: agentNames)
    }

    /// The first UTC day from whose midnight on the sample holds every execution ever added, or
    /// nil when it holds every execution of the table (none was dropped or left unloaded);
    /// `Int32.max` when no day is held whole.
    var firstWholeDay: Int32? {
        if droppedNewest == -.infinity { return nil }
        if !droppedNewest.isFinite { return .max }
        return AggregateCell.day(of: droppedNewest) + 1
    }

    /// The coordination figures of `executions` (those with a task id count), named by
    /// `agentNames`, by the rule of `coordination(fromDay:earliest:)`.
    static func coordination<Executions: Sequence<Entry>>(of executions: Executions, fromDay: Int32 = .min,
                                                         agentNames: [String]) -> Coordination {
        var byTask: [UUID: [Int32: TaskDay]] = [:]
        for entry in executions {
            guard let id = entry.taskID else { continue }
            let day = AggregateCell.day(of: entry.timestamp)
            byTask[id, default: [:]][day, default: TaskDay(latest: -.infinity, success: false)].add(entry)
        }
        var tasks: [CoordinatedTask] = []
        for days in byTask.values {
            for (day, here) in days where day >= fromDay {
                let before = days[day - 1], after = days[day + 1]
                guard here.latest > (before?.latest ?? -.infinity), here.latest >= (after?.latest ?? -.infinity) else { continue }
                var agents = here.agents
                for (agent, counts) in before?.agents ?? [:] {
                    var mine = agents[agent] ?? (0, 0)
                    mine.executions += counts.executions
                    mine.successes += counts.successes
                    agents[agent] = mine
                }
                tasks.append(CoordinatedTask(agents: agents, success: here.success))
            }
        }
        var result = Coordination()
        for task in tasks where task.agents.count >= 2 {
            result.multiAgentTasks += 1
            if task.success { result.succeededTasks += 1 }
            let members = task.agents.keys.sorted()
            for member in members {
                let name = agentNames[Int(member)]
                var agent = result.agents[name] ?? (0, 0)
                agent.tasks += 1
                if task.success { agent.succeeded += 1 }
                result.agents[name] = agent
            }
            for i in 0..<members.count {
                for j in (i + 1)..<members.count {
                    let a = task.agents[members[i]]!, b = task.agents[members[j]]!
                    let key = Coordination.pairKey(agentNames[Int(members[i])], agentNames[Int(members[j])])
                    var pair = result.pairs[key] ?? (0, 0, 0)
                    pair.tasks += 1
                    pair.executions += a.executions + b.executions
                    pair.successes += a.successes + b.successes
                    result.pairs[key] = pair
                }
            }
        }
        return result
    }

    // MARK: Queries

    /// The last time an agent was seen in an execution, and its recent outcomes.
    func track(agent: String) -> AgentTrack? {
        agentIndex[agent].flatMap { tracks[$0] }
    }

    /// Recent-window figures by arrival time: executions, success rate (fraction) and mean time.
    func recent(now: Date = Date()) -> (executions: Int, successRate: Double?, averageTime: Double?) {
        let current = Int64(now.timeIntervalSince1970.rounded(.down))
        var executions = 0, successes = 0, timeCount = 0
        var timeSum = 0.0
        for second in seconds where second.second > current - Int64(recentWindowSeconds) && second.second <= current {
            executions += second.executions
            successes += second.successes
            timeCount += second.timeCount
            timeSum += second.timeSum
        }
        return (executions, executions > 0 ? Double(successes) / Double(executions) : nil,
                timeCount > 0 ? timeSum / Double(timeCount) : nil)
    }

    /// The sequence number of the oldest held execution (`ingested` is one past the newest).
    var oldestSequence: Int64 { ingested - Int64(held) }

    /// True when every execution with a timestamp at or after `since` that was ever added is
    /// still held (none of them was dropped at capacity or by retention).
    func holdsWindow(since: Date) -> Bool { droppedNewest < since.timeIntervalSince1970 }

    /// Calls `visit` with the held executions whose sequence numbers are in `sequences` (up to
    /// the newest), oldest first; false, visiting none, when the range starts before the oldest
    /// held execution (it was dropped meanwhile).
    func visit(_ sequences: Range<Int64>, _ visit: (Entry) -> Void) -> Bool {
        let oldest = oldestSequence
        guard sequences.lowerBound >= oldest else { return false }
        let end = min(sequences.upperBound, ingested)
        guard sequences.lowerBound < end else { return true }
        for offset in Int(sequences.lowerBound - oldest)..<Int(end - oldest) {
            visit(entries[(head + offset) % capacity])
        }
        return true
    }

    /// The names of a pair key's agent and task type (nil: executions without one).
    func names(of key: Int64) -> (agent: String, task: String?) {
        let task = Int32(truncatingIfNeeded: key)
        return (agentNames[Int(Int32(truncatingIfNeeded: key >> 32))], task < 0 ? nil : taskNames[Int(task)])
    }

    /// Totals per (agent, task type) — the task name nil for executions without a type — over the
    /// held executions, or only those with a timestamp at or after `since`, by a scan.
    func groups(since: Date?) -> [(agent: String, task: String?, totals: Totals)] {
        let limit = since?.timeIntervalSince1970 ?? -.infinity
        var windowed: [Int64: Totals] = [:]
        for offset in 0..<held {
            let entry = entries[(head + offset) % capacity]
            guard entry.timestamp >= limit else { continue }
            windowed[Self.pairKey(entry.agent, entry.task), default: Totals()].add(entry, sign: 1)
        }
        return windowed.map { key, totals in
            let (agent, task) = names(of: key)
            return (agent, task, totals)
        }
    }
}

/// Builds the `agents.performance_metrics` roll-up of a window from held executions, with the
/// figures of `LearningStore.rollUpPerformance`'s SQL: per (agent, task type) the mean of the
/// known times, the share of successes, mean CPU and memory, and the success rate on tasks that
/// more than one agent worked on within the window. Two passes over the same executions: first
/// `noteTask` (which tasks are shared), then `add`.
struct RollUpBuilder {
    let limit: Double
    /// Per task id within the window: the one agent that worked on it, or -1 for several.
    private var taskAgent: [UUID: Int32] = [:]
    private var groups: [Int64: (totals: ExecutionAnalytics.Totals, shared: Int64, sharedSuccesses: Int64)] = [:]

    init(since: Date) { limit = since.timeIntervalSince1970 }

    mutating func noteTask(_ entry: ExecutionAnalytics.Entry) {
        guard entry.timestamp >= limit, let task = entry.taskID else { return }
        if let agent = taskAgent[task] {
            if agent != entry.agent { taskAgent[task] = -1 }
        } else {
            taskAgent[task] = entry.agent
        }
    }

    mutating func add(_ entry: ExecutionAnalytics.Entry) {
        guard entry.timestamp >= limit else { return }
        let shared = entry.taskID.map { taskAgent[$0] == -1 } ?? false
        let key = ExecutionAnalytics.pairKey(entry.agent, entry.task)
        groups[key, default: (ExecutionAnalytics.Totals(), 0, 0)].totals.add(entry, sign: 1)
        if shared {
            groups[key]!.shared += 1
            if entry.success { groups[key]!.sharedSuccesses += 1 }
        }
    }

    /// The rows, ordered by agent and task type; `names` turns a pair key into its names.
    func rows(names: (Int64) -> (agent: String, task: String?)) -> [PerformanceRollUp] {
        func mean(_ sum: Double, _ count: Int64) -> Double? { count > 0 ? sum / Double(count) : nil }
        return groups.map { key, group in
            let (agent, task) = names(key)
            let t = group.totals
            return PerformanceRollUp(
                agentName: agent, taskType: task,
                avgExecutionTime: mean(t.timeSum, t.timeCount), successRate: mean(Double(t.successes), t.executions),
                resourceCPU: mean(t.cpuSum, t.cpuCount), resourceMemory: mean(t.memorySum, t.memoryCount),
                coordinationScore: mean(Double(group.sharedSuccesses), group.shared), executions: t.executions)
        }.sorted { ($0.agentName, $0.taskType ?? "") < ($1.agentName, $1.taskType ?? "") }
    }
}

extension ExecutionAnalytics.TaskDay {
    /// Adds one execution of this task and day.
    mutating func add(_ entry: ExecutionAnalytics.Entry) {
        var counts = agents[entry.agent] ?? (0, 0)
        counts.executions += 1
        if entry.success { counts.successes += 1 }
        agents[entry.agent] = counts
        if entry.timestamp >= latest { latest = entry.timestamp; success = entry.success }
    }
}
