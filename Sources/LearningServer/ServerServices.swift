// The server's two long-running parts as swift-service-lifecycle services. The ServiceGroup in
// main.swift runs them and, on SIGTERM or SIGINT, shuts them down in reverse order: first the
// transport (health NOT_SERVING, in-flight calls drain), then the learning runtime (background
// jobs stop, queued writes are flushed, the pool closes).
import GRPCStandardServices
import H2Transport
import LearningRPC
import LearningService
import Logging
import ServiceLifecycle

/// The learning runtime: started first; stopped last, after the transport has drained.
struct LearningRuntimeService: Service {
    let service: LearningService
    /// Finished once the runtime has started, so the transport listens only then.
    let started: AsyncStream<Never>.Continuation

    func run() async throws {
        await service.start()
        started.finish()
        // Until the group shuts down gracefully, or is cancelled (another part failed).
        try? await gracefulShutdown()
        await service.shutdown()
    }
}

/// The HTTP/2 + HTTP/1.1 listener serving gRPC and REST.
struct TransportService: Service {
    let server: H2Server
    /// The address it listens on, for the log line.
    let host: String
    /// The configured port (0: any free one), for the error when it cannot be bound.
    let port: Int
    let health: HealthService
    let service: LearningService
    /// Ends when the runtime has started.
    let runtimeStarted: AsyncStream<Never>
    let drainGrace: Duration
    let logger: Logger

    func run() async throws {
        for await _ in runtimeStarted {}
        do {
            try server.start()
        } catch {
            throw ListenFailure(description: "cannot listen on \(host):\(port): \(error)")
        }
        health.setStatus(.serving, forService: LearningRPC.serviceName)
        logger.info("listening on \(host):\(server.port) (gRPC learning.v1.LearningSystem, grpc.health.v1, reflection; REST)")
        try? await gracefulShutdown()
        logger.info("shutting down: health NOT_SERVING, draining calls")
        service.beginDraining()
        health.enterGracefulShutdown()
        let server = self.server, grace = drainGrace
        await Task.detached { server.shutdown(grace: grace) }.value
        logger.info("connections drained; flushing queued writes and closing the database pool")
    }
}

/// The listener could not bind (the group stops and the server exits 1 with this message).
struct ListenFailure: Error, CustomStringConvertible {
    let description: String
}
