/// Why an operation failed, in terms both front ends map: the RPC layer to a gRPC status, the REST
/// shim to an HTTP status with the body `{"error": code, "detail": detail}`.
///
/// | case                 | gRPC                  | HTTP |
/// |----------------------|-----------------------|------|
/// | `invalidArgument`    | INVALID_ARGUMENT      | 400  |
/// | `notFound`           | NOT_FOUND             | 404  |
/// | `alreadyExists`      | ALREADY_EXISTS        | 409  |
/// | `unauthenticated`    | UNAUTHENTICATED       | 401  |
/// | `permissionDenied`   | PERMISSION_DENIED     | 403  |
/// | `overloaded`         | RESOURCE_EXHAUSTED    | 429 (+ `Retry-After`) |
/// | `unavailable`        | UNAVAILABLE           | 503  |
/// | `failedPrecondition` | FAILED_PRECONDITION   | 409  |
/// | `internal`           | INTERNAL              | 500  |
public enum ServiceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The request is malformed: a bad name, number, timestamp, length, ... The detail names the field.
    case invalidArgument(String)
    /// The named thing (usually an agent) does not exist.
    case notFound(String)
    /// The thing to create exists already.
    case alreadyExists(String)
    /// No or a wrong API key was presented for an operation that needs one.
    case unauthenticated(String)
    /// The key is valid but not allowed to do this.
    case permissionDenied(String)
    /// The ingest queue is full: retry after `retryAfter` seconds.
    case overloaded(retryAfter: Double, detail: String)
    /// A dependency (the database) is down; retrying later may succeed.
    case unavailable(String)
    /// The operation cannot run in the current state (e.g. a feature switched off by configuration).
    case failedPrecondition(String)
    /// A bug or an unexpected failure; the detail is safe to show (no internals).
    case `internal`(String)

    /// The short machine-readable code, the REST body's `error` field (e.g. `invalid_argument`).
    public var code: String {
        switch self {
        case .invalidArgument: "invalid_argument"
        case .notFound: "not_found"
        case .alreadyExists: "already_exists"
        case .unauthenticated: "unauthenticated"
        case .permissionDenied: "permission_denied"
        case .overloaded: "overloaded"
        case .unavailable: "unavailable"
        case .failedPrecondition: "failed_precondition"
        case .internal: "internal"
        }
    }

    /// The human-readable explanation, the REST body's `detail` field and the gRPC status message.
    public var detail: String {
        switch self {
        case .invalidArgument(let d), .notFound(let d), .alreadyExists(let d), .unauthenticated(let d),
             .permissionDenied(let d), .unavailable(let d), .failedPrecondition(let d), .internal(let d):
            d
        case .overloaded(let retryAfter, let d):
            "\(d) (retry after \(retryAfter) s)"
        }
    }

    /// The HTTP status the REST shim answers with.
    public var httpStatus: Int {
        switch self {
        case .invalidArgument: 400
        case .notFound: 404
        case .alreadyExists: 409
        case .unauthenticated: 401
        case .permissionDenied: 403
        case .overloaded: 429
        case .unavailable: 503
        case .failedPrecondition: 409
        case .internal: 500
        }
    }

    /// Seconds a client should wait before retrying, when the error says so (for `Retry-After`).
    public var retryAfterSeconds: Double? {
        if case .overloaded(let retryAfter, _) = self { return retryAfter }
        return nil
    }

    public var description: String { "\(code): \(detail)" }

    /// Any error as a `ServiceError`: itself when it is one, otherwise `internal` with a generic
    /// message (the original text is not leaked to clients).
    public static func wrap(_ error: any Error) -> ServiceError {
        if let error = error as? ServiceError { return error }
        if let convertible = error as? any ServiceErrorConvertible { return convertible.serviceError }
        return .internal("internal error")
    }
}

/// Errors of lower layers (e.g. the store) that know which `ServiceError` they amount to.
public protocol ServiceErrorConvertible: Error {
    /// The service-level meaning of this error.
    var serviceError: ServiceError { get }
}
