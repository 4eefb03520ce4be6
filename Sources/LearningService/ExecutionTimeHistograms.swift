import LearningAPI
import LearningRepository

/// Cumulative histograms of agent execution times, one per agent and one per task type, over
/// every execution this process has seen stored (its own writes, other writers' rows from the
/// change feed, summed bursts) since it started: what a Prometheus user needs to compute a p99
/// execution time per agent or task type. Counts only grow, as Prometheus counters must.
///
/// Label sets are bounded: the first `maxSeries` agents (and task types) get a series of their
/// own; later ones are counted under `other`. Executions without a task type count under
/// `TaskTypeName.unspecified`.
public struct ExecutionTimeHistograms: Sendable, Equatable {
    /// Upper bounds of the buckets in seconds (a last `+Inf` bucket holds the rest): agent tasks
    /// take from a tenth of a second to an hour.
    public static let bucketBounds: [Double] = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600]
    /// Most distinct label values per histogram before the rest share `other`.
    public static let maxSeries = 200
    /// The label value of the executions past `maxSeries`.
    public static let otherLabel = "other"

    /// One histogram: counts per bucket (not cumulative; `bucketBounds.count + 1` of them, the
    /// last for times above every bound), and the sum and count of the times observed.
    public struct Series: Sendable, Equatable {
        public var buckets: [Int64] = Array(repeating: 0, count: ExecutionTimeHistograms.bucketBounds.count + 1)
        public var sum: Double = 0
        public var count: Int64 = 0

        mutating func observe(_ seconds: Double, times: Int64) {
            buckets[ExecutionTimeHistograms.bucketIndex(seconds)] += times
            sum += seconds * Double(times)
            count += times
        }
    }

    /// Histograms by agent name.
    public private(set) var byAgent: [String: Series] = [:]
    /// Histograms by task type.
    public private(set) var byTaskType: [String: Series] = [:]

    public init() {}

    /// The bucket an execution time falls in: the first bound it does not exceed.
    static func bucketIndex(_ seconds: Double) -> Int {
        var low = 0
        var high = bucketBounds.count
        while low < high {
            let middle = (low + high) / 2
            if seconds <= bucketBounds[middle] { high = middle } else { low = middle + 1 }
        }
        return low
    }

    /// Counts one stored execution's time (executions without a time are not counted).
    public mutating func observe(agent: String, taskType: String?, seconds: Double?) {
        guard let seconds, seconds.isFinite, seconds >= 0 else { return }
        observe(agent: agent, taskType: taskType, seconds: seconds, times: 1)
    }

    /// Counts the times of an aggregate cell (a burst the change feed summed instead of reading
    /// row by row): each of its log-scale buckets (2 % wide) counts at its middle time.
    mutating func observe(_ cell: AggregateCell) {
        for (bucket, times) in cell.histogram where times > 0 {
            observe(agent: cell.agentName, taskType: cell.taskType, seconds: AggregateCell.value(of: bucket), times: times)
        }
    }

    private mutating func observe(agent: String, taskType: String?, seconds: Double, times: Int64) {
        Self.add(seconds, times, to: &byAgent, label: agent)
        Self.add(seconds, times, to: &byTaskType, label: TaskTypeName.reported(taskType))
    }

    private static func add(_ seconds: Double, _ times: Int64, to series: inout [String: Series], label: String) {
        let key = series[label] != nil || series.count < maxSeries ? label : otherLabel
        series[key, default: Series()].observe(seconds, times: times)
    }
}
