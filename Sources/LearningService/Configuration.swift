// Configuration loading. Precedence, lowest first:
//   1. defaults (LearningCore.LearningConfig: the guide's LEARNING_CONFIG values)
//   2. the JSON config file (path from --config, else LEARNING_CONFIG_FILE), the guide's
//      LEARNING_CONFIG structure: {"database": {...}, "ml": {...}, "performance": {...},
//      "agents": {...}, "server": {...}} plus top-level "environment", "log_level"
//   3. environment variables (table below)
//   4. command-line flags (--host, --port)
// Unknown keys, values of the wrong type and out-of-range values stop start-up with a message
// naming the key.
//
// | variable                             | setting                            |
// |--------------------------------------|------------------------------------|
// | LEARNING_ENV                         | environment                        |
// | LEARNING_LOG_LEVEL                   | log_level (TRACE/DEBUG/INFO/WARNING/ERROR/CRITICAL) |
// | LEARNING_API_PORT                    | server.port                        |
// | LEARNING_API_HOST                    | server.host                        |
// | LEARNING_API_KEYS                    | server.api_keys (comma-separated)  |
// | LEARNING_ALLOW_UNAUTHENTICATED_REMOTE| server.allow_unauthenticated_remote|
// | LEARNING_OTLP_TASK_TYPE_ATTRIBUTES   | otlp.task_type_attributes (comma-separated) |
// | LEARNING_LOOP_THREADS                | server.loop_threads                |
// | LEARNING_REQUEST_TIMEOUT_SECONDS     | server.request_timeout_seconds     |
// | LEARNING_MAX_BUFFERED_REQUEST_BYTES  | server.max_buffered_request_bytes  |
// | LEARNING_DATABASE_URL, DATABASE_URL  | database.url (wins over the fields)|
// | LEARNING_DATABASE_HOST               | database.host                      |
// | LEARNING_DATABASE_PORT               | database.port                      |
// | LEARNING_DATABASE_NAME               | database.database                  |
// | LEARNING_DATABASE_USER               | database.user                      |
// | LEARNING_DATABASE_PASSWORD           | database.password                  |
// | LEARNING_DATABASE_MAX_CONNECTIONS    | database.max_connections           |
// | LEARNING_DATABASE_READ_URL           | database.read_url (a streaming standby for the feed's reads) |
// | LEARNING_DATABASE_READ_MAX_CONNECTIONS | database.read_max_connections    |
// | LEARNING_AGENTS_DIR                  | agents.definitions_dir             |
// | ML_MODEL_UPDATE_INTERVAL             | ml.model_update_frequency          |
// | ML_VECTOR_SIZE                       | ml.vector_size                     |
// | ML_BATCH_SIZE                        | ml.batch_size                      |
// | PERFORMANCE_TRACKING_ENABLED         | agents.performance_tracking        |
// | ANOMALY_DETECTION_ENABLED            | anomaly detection on/off           |
// | PATTERN_RECOGNITION_ENABLED          | agents.pattern_recognition         |
// | PREDICTIVE_ANALYTICS_ENABLED         | agents.predictive_analytics        |
public import Foundation
public import LearningCore

/// A configuration problem that stops start-up; `key` names the setting at fault.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The setting, e.g. `ML_VECTOR_SIZE` or `ml.vector_size`.
    public var key: String
    /// What is wrong with it.
    public var message: String

    /// Creates an error about `key`.
    public init(key: String, message: String) {
        self.key = key
        self.message = message
    }

    public var description: String { "invalid configuration: \(key): \(message)" }
}

/// The server's command-line arguments.
public struct ServerArguments: Sendable, Equatable {
    /// `--config PATH`.
    public var configPath: String?
    /// `--host HOST`.
    public var host: String?
    /// `--port PORT`.
    public var port: Int?
    /// `--help` / `-h`.
    public var help = false
    /// `--version`.
    public var version = false
    /// `db-check`: check the connection to the configured database and exit instead of serving.
    public var databaseCheck = false
    /// `--database-url URL` (db-check only): check this database instead of the configured one.
    public var databaseURL: String?
    /// `--json` (db-check only): print the report as JSON.
    public var json = false

    /// Creates empty arguments.
    public init() {}

    /// The usage text printed by `--help`.
    public static let usage = """
        usage: learning-server [--config FILE] [--host HOST] [--port PORT] [--help] [--version]
               learning-server db-check [--config FILE] [--database-url URL] [--json]

        Records AI agent executions in PostgreSQL and learns from them; serves gRPC and REST on one port.
        `db-check` connects once to the database the server would use with the same config file and
        environment (or to --database-url), prints user@host:port/database, the server's version and
        whether agents.execution_log exists, and exits 0 when connected, 1 when not, 2 on a usage or
        configuration error. `learning db-check` runs it.

          --config FILE   JSON configuration file (the guide's LEARNING_CONFIG structure; also LEARNING_CONFIG_FILE)
          --host HOST     address to bind (default 127.0.0.1; also LEARNING_API_HOST)
          --port PORT     port to listen on (default 8080; also LEARNING_API_PORT; 0 picks a free port)
          --help          show this help
          --version       print the version

        Precedence: defaults < config file < environment variables < command-line flags.
        The database comes from LEARNING_DATABASE_URL (or DATABASE_URL, or the config file's "database").
        """

    /// Parses arguments (without the program name); `--flag value` and `--flag=value` both work.
    public static func parse(_ arguments: [String]) throws -> ServerArguments {
        var result = ServerArguments()
        var index = 0
        func value(for flag: String, inline: String?) throws -> String {
            if let inline { return inline }
            index += 1
            guard index < arguments.count else { throw ConfigurationError(key: flag, message: "needs a value") }
            return arguments[index]
        }
        if arguments.first == "db-check" {
            result.databaseCheck = true
            index = 1
        }
        while index < arguments.count {
            let argument = arguments[index]
            var flag = argument
            var inline: String?
            if argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") {
                flag = String(argument[..<equals])
                inline = String(argument[argument.index(after: equals)...])
            }
            switch flag {
            case "--config": result.configPath = try value(for: flag, inline: inline)
            case "--host": result.host = try value(for: flag, inline: inline)
            case "--port":
                let text = try value(for: flag, inline: inline)
                guard let port = Int(text), (0...65535).contains(port) else {
                    throw ConfigurationError(key: "--port", message: "\(text) is not a port number (0-65535)")
                }
                result.port = port
            case "--help", "-h": result.help = true
            case "--version": result.version = true
            case "--database-url" where result.databaseCheck: result.databaseURL = try value(for: flag, inline: inline)
            case "--json" where result.databaseCheck && inline == nil: result.json = true
            default: throw ConfigurationError(key: argument, message: "unknown argument (see --help)")
            }
            index += 1
        }
        return result
    }
}

/// Loads the service's configuration from defaults, a file, the environment and the command line.
public enum ConfigurationLoader {
    /// Builds the configuration; throws `ConfigurationError` naming the first invalid setting.
    ///
    /// - Parameters:
    ///   - arguments: the parsed command line.
    ///   - environment: usually `ProcessInfo.processInfo.environment`.
    public static func load(arguments: ServerArguments = ServerArguments(),
                            environment: [String: String]) throws -> LearningConfig {
        var config = LearningConfig()
        if let path = arguments.configPath ?? nonEmpty(environment["LEARNING_CONFIG_FILE"]) {
            let data: Data
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: path))
            } catch {
                throw ConfigurationError(key: "config file", message: "cannot read \(path)")
            }
            try applyFile(data, to: &config, path: path)
        }
        try applyEnvironment(environment, to: &config)
        if let host = arguments.host { config.server.host = host }
        if let port = arguments.port { config.server.port = port }
        try validate(config)
        return config
    }

    // MARK: File

    /// Applies a JSON config file's settings.
    public static func applyFile(_ data: Data, to config: inout LearningConfig, path: String = "config file") throws {
        let object: ConfigJSONValue
        do {
            object = try JSONDecoder().decode(ConfigJSONValue.self, from: data)
        } catch {
            throw ConfigurationError(key: "config file", message: "\(path) is not valid JSON")
        }
        guard case .object(let root) = object else {
            throw ConfigurationError(key: "config file", message: "\(path) must hold a JSON object")
        }
        var reader = JSONSection(values: root, prefix: "")
        if let value = try reader.string("environment") { config.environment = value }
        if let value = try reader.string("log_level") { config.logLevel = value }
        if let value = try reader.bool("anomaly_detection_enabled") { config.anomalyDetectionEnabled = value }
        if var section = try reader.section("database") {
            if let value = try section.string("host") { config.database.host = value }
            if let value = try section.int("port") { config.database.port = value }
            if let value = try section.string("database") { config.database.database = value }
            if let value = try section.string("user") { config.database.user = value }
            if let value = try section.string("password") { config.database.password = value }
            if let value = try section.string("url") { config.database.url = value }
            if let value = try section.int("max_connections") { config.database.maxConnections = value }
            if let value = try section.string("read_url") { config.database.readURL = value }
            if let value = try section.int("read_max_connections") { config.database.readMaxConnections = value }
            try section.rejectUnknown()
        }
        if var section = try reader.section("ml") {
            if let value = try section.int("vector_size") { config.ml.vectorSize = value }
            if let value = try section.double("similarity_threshold") { config.ml.similarityThreshold = value }
            if let value = try section.double("learning_rate") { config.ml.learningRate = value }
            if let value = try section.int("batch_size") { config.ml.batchSize = value }
            if let value = try section.int("model_update_frequency") { config.ml.modelUpdateFrequency = value }
            try section.rejectUnknown()
        }
        if var section = try reader.section("performance") {
            if let value = try section.int("metrics_retention_days") { config.performance.metricsRetentionDays = value }
            if let value = try section.int("performance_tracking_interval") { config.performance.performanceTrackingInterval = value }
            if let value = try section.double("anomaly_detection_threshold") { config.performance.anomalyDetectionThreshold = value }
            if let value = try section.double("prediction_confidence_threshold") { config.performance.predictionConfidenceThreshold = value }
            if let value = try section.bool("anomaly_detection") { config.anomalyDetectionEnabled = value }
            try section.rejectUnknown()
        }
        if var section = try reader.section("agents") {
            if let value = try section.int("total_agents") { config.agents.totalAgents = value }
            if let value = try section.int("health_check_interval") { config.agents.healthCheckInterval = value }
            if let value = try section.bool("performance_tracking") { config.agents.performanceTracking = value }
            if let value = try section.bool("pattern_recognition") { config.agents.patternRecognition = value }
            if let value = try section.bool("predictive_analytics") { config.agents.predictiveAnalytics = value }
            if let value = try section.string("definitions_dir") { config.agents.definitionsDirectory = value }
            try section.rejectUnknown()
        }
        if var section = try reader.section("server") {
            if let value = try section.string("host") { config.server.host = value }
            if let value = try section.int("port") { config.server.port = value }
            if let value = try section.int("loop_threads") { config.server.loopThreads = value }
            if let value = try section.int("request_timeout_seconds") { config.server.requestTimeoutSeconds = value }
            if let value = try section.int("max_buffered_request_bytes") { config.server.maxBufferedRequestBytes = value }
            if let value = try section.int("max_receive_message_bytes") { config.server.maxReceiveMessageBytes = value }
            if let value = try section.int("max_connections") { config.server.maxConnections = value }
            if let value = try section.int("max_concurrent_streams") { config.server.maxConcurrentStreams = value }
            if let value = try section.stringArray("api_keys") { config.server.apiKeys = value }
            if let value = try section.bool("allow_unauthenticated_remote") { config.server.allowUnauthenticatedRemote = value }
            try section.rejectUnknown()
        }
        if var section = try reader.section("otlp") {
            if let value = try section.stringArray("task_type_attributes") { config.otlp.taskTypeAttributes = value }
            try section.rejectUnknown()
        }
        try reader.rejectUnknown()
    }

    // MARK: Environment

    /// Applies the environment variables the guide lists and the service's own.
    public static func applyEnvironment(_ environment: [String: String], to config: inout LearningConfig) throws {
        func get(_ key: String) -> String? { nonEmpty(environment[key]) }
        if let value = get("LEARNING_ENV") { config.environment = value }
        if let value = get("LEARNING_LOG_LEVEL") { config.logLevel = try logLevel(value, key: "LEARNING_LOG_LEVEL") }
        if let value = get("LEARNING_API_PORT") { config.server.port = try integer(value, key: "LEARNING_API_PORT", in: 0...65535) }
        if let value = get("LEARNING_API_HOST") { config.server.host = value }
        if let value = environment["LEARNING_API_KEYS"] {
            config.server.apiKeys = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        if let value = get("LEARNING_OTLP_TASK_TYPE_ATTRIBUTES") {
            config.otlp.taskTypeAttributes = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        if let value = get("LEARNING_ALLOW_UNAUTHENTICATED_REMOTE") {
            config.server.allowUnauthenticatedRemote = try boolean(value, key: "LEARNING_ALLOW_UNAUTHENTICATED_REMOTE")
        }
        if let value = get("LEARNING_LOOP_THREADS") { config.server.loopThreads = try integer(value, key: "LEARNING_LOOP_THREADS", in: 0...256) }
        if let value = get("LEARNING_REQUEST_TIMEOUT_SECONDS") {
            config.server.requestTimeoutSeconds = try integer(value, key: "LEARNING_REQUEST_TIMEOUT_SECONDS", in: 1...3600)
        }
        if let value = get("LEARNING_MAX_BUFFERED_REQUEST_BYTES") {
            config.server.maxBufferedRequestBytes = try integer(value, key: "LEARNING_MAX_BUFFERED_REQUEST_BYTES",
                                                                 in: 1 << 20...1 << 40)
        }
        if let value = get("LEARNING_DATABASE_URL") ?? get("DATABASE_URL") { config.database.url = value }
        if let value = get("LEARNING_DATABASE_HOST") { config.database.host = value }
        if let value = get("LEARNING_DATABASE_PORT") {
            config.database.port = try integer(value, key: "LEARNING_DATABASE_PORT", in: 1...65535)
        }
        if let value = get("LEARNING_DATABASE_NAME") { config.database.database = value }
        if let value = get("LEARNING_DATABASE_USER") { config.database.user = value }
        // A password may legitimately be blank or contain leading spaces: taken as given when set.
        if let value = environment["LEARNING_DATABASE_PASSWORD"] { config.database.password = value }
        if let value = get("LEARNING_DATABASE_MAX_CONNECTIONS") {
            config.database.maxConnections = try integer(value, key: "LEARNING_DATABASE_MAX_CONNECTIONS", in: 1...1000)
        }
        if let value = get("LEARNING_DATABASE_READ_URL") { config.database.readURL = value }
        if let value = get("LEARNING_DATABASE_READ_MAX_CONNECTIONS") {
            config.database.readMaxConnections = try integer(value, key: "LEARNING_DATABASE_READ_MAX_CONNECTIONS", in: 1...1000)
        }
        if let value = get("LEARNING_AGENTS_DIR") { config.agents.definitionsDirectory = value }
        if let value = get("ML_MODEL_UPDATE_INTERVAL") {
            config.ml.modelUpdateFrequency = try integer(value, key: "ML_MODEL_UPDATE_INTERVAL", in: 1...31_536_000)
        }
        if let value = get("ML_VECTOR_SIZE") { config.ml.vectorSize = try integer(value, key: "ML_VECTOR_SIZE", in: 1...16_000) }
        if let value = get("ML_BATCH_SIZE") { config.ml.batchSize = try integer(value, key: "ML_BATCH_SIZE", in: 1...1_000_000) }
        if let value = get("PERFORMANCE_TRACKING_ENABLED") {
            config.agents.performanceTracking = try boolean(value, key: "PERFORMANCE_TRACKING_ENABLED")
        }
        if let value = get("ANOMALY_DETECTION_ENABLED") {
            config.anomalyDetectionEnabled = try boolean(value, key: "ANOMALY_DETECTION_ENABLED")
        }
        if let value = get("PATTERN_RECOGNITION_ENABLED") {
            config.agents.patternRecognition = try boolean(value, key: "PATTERN_RECOGNITION_ENABLED")
        }
        if let value = get("PREDICTIVE_ANALYTICS_ENABLED") {
            config.agents.predictiveAnalytics = try boolean(value, key: "PREDICTIVE_ANALYTICS_ENABLED")
        }
    }

    // MARK: Validation

    /// Checks every setting's range and the remote-binding rule.
    /// Notes, for the start-up log, on settings of the guide's `LEARNING_CONFIG` that are accepted
    /// for compatibility but have no honest meaning in this service, when they are set to anything
    /// but their default: so a user who tunes them learns at once that nothing changes.
    /// (`agents.total_agents` is not one: it is the fleet size the registry is compared with.)
    public static func compatibilityNotes(_ config: LearningConfig) -> [String] {
        let defaults = LearningConfig()
        var notes: [String] = []
        if config.ml.learningRate != defaults.ml.learningRate {
            notes.append("ml.learning_rate = \(config.ml.learningRate) has no effect: the models are fitted in closed form "
                + "(shrinkage estimates updated exactly by every execution, no gradient descent); the key is accepted for "
                + "compatibility with the guide's LEARNING_CONFIG")
        }
        if config.ml.batchSize != defaults.ml.batchSize {
            notes.append("ml.batch_size (ML_BATCH_SIZE) = \(config.ml.batchSize) has no effect: the models learn from each "
                + "execution as it is stored, not in mini-batches; the key is accepted for compatibility with the guide's "
                + "LEARNING_CONFIG")
        }
        return notes
    }

    public static func validate(_ config: LearningConfig) throws {
        func check(_ ok: Bool, _ key: String, _ message: @autoclosure () -> String) throws {
            if !ok { throw ConfigurationError(key: key, message: message()) }
        }
        try check(!config.environment.isEmpty && config.environment.utf8.count <= 64, "environment", "must be 1 to 64 characters")
        _ = try logLevel(config.logLevel, key: "log_level")
        try check(!config.database.host.isEmpty, "database.host", "is empty")
        try check((1...65535).contains(config.database.port), "database.port", "\(config.database.port) is not a port number")
        try check(!config.database.database.isEmpty, "database.database", "is empty")
        try check(!config.database.user.isEmpty, "database.user", "is empty")
        try check((1...1000).contains(config.database.maxConnections), "database.max_connections",
                  "must be between 1 and 1000 (got \(config.database.maxConnections))")
        if let url = config.database.url {
            try check(!url.isEmpty, "database.url", "is empty")
        }
        if let url = config.database.readURL {
            try check(url.hasPrefix("postgresql://") || url.hasPrefix("postgres://") || url.contains("="), "database.read_url",
                      "must be a libpq URL (postgresql://...) or key=value connection string (got \"\(url)\")")
        }
        try check((1...1000).contains(config.database.readMaxConnections), "database.read_max_connections",
                  "must be between 1 and 1000 (got \(config.database.readMaxConnections))")
        try check((1...16_000).contains(config.ml.vectorSize), "ml.vector_size", "must be between 1 and 16000 (got \(config.ml.vectorSize))")
        try check(config.ml.similarityThreshold.isFinite && (-1...1).contains(config.ml.similarityThreshold),
                  "ml.similarity_threshold", "must be between -1 and 1 (got \(config.ml.similarityThreshold))")
        try check(config.ml.learningRate.isFinite && config.ml.learningRate > 0 && config.ml.learningRate <= 1,
                  "ml.learning_rate", "must be in (0, 1] (got \(config.ml.learningRate))")
        try check(config.ml.batchSize >= 1, "ml.batch_size", "must be at least 1 (got \(config.ml.batchSize))")
        try check(config.ml.modelUpdateFrequency >= 1, "ml.model_update_frequency",
                  "must be at least 1 second (got \(config.ml.modelUpdateFrequency))")
        try check(config.performance.metricsRetentionDays >= 1, "performance.metrics_retention_days",
                  "must be at least 1 (got \(config.performance.metricsRetentionDays))")
        try check(config.performance.performanceTrackingInterval >= 1, "performance.performance_tracking_interval",
                  "must be at least 1 second (got \(config.performance.performanceTrackingInterval))")
        try check(config.performance.anomalyDetectionThreshold.isFinite && config.performance.anomalyDetectionThreshold > 0,
                  "performance.anomaly_detection_threshold", "must be a positive number (got \(config.performance.anomalyDetectionThreshold))")
        try check(config.performance.predictionConfidenceThreshold.isFinite && (0...1).contains(config.performance.predictionConfidenceThreshold),
                  "performance.prediction_confidence_threshold", "must be between 0 and 1 (got \(config.performance.predictionConfidenceThreshold))")
        try check(config.agents.totalAgents >= 0, "agents.total_agents", "must not be negative")
        try check(config.agents.healthCheckInterval >= 1, "agents.health_check_interval",
                  "must be at least 1 second (got \(config.agents.healthCheckInterval))")
        if let directory = config.agents.definitionsDirectory {
            var isDirectory: ObjCBool = false
            try check(FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) && isDirectory.boolValue,
                      "agents.definitions_dir", "\(directory) is not a directory")
        }
        try check(!config.server.host.isEmpty, "server.host", "is empty")
        try check((0...65535).contains(config.server.port), "server.port", "\(config.server.port) is not a port number")
        try check((0...256).contains(config.server.loopThreads), "server.loop_threads", "must be between 0 and 256")
        try check((1...3600).contains(config.server.requestTimeoutSeconds), "server.request_timeout_seconds",
                  "must be between 1 and 3600 (got \(config.server.requestTimeoutSeconds))")
        try check(config.server.maxBufferedRequestBytes >= 1 << 20, "server.max_buffered_request_bytes",
                  "must be at least 1 MiB (got \(config.server.maxBufferedRequestBytes))")
        try check(config.server.maxReceiveMessageBytes >= 1024, "server.max_receive_message_bytes", "must be at least 1024")
        try check(config.server.maxConnections >= 1, "server.max_connections", "must be at least 1")
        try check(config.server.maxConcurrentStreams >= 1, "server.max_concurrent_streams", "must be at least 1")
        try check(!config.otlp.taskTypeAttributes.isEmpty && config.otlp.taskTypeAttributes.count <= 32
                  && config.otlp.taskTypeAttributes.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 255 }),
                  "otlp.task_type_attributes", "must list 1 to 32 attribute names of 1 to 255 bytes")
        for key in config.server.apiKeys {
            try check(key.utf8.count >= 16 && key.utf8.count <= 256 && key.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }),
                      "server.api_keys", "each key must be 16 to 256 printable characters without spaces or commas")
        }
        if config.server.apiKeys.isEmpty && !config.server.allowUnauthenticatedRemote && !isLoopback(config.server.host) {
            throw ConfigurationError(
                key: "server.host",
                message: "refusing to listen on \(config.server.host) without API keys: set LEARNING_API_KEYS, "
                    + "or LEARNING_ALLOW_UNAUTHENTICATED_REMOTE=true to allow writes from anyone")
        }
    }

    /// True for addresses only this machine can reach: `localhost`, an IPv4 address in
    /// 127.0.0.0/8, `::1`, or an IPv4-mapped IPv6 loopback (`::ffff:127.0.0.1`); parsed as
    /// addresses, so `127.example.com` or `127.0.0.1.evil` are not loopback.
    public static func isLoopback(_ host: String) -> Bool {
        var text = host.lowercased()
        if text == "localhost" { return true }
        if text.hasPrefix("[") && text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return UInt32(bigEndian: v4.s_addr) >> 24 == 127
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return false }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return true } // ::1
        let mapped = bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff
        return mapped && bytes[12] == 127
    }

    // MARK: Value parsing

    static func nonEmpty(_ value: String?) -> String? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        return value
    }

    static func integer(_ text: String, key: String, in range: ClosedRange<Int>) throws -> Int {
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else {
            throw ConfigurationError(key: key, message: "\(text.debugDescription) is not an integer")
        }
        guard range.contains(value) else {
            throw ConfigurationError(key: key, message: "\(value) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    static func boolean(_ text: String, key: String) throws -> Bool {
        switch text.trimmingCharacters(in: .whitespaces).lowercased() {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw ConfigurationError(key: key, message: "\(text.debugDescription) is not a boolean (true/false)")
        }
    }

    static let logLevels = ["TRACE", "DEBUG", "INFO", "NOTICE", "WARNING", "WARN", "ERROR", "CRITICAL"]

    static func logLevel(_ text: String, key: String) throws -> String {
        let upper = text.uppercased()
        guard logLevels.contains(upper) else {
            throw ConfigurationError(key: key, message: "\(text.debugDescription) is not one of \(logLevels.joined(separator: ", "))")
        }
        return upper == "WARN" ? "WARNING" : upper
    }
}

/// A parsed JSON value, keeping booleans, numbers and strings apart.
enum ConfigJSONValue: Decodable {
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([ConfigJSONValue])
    case object([String: ConfigJSONValue])
    case null

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([ConfigJSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: ConfigJSONValue].self)) }
    }
}

/// Reads one JSON object of the config file, naming keys by their dotted path in errors.
private struct JSONSection {
    var values: [String: ConfigJSONValue]
    let prefix: String
    var seen: Set<String> = []

    init(values: [String: ConfigJSONValue], prefix: String) {
        self.values = values
        self.prefix = prefix
    }

    func path(_ key: String) -> String { prefix.isEmpty ? key : "\(prefix).\(key)" }

    mutating func take(_ key: String) -> ConfigJSONValue? {
        seen.insert(key)
        guard let value = values[key] else { return nil }
        if case .null = value { return nil }
        return value
    }

    mutating func section(_ key: String) throws -> JSONSection? {
        guard let value = take(key) else { return nil }
        guard case .object(let object) = value else {
            throw ConfigurationError(key: path(key), message: "must be a JSON object")
        }
        return JSONSection(values: object, prefix: path(key))
    }

    mutating func string(_ key: String) throws -> String? {
        guard let value = take(key) else { return nil }
        guard case .string(let string) = value else { throw ConfigurationError(key: path(key), message: "must be a string") }
        return string
    }

    mutating func bool(_ key: String) throws -> Bool? {
        guard let value = take(key) else { return nil }
        guard case .bool(let bool) = value else { throw ConfigurationError(key: path(key), message: "must be true or false") }
        return bool
    }

    mutating func int(_ key: String) throws -> Int? {
        guard let value = take(key) else { return nil }
        guard case .number(let number) = value, let int = Int(exactly: number) else {
            throw ConfigurationError(key: path(key), message: "must be an integer")
        }
        return int
    }

    mutating func double(_ key: String) throws -> Double? {
        guard let value = take(key) else { return nil }
        guard case .number(let number) = value else { throw ConfigurationError(key: path(key), message: "must be a number") }
        return number
    }

    mutating func stringArray(_ key: String) throws -> [String]? {
        guard let value = take(key) else { return nil }
        guard case .array(let array) = value else { throw ConfigurationError(key: path(key), message: "must be an array of strings") }
        return try array.map {
            guard case .string(let string) = $0 else { throw ConfigurationError(key: path(key), message: "must be an array of strings") }
            return string
        }
    }

    func rejectUnknown() throws {
        if let unknown = values.keys.filter({ !seen.contains($0) }).sorted().first {
            throw ConfigurationError(key: path(unknown), message: "unknown setting")
        }
    }
}
