// The service API: one handler per operation of `learning.v1.LearningSystem`, shared by the gRPC
// bindings (LearningRPC) and the REST shim (LearningREST).
//
// For the front ends:
// - Call the handler with the domain request (LearningAPI's ServiceTypes.swift); it validates every
//   input (names, task types, UUIDs, numbers, timestamps, lengths) and throws `ServiceError` only.
//   Each front end maps `ServiceError` to its protocol: REST to an HTTP status with the body
//   `{"error": code, "detail": detail}` and `Retry-After` from `.retryAfterSeconds`
//   (`RESTError.init(_:)`), gRPC to the code of the same name (`LearningRPC.status(for:)`).
//   Anything else thrown is a bug: answer 500 / INTERNAL via `ServiceError.wrap(error)`.
// - Before calling a handler, call `authorize(_:bearerToken:)` with the operation and the token the
//   client presented (HTTP `Authorization: Bearer <key>`, gRPC metadata `authorization: Bearer <key>`;
//   pass the header value as is, or nil when absent). Writes and admin operations need a key when
//   keys are configured; reads are open.
// - `health()`, `status()` and `metrics()` read in-memory state only and never block: they may run
//   inline on an event loop (`.unaryInline` / `.inline`). Everything else is `async`.
// - JSON: the domain types are Codable with the guide's snake_case keys; encode dates with
//   `.iso8601`. The guide's `/health` and `/status` show `ml_models` as an object
//   `{"pattern_recognition": "active", ...}`: build it from `[ModelStatus]` (name -> state.rawValue).
//
// | operation               | REST                              | RPC                      | needs key |
// |-------------------------|-----------------------------------|--------------------------|-----------|
// | health                  | GET /health                       | GetHealth                | no        |
// | status                  | GET /status                       | GetStatus                | no        |
// | listAgents              | GET /agents/list?status=          | ListAgents               | no        |
// | agentStatus             | GET /agents/{name}/status         | GetAgentStatus           | no        |
// | agentPerformance        | GET /agents/{name}/performance    | GetAgentPerformance      | no        |
// | registerAgent           | POST /agents/register             | RegisterAgent            | yes       |
// | heartbeat               | POST /agents/{name}/heartbeat     | Heartbeat                | yes       |
// | logExecution            | POST /executions                  | LogExecution             | yes       |
// | logExecutions           | POST /executions/batch            | LogExecutions, Stream/IngestExecutions | yes |
// | submitMetrics           | POST /agents/{name}/metrics       | SubmitMetrics            | yes       |
// | performanceAnalytics    | GET /analytics/performance        | GetPerformanceAnalytics  | no        |
// | coordinationPatterns    | GET /analytics/coordination       | GetCoordinationPatterns  | no        |
// | insights                | GET /analytics/insights           | GetInsights              | no        |
// | patterns                | GET /patterns, /ml/test/patterns  | GetPatterns              | no        |
// | predict                 | POST /predict, /ml/test/prediction| PredictPerformance       | no        |
// | recommendations         | GET /recommendations?task_type=   | GetRecommendations       | no        |
// | metrics                 | GET /metrics                      | GetMetrics               | no        |
// | similarAgents           | GET /agents/{name}/similar        | FindSimilarAgents        | no        |
// | anomalies               | GET /analytics/anomalies          | GetAnomalies             | no        |
// | watchInsights           | (none)                            | WatchInsights            | no        |
// | retrain                 | POST /ml/retrain                  | Retrain                  | yes       |
// | patterns                | (none)                            | GetErrorSignatures       | no        |


public import Foundation
// The handlers speak LearningAPI's types (requests, results, `ServiceError`, `Validation`); whoever
// imports the service gets them with it.
@_exported public import LearningAPI

/// Every operation of the service, for authorization and per-operation bookkeeping.
public enum ServiceOperation: String, Sendable, CaseIterable {
    case health, status, listAgents, agentStatus, agentPerformance
    case registerAgent, heartbeat, logExecution, logExecutions, submitMetrics
    case performanceAnalytics, coordinationPatterns, insights, patterns, predict, recommendations
    case metrics, similarAgents, anomalies, watchInsights, retrain

    /// Writes and admin operations: they need an API key when keys are configured.
    public var requiresKey: Bool {
        switch self {
        case .registerAgent, .heartbeat, .logExecution, .logExecutions, .submitMetrics, .retrain: true
        default: false
        }
    }
}

/// The service's operations. `LearningService` implements it; the front ends hold one.
public protocol LearningHandlers: Sendable {
    /// Checks the presented credentials for `operation`; throws `.unauthenticated` when a key is
    /// needed and missing or wrong. `bearerToken` is the raw header value (`Bearer <key>`) or the key.
    func authorize(_ operation: ServiceOperation, bearerToken: String?) throws

    /// Health from cached state; never blocks.
    func health() -> HealthReport
    /// Status from cached state and the transport's recent-window figures; never blocks.
    func status() -> StatusReport
    /// Registered agents, optionally only those whose status is `status` (empty: all).
    func listAgents(status: String) async throws -> AgentList
    /// One agent's status and why; `.notFound` for an unknown agent.
    func agentStatus(name: String) async throws -> AgentStatusReport
    /// One agent's figures overall and per task type; `.notFound` for an unknown agent.
    func agentPerformance(name: String) async throws -> AgentPerformance
    /// Idempotent upsert of an agent.
    func registerAgent(_ request: RegisterAgentRequest) async throws -> RegisterAgentResult
    /// Marks an agent as seen now; `.notFound` for an unknown agent.
    func heartbeat(_ request: HeartbeatRequest) async throws -> AgentInfo
    /// Stores one execution durably (acknowledged after commit). `.overloaded` when the ingest queue is full.
    func logExecution(_ execution: ExecutionInput) async throws -> LogExecutionResult
    /// `logExecution` for a caller that is not async: calls `deliver` once, from any thread, with
    /// the call's last step, which the caller runs where it wants (it must not block) to get the
    /// result or the `ServiceError`. `LearningService` does without a Swift task per call.
    func logExecution(_ execution: ExecutionInput,
                      deliver: @escaping @Sendable (_ finish: @escaping @Sendable () throws -> LogExecutionResult) -> Void)
    /// Stores a batch durably; the whole batch is rejected when one record is invalid (the detail
    /// names its index). The executions are decoded as they are read (`ExecutionBatch`).
    func logExecutions(_ executions: ExecutionBatch) async throws -> LogBatchResult
    /// Stores a metrics sample as a `performance_metrics` row.
    func submitMetrics(_ request: SubmitMetricsRequest) async throws -> SubmitMetricsResult
    /// Figures over all agents and task types; `windowHours` 0: all retained data.
    func performanceAnalytics(windowHours: Int) async throws -> PerformanceAnalytics
    /// Collaboration pairs and hand-offs; `limit` 0: 20.
    func coordinationPatterns(limit: Int) async throws -> CoordinationPatterns
    /// Recent insights, newest first.
    func insights(_ query: InsightsQuery) async throws -> [Insight]
    /// The pattern families asked for (empty: all). `.failedPrecondition` when pattern recognition is off.
    func patterns(kinds: [PatternKind]) async throws -> PatternsReport
    /// A performance forecast. `.failedPrecondition` when predictive analytics is off.
    func predict(_ request: PredictionRequest) async throws -> PerformancePrediction
    /// Agents ranked for a task type.
    func recommendations(_ request: RecommendationsRequest) async throws -> RecommendationsReport
    /// Service metrics, all measured; never blocks.
    func metrics() -> ServiceMetrics
    /// Execution-time histograms by agent and by task type of the executions seen stored since
    /// the start (Prometheus `/metrics`); never blocks.
    func executionTimeHistograms() -> ExecutionTimeHistograms
    /// Agents similar to one agent; `.notFound` for an unknown agent.
    func similarAgents(_ request: SimilarAgentsRequest) async throws -> SimilarAgentsReport
    /// Recent anomalies, newest first.
    func anomalies(_ query: AnomaliesQuery) async throws -> [Anomaly]
    /// A live subscription to new insights and anomalies; ends when the service shuts down.
    /// Stop iterating (or cancel the task) to unsubscribe.
    func watchInsights(_ request: WatchInsightsRequest) throws -> AsyncStream<InsightEvent>
    /// Retrains every enabled model now and stores them.
    func retrain() async throws -> RetrainResult
    /// Retrains as if now were `asOf` (backtests; `nil`: now): recency weights, drift and the
    /// held-out window are measured from it. `.invalidArgument` for a time out of range.
    func retrain(asOf: Date?) async throws -> RetrainResult
    /// The failure signature (`FailurePattern.signature`) of each error message under the serving
    /// model, in order; `.invalidArgument` for more than 10,000 messages or one over 64 KiB.
    func errorSignatures(_ messages: [String]) async throws -> [String]
}

extension LearningHandlers {
    /// `logExecutions` of executions already decoded.
    public func logExecutions(_ executions: [ExecutionInput]) async throws -> LogBatchResult {
        try await logExecutions(ExecutionBatch(executions))
    }

    /// Runs the async `logExecution` in a task (for implementations without a task-free path).
    public func logExecution(_ execution: ExecutionInput,
                             deliver: @escaping @Sendable (_ finish: @escaping @Sendable () throws -> LogExecutionResult) -> Void) {
        Task {
            let result: Result<LogExecutionResult, any Error>
            do { result = .success(try await logExecution(execution)) } catch { result = .failure(error) }
            deliver { try result.get() }
        }
    }
}
