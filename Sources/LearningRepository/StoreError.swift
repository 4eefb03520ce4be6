/// A storage failure, typed so the API layer can map it to a gRPC status / HTTP code. Every
/// repository throws these (LearningStore maps PostgreSQL's SQLSTATEs onto them).
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A unique key exists already (SQLSTATE 23505). ALREADY_EXISTS / HTTP 409.
    case alreadyExists(String)
    /// The database cannot be reached or is shutting down; retry later. UNAVAILABLE / HTTP 503.
    case unavailable(String)
    /// A serialization failure or deadlock; the same request may simply be retried. ABORTED.
    case retryable(String)
    /// The data was rejected (bad UUID, out of range number, ...). INVALID_ARGUMENT / HTTP 400.
    case invalidInput(String)
    /// The ingest queue is full; retry after the given number of seconds. RESOURCE_EXHAUSTED / HTTP 429.
    case overloaded(retryAfter: Double)
    /// The requested row does not exist. NOT_FOUND / HTTP 404.
    case notFound(String)
    /// The store is shut down.
    case closed
    /// Any other database error, with its SQLSTATE and message. INTERNAL.
    case database(sqlState: String, message: String)

    /// True when the same request can succeed if sent again later.
    public var isRetryable: Bool {
        switch self {
        case .unavailable, .retryable, .overloaded: return true
        default: return false
        }
    }

    /// A one-line description for logs and error responses.
    public var description: String {
        switch self {
        case .alreadyExists(let m): return "already exists: \(m)"
        case .unavailable(let m): return "database unavailable: \(m)"
        case .retryable(let m): return "transient database conflict: \(m)"
        case .invalidInput(let m): return "invalid input: \(m)"
        case .overloaded(let s): return "ingest queue full, retry after \(s)s"
        case .notFound(let m): return "not found: \(m)"
        case .closed: return "store is shut down"
        case .database(let s, let m): return "database error \(s): \(m)"
        }
    }
}
