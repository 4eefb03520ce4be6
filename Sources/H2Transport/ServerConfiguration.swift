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
    /// How long a request may take to arrive in full: over HTTP/2 from its HEADERS to its END_STREAM
    /// (for a client- or bidirectional-streaming gRPC call, each message from its first byte to its
    /// last), over HTTP/1.1 its body. Past it the request is answered (408, gRPC DEADLINE_EXCEEDED)
    /// and its stream reset, or its connection closed (default 30 s).
    public var requestTimeout: Duration = .seconds(30)
    /// The slowest request body accepted, in bytes per second averaged since the request started,
    /// checked once `minRequestBodyRateGrace` has passed; 0 turns the check off (default 1,024).
    public var minRequestBodyBytesPerSecond = 1024
    /// How long a request body may be slower than `minRequestBodyBytesPerSecond` at first (default 10 s).
    public var minRequestBodyRateGrace: Duration = .seconds(10)
    /// Request bytes one connection may hold before its handlers consumed them: the HTTP/2
    /// connection flow-control window (the client is slowed beyond it) and the HTTP/1.1 read
    /// limit (the socket is not read beyond it). 0 means the largest message or body plus 1 MiB.
    public var maxConnectionBufferedBytes = 0
    /// Request bytes the whole server may hold; past it, requests that need more are refused
    /// (RST_STREAM-ed after a 503 or RESOURCE_EXHAUSTED, HTTP/1.1 503) while the first
    /// `connectionBufferAllowance` bytes of each connection stay outside it (default 128 MiB).
    public var maxServerBufferedBytes = 128 << 20
    /// Request bytes each connection holds without drawing on `maxServerBufferedBytes` (default
    /// 64 KiB), so that a small request is served whatever other clients hold.
    public var connectionBufferAllowance = 64 * 1024
    /// What one connection may hold at once in all (default 0: 16 MiB, or twice
    /// `effectiveConnectionBufferedBytes` when that is more): its request bytes still arriving or
    /// waiting for handlers, and what its running handlers hold of their decoded requests (each
    /// charged its `RequestCost`, or its size). A request that would take the connection past it is
    /// refused (503 / RESOURCE_EXHAUSTED with a retry delay) until its other requests finish; one
    /// that costs more than this alone is refused without one.
    public var maxConnectionHeldBytes = 0
    /// Most open connections from one remote address (default 1,024); more are closed at accept.
    public var maxConnectionsPerAddress = 1024
    /// Most stream resets one remote address may send in `resetWindow`, over all its connections
    /// (default 5,000). Past it the connection gets GOAWAY (ENHANCE_YOUR_CALM) and is closed, and
    /// the address's new connections are refused until the window ends.
    public var maxStreamResetsPerAddress = 5000
    /// The window of `maxStreamResetsPerAddress` (default 10 s).
    public var resetWindow: Duration = .seconds(10)

    /// `maxConnectionBufferedBytes`, or its default when 0: room for the largest message or body.
    public var effectiveConnectionBufferedBytes: Int {
        maxConnectionBufferedBytes > 0 ? maxConnectionBufferedBytes
                                       : max(maxReceiveMessageBytes, maxHTTP1BodyBytes) + (1 << 20)
    }

    /// `maxConnectionHeldBytes`, or its default when 0.
    public var effectiveConnectionHeldBytes: Int {
        maxConnectionHeldBytes > 0 ? maxConnectionHeldBytes : max(16 << 20, 2 * effectiveConnectionBufferedBytes)
    }

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
