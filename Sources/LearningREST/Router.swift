// Matching a method and path to one of the catalogue's endpoints. Knows nothing of the service.

/// The REST operations, one per endpoint of `EndpointCatalogue`.
public enum RouteID: String, Sendable, CaseIterable {
    case health, status
    case listAgents, agentStatus, agentPerformance, registerAgent, heartbeat, submitMetrics, similarAgents
    case logExecution, logExecutions, otlpTraces
    case performanceAnalytics, coordination, insights, anomalies
    case metrics, metricsPrometheus
    case testPatterns, testPrediction, patterns, predict, recommendations, retrain
    case docs, openAPI
}

/// A matched route: the operation and its decoded path parameters.
public struct RouteMatch: Sendable, Equatable {
    /// The operation.
    public var route: RouteID
    /// Path parameters by name, percent-decoded, e.g. `["name": "director"]`.
    public var parameters: [String: String]
}

/// Matches requests against the endpoint catalogue: 404 for an unknown path, 405 (with the allowed
/// methods) for a known path with the wrong method, 400 for a malformed path encoding.
public struct RESTRouter: Sendable {
    private struct Pattern: Sendable {
        var method: String
        /// Literal segments, or `nil` for a `{parameter}`.
        var segments: [String?]
        var parameterNames: [String]
        var route: RouteID
    }

    private let patterns: [Pattern]

    /// A router over `endpoints` (normally `EndpointCatalogue.all`).
    public init(endpoints: [Endpoint] = EndpointCatalogue.all) {
        patterns = endpoints.map { endpoint in
            var names: [String] = []
            let segments: [String?] = endpoint.path.split(separator: "/").map { segment in
                if segment.hasPrefix("{"), segment.hasSuffix("}") {
                    names.append(String(segment.dropFirst().dropLast()))
                    return nil
                }
                return String(segment)
            }
            return Pattern(method: endpoint.method, segments: segments, parameterNames: names, route: endpoint.id)
        }
    }

    /// The route for `method` and `path` (the path without its query).
    public func match(method: String, path: String) throws(RESTError) -> RouteMatch {
        guard path.hasPrefix("/"), path.utf8.count <= 2_048 else {
            throw RESTError.badRequest("the request path must start with / and be at most 2048 bytes")
        }
        let rawSegments = path.split(separator: "/", omittingEmptySubsequences: true)
        var allowed: [String] = []
        for pattern in patterns where pattern.segments.count == rawSegments.count {
            var parameters: [String: String] = [:]
            var parameterIndex = 0
            var matches = true
            for (literal, raw) in zip(pattern.segments, rawSegments) {
                if let literal {
                    if literal != raw { matches = false; break }
                } else {
                    guard let decoded = percentDecode(raw, plusIsSpace: false) else {
                        throw RESTError.badRequest("malformed percent-encoding in the path segment \"\(raw.prefix(40))\"")
                    }
                    parameters[pattern.parameterNames[parameterIndex]] = decoded
                    parameterIndex += 1
                }
            }
            guard matches else { continue }
            // HEAD is GET without the body (RFC 9110 9.3.2): load balancers and uptime checkers
            // send it; the transport leaves the body out.
            if pattern.method == method || (method == "HEAD" && pattern.method == "GET") {
                return RouteMatch(route: pattern.route, parameters: parameters)
            }
            if !allowed.contains(pattern.method) { allowed.append(pattern.method) }
            if pattern.method == "GET", !allowed.contains("HEAD") { allowed.append("HEAD") }
        }
        if !allowed.isEmpty {
            throw RESTError.methodNotAllowed(method, path: path, allow: allowed)
        }
        throw RESTError.notFound("no endpoint \(path.prefix(200)); see /api/docs for the list")
    }
}
