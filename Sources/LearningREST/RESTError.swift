public import H2Transport
public import LearningAPI

/// A failed REST request: the HTTP status and the JSON body `{"error": ..., "detail": ...}`.
///
/// `error` is a short stable code (`not_found`, `invalid_argument`, ...) for programs; `detail`
/// says in words what was wrong and how to fix it.
public struct RESTError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The HTTP status code.
    public var status: Int
    /// The stable machine-readable code.
    public var error: String
    /// A human-readable explanation.
    public var detail: String
    /// Extra response headers, e.g. `allow` for 405 or `retry-after` for 429.
    public var headers: [Metadata]

    /// Creates an error response description.
    public init(status: Int, error: String, detail: String, headers: [Metadata] = []) {
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = headers
    }

    /// An error of the service's one table of codes (`HTTPErrorCode`): its status and code.
    public init(_ code: HTTPErrorCode, _ detail: String, headers: [Metadata] = []) {
        self.init(status: code.status, error: code.rawValue, detail: detail, headers: headers)
    }

    public var description: String { "\(status) \(error): \(detail)" }

    /// 400: the request is not well-formed (malformed JSON, query or path encoding).
    public static func badRequest(_ detail: String) -> RESTError {
        RESTError(.badRequest, detail)
    }

    /// 401: an API key is required and was missing or wrong.
    public static func unauthorized(_ detail: String) -> RESTError {
        RESTError(.unauthenticated, detail,
                  headers: [Metadata("www-authenticate", "Bearer realm=\"learning-system\"")])
    }

    /// 404: no such route or resource.
    public static func notFound(_ detail: String) -> RESTError {
        RESTError(.notFound, detail)
    }

    /// 405: the path exists but not with this method; `allow` lists the methods it has.
    public static func methodNotAllowed(_ method: String, path: String, allow: [String]) -> RESTError {
        RESTError(.methodNotAllowed,
                   "\(method) is not supported on \(path); use \(allow.joined(separator: " or "))",
                  headers: [Metadata("allow", allow.joined(separator: ", "))])
    }

    /// 413: the body is larger than the server accepts.
    public static func payloadTooLarge(_ detail: String) -> RESTError {
        RESTError(.payloadTooLarge, detail)
    }

    /// 415: a body was sent that is not `application/json`.
    public static func unsupportedMediaType(_ detail: String) -> RESTError {
        RESTError(.unsupportedMediaType, detail)
    }

    /// 422: well-formed JSON whose values are invalid (wrong type, out of range, bad name or UUID).
    public static func invalid(_ detail: String) -> RESTError {
        RESTError(.invalidArgument, detail)
    }

    /// 429: the server is overloaded; retry after `retryAfterSeconds`.
    public static func tooManyRequests(_ detail: String, retryAfterSeconds: Int = 1) -> RESTError {
        RESTError(.overloaded, detail,
                  headers: [Metadata("retry-after", String(max(1, retryAfterSeconds)))])
    }

    /// 503: a dependency (the database) is unavailable.
    public static func unavailable(_ detail: String, retryAfterSeconds: Int = 5) -> RESTError {
        RESTError(.unavailable, detail,
                  headers: [Metadata("retry-after", String(max(1, retryAfterSeconds)))])
    }

    /// 500: an unexpected server fault; the detail never leaks internals.
    public static func `internal`(_ detail: String = "the server failed to handle the request") -> RESTError {
        RESTError(.internal, detail)
    }

    /// The REST form of a service error: the HTTP side of the service's errors lives here, not in
    /// `ServiceError` (LearningAPI knows no HTTP). Each case maps to the `HTTPErrorCode` of the same
    /// name, so its status is the one table's (docs/API.md "Errors"); `invalidArgument` is 422
    /// because the shim has already checked the request is well-formed (400).
    public init(_ serviceError: ServiceError) {
        switch serviceError {
        case .invalidArgument(let detail): self = .invalid(detail)
        case .unauthenticated(let detail): self = .unauthorized(detail)
        case .overloaded(let retryAfter, _):
            let seconds = retryAfter.isFinite ? Int(min(3600, max(1, retryAfter.rounded(.up)))) : 1
            self = .tooManyRequests(serviceError.detail, retryAfterSeconds: seconds)
        case .unavailable(let detail): self = .unavailable(detail)
        case .notFound(let detail): self = .notFound(detail)
        case .alreadyExists(let detail): self = RESTError(.alreadyExists, detail)
        case .failedPrecondition(let detail): self = RESTError(.failedPrecondition, detail)
        case .permissionDenied(let detail): self = RESTError(.permissionDenied, detail)
        case .internal(let detail): self = .internal(detail)
        }
    }

    /// The JSON body.
    public var json: JSONValue {
        .object([("error", .string(error)), ("detail", .string(detail))])
    }

    /// The full HTTP response.
    public var response: HTTPResponse {
        HTTPResponse(status: status,
                     headers: [Metadata("content-type", "application/json")] + headers,
                     body: json.encoded())
    }
}
