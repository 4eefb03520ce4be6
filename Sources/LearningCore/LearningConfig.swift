/// The service's configuration: the guide's `LEARNING_CONFIG` (database, ml, performance, agents)
/// plus the service's own settings. Defaults are the guide's values.
public struct LearningConfig: Sendable, Equatable {
    public struct Database: Sendable, Equatable {
        public var host = "localhost"
        public var port = 5432
        public var database = "claude_auth"
        public var user = "claude_user"
        public var password = ""
        /// A full libpq connection string or URL; when set it wins over the fields above.
        public var url: String?
        public var maxConnections = 20
        /// A streaming standby of `url` that serves the change feed and the start-up's reads
        /// (docs/SCALING.md "Read replicas"); nil: everything on `url`.
        public var readURL: String?
        /// Connections to the read replica.
        public var readMaxConnections = 4
        public init() {}
    }

    public struct ML: Sendable, Equatable {
        public var vectorSize = 256
        public var similarityThreshold = 0.85
        public var learningRate = 0.001
        public var batchSize = 32
        /// Seconds between retrains.
        public var modelUpdateFrequency = 3600
        public init() {}
    }

    public struct Performance: Sendable, Equatable {
        public var metricsRetentionDays = 90
        /// Seconds between roll-up snapshots into `agents.performance_metrics`.
        public var performanceTrackingInterval = 60
        public var anomalyDetectionThreshold = 2.0
        public var predictionConfidenceThreshold = 0.8
        public init() {}
    }

    public struct Agents: Sendable, Equatable {
        public var totalAgents = 71
        /// Seconds; an agent not seen for longer is degraded, for much longer unhealthy.
        public var healthCheckInterval = 30
        public var performanceTracking = true
        public var patternRecognition = true
        public var predictiveAnalytics = true
        /// Folder of agent definition files (Markdown with YAML front matter), if any.
        public var definitionsDirectory: String?
        public init() {}
    }

    public struct Server: Sendable, Equatable {
        public var host = "127.0.0.1"
        public var port = 8080
        /// Event loop threads; 0 means one per core.
        public var loopThreads = 0
        public var maxReceiveMessageBytes = 4 * 1024 * 1024
        public var maxConnections = 10_000
        public var maxConcurrentStreams = 128
        public var apiKeys: [String] = []
        /// Allows binding to a non-loopback address with no API keys configured.
        public var allowUnauthenticatedRemote = false
        /// How long a request may take to arrive in full (h2 stream, h1 body), in seconds.
        public var requestTimeoutSeconds = 30
        /// Request bytes the whole server may hold, counting what running handlers hold of their
        /// requests once decoded (the transport's memory budget); past it requests are refused
        /// (503, RESOURCE_EXHAUSTED, with a retry delay).
        public var maxBufferedRequestBytes = 128 << 20
        public init() {}
    }

    /// OpenTelemetry ingest (OTLP spans of agent work become executions).
    public struct OTLP: Sendable, Equatable {
        /// Span attributes that name an execution's task type, the first present one wins.
        public var taskTypeAttributes = ["task.type", "gen_ai.task.type", "gen_ai.tool.name", "gen_ai.operation.name"]
        /// The defaults.
        public init() {}
    }

    public var environment = "development"
    public var logLevel = "INFO"
    public var database = Database()
    public var ml = ML()
    public var performance = Performance()
    public var agents = Agents()
    public var server = Server()
    public var otlp = OTLP()
    public var anomalyDetectionEnabled = true

    public init() {}
}
