// learning-server: the service's entry point. Loads the configuration, connects the store
// (migrations at start-up), then runs the learning runtime and the listener serving gRPC
// (learning.v1, health, reflection) and REST on one port as a swift-service-lifecycle
// ServiceGroup. SIGINT/SIGTERM shut it down gracefully: health turns NOT_SERVING, in-flight
// calls drain, queued writes are flushed, the pool is closed, exit 0. Logs go through swift-log
// (StandardErrorLogHandler).
import Foundation
import GRPCStandardServices
import H2Transport
import LearningCore
import LearningREST
import LearningRPC
import LearningService
import LearningRepository
import LearningStore
import CMemory
import Logging
import Metrics
import ServiceLifecycle
import UnixSignals
#if canImport(Glibc)
import Glibc
#endif

func fail(_ message: String, code: Int32) -> Never {
    writeStandardError("learning-server: \(message)\n")
    exit(code)
}

// Two allocator arenas instead of glibc's 8 per core: the event loops, pool and writer threads
// otherwise each keep what they freed (bench/volume.sh: resident size over 10 M rows).
learning_limit_allocator_arenas(2)

let arguments: ServerArguments
do {
    arguments = try ServerArguments.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    fail("\(error)\n\(ServerArguments.usage)", code: 2)
}
if arguments.help {
    print(ServerArguments.usage)
    exit(0)
}
if arguments.version {
    print("learning-server \(LearningService.version)")
    exit(0)
}
if arguments.databaseCheck {
    let outcome = DatabaseCheck.run(arguments: arguments, environment: ProcessInfo.processInfo.environment)
    if !outcome.out.isEmpty { print(outcome.out) }
    if !outcome.err.isEmpty { writeStandardError(outcome.err + "\n") }
    exit(outcome.code)
}

let config: LearningConfig
do {
    config = try ConfigurationLoader.load(arguments: arguments, environment: ProcessInfo.processInfo.environment)
} catch {
    fail("\(error)", code: 78)
}
let logLevel = StandardErrorLogHandler.level(named: config.logLevel)
LoggingSystem.bootstrap { label in StandardErrorLogHandler(label: label, level: logLevel) }
let log = Logger(label: "learning-server")
log.info("starting version \(LearningService.version) (environment \(config.environment), log level \(config.logLevel))")
let features = "performance_tracking=\(config.agents.performanceTracking) anomaly_detection=\(config.anomalyDetectionEnabled) "
    + "pattern_recognition=\(config.agents.patternRecognition) predictive_analytics=\(config.agents.predictiveAnalytics)"
log.info("features: \(features)")
for note in ConfigurationLoader.compatibilityNotes(config) { log.warning("\(note)") }
if config.server.apiKeys.isEmpty {
    log.warning("no API keys configured: writes are open to every client that can reach \(config.server.host)")
}

// The database: retry for a while, so the service can start alongside PostgreSQL.
let store: LearningStore
do {
    var attempt = 0
    var opened: LearningStore?
    let deadline = Date().addingTimeInterval(60)
    while opened == nil {
        attempt += 1
        do {
            log.info("connecting to PostgreSQL and applying migrations (attempt \(attempt))")
            opened = try await LearningStore.open(config: config, leaderElection: true)
        } catch let error as StoreError where error.isRetryable && Date() < deadline {
            log.warning("database not ready (\(error)); retrying in 2 s")
            try? await Task.sleep(for: .seconds(2))
        } catch {
            fail("cannot open the database: \(error)", code: 1)
        }
    }
    store = opened!
}
log.info("database connected (embeddings stored as \(store.embeddingMode.rawValue))")

let service = LearningService(config: config, store: store, logger: log)

var router = Router()
LearningRPC.register(into: &router, handlers: service)
OTLPTraceService.register(into: &router, handlers: service, taskTypeAttributes: config.otlp.taskTypeAttributes)
let health = HealthService()
health.register(into: &router)
do {
    let reflection = try ReflectionService(descriptorSet: embeddedDescriptorSet())
    reflection.register(into: &router)
} catch {
    fail("cannot load the embedded descriptor set: \(error)", code: 1)
}
// One Prometheus registry for /metrics; the transport and anything else using swift-metrics
// in this process record into it.
let prometheus = PrometheusExposition(expectedAgents: config.agents.totalAgents)
MetricsSystem.bootstrap(prometheus.factory)
router.http = makeRESTHandler(service: service, maxBodyBytes: config.server.maxReceiveMessageBytes,
                              otlpTaskTypeAttributes: config.otlp.taskTypeAttributes, prometheus: prometheus)
router.httpHeadCheck = makeRESTHeadCheck(service: service)
// What a REST body holds once decoded, for the transport's memory budget.
router.httpCost = makeRESTCost()

var serverConfiguration = ServerConfiguration(
    host: config.server.host, port: config.server.port, loopThreads: config.server.loopThreads,
    maxReceiveMessageBytes: config.server.maxReceiveMessageBytes, maxConnections: config.server.maxConnections,
    maxConcurrentStreams: config.server.maxConcurrentStreams, maxHTTP1BodyBytes: config.server.maxReceiveMessageBytes,
    accessLog: config.logLevel == "DEBUG" || config.logLevel == "TRACE" ? .all : .errors,
    accessLogSink: { line in log.debug("\(line)") }, metricsFactory: prometheus.factory)
serverConfiguration.requestTimeout = .seconds(config.server.requestTimeoutSeconds)
serverConfiguration.maxServerBufferedBytes = config.server.maxBufferedRequestBytes

let server = H2Server(configuration: serverConfiguration, router: router)
health.attach(to: server)
service.setRequestFigures { RequestFigures(server.metrics) }

// The runtime first, then the listener; on SIGTERM/SIGINT the group stops them in reverse order.
let (runtimeStarted, runtimeStartedContinuation) = AsyncStream.makeStream(of: Never.self)
let group = ServiceGroup(configuration: ServiceGroupConfiguration(
    services: [
        .init(service: LearningRuntimeService(service: service, started: runtimeStartedContinuation),
              serviceName: "learning-runtime"),
        .init(service: TransportService(server: server, host: config.server.host,
                                        port: config.server.port, health: health, service: service,
                                        runtimeStarted: runtimeStarted, drainGrace: .seconds(10), logger: log),
              serviceName: "transport"),
    ],
    gracefulShutdownSignals: [.sigterm, .sigint],
    logger: log))
// Which signal stopped the server, in the log (the container test reads it to see that tini
// forwards SIGTERM); the group traps the same signals and does the shutting down.
let signalLog = Task {
    for await signal in await UnixSignalsSequence(trapping: .sigterm, .sigint) {
        log.info("received signal \(signal.rawValue): shutting down")
        break
    }
}
do {
    try await group.run()
    signalLog.cancel()
} catch {
    fail("\(error)", code: 1)
}
log.info("stopped")
exit(0)
