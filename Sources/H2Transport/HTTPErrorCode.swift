import HTTP1Wire

/// Every error the service answers over HTTP, transport included: the status, the stable code in
/// the JSON body `{"error": code, "detail": ...}`, when it happens and the gRPC status of the same
/// failure. The one table of error codes: the transport's own refusals (400, 408, 413, 431, 503),
/// the REST shim's `RESTError`, and the "Errors" tables of docs/API.md and docs/SERVICE.md
/// (generated from `markdownTable`, checked by a test) all read it.
public enum HTTPErrorCode: String, CaseIterable, Sendable {
    case badRequest = "bad_request"
    case unauthenticated
    case permissionDenied = "permission_denied"
    case notFound = "not_found"
    case methodNotAllowed = "method_not_allowed"
    case requestTimeout = "request_timeout"
    case alreadyExists = "already_exists"
    case failedPrecondition = "failed_precondition"
    case payloadTooLarge = "payload_too_large"
    case unsupportedMediaType = "unsupported_media_type"
    case invalidArgument = "invalid_argument"
    case overloaded
    case headerFieldsTooLarge = "header_fields_too_large"
    case `internal`
    case notImplemented = "not_implemented"
    case unavailable
    case httpVersionNotSupported = "http_version_not_supported"

    /// The HTTP status it is answered with.
    public var status: Int {
        switch self {
        case .badRequest: 400
        case .unauthenticated: 401
        case .permissionDenied: 403
        case .notFound: 404
        case .methodNotAllowed: 405
        case .requestTimeout: 408
        case .alreadyExists, .failedPrecondition: 409
        case .payloadTooLarge: 413
        case .unsupportedMediaType: 415
        case .invalidArgument: 422
        case .overloaded: 429
        case .headerFieldsTooLarge: 431
        case .internal: 500
        case .notImplemented: 501
        case .unavailable: 503
        case .httpVersionNotSupported: 505
        }
    }

    /// The gRPC status a gRPC client gets for the same failure.
    public var grpcStatus: String {
        switch self {
        case .badRequest, .invalidArgument: "INVALID_ARGUMENT"
        case .unauthenticated: "UNAUTHENTICATED"
        case .permissionDenied: "PERMISSION_DENIED"
        case .notFound: "NOT_FOUND (UNIMPLEMENTED for an unknown method)"
        case .methodNotAllowed, .notImplemented, .httpVersionNotSupported: "-"
        case .requestTimeout: "DEADLINE_EXCEEDED"
        case .alreadyExists: "ALREADY_EXISTS"
        case .failedPrecondition: "FAILED_PRECONDITION"
        case .payloadTooLarge, .headerFieldsTooLarge: "RESOURCE_EXHAUSTED"
        case .unsupportedMediaType: "-"
        case .overloaded: "RESOURCE_EXHAUSTED + `grpc-retry-pushback-ms`"
        case .internal: "INTERNAL"
        case .unavailable: "UNAVAILABLE (RESOURCE_EXHAUSTED + `grpc-retry-pushback-ms` when over the memory budget)"
        }
    }

    /// When it is answered, for the documentation.
    public var meaning: String {
        switch self {
        case .badRequest:
            "The request is not well-formed: invalid JSON, a malformed query string or path escape, a query parameter that is not a number, an empty body where one is needed; from the transport, a malformed request line or header, or a missing `Host`"
        case .unauthenticated:
            "API keys are configured and the key is missing or wrong (with `WWW-Authenticate: Bearer`)"
        case .permissionDenied:
            "The key is valid but not allowed to do this"
        case .notFound:
            "No such endpoint, or the agent named in the path is not registered"
        case .methodNotAllowed:
            "The path exists with another method; `Allow` lists it"
        case .requestTimeout:
            "The request (head or body) did not arrive within the request timeout (`server.request_timeout_seconds`, 30 s), or its body arrived slower than 1 KiB/s after 10 s"
        case .alreadyExists:
            "The thing to create exists already"
        case .failedPrecondition:
            "The operation cannot run in the current state, e.g. a feature switched off by configuration (`PATTERN_RECOGNITION_ENABLED=false` and `GET /patterns`)"
        case .payloadTooLarge:
            "The body is larger than the server accepts (4 MiB by default: `server.max_receive_message_bytes`, the same limit as a gRPC message), or would hold more memory once decoded than one connection may hold (16 MiB)"
        case .unsupportedMediaType:
            "A body sent without `Content-Type: application/json`, or a gRPC method path (`/learning.v1.LearningSystem/...`) called without `Content-Type: application/grpc`"
        case .invalidArgument:
            "Well-formed JSON with an invalid value: a wrong JSON type (a string where a number belongs), a negative or non-finite number, a bad UUID, an agent name outside `^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$`, a time in the future, an out-of-range query value. `detail` names the field, e.g. `executions[3].execution_time must not be negative`"
        case .overloaded:
            "The ingest queue is full; retry after the `Retry-After` seconds"
        case .headerFieldsTooLarge:
            "The request line and headers (HTTP/1.1) or the header list (HTTP/2) are larger than the server accepts, 16 KiB"
        case .internal:
            "A server fault; the detail does not leak internals"
        case .notImplemented:
            "An HTTP/1.1 `Transfer-Encoding` other than `chunked`"
        case .httpVersionNotSupported:
            "A request line that is neither HTTP/1.0 nor HTTP/1.1 (HTTP/2 is spoken with the connection preface, h2c)"
        case .unavailable:
            "The database is unavailable (with `Retry-After`); also `GET /health` while the service is unhealthy (same body as 200), and a request the server cannot hold now (its connection holds 16 MiB, or the server `server.max_buffered_request_bytes`, of request bodies and of what running handlers hold decoded; `Retry-After: 1`)"
        }
    }

    /// The error response: `Content-Type: application/json`, the body `{"error", "detail"}`.
    public func response(_ detail: String, headers: [Metadata] = []) -> HTTPResponse {
        var body = Array("{\"error\":\"".utf8)
        body += rawValue.utf8
        body += Array("\",\"detail\":".utf8)
        body += jsonString(detail).utf8 // the access log's escaping (H2Server.swift)
        body.append(UInt8(ascii: "}"))
        return HTTPResponse(status: status, headers: [Metadata("content-type", "application/json")] + headers, body: body)
    }

    /// The documentation's table: status, `error`, gRPC twin, when.
    public static var markdownTable: String {
        var out = "| Status | `error` | gRPC | When |\n|--------|---------|------|------|\n"
        for code in allCases {
            out += "| \(code.status) | `\(code.rawValue)` | \(code.grpcStatus) | \(code.meaning) |\n"
        }
        return out
    }
}

extension HTTP1ParseError {
    /// The error answer: its code and a detail that says what was wrong.
    var response: HTTPResponse {
        switch self {
        case .badRequest(let why): HTTPErrorCode.badRequest.response("malformed HTTP/1.1 request: \(why)")
        case .headersTooLarge: HTTPErrorCode.headerFieldsTooLarge.response("the request line and headers are larger than the server accepts")
        case .bodyTooLarge: HTTPErrorCode.payloadTooLarge.response("the request body is larger than the server accepts")
        case .unsupportedTransferEncoding(let coding):
            HTTPErrorCode.notImplemented.response("transfer coding \(coding) is not supported; send Content-Length or chunked")
        case .unsupportedVersion: HTTPErrorCode.httpVersionNotSupported.response("only HTTP/1.0, HTTP/1.1 and HTTP/2 (h2c) are spoken")
        }
    }
}
