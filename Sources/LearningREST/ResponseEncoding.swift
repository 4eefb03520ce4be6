import Foundation
public import LearningService

// The service's response types as the guide's JSON. Most types encode themselves (their Codable
// keys are the proto's snake_case names); `/health`, `/status`, `/patterns` and `/ml/retrain` are
// shaped here to match the guide's examples exactly.

/// Encoders from service results to the REST JSON bodies.
public enum RESTEncoding {
    /// `ml_models` as the guide shows it: `{"pattern_recognition": "active", ...}`.
    public static func modelStates(_ models: [ModelStatus]) -> JSONValue {
        .object(models.map { ($0.name, .string($0.state.rawValue)) })
    }

    /// `GET /health`: exactly the guide's keys plus `ml_models`, which its health monitor reads.
    /// While the service starts (status `starting`), `startup` says how far it got.
    public static func health(_ report: HealthReport) -> JSONValue {
        .object([
            ("status", .string(report.status)),
            ("service", .string(report.service)),
            ("database", .string(report.database)),
            ("agents_registered", .int(report.agentsRegistered)),
            ("timestamp", .string(formatISO8601(report.timestamp))),
            ("ml_models", modelStates(report.mlModels)),
        ] + startup(report.startup))
    }

    /// The `startup` member of /health and /status while the service starts; none after.
    static func startup(_ report: StartupReport?) -> [(String, JSONValue)] {
        guard let report else { return [] }
        return [("startup", .object([
            ("phase", .string(report.phase)),
            ("rows_done", .int(Int(report.rowsDone))),
            ("rows_total", .int(Int(report.rowsTotal))),
            ("percent", .rounded(report.percent, places: 1)),
            ("elapsed_seconds", .rounded(report.elapsedSeconds, places: 1)),
        ]))]
    }

    /// `GET /status`: exactly the guide's keys; figures rounded as the guide prints them.
    public static func status(_ report: StatusReport) -> JSONValue {
        .object([
            ("learning_system", .string(report.learningSystem)),
            ("database", .string(report.database)),
            ("agents_registered", .int(report.agentsRegistered)),
            ("performance", .object([
                ("queries_per_sec", .rounded(report.performance.queriesPerSec, places: 1)),
                ("avg_latency_ms", .rounded(report.performance.avgLatencyMs, places: 2)),
                ("success_rate", .rounded(report.performance.successRate, places: 2)),
            ])),
            ("ml_models", modelStates(report.mlModels)),
        ] + startup(report.startup) + replication(report.replication))
    }

    /// The `replication` member of /status, when the service shares its database with other
    /// replicas or reads from a read replica (docs/SCALING.md).
    static func replication(_ report: ReplicationReport?) -> [(String, JSONValue)] {
        guard let report else { return [] }
        var members: [(String, JSONValue)] = [
            ("role", .string(report.role)),
            ("replicas", .int(report.replicas)),
            ("leader_job_runs", .object(report.leaderJobRuns.sorted { $0.key < $1.key }.map { ($0.key, .int(Int($0.value))) })),
            ("read_replica", .bool(report.readReplica)),
        ]
        if report.readReplica {
            members.append(("replication_lag_seconds", report.lagSeconds.map { .rounded($0, places: 3) } ?? .null))
            members.append(("replication_lag_bytes", report.lagBytes.map { .int(Int($0)) } ?? .null))
        }
        return [("replication", .object(members))]
    }

    /// `GET /patterns`: the guide's four families, `collaboration`, `performance`, `resources`, `failures`.
    public static func patterns(_ report: PatternsReport) throws -> JSONValue {
        .object([
            ("collaboration", try JSONValueEncoder.encode(report.collaboration)),
            ("performance", try JSONValueEncoder.encode(report.performance)),
            ("resources", try JSONValueEncoder.encode(report.resources)),
            ("failures", try JSONValueEncoder.encode(report.failures)),
        ])
    }

    /// `POST /ml/retrain`: model states in the same form as `/health`.
    public static func retrain(_ result: RetrainResult) -> JSONValue {
        .object([
            ("ml_models", modelStates(result.mlModels)),
            ("training_time", .double(result.trainingTime)),
            ("trained_on_executions", .int(result.trainedOnExecutions)),
        ])
    }

    /// `GET /analytics/insights`.
    public static func insights(_ insights: [Insight]) throws -> JSONValue {
        .object([("insights", try JSONValueEncoder.encode(insights))])
    }

    /// `GET /analytics/anomalies`.
    public static func anomalies(_ anomalies: [Anomaly]) throws -> JSONValue {
        .object([("anomalies", try JSONValueEncoder.encode(anomalies))])
    }

    /// `POST /executions/batch`: the counts (per-record ids are left to the RPC).
    public static func batch(_ result: LogBatchResult) -> JSONValue {
        .object([("accepted", .int(result.accepted)), ("duplicates", .int(result.duplicates))])
    }
}

// MARK: - Prometheus

/// The Prometheus text exposition format (0.0.4) of the service metrics.
public enum PrometheusExposition {
    /// The Content-Type of the format.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"
    /// Most distinct agent label values; the rest are summed under `agent="other"`.
    public static let maxAgentSeries = 20
    /// Most distinct method label values; the rest are summed under `method="other"`.
    public static let maxMethodSeries = 40

    /// Escapes a label value (`\`, `"` and newlines).
    static func label(_ value: String) -> String {
        var out = ""
        for character in value.prefix(128) {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }

    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    /// Renders the metrics, with per-agent series from `agents` (the busiest `maxAgentSeries` by
    /// executions get their own label; the rest are folded into `other`).
    public static func render(metrics: ServiceMetrics, agents: [AgentSummary]) -> String {
        var out = ""
        func gauge(_ name: String, _ help: String, _ value: Double) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n\(name) \(number(value))\n"
        }
        gauge("learning_queries_per_second", "Requests served per second over the recent window.", metrics.queriesPerSec)
        gauge("learning_prediction_accuracy", "Prediction accuracy on the latest held-out window (0..1).", metrics.predictionAccuracy)
        gauge("learning_training_time_seconds", "Seconds the latest retrain took.", metrics.trainingTime)
        gauge("learning_agent_response_time_seconds", "Mean agent execution time over the recent window.", metrics.agentResponseTime)
        gauge("learning_memory_usage_megabytes", "Resident set size of the server process in MiB.", metrics.memoryUsageMB)
        gauge("learning_cpu_usage_percent", "Process CPU over the recent window (100 = one core).", metrics.cpuUsagePercent)
        out += "# HELP learning_executions_ingested_total Executions stored since the server started.\n"
        out += "# TYPE learning_executions_ingested_total counter\n"
        out += "learning_executions_ingested_total \(metrics.executionsIngested)\n"
        if let replication = metrics.replication {
            gauge("learning_replica_leader", "1 while this replica is the leader (runs retention, roll-ups, collaboration sums, checkpoints).",
                  replication.role == "leader" ? 1 : 0)
            gauge("learning_replicas", "Service replicas on this database (their leader-election sessions).", Double(replication.replicas))
            if !replication.leaderJobRuns.isEmpty {
                out += "# HELP learning_leader_job_runs_total Runs of the leader-only jobs on this replica.\n# TYPE learning_leader_job_runs_total counter\n"
                for (job, runs) in replication.leaderJobRuns.sorted(by: { $0.key < $1.key }) {
                    out += "learning_leader_job_runs_total{job=\"\(label(job))\"} \(runs)\n"
                }
            }
            if replication.readReplica {
                gauge("learning_database_replication_lag_seconds",
                      "Seconds since the read replica last replayed a transaction while WAL waits (0: caught up; NaN: not measured).",
                      replication.lagSeconds ?? .nan)
                gauge("learning_database_replication_lag_bytes", "WAL bytes the read replica has not replayed yet (NaN: not measured).",
                      replication.lagBytes.map(Double.init) ?? .nan)
            }
        }

        // Per-method request figures, bounded.
        let methods = metrics.methods.sorted { $0.requests > $1.requests }
        var methodRows: [(String, Int64, Int64, Double)] = methods.prefix(maxMethodSeries).map {
            ($0.method, $0.requests, $0.errors, $0.avgLatencyMs)
        }
        let restMethods = methods.dropFirst(maxMethodSeries)
        if !restMethods.isEmpty {
            let requests = restMethods.reduce(Int64(0)) { $0 + $1.requests }
            let weighted = restMethods.reduce(0.0) { $0 + $1.avgLatencyMs * Double($1.requests) }
            methodRows.append(("other", requests, restMethods.reduce(Int64(0)) { $0 + $1.errors },
                               requests > 0 ? weighted / Double(requests) : 0))
        }
        if !methodRows.isEmpty {
            out += "# HELP learning_requests_total Requests served, by method.\n# TYPE learning_requests_total counter\n"
            for row in methodRows { out += "learning_requests_total{method=\"\(label(row.0))\"} \(row.1)\n" }
            out += "# HELP learning_request_errors_total Requests that failed, by method.\n# TYPE learning_request_errors_total counter\n"
            for row in methodRows { out += "learning_request_errors_total{method=\"\(label(row.0))\"} \(row.2)\n" }
            out += "# HELP learning_request_latency_ms_avg Mean request latency in milliseconds, by method.\n# TYPE learning_request_latency_ms_avg gauge\n"
            for row in methodRows { out += "learning_request_latency_ms_avg{method=\"\(label(row.0))\"} \(number(row.3))\n" }
        }

        // Per-agent figures, bounded: the busiest agents by name, the rest as `other`.
        let sorted = agents.sorted { $0.executions != $1.executions ? $0.executions > $1.executions : $0.agentName < $1.agentName }
        var rows: [(String, Int64, Double, Double)] = sorted.prefix(maxAgentSeries).map {
            ($0.agentName, $0.executions, $0.successRate, $0.avgExecutionTime)
        }
        let rest = sorted.dropFirst(maxAgentSeries)
        if !rest.isEmpty {
            let executions = rest.reduce(Int64(0)) { $0 + $1.executions }
            let successes = rest.reduce(0.0) { $0 + $1.successRate * Double($1.executions) }
            let time = rest.reduce(0.0) { $0 + $1.avgExecutionTime * Double($1.executions) }
            rows.append(("other", executions, executions > 0 ? successes / Double(executions) : 0,
                         executions > 0 ? time / Double(executions) : 0))
        }
        if !rows.isEmpty {
            out += "# HELP learning_agent_executions_total Executions recorded, by agent (top \(maxAgentSeries), the rest as other).\n"
            out += "# TYPE learning_agent_executions_total counter\n"
            for row in rows { out += "learning_agent_executions_total{agent=\"\(label(row.0))\"} \(row.1)\n" }
            out += "# HELP learning_agent_success_ratio Share of executions that succeeded, by agent.\n"
            out += "# TYPE learning_agent_success_ratio gauge\n"
            for row in rows { out += "learning_agent_success_ratio{agent=\"\(label(row.0))\"} \(number(row.2))\n" }
            out += "# HELP learning_agent_execution_seconds_avg Mean execution time in seconds, by agent.\n"
            out += "# TYPE learning_agent_execution_seconds_avg gauge\n"
            for row in rows { out += "learning_agent_execution_seconds_avg{agent=\"\(label(row.0))\"} \(number(row.3))\n" }
        }
        return out
    }
}
