// learning-server: the service's entry point. Loads the configuration, connects the store
// (migrations at start-up), starts the learning runtime, and serves gRPC (learning.v1, health,
// reflection) and REST on one port. SIGINT/SIGTERM shut it down gracefully: health turns
// NOT_SERVING, in-flight calls drain, queued writes are flushed, the pool is closed, exit 0.
import Foundation
import GRPCStandardServices
import H2Transport
import LearningCore
import LearningREST
import LearningRPC
import LearningService
import LearningStore
import CMemory
#if canImport(Glibc)
import Glibc
#endif

/// Writes one log line to standard error, if `level` is enabled.
final class Log: Sendable {
    static let order = ["TRACE": 0, "DEBUG": 1, "INFO": 2, "NOTICE": 2, "WARNING": 3, "ERROR": 4, "CRITICAL": 5]
    let threshold: Int

    init(level: String) {
        threshold = Self.order[level] ?? 2
    }

    func callAsFunction(_ message: String, level: String = "INFO") {
        guard (Self.order[level] ?? 2) >= threshold else { return }
        let stamp = ISO8601DateFormatter.string(from: Date(), timeZone: .gmt, formatOptions: [.withInternetDateTime, .withFractionalSeconds])
        writeStandardError("\(stamp) \(level) learning-server: \(message)\n")
    }
}

/// Writes text to standard error in one call (lines from several threads do not interleave).
func writeStandardError(_ text: String) {
    var bytes = Array(text.utf8)
    bytes.withUnsafeMutableBytes { buffer in
        var offset = 0
        while offset < buffer.count {
            let written = write(2, buffer.baseAddress! + offset, buffer.count - offset)
            if written <= 0 { break }
            offset += written
        }
    }
}

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
let log = Log(level: config.logLevel)
log("starting version \(LearningService.version) (environment \(config.environment), log level \(config.logLevel))")
log("features: performance_tracking=\(config.agents.performanceTracking) anomaly_detection=\(config.anomalyDetectionEnabled) "
    + "pattern_recognition=\(config.agents.patternRecognition) predictive_analytics=\(config.agents.predictiveAnalytics)")
if config.server.apiKeys.isEmpty {
    log("no API keys configured: writes are open to every client that can reach \(config.server.host)", level: "WARNING")
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
            log("connecting to PostgreSQL and applying migrations (attempt \(attempt))")
            opened = try await LearningStore.open(config: config, leaderElection: true)
        } catch let error as StoreError where error.isRetryable && Date() < deadline {
            log("database not ready (\(error)); retrying in 2 s", level: "WARNING")
            try? await Task.sleep(for: .seconds(2))
        } catch {
            fail("cannot open the database: \(error)", code: 1)
        }
    }
    store = opened!
}
log("database connected (embeddings stored as \(store.embeddingMode.rawValue))")

let service = LearningService(config: config, store: store, logger: { log($0) })
await service.start()

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
router.http = makeRESTHandler(service: service, maxBodyBytes: config.server.maxReceiveMessageBytes,
                              otlpTaskTypeAttributes: config.otlp.taskTypeAttributes)

let server = H2Server(
    configuration: ServerConfiguration(
        host: config.server.host, port: config.server.port, loopThreads: config.server.loopThreads,
        maxReceiveMessageBytes: config.server.maxReceiveMessageBytes, maxConnections: config.server.maxConnections,
        maxConcurrentStreams: config.server.maxConcurrentStreams, maxHTTP1BodyBytes: config.server.maxReceiveMessageBytes,
        accessLog: config.logLevel == "DEBUG" || config.logLevel == "TRACE" ? .all : .errors,
        accessLogSink: { line in log(line, level: "DEBUG") }),
    router: router)
health.attach(to: server)
service.setRequestFigures {
    let metrics = server.metrics
    let methods = metrics.methods.map { path, figures in
        ServiceMethodMetrics(method: path, requests: Int64(figures.requests), errors: Int64(figures.errors),
                             avgLatencyMs: figures.averageLatencyMs, p99LatencyMs: figures.p99LatencyMs)
    }.sorted { $0.method < $1.method }
    return RequestFigures(queriesPerSec: metrics.recentRequestsPerSecond, avgLatencyMs: metrics.recentAverageLatencyMs,
                          windowSeconds: metrics.windowSeconds, methods: methods)
}
do {
    try server.start()
} catch {
    await service.shutdown()
    fail("cannot listen on \(config.server.host):\(config.server.port): \(error)", code: 1)
}
health.setStatus(.serving, forService: LearningRPC.serviceName)
log("listening on \(config.server.host):\(server.port) (gRPC learning.v1.LearningSystem, grpc.health.v1, reflection; REST)")

// Graceful shutdown on SIGINT/SIGTERM.
signal(SIGINT, SIG_IGN)
signal(SIGTERM, SIG_IGN)
let stopRequested = AsyncStream<Int32>.makeStream(of: Int32.self)
let signalSources = [SIGINT, SIGTERM].map { number -> any DispatchSourceSignal in
    let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
    source.setEventHandler { stopRequested.continuation.yield(number) }
    source.resume()
    return source
}
var received = SIGTERM
for await number in stopRequested.stream {
    received = number
    break
}
log("received signal \(received): shutting down (health NOT_SERVING, draining calls)")
service.beginDraining()
health.enterGracefulShutdown()
let drained = Task.detached { server.shutdown(grace: .seconds(10)) }
await drained.value
log("connections drained; flushing queued writes and closing the database pool")
await service.shutdown()
_ = signalSources
log("stopped")
exit(0)
