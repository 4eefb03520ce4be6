public import H2Transport
public import LearningCore
public import LearningService
import OTLPWire
import Synchronization

// The REST shim: route, authorize, decode into the service's request struct, call the same handler
// the RPC calls, encode. `/health`, `/status`, JSON `/metrics`, the docs and every error found
// before a handler runs are answered inline; everything touching the database runs off the loop.

/// Installs the REST routes: returns the function `Router.http` calls for every non-gRPC request.
///
/// ```swift
/// var router = Router()
/// router.http = makeRESTHandler(service: service)
/// ```
/// `prometheus` is the registry `/metrics` renders: give the transport its `factory` so the
/// request series appear in it.
public func makeRESTHandler(service: any LearningHandlers,
                            maxBodyBytes: Int = 8 << 20,
                            otlpTaskTypeAttributes: [String] = LearningConfig.OTLP().taskTypeAttributes,
                            prometheus: PrometheusExposition = PrometheusExposition())
    -> @Sendable (HTTPRequest) -> HTTPRequestHandler {
    let shim = RESTShim(service: service, maxBodyBytes: maxBodyBytes, otlpTaskTypeAttributes: otlpTaskTypeAttributes,
                        prometheus: prometheus)
    return { request in shim.handler(for: request) }
}

/// The REST shim's head check for `Router.httpHeadCheck`: a write without a valid API key (when
/// keys are configured) is answered 401 from its head, before its body is read.
public func makeRESTHeadCheck(service: any LearningHandlers) -> @Sendable (HTTPRequest) -> HTTPResponse? {
    let shim = RESTShim(service: service)
    return { request in shim.checkHead(request) }
}

/// The REST shim over a `LearningHandlers` implementation.
public struct RESTShim: Sendable {
    /// The service whose handlers every route calls.
    public let service: any LearningHandlers
    /// Bodies larger than this get 413 (the transport enforces its own limit before this one).
    public let maxBodyBytes: Int
    /// Span attributes that name an execution's task type in OTLP exports (`otlp.task_type_attributes`).
    public let otlpTaskTypeAttributes: [String]
    /// What `/metrics` renders in the Prometheus format.
    public let prometheus: PrometheusExposition
    private let router = RESTRouter()
    /// `GET /health`, built once: the hot path skips routing and allocates nothing per request
    /// beyond what the service's report needs.
    private let healthHandler: HTTPRequestHandler

    /// The static documents, built once.
    private static let openAPIBody = APIDocumentation.openAPIDocument().encoded()
    private static let docsBody = Array(APIDocumentation.htmlPage().utf8)

    /// A shim over `service`.
    public init(service: any LearningHandlers, maxBodyBytes: Int = 8 << 20,
                otlpTaskTypeAttributes: [String] = LearningConfig.OTLP().taskTypeAttributes,
                prometheus: PrometheusExposition = PrometheusExposition()) {
        self.service = service
        self.prometheus = prometheus
        self.maxBodyBytes = maxBodyBytes
        self.otlpTaskTypeAttributes = otlpTaskTypeAttributes
        let cache = HealthEncodingCache { RESTEncoding.health($0).encoded() }
        healthHandler = .inline { _ in
            let report = service.health()
            return HTTPResponse(status: RESTShim.healthStatus(report), headers: RESTShim.jsonHeaders,
                                body: cache.bytes(for: report), route: "GET /health")
        }
    }

    /// The HTTP status of `/health`: 503 while the service is unhealthy (database down, draining),
    /// so that probes reading the status code (the image's HEALTHCHECK, load balancers) see it;
    /// 200 otherwise (healthy, degraded, starting: requests are served). The body is the same.
    static func healthStatus(_ report: HealthReport) -> Int {
        report.status == "unhealthy" ? 503 : 200
    }

    /// The operation a route performs when it needs an API key (writes and admin), else nil.
    static func keyedOperation(_ route: RouteID) -> ServiceOperation? {
        let operation: ServiceOperation
        switch route {
        case .registerAgent: operation = .registerAgent
        case .heartbeat: operation = .heartbeat
        case .submitMetrics: operation = .submitMetrics
        case .logExecution: operation = .logExecution
        case .logExecutions, .otlpTraces: operation = .logExecutions
        case .retrain: operation = .retrain
        default: return nil
        }
        return operation.requiresKey ? operation : nil
    }

    /// Checks a request from its head alone (`Router.httpHeadCheck`): the 401 answer of a write
    /// without a valid key, else nil (unknown routes and reads are left to the handler).
    public func checkHead(_ request: HTTPRequest) -> HTTPResponse? {
        guard let match = try? router.match(method: request.method, path: request.path),
              let operation = Self.keyedOperation(match.route) else { return nil }
        do {
            try service.authorize(operation, bearerToken: request.headers.first("authorization"))
            return nil
        } catch {
            var response = RESTError(ServiceError.wrap(error)).response
            response.route = Self.routeLabels[match.route]
            return response
        }
    }

    /// Each route's request-metrics label: its method and path template (`GET /agents/{name}/status`).
    static let routeLabels: [RouteID: String] = Dictionary(
        uniqueKeysWithValues: EndpointCatalogue.all.map { ($0.id, "\($0.method) \($0.path)") })

    /// `content-type: application/json`, shared by every JSON response.
    static let jsonHeaders = [Metadata("content-type", "application/json")]

    /// Chooses how to serve `request`: inline when it needs no I/O, async otherwise.
    public func handler(for request: HTTPRequest) -> HTTPRequestHandler {
        if request.path == "/health", request.method == "GET" || request.method == "HEAD" { return healthHandler }
        let match: RouteMatch
        do {
            match = try router.match(method: request.method, path: request.path)
        } catch {
            return .inline { _ in error.response }
        }
        // The response carries the route's template, the label of its request metrics.
        let route = Self.routeLabels[match.route] ?? unmatchedRouteLabel
        switch handler(for: request, match: match) {
        case .inline(let answer):
            return .inline { request in
                var response = answer(request)
                response.route = route
                return response
            }
        case .async(let answer):
            return .async { request in
                var response = await answer(request)
                response.route = route
                return response
            }
        }
    }

    /// How to serve a matched route.
    private func handler(for request: HTTPRequest, match: RouteMatch) -> HTTPRequestHandler {
        if request.body.count > maxBodyBytes {
            let limit = maxBodyBytes
            return .inline { _ in RESTError.payloadTooLarge("the body has \(request.body.count) bytes; at most \(limit) are accepted").response }
        }
        switch match.route {
        case .health:
            return healthHandler
        case .status:
            let service = service
            return .inline { _ in RESTShim.json(RESTEncoding.status(service.status())) }
        case .docs:
            return .inline { _ in
                HTTPResponse(status: 200, headers: [Metadata("content-type", "text/html; charset=utf-8"),
                                                    Metadata("cache-control", "no-cache")], body: RESTShim.docsBody)
            }
        case .openAPI:
            return .inline { _ in
                HTTPResponse(status: 200, headers: [Metadata("content-type", "application/json")], body: RESTShim.openAPIBody)
            }
        case .metrics:
            switch Self.metricsFormat(request) {
            case .failure(let error): return .inline { _ in error.response }
            case .success(false):
                let service = service
                return .inline { _ in
                    do {
                        return RESTShim.json(try JSONValueEncoder.encode(service.metrics())
                            .ordered(like: EndpointCatalogue.metricsExample))
                    } catch {
                        return RESTError.internal().response
                    }
                }
            case .success(true):
                break
            }
        default:
            break
        }
        let shim = self
        return .async { request in await shim.respond(to: request, match: match) }
    }

    /// Whether `/metrics` should answer in the Prometheus format (`?format=prometheus` or an
    /// `Accept` header that asks for text and not JSON).
    static func metricsFormat(_ request: HTTPRequest) -> Result<Bool, RESTError> {
        do {
            let query = try QueryParameters(request.query)
            if let format = query["format"] {
                switch format.lowercased() {
                case "prometheus", "text": return .success(true)
                case "json", "": return .success(false)
                default:
                    return .failure(RESTError.invalid("format must be json or prometheus, got \"\(format.prefix(40))\""))
                }
            }
        } catch {
            return .failure(error)
        }
        let accept = request.headers.first("accept")?.lowercased() ?? ""
        let wantsText = accept.contains("text/plain") || accept.contains("application/openmetrics-text")
        return .success(wantsText && !accept.contains("application/json"))
    }

    /// A 200 JSON response.
    static func json(_ value: JSONValue, status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, headers: jsonHeaders, body: value.encoded())
    }

    /// Serves a matched route off the loop; every error becomes its JSON error response.
    public func respond(to request: HTTPRequest, match: RouteMatch) async -> HTTPResponse {
        do {
            return try await dispatch(request, match, example: EndpointCatalogue.endpoint(match.route).responseExample)
        } catch let error as RESTError {
            return error.response
        } catch {
            return RESTError(ServiceError.wrap(error)).response
        }
    }

    private func authorize(_ operation: ServiceOperation, _ request: HTTPRequest) throws {
        guard operation.requiresKey else { return }
        try service.authorize(operation, bearerToken: request.headers.first("authorization"))
    }

    private func name(_ match: RouteMatch) -> String { match.parameters["name"] ?? "" }

    private func dispatch(_ request: HTTPRequest, _ match: RouteMatch, example: JSONValue?) async throws -> HTTPResponse {
        let query = try QueryParameters(request.query)
        /// A JSON response with its keys in the documented order.
        func json(_ value: JSONValue, status: Int = 200) -> HTTPResponse {
            Self.json(example.map { value.ordered(like: $0) } ?? value, status: status)
        }
        switch match.route {
        case .health:
            let report = service.health()
            return json(RESTEncoding.health(report), status: Self.healthStatus(report))
        case .status:
            return json(RESTEncoding.status(service.status()))
        case .metrics, .metricsPrometheus:
            if match.route == .metrics, case .success(false) = Self.metricsFormat(request) {
                return json(try JSONValueEncoder.encode(service.metrics()))
            }
            let metrics = service.metrics()
            let analytics = try await service.performanceAnalytics(windowHours: 0)
            return HTTPResponse(status: 200, headers: [Metadata("content-type", PrometheusExposition.contentType)],
                                body: prometheus.render(metrics: metrics, agents: analytics.agents,
                                                       executionTimes: service.executionTimeHistograms(),
                                                       agentsRegistered: service.health().agentsRegistered))
        case .docs:
            return HTTPResponse(status: 200, headers: [Metadata("content-type", "text/html; charset=utf-8")], body: Self.docsBody)
        case .openAPI:
            return HTTPResponse(status: 200, headers: [Metadata("content-type", "application/json")], body: Self.openAPIBody)

        case .listAgents:
            return json(try JSONValueEncoder.encode(try await service.listAgents(status: query["status"] ?? "")))
        case .agentStatus:
            return json(try JSONValueEncoder.encode(try await service.agentStatus(name: name(match))))
        case .agentPerformance:
            return json(try JSONValueEncoder.encode(try await service.agentPerformance(name: name(match))))
        case .registerAgent:
            try authorize(.registerAgent, request)
            let body = try requireJSONBody(request)
            let result = try await service.registerAgent(try RESTDecoding.registration(body))
            return json(try JSONValueEncoder.encode(result), status: result.created ? 201 : 200)
        case .heartbeat:
            try authorize(.heartbeat, request)
            let body = try parseJSONBody(request, allowEmpty: true)
            let agent = try await service.heartbeat(try RESTDecoding.heartbeat(name: name(match), body: body))
            return json(.object([("agent", try JSONValueEncoder.encode(agent))]))
        case .submitMetrics:
            try authorize(.submitMetrics, request)
            let body = try requireJSONBody(request)
            let result = try await service.submitMetrics(try RESTDecoding.metrics(name: name(match), body: body))
            return json(try JSONValueEncoder.encode(result), status: 201)
        case .similarAgents:
            let result = try await service.similarAgents(try RESTDecoding.similarAgents(name: name(match), query))
            return json(try JSONValueEncoder.encode(result))

        case .logExecution:
            try authorize(.logExecution, request)
            let body = try requireJSONBody(request)
            let result = try await service.logExecution(try ExecutionInput(json: body))
            return json(try JSONValueEncoder.encode(result), status: result.duplicate ? 200 : 201)
        case .logExecutions:
            try authorize(.logExecutions, request)
            let result = try await service.logExecutions(try RESTDecoding.executionBatch(request))
            return json(RESTEncoding.batch(result))
        case .otlpTraces:
            try authorize(.logExecutions, request)
            return try await otlpTraces(request)

        case .performanceAnalytics:
            let hours = try query.int32("window_hours") ?? 0
            return json(try JSONValueEncoder.encode(try await service.performanceAnalytics(windowHours: hours)))
        case .coordination:
            let limit = try query.int32("limit") ?? 0
            return json(try JSONValueEncoder.encode(try await service.coordinationPatterns(limit: limit)))
        case .insights:
            return json(try RESTEncoding.insights(try await service.insights(try RESTDecoding.insights(query))))
        case .anomalies:
            return json(try RESTEncoding.anomalies(try await service.anomalies(try RESTDecoding.anomalies(query))))

        case .patterns:
            return json(try RESTEncoding.patterns(try await service.patterns(kinds: try RESTDecoding.patternKinds(query))))
        case .testPatterns:
            return json(try RESTEncoding.patterns(try await service.patterns(kinds: [])))
        case .predict:
            let body = try requireJSONBody(request)
            return json(try JSONValueEncoder.encode(try await service.predict(try RESTDecoding.prediction(body))))
        case .testPrediction:
            let body = try requireJSONBody(request)
            return json(try JSONValueEncoder.encode(try await service.predict(try RESTDecoding.testPrediction(body))))
        case .recommendations:
            let result = try await service.recommendations(try RESTDecoding.recommendations(query))
            return json(try JSONValueEncoder.encode(result))
        case .retrain:
            try authorize(.retrain, request)
            let body = try parseJSONBody(request, allowEmpty: true)
            return json(RESTEncoding.retrain(try await service.retrain(asOf: try RESTDecoding.retrainAsOf(body))))
        }
    }
}

extension RESTShim {
    /// `POST /v1/traces`: an OTLP/HTTP export in protobuf (`application/x-protobuf`) or JSON
    /// (`application/json`), optionally `Content-Encoding: gzip`; answered in the request's
    /// encoding, as OTLP/HTTP expects. Back-pressure answers 429 with `Retry-After`.
    func otlpTraces(_ request: HTTPRequest) async throws -> HTTPResponse {
        let contentType = request.headers.first("content-type") ?? ""
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        var body = request.body
        if let encoding = request.headers.first("content-encoding")?.trimmingCharacters(in: .whitespaces).lowercased(),
           !encoding.isEmpty, encoding != "identity" {
            guard encoding == "gzip" else {
                throw RESTError.unsupportedMediaType("Content-Encoding \(encoding.prefix(40)) is not supported; send gzip or none")
            }
            do {
                body = try GzipInflate.inflate(body, limit: maxBodyBytes)
            } catch .tooLarge(let limit) {
                throw RESTError.payloadTooLarge("the inflated body is larger than \(limit) bytes")
            } catch {
                throw RESTError.badRequest("the body is not valid gzip")
            }
        }
        let spans: [OTLPSpan]
        let answerInJSON: Bool
        switch mediaType {
        case "application/x-protobuf", "application/protobuf":
            do {
                spans = try OTLPProtobuf.decodeRequest(body)
            } catch {
                throw RESTError.badRequest(error.detail)
            }
            answerInJSON = false
        case "application/json":
            let value: JSONValue
            do {
                value = try JSONValue.parse(body)
            } catch {
                throw RESTError.badRequest("the body is not valid JSON: \(error)")
            }
            spans = try OTLPJSON.spans(value)
            answerInJSON = true
        default:
            throw RESTError.unsupportedMediaType(
                "Content-Type \(contentType.prefix(60)) is not supported; send application/x-protobuf or application/json")
        }
        let result = try await service.exportSpans(spans, taskTypeAttributes: otlpTaskTypeAttributes)
        if answerInJSON { return Self.json(OTLPJSON.response(result)) }
        return HTTPResponse(status: 200, headers: [Metadata("content-type", "application/x-protobuf")],
                            body: OTLPProtobuf.encodeResponse(result))
    }
}
