public import CoreMetrics
/// How much the access log writes.
public enum AccessLogLevel: Int, Sendable, Comparable {
    /// No access log (the default).
    case off = 0
    /// One line per request that failed (gRPC status other than OK, HTTP status 400 and above).
    case errors = 1
    /// One line per request.
    case all = 2

    /// Orders levels from `off` to `all`.
    public static func < (lhs: AccessLogLevel, rhs: AccessLogLevel) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Everything an `H2Server` can be told.
///
/// ```swift
/// var configuration = ServerConfiguration(host: "0.0.0.0", port: 50051)
/// configuration.maxConcurrentStreams = 256
/// ```
public struct ServerConfiguration: Sendable {
    /// The address to bind, e.g. `0.0.0.0`, `127.0.0.1` or `::`.
    public var host: String
    /// The TCP port; 0 picks a free one (read it back from `H2Server.port`).
    public var port: Int
    /// Event-loop threads; 0 means one per core.
    public var loopThreads: Int
    /// Largest gRPC request message accepted; larger ones get RESOURCE_EXHAUSTED (default 4 MiB).
    public var maxReceiveMessageBytes: Int
    /// Largest number of open connections; further connections are closed at once.
    public var maxConnections: Int
    /// HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS per connection.
    public var maxConcurrentStreams: Int
    /// A connection with no request in flight and no traffic for this long is closed.
    public var idleTimeout: Duration
    /// A request head (or a new connection's first bytes) must arrive within this (slowloris defence).
    public var headerReadTimeout: Duration
    /// Largest header list of one request, in bytes (HTTP/2 SETTINGS_MAX_HEADER_LIST_SIZE and the
    /// HTTP/1.1 head limit, 431).
    public var maxHeaderListBytes: Int
    /// Largest REST request body, over HTTP/1.1 or HTTP/2 (413).
    public var maxHTTP1BodyBytes: Int
    /// Which requests the access log records (off by default).
    public var accessLog: AccessLogLevel
    /// Where access-log lines go; standard error when `nil`.
    public var accessLogSink: (@Sendable (String) -> Void)?
    /// The swift-metrics backend request metrics are recorded through
    /// (`learning_requests_total`, `learning_request_errors_total`,
    /// `learning_request_duration_seconds`, labelled by method or route template); the
    /// process-wide `MetricsSystem.factory` when `nil`.
    public var metricsFactory: (any MetricsFactory)?

    /// Creates a configuration with production defaults.
    public init(host: String = "0.0.0.0", port: Int = 50051, loopThreads: Int = 0,
                maxReceiveMessageBytes: Int = 4 << 20, maxConnections: Int = 10_000,
                maxConcurrentStreams: Int = 256, idleTimeout: Duration = .seconds(300),
                headerReadTimeout: Duration = .seconds(10), maxHeaderListBytes: Int = 16 * 1024,
                maxHTTP1BodyBytes: Int = 8 << 20, accessLog: AccessLogLevel = .off,
                accessLogSink: (@Sendable (String) -> Void)? = nil, metricsFactory: (any MetricsFactory)? = nil) {
        self.host = host
        self.port = port
        self.loopThreads = loopThreads
        self.maxReceiveMessageBytes = maxReceiveMessageBytes
        self.maxConnections = maxConnections
        self.maxConcurrentStreams = maxConcurrentStreams
        self.idleTimeout = idleTimeout
        self.headerReadTimeout = headerReadTimeout
        self.maxHeaderListBytes = maxHeaderListBytes
        self.maxHTTP1BodyBytes = maxHTTP1BodyBytes
        self.accessLog = accessLog
        self.accessLogSink = accessLogSink
        self.metricsFactory = metricsFactory
    }
}

/// Where the server is in its life.
public enum ServerLifecycleState: Sendable, Equatable {
    /// Binding and starting threads; not serving yet.
    case starting
    /// Accepting connections.
    case serving
    /// Shutting down: no new connections, in-flight calls finishing.
    case draining
    /// Stopped.
    case stopped
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
