// Conversion between protobuf-c messages of learning.v1 and the service's domain types.
// Decoding reads an `UnpackedMessage` (freed by its owner); encoding builds messages in a
// `ProtoArena` and packs them before the arena goes away. No Swift memory is referenced from C.
import CProtobufC
import Foundation
import LearningCore
import LearningProtoC
import LearningService
import ProtobufCSupport

typealias MessagePointer<T> = UnsafeMutablePointer<T>

// MARK: - Encoding helpers

extension ProtoArena {
    func timestamp(_ date: Date) -> MessagePointer<Google__Protobuf__Timestamp> {
        let message = self.message(google__protobuf__timestamp__init)
        let seconds = date.timeIntervalSince1970
        let whole = seconds.rounded(.down)
        message.pointee.seconds = Int64(whole)
        message.pointee.nanos = Int32(min(999_999_999, max(0, ((seconds - whole) * 1e9).rounded())))
        return message
    }

    func optionalTimestamp(_ date: Date?) -> MessagePointer<Google__Protobuf__Timestamp>? {
        date.map(timestamp)
    }

    /// A repeated message field: the count and the array of pointers.
    func messages<Item, Message>(_ items: [Item], _ build: (Item) -> MessagePointer<Message>) -> (Int, UnsafeMutablePointer<UnsafeMutablePointer<Message>?>?) {
        (items.count, array(items.map { Optional(build($0)) }))
    }

    func startupProgress(_ report: StartupReport) -> MessagePointer<Learning__V1__StartupProgress> {
        let message = self.message(learning__v1__startup_progress__init)
        message.pointee.phase = string(report.phase)
        message.pointee.rows_done = report.rowsDone
        message.pointee.rows_total = report.rowsTotal
        message.pointee.percent = report.percent
        message.pointee.elapsed_seconds = report.elapsedSeconds
        return message
    }

    func modelStatus(_ status: ModelStatus) -> MessagePointer<Learning__V1__ModelStatus> {
        let message = self.message(learning__v1__model_status__init)
        message.pointee.name = string(status.name)
        message.pointee.state = Self.modelState(status.state)
        message.pointee.state_name = string(status.state.rawValue)
        if let accuracy = status.accuracy {
            message.pointee.has_accuracy_case = LEARNING__V1__MODEL_STATUS__HAS_ACCURACY_ACCURACY
            message.pointee.accuracy = accuracy
        }
        message.pointee.trained_on = optionalTimestamp(status.trainedOn)
        message.pointee.version = string(status.version)
        return message
    }

    static func modelState(_ state: ModelState) -> Learning__V1__ModelState {
        switch state {
        case .active: LEARNING__V1__MODEL_STATE__MODEL_STATE_ACTIVE
        case .training: LEARNING__V1__MODEL_STATE__MODEL_STATE_TRAINING
        case .insufficientData: LEARNING__V1__MODEL_STATE__MODEL_STATE_INSUFFICIENT_DATA
        case .disabled: LEARNING__V1__MODEL_STATE__MODEL_STATE_DISABLED
        case .failed: LEARNING__V1__MODEL_STATE__MODEL_STATE_FAILED
        }
    }

    func agent(_ agent: AgentInfo) -> MessagePointer<Learning__V1__Agent> {
        let message = self.message(learning__v1__agent__init)
        message.pointee.name = string(agent.name)
        message.pointee.description = string(agent.description)
        message.pointee.n_tools = agent.tools.count
        message.pointee.tools = strings(agent.tools)
        message.pointee.model = string(agent.model)
        message.pointee.status = string(agent.status)
        message.pointee.last_seen = optionalTimestamp(agent.lastSeen)
        message.pointee.registered_at = timestamp(agent.registeredAt)
        message.pointee.source = string(agent.source)
        (message.pointee.n_metadata, message.pointee.metadata) = messages(agent.metadata.sorted { $0.key < $1.key }) { entry in
            let item = self.message(learning__v1__agent__metadata_entry__init)
            item.pointee.key = string(entry.key)
            item.pointee.value = string(entry.value)
            return item
        }
        return message
    }

    func taskTypePerformance(_ value: TaskTypePerformance) -> MessagePointer<Learning__V1__TaskTypePerformance> {
        let message = self.message(learning__v1__task_type_performance__init)
        message.pointee.task_type = string(value.taskType)
        message.pointee.executions = value.executions
        message.pointee.success_rate = value.successRate
        message.pointee.avg_execution_time = value.avgExecutionTime
        message.pointee.median_execution_time = value.medianExecutionTime
        message.pointee.p90_execution_time = value.p90ExecutionTime
        message.pointee.avg_cpu = value.avgCPU
        message.pointee.avg_memory_mb = value.avgMemoryMB
        message.pointee.avg_tokens = value.avgTokens
        return message
    }

    func collaboration(_ value: CollaborationPattern) -> MessagePointer<Learning__V1__CollaborationPattern> {
        let message = self.message(learning__v1__collaboration_pattern__init)
        message.pointee.n_agents = value.agents.count
        message.pointee.agents = strings(value.agents)
        message.pointee.shared_tasks = value.sharedTasks
        message.pointee.success_rate_together = value.successRateTogether
        message.pointee.expected_success_rate = value.expectedSuccessRate
        message.pointee.lift = value.lift
        message.pointee.z_score = value.zScore
        message.pointee.effect = string(value.effect)
        return message
    }

    func handoff(_ value: HandoffPattern) -> MessagePointer<Learning__V1__HandoffPattern> {
        let message = self.message(learning__v1__handoff_pattern__init)
        message.pointee.from_agent = string(value.fromAgent)
        message.pointee.to_agent = string(value.toAgent)
        message.pointee.count = value.count
        message.pointee.success_rate = value.successRate
        message.pointee.median_gap_seconds = value.medianGapSeconds
        return message
    }

    func insight(_ value: Insight) -> MessagePointer<Learning__V1__Insight> {
        let message = self.message(learning__v1__insight__init)
        message.pointee.id = string(value.id)
        message.pointee.kind = string(value.kind)
        message.pointee.severity = string(value.severity)
        message.pointee.title = string(value.title)
        message.pointee.detail = string(value.detail)
        message.pointee.n_agents = value.agents.count
        message.pointee.agents = strings(value.agents)
        message.pointee.task_type = string(value.taskType)
        message.pointee.created_at = timestamp(value.createdAt)
        message.pointee.score = value.score
        return message
    }

    func anomaly(_ value: Anomaly) -> MessagePointer<Learning__V1__Anomaly> {
        let message = self.message(learning__v1__anomaly__init)
        message.pointee.id = string(value.id)
        message.pointee.kind = string(value.kind)
        message.pointee.agent_name = string(value.agentName)
        message.pointee.task_type = string(value.taskType)
        message.pointee.score = value.score
        message.pointee.threshold = value.threshold
        message.pointee.observed = value.observed
        message.pointee.expected = value.expected
        message.pointee.execution_id = value.executionID
        message.pointee.detected_at = timestamp(value.detectedAt)
        message.pointee.detail = string(value.detail)
        message.pointee.n_execution_ids = value.executionIDs.count
        message.pointee.execution_ids = array(value.executionIDs)
        return message
    }
}

// MARK: - Response encoders

enum ProtoEncode {
    static func health(_ report: HealthReport) -> [UInt8] {
        let arena = ProtoArena()
        let message = arena.message(learning__v1__get_health_response__init)
        message.pointee.status = arena.string(report.status)
        message.pointee.service = arena.string(report.service)
        message.pointee.database = arena.string(report.database)
        message.pointee.agents_registered = Int32(clamping: report.agentsRegistered)
        message.pointee.timestamp = arena.timestamp(report.timestamp)
        (message.pointee.n_ml_models, message.pointee.ml_models) = arena.messages(report.mlModels, arena.modelStatus)
        message.pointee.version = arena.string(report.version)
        message.pointee.uptime_seconds = report.uptimeSeconds
        message.pointee.total_executions = report.totalExecutions
        message.pointee.startup = report.startup.map(arena.startupProgress)
        return packMessage(message)
    }

    static func status(_ report: StatusReport) -> [UInt8] {
        let arena = ProtoArena()
        let message = arena.message(learning__v1__get_status_response__init)
        message.pointee.learning_system = arena.string(report.learningSystem)
        message.pointee.database = arena.string(report.database)
        message.pointee.agents_registered = Int32(clamping: report.agentsRegistered)
        let performance = arena.message(learning__v1__service_performance__init)
        performance.pointee.queries_per_sec = report.performance.queriesPerSec
        performance.pointee.avg_latency_ms = report.performance.avgLatencyMs
        performance.pointee.success_rate = report.performance.successRate
        performance.pointee.window_seconds = Int32(clamping: report.performance.windowSeconds)
        message.pointee.performance = performance
        (message.pointee.n_ml_models, message.pointee.ml_models) = arena.messages(report.mlModels, arena.modelStatus)
        (message.pointee.n_features, message.pointee.features) = arena.messages(report.features.sorted { $0.key < $1.key }) { entry in
            let item = arena.message(learning__v1__get_status_response__features_entry__init)
            item.pointee.key = arena.string(entry.key)
            item.pointee.value = entry.value ? 1 : 0
            return item
        }
        message.pointee.startup = report.startup.map(arena.startupProgress)
        return packMessage(message)
    }

    static func agentList(_ list: AgentList) -> [UInt8] {
        let arena = ProtoArena()
        let message = arena.message(learning__v1__list_agents_response__init)
        (message.pointee.n_agents, message.pointee.agents) = arena.messages(list.agents, arena.agent)
        message.pointee.total = Int32(clamping: list.total)
        return packMessage(message)
    }

    static func agentStatus(_ report: AgentStatusReport) -> [UInt8] {
        let arena = ProtoArena()
        let message = arena.message(learning__v1__agent_status__init)
        message.pointee.agent = arena.agent(report.agent)
        message.pointee.status = arena.string(report.status)
        message.pointee.executions_total = report.executionsTotal
        message.pointee.recent_success_rate = report.recentSuccessRate
        if let seconds = report.secondsSinceSeen {
            message.pointee.has_seconds_since_seen_case = LEARNING__V1__AGENT_STATUS__HAS_SECONDS_SINCE_SEEN_SECONDS_SINCE_SEEN
            message.pointee.seconds_since_seen = seconds
        }
        message.pointee.health_check_interval_seconds = Int32(clamping: report.healthCheckIntervalSeconds)
        message.pointee.reason = arena.string(report.reason)
        return packMessage(message)
    }

    static func agentPerformance(_ value: AgentPerformance) -> [UInt8] {
        let arena = ProtoArena()
        let message = arena.message(learning__v1__agent_performance__init)
        message.pointee.agent_name = arena.string(value.agentName)
        message.pointee.executions = value.executions
        message.pointee.success_rate = value.successRate
        message.pointee.avg_execution_time = value.avgExecutionTime
        message.pointee.median_execution_time = value.medianExecutionTime
        (message.pointee.n_task_types, message.pointee.task_types) = arena.messages(value.taskTypes, arena.taskTypePerformance)
        message.pointee.last_execution = arena.optionalTimestamp(value.lastExecution)
        message.pointee.coordination_score = value.coordinationScore
        return packMessage(message)
    }

    static func registered(_ result: RegisterAgentResult) -> [UInt8] {
        let arena = ProtoArena()
        let message = arena.message(learning__v1__register_agent_response__init)
        message.pointee.agent = arena.agent(result.agent)
        message.pointee.created = result.created ? 1 : 0
        return packMessage(message)
    }

    static func heartbeat(_ agent: AgentInfo) -> [UInt8] {
        let arena = ProtoArena()
        let message = arena.message(learning__v1__heartbeat_response__init)
        message.pointee.agent = arena.agent(agent)
        return packMessage(message)
    }

    static func logged(_ result: LogExecutionResult) -> [UInt8] {
        let arena = ProtoArena()
        let message = arena.message(learning__v1__log_execution_response__init)
        message.pointee.id = result.id
        message.pointee.duplicate = result.duplicate ? 1 : 0
        return packMessage(message)
    }

    static func loggedBatch(accepted: Int64, duplicates: Int64) -> [UInt8] {
        let arena = ProtoArena()
        let message = arena.message(learning__v1__log_executions_response__init)
        message.pointee.accepted = accepted
        message.pointee.duplicates = duplicates
        return packMessage(message)
    }

    static func ack(sequence: Int64, result: LogExecutionResult) -> [UInt8] {
        let arena = ProtoArena()
        let message = arena.message(learning__v1__execution_ack__init)
        message.pointee.sequence = sequence
        message.pointee.id = result.id
        message.pointee.duplicate = result.duplicate ? 1 : 0
        return packMessage(message)
    }

    static func metricsSubmitted(_ result: SubmitMetricsResult) -> [UInt8] {
        let arena = ProtoArena()
        let message = arena.message(learning__v1__submit_metrics_response__init)
        message.pointee.id = result.id
        return packMessage(message)
    }

    static func performanceAnalytics(_ value: PerformanceAnalytics) -> [UInt8] {
        let arena = ProtoArena()
        let message = arena.message(learning__v1__performance_analytics__init)
        message.pointee.total_executions = value.totalExecutions
        message.pointee.success_rate = value.successRate
        message.pointee.avg_execution_time = value.avgExecutionTime
        message.pointee.median_execution_time = value.medianExecutionTime
        message.pointee.p90_execution_time = value.p90ExecutionTime
        (message.pointee.n_agents, message.pointee.agents) = arena.messages(value.agents) { summary in
            let item = arena.message(learning__v1__agent_summary__init)
            item.pointee.agent_name = arena.string(summary.agentName)
            item.pointee.executions = summary.executions
            item.pointee.success_rate = summary.successRate
            item.pointee.avg_execution_time = summary.avgExecutionTime
            item.pointee.median_execution_time = summary.medianExecutionTime
            return item
        }
        (message.pointee.n_task_types, message.pointee.task_types) = arena.messages(value.taskTypes, arena.taskTypePerformance)
        message.pointee.generated_at = arena.timestamp(value.generatedAt)
        return packMessage(message)
    }

    static func coordination(_ value: CoordinationPatterns) -> [UInt8] {
        let arena = ProtoArena()
        let message = arena.message(learning__v1__coordination_patterns__init)
        (message.pointee.n_pairs, message.pointee.pairs) = arena.messages(value.pairs, arena.collaboration)
        (message.pointee.n_handoffs, message.pointee.handoffs) = arena.messages(value.handoffs, arena.handoff)
        message.pointee.coordination_score = value.coordinationScore
        message.pointee.multi_agent_tasks = value.multiAgentTasks
        return packMessage(message)
    }

    static func insights(_ values: [Insight]) -> [UInt8] {
        let arena = ProtoArena()
        let message = arena.message(learning__v1__get_insights_response__init)
        (message.pointee.n_insights, message.pointee.insights) = arena.messages(values, arena.insight)
        return packMessage(message)
    }

    static func patterns(_ value: PatternsReport) -> [UInt8] {
        let arena = ProtoArena()
        let message = arena.message(learning__v1__get_patterns_response__init)
        (message.pointee.n_collaboration, message.pointee.collaboration) = arena.messages(value.collaboration, arena.collaboration)
        (message.pointee.n_performance, message.pointee.performance) = arena.messages(value.performance) { pattern in
            let item = arena.message(learning__v1__schedule_pattern__init)
            item.pointee.task_type = arena.string(pattern.taskType)
            item.pointee.best_hour = Int32(clamping: pattern.bestHour)
            item.pointee.worst_hour = Int32(clamping: pattern.worstHour)
            item.pointee.best_hour_median_time = pattern.bestHourMedianTime
            item.pointee.worst_hour_failure_rate = pattern.worstHourFailureRate
            return item
        }
        (message.pointee.n_resources, message.pointee.resources) = arena.messages(value.resources) { profile in
            let item = arena.message(learning__v1__resource_profile__init)
            item.pointee.cluster = Int32(clamping: profile.cluster)
            item.pointee.n_agents = profile.agents.count
            item.pointee.agents = arena.strings(profile.agents)
            item.pointee.avg_cpu = profile.avgCPU
            item.pointee.avg_memory_mb = profile.avgMemoryMB
            item.pointee.avg_tokens = profile.avgTokens
            item.pointee.label = arena.string(profile.label)
            return item
        }
        (message.pointee.n_failures, message.pointee.failures) = arena.messages(value.failures) { failure in
            let item = arena.message(learning__v1__failure_pattern__init)
            item.pointee.signature = arena.string(failure.signature)
            item.pointee.count = failure.count
            item.pointee.n_agents = failure.agents.count
            item.pointee.agents = arena.strings(failure.agents)
            item.pointee.n_task_types = failure.taskTypes.count
            item.pointee.task_types = arena.strings(failure.taskTypes)
            item.pointee.example = arena.string(failure.example)
            item.pointee.last_seen = arena.optionalTimestamp(failure.lastSeen)
            return item
        }
        (message.pointee.n_handoffs, message.pointee.handoffs) = arena.messages(value.handoffs, arena.handoff)
        return packMessage(message)
    }

    static func prediction(_ value: PerformancePrediction) -> [UInt8] {
        let arena = ProtoArena()
        let message = arena.message(learning__v1__performance_prediction__init)
        message.pointee.agent_name = arena.string(value.agentName)
        message.pointee.task_type = arena.string(value.taskType)
        message.pointee.execution_time = value.executionTime
        message.pointee.median_execution_time = value.medianExecutionTime
        message.pointee.success_rate = value.successRate
        message.pointee.confidence = value.confidence
        message.pointee.interval_low = value.intervalLow
        message.pointee.interval_high = value.intervalHigh
        let resources = arena.message(learning__v1__recommended_resources__init)
        resources.pointee.cpu = value.resources.cpu
        resources.pointee.memory_mb = value.resources.memoryMB
        resources.pointee.tokens = value.resources.tokens
        message.pointee.resources = resources
        message.pointee.low_confidence = value.lowConfidence ? 1 : 0
        message.pointee.based_on_executions = value.basedOnExecutions
        message.pointee.basis = arena.string(value.basis)
        return packMessage(message)
    }

    static func recommendations(_ value: RecommendationsReport) -> [UInt8] {
        let arena = ProtoArena()
        let message = arena.message(learning__v1__get_recommendations_response__init)
        message.pointee.task_type = arena.string(value.taskType)
        (message.pointee.n_recommendations, message.pointee.recommendations) = arena.messages(value.recommendations) { recommendation in
            let item = arena.message(learning__v1__recommendation__init)
            item.pointee.agent_name = arena.string(recommendation.agentName)
            item.pointee.expected_success_rate = recommendation.expectedSuccessRate
            item.pointee.predicted_execution_time = recommendation.predictedExecutionTime
            item.pointee.confidence = recommendation.confidence
            item.pointee.score = recommendation.score
            item.pointee.reason = arena.string(recommendation.reason)
            item.pointee.rank = Int32(clamping: recommendation.rank)
            return item
        }
        return packMessage(message)
    }

    static func metrics(_ value: ServiceMetrics) -> [UInt8] {
        let arena = ProtoArena()
        let message = arena.message(learning__v1__get_metrics_response__init)
        message.pointee.queries_per_sec = value.queriesPerSec
        message.pointee.prediction_accuracy = value.predictionAccuracy
        message.pointee.training_time = value.trainingTime
        message.pointee.agent_response_time = value.agentResponseTime
        message.pointee.memory_usage_mb = value.memoryUsageMB
        message.pointee.cpu_usage_percent = value.cpuUsagePercent
        (message.pointee.n_methods, message.pointee.methods) = arena.messages(value.methods) { method in
            let item = arena.message(learning__v1__method_metrics__init)
            item.pointee.method = arena.string(method.method)
            item.pointee.requests = method.requests
            item.pointee.errors = method.errors
            item.pointee.avg_latency_ms = method.avgLatencyMs
            item.pointee.p99_latency_ms = method.p99LatencyMs
            return item
        }
        message.pointee.executions_ingested = value.executionsIngested
        return packMessage(message)
    }

    static func similar(_ value: SimilarAgentsReport) -> [UInt8] {
        let arena = ProtoArena()
        let message = arena.message(learning__v1__find_similar_agents_response__init)
        message.pointee.agent_name = arena.string(value.agentName)
        (message.pointee.n_similar, message.pointee.similar) = arena.messages(value.similar) { similar in
            let item = arena.message(learning__v1__similar_agent__init)
            item.pointee.agent_name = arena.string(similar.agentName)
            item.pointee.similarity = similar.similarity
            return item
        }
        return packMessage(message)
    }

    static func anomalies(_ values: [Anomaly]) -> [UInt8] {
        let arena = ProtoArena()
        let message = arena.message(learning__v1__get_anomalies_response__init)
        (message.pointee.n_anomalies, message.pointee.anomalies) = arena.messages(values, arena.anomaly)
        return packMessage(message)
    }

    static func insightEvent(_ event: InsightEvent) -> [UInt8] {
        let arena = ProtoArena()
        let message = arena.message(learning__v1__insight_event__init)
        switch event {
        case .insight(let insight):
            message.pointee.event_case = LEARNING__V1__INSIGHT_EVENT__EVENT_INSIGHT
            message.pointee.insight = arena.insight(insight)
        case .anomaly(let anomaly):
            message.pointee.event_case = LEARNING__V1__INSIGHT_EVENT__EVENT_ANOMALY
            message.pointee.anomaly = arena.anomaly(anomaly)
        }
        return packMessage(message)
    }

    static func errorSignatures(_ signatures: [String]) -> [UInt8] {
        let arena = ProtoArena()
        let message = arena.message(learning__v1__get_error_signatures_response__init)
        message.pointee.n_signatures = signatures.count
        message.pointee.signatures = arena.strings(signatures)
        return packMessage(message)
    }

    static func retrained(_ value: RetrainResult) -> [UInt8] {
        let arena = ProtoArena()
        let message = arena.message(learning__v1__retrain_response__init)
        (message.pointee.n_ml_models, message.pointee.ml_models) = arena.messages(value.mlModels, arena.modelStatus)
        message.pointee.training_time = value.trainingTime
        message.pointee.trained_on_executions = value.trainedOnExecutions
        return packMessage(message)
    }
}

// MARK: - Request decoders

/// A request that protobuf-c could not decode or that carries an impossible value.
struct UndecodableRequest: Error {
    var detail: String
}

enum ProtoDecode {
    /// Decodes bytes with a generated `__unpack`, or throws INVALID_ARGUMENT-worthy `UndecodableRequest`.
    /// `field` names the message in errors (`message[3]` of a stream), when it is not the request.
    static func unpack<Message>(_ bytes: [UInt8], _ unpack: ProtobufCUnpackFunction<Message>, _ name: String,
                                field: @autoclosure () -> String = "") throws -> UnpackedMessage<Message> {
        // Strings and counts checked on the wire first: protobuf-c would cut a string at a NUL
        // byte, and allocate every element of a huge repeated field before anyone counted them.
        do {
            try ProtoServiceSchema.learningSystem.checkWire(bytes, message: name)
        } catch {
            let prefix = field()
            let path = prefix.isEmpty ? error.path : error.path.isEmpty ? prefix : "\(prefix).\(error.path)"
            throw UndecodableRequest(detail: path.isEmpty ? "the request is not a valid \(name) message: \(error.reason)"
                                                          : "\(path) \(error.reason)")
        }
        guard let message = unpackMessage(bytes, unpack) else {
            throw UndecodableRequest(detail: "the request is not a valid \(name) message")
        }
        return message
    }

    /// `field` names the field in the error only, so it is built only on failure.
    static func date(_ pointer: UnsafeMutablePointer<Google__Protobuf__Timestamp>?, field: @autoclosure () -> String) throws -> Date? {
        guard let pointer else { return nil }
        let seconds = pointer.pointee.seconds
        let nanos = pointer.pointee.nanos
        guard nanos >= 0, nanos < 1_000_000_000, seconds >= -62_135_596_800, seconds <= 253_402_300_799 else {
            throw UndecodableRequest(detail: "\(field()) is not a valid timestamp")
        }
        return Date(timeIntervalSince1970: Double(seconds) + Double(nanos) / 1e9)
    }

    static func resourceUsage(_ pointer: UnsafeMutablePointer<Learning__V1__ResourceUsage>?) -> ResourceUsage {
        guard let pointer else { return ResourceUsage() }
        let message = pointer.pointee
        var usage = ResourceUsage()
        if message.has_cpu_case == LEARNING__V1__RESOURCE_USAGE__HAS_CPU_CPU { usage.cpu = message.cpu }
        if message.has_memory_mb_case == LEARNING__V1__RESOURCE_USAGE__HAS_MEMORY_MB_MEMORY_MB { usage.memoryMB = message.memory_mb }
        if message.has_tokens_case == LEARNING__V1__RESOURCE_USAGE__HAS_TOKENS_TOKENS { usage.tokens = message.tokens }
        for entry in repeatedField(message.n_other, message.other, { $0 }) {
            guard let entry else { continue }
            usage.other[stringField(entry.pointee.key)] = entry.pointee.value
        }
        return usage
    }

    static func execution(_ message: Learning__V1__Execution, field: @autoclosure () -> String) throws -> ExecutionInput {
        let taskID = stringField(message.task_id)
        let taskType = stringField(message.task_type)
        let errorMessage = stringField(message.error_message)
        let eventID = stringField(message.event_id)
        return ExecutionInput(
            agentName: stringField(message.agent_name),
            taskID: taskID.isEmpty ? nil : taskID,
            taskType: taskType.isEmpty ? nil : taskType,
            executionTime: message.has_execution_time_case == LEARNING__V1__EXECUTION__HAS_EXECUTION_TIME_EXECUTION_TIME ? message.execution_time : nil,
            success: message.success != 0,
            errorMessage: errorMessage.isEmpty ? nil : errorMessage,
            resourceUsage: resourceUsage(message.resource_usage),
            timestamp: try date(message.timestamp, field: "\(field()).timestamp"),
            eventID: eventID.isEmpty ? nil : eventID)
    }

    static func executionBytes(_ bytes: [UInt8], field: @autoclosure () -> String) throws -> ExecutionInput {
        let message = try unpack(bytes, learning__v1__execution__unpack, "learning.v1.Execution", field: field())
        return try execution(message.message, field: field())
    }

    static func registration(_ bytes: [UInt8]) throws -> RegisterAgentRequest {
        let decoded = try unpack(bytes, learning__v1__register_agent_request__unpack, "learning.v1.RegisterAgentRequest")
        let message = decoded.message
        var metadata: [String: String] = [:]
        for entry in repeatedField(message.n_metadata, message.metadata, { $0 }) {
            guard let entry else { continue }
            metadata[stringField(entry.pointee.key)] = stringField(entry.pointee.value)
        }
        return RegisterAgentRequest(name: stringField(message.name), description: stringField(message.description),
                                    tools: repeatedStrings(message.n_tools, message.tools), model: stringField(message.model),
                                    metadata: metadata)
    }

    static func metricsRequest(_ bytes: [UInt8]) throws -> SubmitMetricsRequest {
        let decoded = try unpack(bytes, learning__v1__submit_metrics_request__unpack, "learning.v1.SubmitMetricsRequest")
        let message = decoded.message
        var sample = MetricsSampleInput()
        if let metrics = message.metrics {
            let m = metrics.pointee
            if m.has_response_time_case == LEARNING__V1__METRICS_SAMPLE__HAS_RESPONSE_TIME_RESPONSE_TIME { sample.responseTime = m.response_time }
            if m.has_throughput_case == LEARNING__V1__METRICS_SAMPLE__HAS_THROUGHPUT_THROUGHPUT { sample.throughput = m.throughput }
            if m.has_success_rate_case == LEARNING__V1__METRICS_SAMPLE__HAS_SUCCESS_RATE_SUCCESS_RATE { sample.successRate = m.success_rate }
            if m.has_coordination_effectiveness_case == LEARNING__V1__METRICS_SAMPLE__HAS_COORDINATION_EFFECTIVENESS_COORDINATION_EFFECTIVENESS {
                sample.coordinationEffectiveness = m.coordination_effectiveness
            }
            sample.resourceUsage = resourceUsage(m.resource_usage)
        }
        return SubmitMetricsRequest(agentName: stringField(message.agent_name), taskType: stringField(message.task_type), metrics: sample)
    }

    static func prediction(_ bytes: [UInt8]) throws -> PredictionRequest {
        let decoded = try unpack(bytes, learning__v1__predict_performance_request__unpack, "learning.v1.PredictPerformanceRequest")
        let message = decoded.message
        return PredictionRequest(
            agentName: stringField(message.agent_name), taskType: stringField(message.task_type),
            at: try date(message.at, field: "at"),
            hour: message.has_hour_case == LEARNING__V1__PREDICT_PERFORMANCE_REQUEST__HAS_HOUR_HOUR ? Int(message.hour) : nil,
            collaborators: repeatedStrings(message.n_collaborators, message.collaborators))
    }

    static func recommendations(_ bytes: [UInt8]) throws -> RecommendationsRequest {
        let decoded = try unpack(bytes, learning__v1__get_recommendations_request__unpack, "learning.v1.GetRecommendationsRequest")
        let message = decoded.message
        return RecommendationsRequest(taskType: stringField(message.task_type), limit: Int(message.limit),
                                      speedWeight: message.speed_weight, at: try date(message.at, field: "at"))
    }

    static func similar(_ bytes: [UInt8]) throws -> SimilarAgentsRequest {
        let decoded = try unpack(bytes, learning__v1__find_similar_agents_request__unpack, "learning.v1.FindSimilarAgentsRequest")
        let message = decoded.message
        return SimilarAgentsRequest(
            agentName: stringField(message.agent_name), limit: Int(message.limit),
            threshold: message.has_threshold_case == LEARNING__V1__FIND_SIMILAR_AGENTS_REQUEST__HAS_THRESHOLD_THRESHOLD ? message.threshold : nil)
    }

    static func anomalies(_ bytes: [UInt8]) throws -> AnomaliesQuery {
        let decoded = try unpack(bytes, learning__v1__get_anomalies_request__unpack, "learning.v1.GetAnomaliesRequest")
        let message = decoded.message
        return AnomaliesQuery(limit: Int(message.limit), agentName: stringField(message.agent_name),
                              since: try date(message.since, field: "since"))
    }

    static func watch(_ bytes: [UInt8]) throws -> WatchInsightsRequest {
        let decoded = try unpack(bytes, learning__v1__watch_insights_request__unpack, "learning.v1.WatchInsightsRequest")
        let message = decoded.message
        return WatchInsightsRequest(kinds: repeatedStrings(message.n_kinds, message.kinds), agentName: stringField(message.agent_name))
    }
}
