import Foundation
import LearningCore
import LearningStore
import Testing
@testable import LearningService

@Suite("Configuration precedence and validation")
struct ConfigurationTests {
    func writeTemporary(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "learning-config-\(UUID().uuidString).json"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func defaultsAreTheGuidesValues() throws {
        let config = try ConfigurationLoader.load(environment: [:])
        #expect(config.ml.vectorSize == 256)
        #expect(config.ml.similarityThreshold == 0.85)
        #expect(config.ml.modelUpdateFrequency == 3600)
        #expect(config.performance.anomalyDetectionThreshold == 2.0)
        #expect(config.agents.healthCheckInterval == 30)
        #expect(config.server.port == 8080)
        #expect(config.database.maxConnections == 20)
    }

    @Test func fileOverridesDefaultsAndEnvironmentOverridesFileAndFlagsOverrideEnvironment() throws {
        let path = try writeTemporary("""
            {"database": {"host": "postgres", "port": 5432, "database": "claude_auth", "user": "claude_user", "max_connections": 7},
             "ml": {"vector_size": 128, "similarity_threshold": 0.9, "learning_rate": 0.01, "batch_size": 16, "model_update_frequency": 600},
             "performance": {"metrics_retention_days": 30, "performance_tracking_interval": 15, "anomaly_detection_threshold": 3.0, "prediction_confidence_threshold": 0.7},
             "agents": {"total_agents": 71, "health_check_interval": 10, "performance_tracking": true, "pattern_recognition": true, "predictive_analytics": false},
             "server": {"port": 9000, "api_keys": ["0123456789abcdef0123"]}}
            """)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var arguments = ServerArguments()
        arguments.configPath = path
        let fileOnly = try ConfigurationLoader.load(arguments: arguments, environment: [:])
        #expect(fileOnly.database.maxConnections == 7)
        #expect(fileOnly.ml.vectorSize == 128)
        #expect(fileOnly.ml.modelUpdateFrequency == 600)
        #expect(fileOnly.performance.anomalyDetectionThreshold == 3.0)
        #expect(fileOnly.agents.healthCheckInterval == 10)
        #expect(fileOnly.agents.predictiveAnalytics == false)
        #expect(fileOnly.server.port == 9000)
        #expect(fileOnly.server.apiKeys == ["0123456789abcdef0123"])

        let environment = ["ML_VECTOR_SIZE": "64", "LEARNING_API_PORT": "9100", "ML_MODEL_UPDATE_INTERVAL": "120",
                           "ML_BATCH_SIZE": "8", "PATTERN_RECOGNITION_ENABLED": "false", "ANOMALY_DETECTION_ENABLED": "false",
                           "PERFORMANCE_TRACKING_ENABLED": "false", "LEARNING_ENV": "docker", "LEARNING_LOG_LEVEL": "debug",
                           "LEARNING_DATABASE_URL": "postgresql://u@h/db", "LEARNING_API_KEYS": "aaaaaaaaaaaaaaaa1, bbbbbbbbbbbbbbbb2",
                           "LEARNING_LOOP_THREADS": "3"]
        let withEnvironment = try ConfigurationLoader.load(arguments: arguments, environment: environment)
        #expect(withEnvironment.ml.vectorSize == 64)
        #expect(withEnvironment.server.port == 9100)
        #expect(withEnvironment.ml.modelUpdateFrequency == 120)
        #expect(withEnvironment.ml.batchSize == 8)
        #expect(withEnvironment.agents.patternRecognition == false)
        #expect(withEnvironment.anomalyDetectionEnabled == false)
        #expect(withEnvironment.agents.performanceTracking == false)
        #expect(withEnvironment.environment == "docker")
        #expect(withEnvironment.logLevel == "DEBUG")
        #expect(withEnvironment.database.url == "postgresql://u@h/db")
        #expect(withEnvironment.server.apiKeys == ["aaaaaaaaaaaaaaaa1", "bbbbbbbbbbbbbbbb2"])
        #expect(withEnvironment.server.loopThreads == 3)
        #expect(withEnvironment.database.maxConnections == 7, "file values the environment does not touch stay")

        arguments.port = 9200
        let withFlags = try ConfigurationLoader.load(arguments: arguments, environment: environment)
        #expect(withFlags.server.port == 9200)
    }

    /// The guide's keys with no honest meaning here are accepted, and noted when set.
    @Test func keysKeptForCompatibilityAreNotedWhenSet() throws {
        #expect(ConfigurationLoader.compatibilityNotes(try ConfigurationLoader.load(environment: [:])).isEmpty)
        let path = try writeTemporary(#"{"ml": {"learning_rate": 0.01, "batch_size": 32}}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let config = try ConfigurationLoader.load(environment: ["LEARNING_CONFIG_FILE": path, "ML_BATCH_SIZE": "128"])
        let notes = ConfigurationLoader.compatibilityNotes(config)
        #expect(notes.count == 2)
        #expect(notes.contains { $0.hasPrefix("ml.learning_rate = 0.01 has no effect") })
        #expect(notes.contains { $0.hasPrefix("ml.batch_size (ML_BATCH_SIZE) = 128 has no effect") })
    }

    @Test func configFilePathComesFromTheEnvironmentToo() throws {
        let path = try writeTemporary(#"{"ml": {"batch_size": 99}}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let config = try ConfigurationLoader.load(environment: ["LEARNING_CONFIG_FILE": path])
        #expect(config.ml.batchSize == 99)
    }

    @Test func databaseFieldsComeFromTheEnvironmentOverTheFile() throws {
        let path = try writeTemporary("""
            {"database": {"host": "file-host", "port": 6000, "database": "file_db", "user": "file_user",
                          "password": "file-secret", "max_connections": 5}}
            """)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var arguments = ServerArguments()
        arguments.configPath = path
        let fileOnly = try ConfigurationLoader.load(arguments: arguments, environment: [:])
        #expect(fileOnly.database.host == "file-host")
        #expect(fileOnly.database.port == 6000)
        #expect(fileOnly.database.maxConnections == 5)

        let environment = ["LEARNING_DATABASE_HOST": "postgres", "LEARNING_DATABASE_PORT": "5433",
                           "LEARNING_DATABASE_NAME": "claude_auth", "LEARNING_DATABASE_USER": "claude_user",
                           "LEARNING_DATABASE_PASSWORD": "p'w d", "LEARNING_DATABASE_MAX_CONNECTIONS": "12"]
        let config = try ConfigurationLoader.load(arguments: arguments, environment: environment)
        #expect(config.database.host == "postgres")
        #expect(config.database.port == 5433)
        #expect(config.database.database == "claude_auth")
        #expect(config.database.user == "claude_user")
        #expect(config.database.password == "p'w d")
        #expect(config.database.maxConnections == 12)
        #expect(config.database.url == nil)
        #expect(LearningStore.connectionURL(for: config.database)
                == "host='postgres' port=5433 dbname='claude_auth' user='claude_user' password='p\\'w d'")
    }

    @Test func theReadReplicaComesFromTheFileOrTheEnvironmentAndABadOneNamesTheKey() throws {
        let path = try writeTemporary(#"{"database": {"read_url": "postgresql://reader@standby:5432/claude_auth", "read_max_connections": 3}}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let fromFile = try ConfigurationLoader.load(environment: ["LEARNING_CONFIG_FILE": path])
        #expect(fromFile.database.readURL == "postgresql://reader@standby:5432/claude_auth")
        #expect(fromFile.database.readMaxConnections == 3)
        let fromEnvironment = try ConfigurationLoader.load(environment: [
            "LEARNING_CONFIG_FILE": path, "LEARNING_DATABASE_READ_URL": "host=standby2 dbname=claude_auth",
            "LEARNING_DATABASE_READ_MAX_CONNECTIONS": "8"])
        #expect(fromEnvironment.database.readURL == "host=standby2 dbname=claude_auth")
        #expect(fromEnvironment.database.readMaxConnections == 8)
        #expect(try ConfigurationLoader.load(environment: [:]).database.readURL == nil)
        let bad = #expect(throws: ConfigurationError.self) {
            try ConfigurationLoader.load(environment: ["LEARNING_DATABASE_READ_URL": "the-standby"])
        }
        #expect(bad?.key == "database.read_url")
        let count = #expect(throws: ConfigurationError.self) {
            try ConfigurationLoader.load(environment: ["LEARNING_DATABASE_READ_MAX_CONNECTIONS": "0"])
        }
        #expect(count?.key == "LEARNING_DATABASE_READ_MAX_CONNECTIONS")
    }

    @Test func databaseURLWinsOverTheSeparateFields() throws {
        let url = "postgresql://claude_user:pw@db.example:5432/claude_auth"
        let config = try ConfigurationLoader.load(environment: [
            "LEARNING_DATABASE_URL": url, "LEARNING_DATABASE_HOST": "postgres", "LEARNING_DATABASE_PORT": "6543",
        ])
        #expect(config.database.port == 6543, "the fields are still read and validated")
        #expect(LearningStore.connectionURL(for: config.database) == url)
    }

    /// Values to try for a variable: one of them must change the configuration (or be rejected
    /// with an error naming the variable) for the variable to count as read.
    func probeValues(directory: String, configFile: String) -> [String] {
        ["7", "127.0.0.7", "true", "false", "DEBUG", "abcdefghijklmnop-0123456789", directory, configFile]
    }

    /// The variables README's configuration table names (second column).
    func readmeTableVariables() throws -> [String] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        guard let section = readme.range(of: "## Configuration") else { return [] }
        var names: [String] = []
        for line in readme[section.upperBound...].split(separator: "\n") {
            if line.hasPrefix("## ") { break }
            let cells = line.split(separator: "|", omittingEmptySubsequences: false)
            guard line.hasPrefix("|"), cells.count > 3 else { continue }
            for piece in cells[2].split(separator: "`").enumerated() where piece.offset % 2 == 1 {
                names.append(String(piece.element))
            }
        }
        return names
    }

    /// The variables docker/docker-compose.yml hands the service.
    func composeVariables() throws -> [String] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let compose = try String(contentsOf: root.appendingPathComponent("docker/docker-compose.yml"), encoding: .utf8)
        return compose.split(separator: "\n").compactMap { line -> String? in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard let colon = trimmed.firstIndex(of: ":") else { return nil }
            let name = String(trimmed[..<colon])
            guard !name.isEmpty, !name.hasPrefix("POSTGRES_"),
                  name.allSatisfy({ $0.isUppercase || $0.isNumber || $0 == "_" }) else { return nil }
            return name
        }
    }

    static let guideVariables = [
        "LEARNING_ENV", "LEARNING_LOG_LEVEL", "LEARNING_API_PORT", "ML_MODEL_UPDATE_INTERVAL", "ML_VECTOR_SIZE",
        "ML_BATCH_SIZE", "PERFORMANCE_TRACKING_ENABLED", "ANOMALY_DETECTION_ENABLED", "PATTERN_RECOGNITION_ENABLED",
    ]

    @Test func everyDocumentedEnvironmentVariableIsReadByTheLoader() throws {
        let documented = try readmeTableVariables()
        #expect(documented.count >= 20, "README's configuration table was found and parsed: \(documented)")
        for name in Self.guideVariables {
            #expect(documented.contains(name), "README's configuration table documents the guide's \(name)")
        }
        let compose = try composeVariables()
        #expect(compose.contains("LEARNING_DATABASE_HOST"))

        let directory = NSTemporaryDirectory() + "learning-probe-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let configFile = try writeTemporary(#"{"environment": "probe"}"#)
        defer {
            try? FileManager.default.removeItem(atPath: directory)
            try? FileManager.default.removeItem(atPath: configFile)
        }
        let defaults = try ConfigurationLoader.load(environment: [:])
        for name in Set(documented + Self.guideVariables + compose).sorted() {
            let read = probeValues(directory: directory, configFile: configFile).contains { value in
                do {
                    return try ConfigurationLoader.load(environment: [name: value]) != defaults
                } catch let error as ConfigurationError {
                    return error.key == name
                } catch {
                    return false
                }
            }
            #expect(read, "\(name) is documented but the configuration loader ignores it")
        }
    }

    @Test(arguments: [
        ("ML_VECTOR_SIZE", "abc"), ("ML_VECTOR_SIZE", "0"), ("LEARNING_API_PORT", "70000"), ("LEARNING_API_PORT", "-1"),
        ("ML_MODEL_UPDATE_INTERVAL", "0"), ("ML_BATCH_SIZE", "1.5"), ("PERFORMANCE_TRACKING_ENABLED", "maybe"),
        ("ANOMALY_DETECTION_ENABLED", "2"), ("PATTERN_RECOGNITION_ENABLED", "yesno"), ("LEARNING_LOG_LEVEL", "LOUD"),
        ("LEARNING_LOOP_THREADS", "many"), ("LEARNING_ALLOW_UNAUTHENTICATED_REMOTE", "sure"),
        ("LEARNING_DATABASE_PORT", "0"), ("LEARNING_DATABASE_PORT", "postgres"),
        ("LEARNING_DATABASE_MAX_CONNECTIONS", "0"), ("LEARNING_DATABASE_MAX_CONNECTIONS", "lots"),
    ])
    func invalidEnvironmentValueStopsStartUpNamingTheVariable(key: String, value: String) throws {
        let error = #expect(throws: ConfigurationError.self) {
            try ConfigurationLoader.load(environment: [key: value])
        }
        #expect(error?.key == key)
        #expect(error?.description.contains(key) == true)
    }

    @Test(arguments: [
        (#"{"ml": {"vector_size": "big"}}"#, "ml.vector_size"),
        (#"{"ml": {"similarity_threshold": 2}}"#, "ml.similarity_threshold"),
        (#"{"performance": {"anomaly_detection_threshold": -1}}"#, "performance.anomaly_detection_threshold"),
        (#"{"performance": {"prediction_confidence_threshold": 1.5}}"#, "performance.prediction_confidence_threshold"),
        (#"{"agents": {"health_check_interval": 0}}"#, "agents.health_check_interval"),
        (#"{"agents": {"performance_tracking": "yes"}}"#, "agents.performance_tracking"),
        (#"{"database": {"max_connections": 0}}"#, "database.max_connections"),
        (#"{"database": {"port": 1.5}}"#, "database.port"),
        (#"{"ml": {"vectr_size": 3}}"#, "ml.vectr_size"),
        (#"{"server": {"api_keys": "short"}}"#, "server.api_keys"),
        (#"{"server": {"api_keys": ["short"]}}"#, "server.api_keys"),
        (#"{"ml": []}"#, "ml"),
        (#"[1]"#, "config file"),
        (#"{"ml": {"#, "config file"),
    ])
    func invalidFileValueStopsStartUpNamingTheKey(json: String, key: String) throws {
        let path = try writeTemporary(json)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var arguments = ServerArguments()
        arguments.configPath = path
        let error = #expect(throws: ConfigurationError.self) {
            try ConfigurationLoader.load(arguments: arguments, environment: [:])
        }
        #expect(error?.key == key)
    }

    @Test func missingConfigFileIsReported() {
        var arguments = ServerArguments()
        arguments.configPath = "/nonexistent/learning.json"
        #expect(throws: ConfigurationError.self) { try ConfigurationLoader.load(arguments: arguments, environment: [:]) }
    }

    @Test func bindingToARemoteAddressWithoutKeysIsRefusedUnlessAllowed() throws {
        let error = #expect(throws: ConfigurationError.self) {
            try ConfigurationLoader.load(environment: ["LEARNING_API_HOST": "0.0.0.0"])
        }
        #expect(error?.key == "server.host")
        _ = try ConfigurationLoader.load(environment: ["LEARNING_API_HOST": "0.0.0.0", "LEARNING_ALLOW_UNAUTHENTICATED_REMOTE": "true"])
        _ = try ConfigurationLoader.load(environment: ["LEARNING_API_HOST": "0.0.0.0", "LEARNING_API_KEYS": "0123456789abcdef0123"])
        _ = try ConfigurationLoader.load(environment: ["LEARNING_API_HOST": "localhost"])
    }

    @Test func commandLineArgumentsAreParsed() throws {
        let arguments = try ServerArguments.parse(["--config", "/tmp/x.json", "--host=0.0.0.0", "--port", "0", "--version"])
        #expect(arguments.configPath == "/tmp/x.json")
        #expect(arguments.host == "0.0.0.0")
        #expect(arguments.port == 0)
        #expect(arguments.version)
        #expect(try ServerArguments.parse(["-h"]).help)
        #expect(throws: ConfigurationError.self) { try ServerArguments.parse(["--port", "x"]) }
        #expect(throws: ConfigurationError.self) { try ServerArguments.parse(["--bogus"]) }
        #expect(throws: ConfigurationError.self) { try ServerArguments.parse(["--config"]) }
    }
}

@Suite("API keys")
struct AuthorizationTests {
    @Test func writesNeedAValidKeyWhenKeysAreConfiguredAndReadsStayOpen() throws {
        let auth = APIKeyAuthenticator(keys: ["0123456789abcdef0123", "fedcba9876543210fedc"])
        for operation in ServiceOperation.allCases where operation.requiresKey {
            #expect(throws: ServiceError.self) { try auth.authorize(operation, bearerToken: nil) }
            #expect(throws: ServiceError.self) { try auth.authorize(operation, bearerToken: "Bearer wrong") }
            #expect(throws: ServiceError.self) { try auth.authorize(operation, bearerToken: "Bearer 0123456789abcdef012") }
            #expect(throws: ServiceError.self) { try auth.authorize(operation, bearerToken: "Bearer 0123456789abcdef01234") }
            try auth.authorize(operation, bearerToken: "Bearer 0123456789abcdef0123")
            try auth.authorize(operation, bearerToken: "bearer fedcba9876543210fedc")
        }
        for operation in ServiceOperation.allCases where !operation.requiresKey {
            try auth.authorize(operation, bearerToken: nil)
        }
        #expect(ServiceOperation.registerAgent.requiresKey && ServiceOperation.retrain.requiresKey && ServiceOperation.logExecution.requiresKey)
        #expect(!ServiceOperation.health.requiresKey && !ServiceOperation.predict.requiresKey)
    }

    @Test func everythingIsOpenWithoutKeys() throws {
        let auth = APIKeyAuthenticator(keys: [])
        for operation in ServiceOperation.allCases { try auth.authorize(operation, bearerToken: nil) }
    }

    @Test func theErrorIsUnauthenticated() {
        let auth = APIKeyAuthenticator(keys: ["0123456789abcdef0123"])
        do {
            try auth.authorize(.retrain, bearerToken: "Bearer nope")
            Issue.record("accepted a wrong key")
        } catch let error as ServiceError {
            #expect(error == .unauthenticated(error.detail))
            #expect(error.code == "unauthenticated")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }
}

@Suite("Loopback and the request limits")
struct LoopbackAndLimitsTests {
    @Test func loopbackIsDecidedOnTheAddressNotOnAPrefix() {
        for host in ["localhost", "127.0.0.1", "127.8.9.10", "::1", "[::1]", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1"] {
            #expect(ConfigurationLoader.isLoopback(host), "\(host)")
        }
        for host in ["127.example.com", "127.0.0.1.nip.io", "0.0.0.0", "::", "10.0.0.1", "::ffff:10.0.0.1", "128.0.0.1", ""] {
            #expect(!ConfigurationLoader.isLoopback(host), "\(host)")
        }
    }

    @Test func requestTimeoutAndBudgetComeFromTheFileAndTheEnvironment() throws {
        var config = LearningConfig()
        #expect(config.server.requestTimeoutSeconds == 30)
        try ConfigurationLoader.applyEnvironment(["LEARNING_REQUEST_TIMEOUT_SECONDS": "5",
                                                  "LEARNING_MAX_BUFFERED_REQUEST_BYTES": "67108864"], to: &config)
        #expect(config.server.requestTimeoutSeconds == 5)
        #expect(config.server.maxBufferedRequestBytes == 64 << 20)
        try ConfigurationLoader.applyFile(Data(#"{"server": {"request_timeout_seconds": 7}}"#.utf8), to: &config)
        #expect(config.server.requestTimeoutSeconds == 7)
        #expect(throws: ConfigurationError.self) {
            try ConfigurationLoader.applyEnvironment(["LEARNING_REQUEST_TIMEOUT_SECONDS": "0"], to: &config)
        }
    }
}
