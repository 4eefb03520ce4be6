// The values of the persisted figures: the per-day sums of executions (the aggregates), what they
// describe, and the collaboration sums of multi-agent tasks.
import Foundation
public import LearningCore

/// The executions of one agent and task type on one UTC day, summed.
public struct AggregateCell: Sendable, Equatable {
    public var agentName: String
    /// nil: executions without a task type (stored as '').
    public var taskType: String?
    /// Days since 1970-01-01 (UTC).
    public var day: Int32
    public var executions: Int64 = 0
    public var successes: Int64 = 0
    public var timeCount: Int64 = 0
    public var timeSum: Double = 0
    public var cpuCount: Int64 = 0
    public var cpuSum: Double = 0
    public var memoryCount: Int64 = 0
    public var memorySum: Double = 0
    public var tokensCount: Int64 = 0
    public var tokensSum: Double = 0
    /// Newest timestamp, seconds since 1970 (-infinity: none).
    public var lastTimestamp: Double = -.infinity
    /// Log-scale time histogram: bucket (see `AggregateCell.bucket`) to count.
    public var histogram: [Int32: Int64] = [:]

    public init(agentName: String, taskType: String?, day: Int32) {
        self.agentName = agentName
        self.taskType = taskType
        self.day = day
    }

    /// The bucket of the zero times (<= 1 ns).
    public static let zeroBucket = Int32.min
    /// Ratio of consecutive bucket bounds: 2% wide, so quantiles are within about 1%.
    public static let bucketRatio = 1.02

    /// The histogram bucket of an execution time (finite, not negative); the SQL of
    /// `bucketSQL` computes the same.
    public static func bucket(_ time: Double) -> Int32 {
        time <= 1e-9 ? zeroBucket : Int32((log(time) / log(bucketRatio)).rounded(.down))
    }

    /// The middle of a bucket, as a time.
    public static func value(of bucket: Int32) -> Double {
        bucket == zeroBucket ? 0 : exp((Double(bucket) + 0.5) * log(bucketRatio))
    }

    /// The UTC day of a timestamp.
    public static func day(of timestamp: Double) -> Int32 {
        Int32(clamping: Int64((timestamp / 86_400).rounded(.down)))
    }
}

/// What the stored aggregates describe.
public struct AggregateCheckpoint: Sendable, Equatable {
    /// The table's TRUNCATE generation now.
    public var tableGeneration: Int64
    /// The generation the stored aggregates describe (nil: never built).
    public var aggregatedGeneration: Int64?
    /// The feed position they cover.
    public var position: FeedPosition?
    /// Ids at or below the position whose rows are not in the aggregates yet.
    public var pending: [Int64]

    /// True when the stored aggregates describe the table as it is.
    public var isCurrent: Bool { aggregatedGeneration == tableGeneration && position != nil }

    /// Creates a checkpoint.
    public init(tableGeneration: Int64, aggregatedGeneration: Int64? = nil, position: FeedPosition? = nil,
                pending: [Int64]) {
        self.tableGeneration = tableGeneration
        self.aggregatedGeneration = aggregatedGeneration
        self.position = position
        self.pending = pending
    }
}

/// Progress of a build of the aggregates.
public struct AggregateBuildProgress: Sendable, Equatable {
    public var rowsDone: Int64
    public var rowsTotal: Int64
    public var seconds: Double

    /// Creates a progress report.
    public init(rowsDone: Int64, rowsTotal: Int64, seconds: Double) {
        self.rowsDone = rowsDone
        self.rowsTotal = rowsTotal
        self.seconds = seconds
    }
}

/// Multi-agent tasks summed over some days.
public struct CollaborationSums: Sendable, Equatable {
    /// Multi-agent tasks and how they went: for an agent, the tasks it joined and its executions
    /// and successes on them; for a pair of agents, the tasks both worked on and the two's
    /// executions and successes on them; and how many of those tasks succeeded.
    public struct Counts: Sendable, Equatable {
        public var tasks: Int64 = 0
        public var executions: Int64 = 0
        public var successes: Int64 = 0
        public var succeededTasks: Int64 = 0
        public init() {}
    }

    /// Tasks with at least two distinct agents (per day).
    public var multiAgentTasks: Int64 = 0
    /// Of those, the ones whose latest execution succeeded.
    public var succeededTasks: Int64 = 0
    public var agents: [String: Counts] = [:]
    /// Keyed by the two names, the lesser (bytewise) first.
    public var pairs: [PairNames: Counts] = [:]

    /// Two agent names, the lesser (by their UTF-8 bytes) first.
    public struct PairNames: Sendable, Hashable {
        public let first: String
        public let second: String

        public init(_ a: String, _ b: String) {
            if Array(a.utf8).lexicographicallyPrecedes(b.utf8) { first = a; second = b } else { first = b; second = a }
        }
    }

    public init() {}
}

extension AggregateCell {
    /// Adds one execution (of this cell's agent, task type and day) to the sums, with the same
    /// validity rules as `ExecutionAnalytics`.
    public mutating func include(_ record: ExecutionRecord, at timestamp: Double) {
        executions += 1
        if record.success { successes += 1 }
        if let time = record.executionTime, time.isFinite, time >= 0 {
            timeCount += 1
            timeSum += time
            histogram[AggregateCell.bucket(time), default: 0] += 1
        }
        if let cpu = record.resourceUsage.cpu { cpuCount += 1; cpuSum += cpu }
        if let memory = record.resourceUsage.memoryMB { memoryCount += 1; memorySum += memory }
        if let tokens = record.resourceUsage.tokens { tokensCount += 1; tokensSum += tokens }
        lastTimestamp = max(lastTimestamp, timestamp)
    }
}

extension AggregateCell {
    /// Adds another cell's sums (same agent, task type and day).
    public mutating func merge(_ other: AggregateCell) {
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
        lastTimestamp = max(lastTimestamp, other.lastTimestamp)
        for (bucket, count) in other.histogram { histogram[bucket, default: 0] += count }
    }
}
