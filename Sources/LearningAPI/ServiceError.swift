/// Why an operation failed, in words every front end maps to its own protocol: LearningRPC to a
/// gRPC status (`LearningRPC.status(for:)`), LearningREST to an HTTP status with the body
/// `{"error": code, "detail": detail}` (`RESTError.init(_:)`). This module knows neither protocol,
/// so a client (the `learning` CLI) can use the same errors and validation without linking a server.
///
/// | case                 | gRPC                  |
/// |----------------------|-----------------------|
/// | `invalidArgument`    | INVALID_ARGUMENT      |
/// | `notFound`           | NOT_FOUND             |
/// | `alreadyExists`      | ALREADY_EXISTS        |
/// | `unauthenticated`    | UNAUTHENTICATED       |
/// | `permissionDenied`   | PERMISSION_DENIED     |
/// | `overloaded`         | RESOURCE_EXHAUSTED    |
/// | `unavailable`        | UNAVAILABLE           |
/// | `failedPrecondition` | FAILED_PRECONDITION   |
/// | `internal`           | INTERNAL              |
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
