import Foundation
import LearningCore
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

    @Test func configFilePathComesFromTheEnvironmentToo() throws {
        let path = try writeTemporary(#"{"ml": {"batch_size": 99}}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let config = try ConfigurationLoader.load(environment: ["LEARNING_CONFIG_FILE": path])
        #expect(config.ml.batchSize == 99)
    }

    @Test(arguments: [
        ("ML_VECTOR_SIZE", "abc"), ("ML_VECTOR_SIZE", "0"), ("LEARNING_API_PORT", "70000"), ("LEARNING_API_PORT", "-1"),
        ("ML_MODEL_UPDATE_INTERVAL", "0"), ("ML_BATCH_SIZE", "1.5"), ("PERFORMANCE_TRACKING_ENABLED", "maybe"),
        ("ANOMALY_DETECTION_ENABLED", "2"), ("PATTERN_RECOGNITION_ENABLED", "yesno"), ("LEARNING_LOG_LEVEL", "LOUD"),
        ("LEARNING_LOOP_THREADS", "many"), ("LEARNING_ALLOW_UNAUTHENTICATED_REMOTE", "sure"),
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
            #expect(error.httpStatus == 401)
            #expect(error.code == "unauthenticated")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }
}
