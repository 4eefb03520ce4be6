// `/metrics` in the Prometheus text format, through swift-prometheus: the transport records every
// request through swift-metrics into the registry's factory (counters and a latency histogram per
// method or route template); the service's own figures are set on gauges of the same registry at
// each scrape, then the registry renders everything.
public import Prometheus
public import H2Transport
public import LearningService
public import LearningAPI
public import LearningCore
import Synchronization

/// The Prometheus registry behind `/metrics`, and the service figures it exposes.
///
/// Give `factory` to the transport (`ServerConfiguration.metricsFactory`) and, in a server
/// process, to `MetricsSystem.bootstrap`, so every swift-metrics series lands in the same text.
public final class PrometheusExposition: Sendable {
    /// The Content-Type of the format.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"
    /// Most distinct agent label values; the rest are summed under `agent="other"`.
    public static let maxAgentSeries = 20
    /// Request latency histogram buckets: the service answers in tens of microseconds to seconds.
    public static let requestDurationBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .microseconds(2500),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
    ]

    /// The registry every series lives in.
    public let registry: PrometheusCollectorRegistry
    /// The swift-metrics backend writing into `registry`.
    public let factory: PrometheusMetricsFactory

    private struct AgentGauges {
        let executions: Gauge
        let successRatio: Gauge
        let executionSeconds: Gauge
    }

    private struct State {
        var agents: [String: AgentGauges] = [:]
        var ingestedSoFar: Int64 = 0
        var replication: ReplicationSeries?
        var leaderJobRunsSoFar: [String: Int64] = [:]
    }

    /// The replication series, made the first time the service reports replication (several
    /// replicas, a follower, or a read replica); a single server shows none.
    private struct ReplicationSeries {
        let leader: Gauge
        let replicas: Gauge
        var lagSeconds: Gauge?
        var lagBytes: Gauge?
        var jobRuns: [String: Counter] = [:]
    }

    private let state = Mutex(State())
    private let queriesPerSecond: Gauge
    private let predictionAccuracy: Gauge
    private let trainingSeconds: Gauge
    private let agentResponseSeconds: Gauge
    private let memoryMegabytes: Gauge
    private let cpuPercent: Gauge
    private let ingested: Counter
    private let agentsRegistered: Gauge
    private let agentsExpected: Gauge

    /// A fresh registry (one per server: tests run several in one process). `expectedAgents` is
    /// `agents.total_agents`, the fleet size the registry's count is shown beside.
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
                expectedAgents: Int = LearningConfig().agents.totalAgents) {
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets["learning_request_duration_seconds"] = Self.requestDurationBuckets
        self.factory = factory
        queriesPerSecond = registry.makeGauge(name: "learning_queries_per_second",
                                              help: "Requests served per second over the recent window.")
        predictionAccuracy = registry.makeGauge(name: "learning_prediction_accuracy",
                                                help: "Prediction accuracy on the latest held-out window (0..1).")
        trainingSeconds = registry.makeGauge(name: "learning_training_time_seconds", help: "Seconds the latest retrain took.")
        agentResponseSeconds = registry.makeGauge(name: "learning_agent_response_time_seconds",
                                                  help: "Mean agent execution time over the recent window.")
        memoryMegabytes = registry.makeGauge(name: "learning_memory_usage_megabytes",
                                             help: "Resident set size of the server process in MiB.")
        cpuPercent = registry.makeGauge(name: "learning_cpu_usage_percent",
                                        help: "Process CPU over the recent window (100 = one core).")
        ingested = registry.makeCounter(name: "learning_executions_ingested_total",
                                        help: "Executions stored since the server started.")
        agentsRegistered = registry.makeGauge(name: "learning_agents_registered",
                                              help: "Agents in the registry (registered or first seen in an execution).")
        agentsExpected = registry.makeGauge(name: "learning_agents_expected",
                                            help: "The fleet size agents.total_agents expects; alert when learning_agents_registered stays below it.")
        agentsExpected.set(Double(expectedAgents))
    }

    /// Sets the service's figures on their gauges and renders the whole registry. Per-agent
    /// series come from `agents`: the busiest `maxAgentSeries` by executions get their own
    /// label, the rest are folded into `other`; agents that left that set lose their series.
    public func render(metrics: ServiceMetrics, agents: [AgentSummary],
                       executionTimes: ExecutionTimeHistograms, agentsRegistered registered: Int) -> [UInt8] {
        queriesPerSecond.set(metrics.queriesPerSec)
        agentsRegistered.set(Double(registered))
        predictionAccuracy.set(metrics.predictionAccuracy)
        trainingSeconds.set(metrics.trainingTime)
        agentResponseSeconds.set(metrics.agentResponseTime)
        memoryMegabytes.set(metrics.memoryUsageMB)
        cpuPercent.set(metrics.cpuUsagePercent)

        let sorted = agents.sorted { $0.executions != $1.executions ? $0.executions > $1.executions : $0.agentName < $1.agentName }
        var rows: [(name: String, executions: Int64, success: Double, seconds: Double)] =
            sorted.prefix(Self.maxAgentSeries).map { ($0.agentName, $0.executions, $0.successRate, $0.avgExecutionTime) }
        let rest = sorted.dropFirst(Self.maxAgentSeries)
        if !rest.isEmpty {
            let executions = rest.reduce(Int64(0)) { $0 + $1.executions }
            let successes = rest.reduce(0.0) { $0 + $1.successRate * Double($1.executions) }
            let time = rest.reduce(0.0) { $0 + $1.avgExecutionTime * Double($1.executions) }
            rows.append(("other", executions, executions > 0 ? successes / Double(executions) : 0,
                         executions > 0 ? time / Double(executions) : 0))
        }
        // One scrape at a time sets and renders, so a scrape never shows another's agent set.
        return state.withLock { state in
            Self.advance(ingested, from: &state.ingestedSoFar, to: metrics.executionsIngested)
            if let replication = metrics.replication { setReplication(replication, &state) }
            let current = Set(rows.map(\.name))
            for (name, gauges) in state.agents where !current.contains(name) {
                registry.unregisterGauge(gauges.executions)
                registry.unregisterGauge(gauges.successRatio)
                registry.unregisterGauge(gauges.executionSeconds)
                state.agents[name] = nil
            }
            for row in rows {
                let gauges = state.agents[row.name] ?? makeAgentGauges(row.name)
                state.agents[row.name] = gauges
                gauges.executions.set(Double(row.executions))
                gauges.successRatio.set(row.success)
                gauges.executionSeconds.set(row.seconds)
            }
            var text = registry.emitToBuffer()
            Self.appendHistograms(executionTimes, to: &text)
            return text
        }
    }

    /// The execution-time histograms, in the text format (swift-prometheus records observations
    /// one at a time; these are counts the service already holds, so they are written here).
    static func appendHistograms(_ histograms: ExecutionTimeHistograms, to text: inout [UInt8]) {
        let families: [(name: String, label: String, help: String, series: [String: ExecutionTimeHistograms.Series])] = [
            ("learning_execution_time_seconds", "agent",
             "Agent execution times in seconds, by agent, of the executions seen stored since the server started.",
             histograms.byAgent),
            ("learning_task_execution_time_seconds", "task_type",
             "Agent execution times in seconds, by task type (\(TaskTypeName.unspecified): none given), since the server started.",
             histograms.byTaskType),
        ]
        let bounds = ExecutionTimeHistograms.bucketBounds.map { bound in
            bound == bound.rounded() ? String(Int(bound)) : String(bound)
        } + ["+Inf"]
        for family in families {
            var out = "# HELP \(family.name) \(family.help)\n# TYPE \(family.name) histogram\n"
            for (value, series) in family.series.sorted(by: { $0.key < $1.key }) {
                let label = "\(family.label)=\"\(escapeLabel(value))\""
                var cumulative: Int64 = 0
                for (index, bound) in bounds.enumerated() {
                    cumulative += series.buckets[index]
                    out += "\(family.name)_bucket{\(label),le=\"\(bound)\"} \(cumulative)\n"
                }
                out += "\(family.name)_sum{\(label)} \(series.sum)\n\(family.name)_count{\(label)} \(series.count)\n"
            }
            text += out.utf8
        }
    }

    /// A label value with `\\`, `"` and newlines escaped, as the text format wants.
    static func escapeLabel(_ value: String) -> String {
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }

    private func setReplication(_ report: ReplicationReport, _ state: inout State) {
        var series = state.replication ?? ReplicationSeries(
            leader: registry.makeGauge(name: "learning_replica_leader",
                                       help: "1 while this replica is the leader (runs retention, roll-ups, collaboration sums, checkpoints)."),
            replicas: registry.makeGauge(name: "learning_replicas",
                                         help: "Service replicas on this database (their leader-election sessions)."))
        series.leader.set(report.role == "leader" ? 1.0 : 0.0)
        series.replicas.set(Double(report.replicas))
        for (job, runs) in report.leaderJobRuns {
            let counter = series.jobRuns[job] ?? registry.makeCounter(
                name: "learning_leader_job_runs_total", labels: [("job", job)],
                help: "Runs of the leader-only jobs on this replica.")
            series.jobRuns[job] = counter
            Self.advance(counter, from: &state.leaderJobRunsSoFar[job, default: 0], to: runs)
        }
        if report.readReplica {
            let seconds = series.lagSeconds ?? registry.makeGauge(
                name: "learning_database_replication_lag_seconds",
                help: "Seconds since the read replica last replayed a transaction while WAL waits (0: caught up; NaN: not measured).")
            let bytes = series.lagBytes ?? registry.makeGauge(
                name: "learning_database_replication_lag_bytes", help: "WAL bytes the read replica has not replayed yet (NaN: not measured).")
            seconds.set(report.lagSeconds ?? .nan)
            bytes.set(report.lagBytes.map(Double.init) ?? .nan)
            series.lagSeconds = seconds
            series.lagBytes = bytes
        }
        state.replication = series
    }

    /// Moves a Prometheus counter up to a running total the service keeps (`soFar`: the total
    /// the counter already shows); a counter never goes down.
    private static func advance(_ counter: Counter, from soFar: inout Int64, to total: Int64) {
        guard total > soFar else { return }
        counter.increment(by: total - soFar)
        soFar = total
    }

    private func makeAgentGauges(_ name: String) -> AgentGauges {
        let labels = [("agent", name)]
        return AgentGauges(
            executions: registry.makeGauge(
                name: "learning_agent_executions", labels: labels,
                help: "Executions in the retention window, by agent (the busiest \(Self.maxAgentSeries), the rest as other)."),
            successRatio: registry.makeGauge(name: "learning_agent_success_ratio", labels: labels,
                                             help: "Share of executions that succeeded, by agent."),
            executionSeconds: registry.makeGauge(name: "learning_agent_execution_seconds_avg", labels: labels,
                                                 help: "Mean execution time in seconds, by agent."))
    }
}

extension RequestFigures {
    /// The transport's figures as the service reports them in `/status` and JSON `/metrics`.
    public init(_ metrics: TransportMetrics) {
        let methods = metrics.methods.map { path, figures in
            ServiceMethodMetrics(method: path, requests: Int64(figures.requests), errors: Int64(figures.errors),
                                 avgLatencyMs: figures.averageLatencyMs, p99LatencyMs: figures.p99LatencyMs)
        }.sorted { $0.method < $1.method }
        self.init(queriesPerSec: metrics.recentRequestsPerSecond, avgLatencyMs: metrics.recentAverageLatencyMs,
                  windowSeconds: metrics.windowSeconds, methods: methods)
    }
}
