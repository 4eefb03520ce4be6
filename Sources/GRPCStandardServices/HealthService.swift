public import H2Transport
import CProtobufC
import GRPCWire
import LearningProtoC
import ProtobufCSupport
import Synchronization

/// `grpc.health.v1.Health`: Check and Watch, with a settable status per service name.
///
/// The empty name is the whole server. Attached to an `H2Server`, it reports NOT_SERVING while
/// the server starts and from the moment it starts draining; once draining, statuses stay
/// NOT_SERVING whatever is set later.
///
/// ```swift
/// let health = HealthService()
/// health.register(into: &router)
/// health.setStatus(.serving, forService: "learning.v1.LearningSystem")
/// health.attach(to: server)
/// ```
public final class HealthService: Sendable {
    /// A service's status, as `grpc.health.v1.HealthCheckResponse.ServingStatus`.
    public enum ServingStatus: Int32, Sendable {
        /// Not known.
        case unknown = 0
        /// Serving requests.
        case serving = 1
        /// Not serving (starting, draining, or switched off).
        case notServing = 2
        /// Only sent by Watch: the service is not known to the server.
        case serviceUnknown = 3
    }

    /// The Check method's path.
    public static let checkPath = "/grpc.health.v1.Health/Check"
    /// The Watch method's path.
    public static let watchPath = "/grpc.health.v1.Health/Watch"

    private struct State {
        var statuses: [String: ServingStatus] = ["": .notServing]
        var shuttingDown = false
        var watchers: [Int: (service: String, continuation: AsyncStream<ServingStatus>.Continuation)] = [:]
        var nextWatcher = 0
    }

    private let state = Mutex(State())

    /// Creates the service; the whole server starts as NOT_SERVING until `attach` sees it serving
    /// (or `setStatus(.serving, forService: "")` is called).
    public init() {}

    /// How many Watch calls are following `service` now (for tests that must not race a watcher's start).
    func watcherCount(forService service: String) -> Int {
        state.withLock { state in state.watchers.values.filter { $0.service == service }.count }
    }

    /// Sets the status of a service (the empty name is the whole server) and notifies watchers.
    public func setStatus(_ status: ServingStatus, forService service: String) {
        let notify = state.withLock { state -> [AsyncStream<ServingStatus>.Continuation] in
            let effective = state.shuttingDown ? .notServing : status
            guard state.statuses[service] != effective else { return [] }
            state.statuses[service] = effective
            return state.watchers.values.filter { $0.service == service }.map { ($0.continuation) }
        }
        let effective = self.status(forService: service) ?? status
        for continuation in notify { continuation.yield(effective) }
    }

    /// The status of a service, `nil` when it was never set.
    public func status(forService service: String) -> ServingStatus? {
        state.withLock { $0.statuses[service] }
    }

    /// Turns every service NOT_SERVING for good (graceful shutdown).
    public func enterGracefulShutdown() {
        let services = state.withLock { state -> [String] in
            state.shuttingDown = true
            return Array(state.statuses.keys)
        }
        for service in services {
            let notify = state.withLock { state -> [AsyncStream<ServingStatus>.Continuation] in
                guard state.statuses[service] != .notServing else { return [] }
                state.statuses[service] = .notServing
                return state.watchers.values.filter { $0.service == service }.map { $0.continuation }
            }
            for continuation in notify { continuation.yield(.notServing) }
        }
    }

    /// Follows the server's lifecycle: NOT_SERVING while starting, SERVING once it serves,
    /// NOT_SERVING for every service from the moment it drains.
    public func attach(to server: H2Server) {
        server.onLifecycleChange { [self] lifecycle in
            switch lifecycle {
            case .starting: setStatus(.notServing, forService: "")
            case .serving: setStatus(.serving, forService: "")
            case .draining, .stopped: enterGracefulShutdown()
            }
        }
    }

    /// Registers Check (inline on the loop: it reads memory only) and Watch.
    public func register(into router: inout Router) {
        router.register(Self.checkPath, .unaryInline { [self] _, request in
            let service = try Self.serviceName(request)
            guard let status = status(forService: service) else {
                throw GRPCStatus(.notFound, "unknown service '\(service)'")
            }
            return Self.response(status)
        })
        router.register(Self.watchPath, .serverStreaming { [self] _, request, writer in
            let service = try Self.serviceName(request)
            let (updates, continuation) = AsyncStream<ServingStatus>.makeStream(bufferingPolicy: .bufferingNewest(8))
            let id = state.withLock { state -> Int in
                let id = state.nextWatcher
                state.nextWatcher += 1
                state.watchers[id] = (service, continuation)
                continuation.yield(state.statuses[service] ?? .serviceUnknown)
                return id
            }
            defer { _ = state.withLock { $0.watchers.removeValue(forKey: id) } }
            var last: ServingStatus?
            try await withTaskCancellationHandler {
                for await status in updates where status != last {
                    last = status
                    try await writer.send(Self.response(status))
                }
            } onCancel: {
                continuation.finish()
            }
            throw GRPCStatus(.cancelled, "watch ended")
        })
    }

    private static func serviceName(_ request: [UInt8]) throws -> String {
        guard let decoded = unpackMessage(request, grpc__health__v1__health_check_request__unpack) else {
            throw GRPCStatus(.invalidArgument, "request is not a valid HealthCheckRequest")
        }
        return stringField(decoded.message.service)
    }

    private static func response(_ status: ServingStatus) -> [UInt8] {
        let arena = ProtoArena()
        let message = arena.message(grpc__health__v1__health_check_response__init)
        message.pointee.status = Grpc__Health__V1__HealthCheckResponse__ServingStatus(rawValue: UInt32(status.rawValue))
        return packMessage(message)
    }
}
