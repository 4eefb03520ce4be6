public import Foundation
public import LearningAPI
import H2Transport
import LearningCore

// JSON bodies and query strings into the service's own request structs (the ones the RPCs use).
// Only types and syntax are checked here; the handlers validate values (names, ranges, UUIDs).
// A body with a wrong type is `ServiceError.invalidArgument` (422, from LearningAPI's
// `JSONObjectReader`); a malformed query parameter is a `RESTError` (400). One execution's body is
// decoded by LearningAPI (`ExecutionInput(json:)`), which the CLI's JSONL import shares.

/// Decoders from REST input to the service's request types.
public enum RESTDecoding {
    /// `{"executions": [...]}`.
    ///
    /// Give it the body's only reference (`consume`): each element's JSON is then freed as soon as
    /// it is converted, so the decode never holds the whole JSON tree beside every decoded input
    /// (bench/decode-cost.sh).
    public static func executionBatch(_ value: consuming JSONValue) throws(ServiceError) -> [ExecutionInput] {
        var members: [(String, JSONValue)]
        switch consume value {
        case .object(let object): members = object
        case let other: throw ServiceError.invalidArgument("body must be a JSON object, not \(other.typeName)")
        }
        // The array moves out of the members, so that it is the only reference to its elements.
        guard let position = members.firstIndex(where: { $0.0 == "executions" }) else {
            throw ServiceError.invalidArgument("executions is required")
        }
        var list = JSONValue.null
        swap(&list, &members[position].1)
        var elements: [JSONValue]
        switch consume list {
        case .array(let array): elements = array
        case .null: throw ServiceError.invalidArgument("executions is required")
        case let other: throw ServiceError.invalidArgument("executions must be an array, not \(other.typeName)")
        }
        guard !elements.isEmpty else { throw ServiceError.invalidArgument("executions is empty") }
        guard elements.count <= Validation.maxBatchSize else {
            throw ServiceError.invalidArgument("executions has \(elements.count) records; at most \(Validation.maxBatchSize) per batch")
        }
        var inputs: [ExecutionInput] = []
        inputs.reserveCapacity(elements.count)
        for index in elements.indices {
            let element = elements[index]
            elements[index] = .null
            inputs.append(try ExecutionInput(json: element, path: "executions[\(index)]"))
        }
        return inputs
    }

    /// The shortest JSON execution that decodes, `{"agent_name":"a","success":true}`: no batch
    /// body holds more executions than its size divided by this.
    static let shortestExecutionJSON = 33

    /// `POST /executions/batch` from the request itself. The body is parsed whole first (so that
    /// a syntax error anywhere is a 400, and 415 and 400 come before any element is looked at)
    /// with the executions array streamed out of the parser
    /// (`JSONValue.parse(_:streaming:element:)`): each element is dropped once parsed, and only
    /// where its text lies is kept (8 bytes). The service then parses and converts each element as
    /// it reads the batch, so the first invalid element's 422 comes from there, and the decode
    /// never holds the JSON tree of the batch or a decoded copy of every execution
    /// (bench/decode-cost.sh). Anything but an object with an executions array is answered by
    /// `executionBatch(_:)`'s checks.
    static func executionBatch(_ request: HTTPRequest) throws -> ExecutionBatch {
        let body = request.body
        guard body.count < Int(UInt32.max) else { throw RESTError.badRequest("the body is too large") }
        var bounds: [UInt32] = []  // each element's start and end, in pairs
        var streamed: Int?
        let value = try parseJSONBody(request, allowEmpty: false) { (bytes) throws(JSONParseError) in
            let parsed = try JSONValue.parse(bytes, streaming: "executions") { _, index, range in
                guard index < Validation.maxBatchSize else {
                    bounds = []  // refused in any case: keep nothing
                    return
                }
                if index == 0 {
                    let hint = JSONValue.arrayCountHint("executions", in: bytes) ?? 0
                    bounds.reserveCapacity(2 * min(hint, Validation.maxBatchSize, bytes.count / shortestExecutionJSON + 1))
                }
                bounds.append(UInt32(range.lowerBound))
                bounds.append(UInt32(range.upperBound))
            }
            streamed = parsed.streamed
            return parsed.value
        }
        guard let value else { throw RESTError.badRequest("the request needs a JSON body") }
        // Not an object with an executions array: the tree decoder says what is wrong.
        guard let count = streamed else { return ExecutionBatch(try executionBatch(value)) }
        guard count > 0 else { throw ServiceError.invalidArgument("executions is empty") }
        guard count <= Validation.maxBatchSize else {
            throw ServiceError.invalidArgument("executions has \(count) records; at most \(Validation.maxBatchSize) per batch")
        }
        let elementBounds = bounds
        return ExecutionBatch(count: count) { index in
            let text = Array(body[Int(elementBounds[2 * index])..<Int(elementBounds[2 * index + 1])])
            // The text parsed once already, as part of the body: it parses again.
            let element: JSONValue
            do { element = try JSONValue.parse(text) } catch {
                throw ServiceError.invalidArgument("executions[\(index)] is not valid JSON: \(error)")
            }
            return try ExecutionInput(json: element, path: "executions[\(index)]")
        }
    }

    /// `POST /agents/register`: `name`, `description`, `tools`, `model`, `metadata`.
    public static func registration(_ value: JSONValue) throws(ServiceError) -> RegisterAgentRequest {
        let reader = try JSONObjectReader(value)
        return RegisterAgentRequest(
            name: try reader.requiredString("name", maxLength: 1_024),
            description: try reader.string("description", maxLength: 64 * 1024) ?? "",
            tools: try reader.strings("tools") ?? [],
            model: try reader.string("model", maxLength: 1_024) ?? "",
            metadata: try reader.stringMap("metadata", maxCount: 256, maxLength: 8_192) ?? [:])
    }

    /// `POST /agents/{name}/heartbeat` with an optional body `{"status": ...}`.
    public static func heartbeat(name: String, body: JSONValue?) throws(ServiceError) -> HeartbeatRequest {
        guard let body else { return HeartbeatRequest(agentName: name) }
        let reader = try JSONObjectReader(body)
        return HeartbeatRequest(agentName: name, status: try reader.string("status", maxLength: 64) ?? "")
    }

    /// `POST /agents/{name}/metrics`: the guide's metrics dict, optionally with `task_type`.
    public static func metrics(name: String, body: JSONValue) throws(ServiceError) -> SubmitMetricsRequest {
        let reader = try JSONObjectReader(body)
        let sample = MetricsSampleInput(
            responseTime: try reader.double("response_time"),
            throughput: try reader.double("throughput"),
            resourceUsage: try ResourceUsage(json: try reader.object("resource_usage")),
            successRate: try reader.double("success_rate"),
            coordinationEffectiveness: try reader.double("coordination_effectiveness"))
        return SubmitMetricsRequest(agentName: name, taskType: try reader.string("task_type", maxLength: 1_024) ?? "",
                                    metrics: sample)
    }

    /// `POST /predict`: `agent_name`, `task_type`, optional `at`, `hour`, `collaborators`.
    public static func prediction(_ value: JSONValue) throws(ServiceError) -> PredictionRequest {
        let reader = try JSONObjectReader(value)
        return PredictionRequest(
            agentName: try reader.requiredString("agent_name", maxLength: 1_024),
            taskType: try reader.requiredString("task_type", maxLength: 1_024),
            at: try reader.timestamp("at"),
            hour: try reader.int("hour"),
            collaborators: try reader.strings("collaborators", maxCount: 100, maxLength: 1_024) ?? [])
    }

    /// `POST /ml/retrain`: the optional `as_of` of a backtest (no body: now).
    public static func retrainAsOf(_ body: JSONValue?) throws(ServiceError) -> Date? {
        guard let body else { return nil }
        return try JSONObjectReader(body).timestamp("as_of")
    }

    /// The schema of `testPrediction`'s body (OpenAPI document).
    public static let testPredictionSchema: JSONValue = .object([
        ("type", .string("object")),
        ("required", .array([.string("agent"), .string("task")])),
        ("properties", .object([
            ("agent", .object([("type", .string("string")), ("pattern", .string(Validation.agentNamePattern))])),
            ("task", .object([("type", .string("string")), ("pattern", .string(Validation.taskTypePattern))])),
        ])),
    ])

    /// `POST /ml/test/prediction`: the guide's `{"agent": ..., "task": ...}`.
    public static func testPrediction(_ value: JSONValue) throws(ServiceError) -> PredictionRequest {
        let reader = try JSONObjectReader(value)
        return PredictionRequest(agentName: try reader.requiredString("agent", maxLength: 1_024),
                                 taskType: try reader.requiredString("task", maxLength: 1_024))
    }

    /// `GET /recommendations?task_type=&limit=&speed_weight=&at=`.
    public static func recommendations(_ query: QueryParameters) throws(RESTError) -> RecommendationsRequest {
        RecommendationsRequest(
            taskType: query["task_type"] ?? "",
            limit: try query.int32("limit") ?? 0,
            speedWeight: try query.double("speed_weight") ?? 0,
            at: try query.timestamp("at"))
    }

    /// `GET /agents/{name}/similar?limit=&threshold=`.
    public static func similarAgents(name: String, _ query: QueryParameters) throws(RESTError) -> SimilarAgentsRequest {
        SimilarAgentsRequest(
            agentName: name,
            limit: try query.int32("limit") ?? 0,
            threshold: try query.double("threshold"))
    }

    /// `GET /analytics/insights?limit=&kind=`.
    public static func insights(_ query: QueryParameters) throws(RESTError) -> InsightsQuery {
        InsightsQuery(limit: try query.int32("limit") ?? 0,
                      kind: query["kind"] ?? "")
    }

    /// `GET /analytics/anomalies?limit=&agent_name=&since=`.
    public static func anomalies(_ query: QueryParameters) throws(RESTError) -> AnomaliesQuery {
        AnomaliesQuery(limit: try query.int32("limit") ?? 0,
                       agentName: query["agent_name"] ?? "",
                       since: try query.timestamp("since"))
    }

    /// `GET /patterns?kinds=collaboration,failures`.
    public static func patternKinds(_ query: QueryParameters) throws(RESTError) -> [PatternKind] {
        var kinds: [PatternKind] = []
        for name in query.list("kinds") + query.list("kind") {
            guard let kind = PatternKind(rawValue: name) else {
                throw RESTError.invalid("unknown pattern kind \"\(name.prefix(40))\"; use collaboration, performance, resources or failures")
            }
            if !kinds.contains(kind) { kinds.append(kind) }
        }
        return kinds
    }
}
