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

    /// The schema of `modelStates`: the guide's `{"model name": "state"}` instead of the
    /// messages' `repeated ModelStatus` (OpenAPI document).
    public static let modelStatesSchema: JSONValue = .object([
        ("type", .string("object")),
        ("additionalProperties", .object([
            ("type", .string("string")),
            ("enum", .array(ModelState.allCases.map { .string($0.rawValue) })),
        ])),
    ])

    /// The schema of `/status`'s `performance`: the guide's three rounded figures (the message's
    /// `window_seconds` is left out).
    public static let statusPerformanceSchema: JSONValue = .object([
        ("type", .string("object")),
        ("required", .array(["queries_per_sec", "avg_latency_ms", "success_rate"].map { .string($0) })),
        ("additionalProperties", .bool(false)),
        ("properties", .object(["queries_per_sec", "avg_latency_ms", "success_rate"].map {
            ($0, .object([("type", .string("number")), ("format", .string("double"))]))
        })),
    ])

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
