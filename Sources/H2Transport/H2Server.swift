import CoreMetrics
import Foundation
import GRPCWire
import Synchronization
import CLearningShims
#if canImport(Glibc)
import Glibc
#endif

/// State shared by the loops of one server.
final class ServerCore: @unchecked Sendable {
    let configuration: ServerConfiguration
    let router: Router
    let openConnections = Atomic<Int>(0)
    let acceptedConnections = Atomic<Int>(0)
    let rejectedConnections = Atomic<Int>(0)
    /// Times accepting paused because descriptors ran out (EMFILE).
    let acceptPauses = Atomic<Int>(0)
    private let draining = Atomic<Bool>(false)
    let startSecond = currentEpochSecond()
    private let logLock = Mutex(())

    /// Where request metrics go (the configuration's factory, or the process-wide one).
    let metricsFactory: any MetricsFactory

    /// Each gRPC method's handler with its head check, found with one lookup per call.
    let grpcRoutes: [String: GRPCRoute]

    init(configuration: ServerConfiguration, router: Router) {
        self.configuration = configuration
        self.router = router
        var routes: [String: GRPCRoute] = [:]
        for (path, handler) in router.grpcMethods {
            routes[path] = GRPCRoute(handler: handler, headCheck: router.grpcHeadChecks[path], cost: router.grpcCosts[path])
        }
        grpcRoutes = routes
        metricsFactory = configuration.metricsFactory ?? MetricsSystem.factory
    }

    var isDraining: Bool { draining.load(ordering: .relaxed) }

    func setDraining() { draining.store(true, ordering: .sequentiallyConsistent) }

    /// Request bytes the connections hold beyond their allowances (`maxServerBufferedBytes`).
    let bufferedRequestBytes = Atomic<Int>(0)
    /// Connections and stream resets per remote address.
    private let addresses = Mutex<[String: AddressRecord]>([:])

    /// What the server remembers of one remote address.
    struct AddressRecord {
        var openConnections = 0
        var resets = 0
        var windowStart = ContinuousClock.now
        /// New connections are refused until then (the address sent too many resets).
        var blockedUntil: ContinuousClock.Instant?
    }

    /// Counts a new connection from `address`; false when over a limit (the server's, the
    /// address's, or the address is blocked for its resets) or draining.
    func admitConnection(address: String) -> Bool {
        if isDraining { return false }
        let now = openConnections.add(1, ordering: .relaxed).newValue
        if now > configuration.maxConnections || !admitAddress(address) {
            openConnections.subtract(1, ordering: .relaxed)
            rejectedConnections.add(1, ordering: .relaxed)
            return false
        }
        acceptedConnections.add(1, ordering: .relaxed)
        return true
    }

    private func admitAddress(_ address: String) -> Bool {
        addresses.withLock { table in
            var record = table[address] ?? AddressRecord()
            if let until = record.blockedUntil {
                if ContinuousClock.now < until { return false }
                record.blockedUntil = nil
            }
            guard record.openConnections < configuration.maxConnectionsPerAddress else { return false }
            record.openConnections += 1
            table[address] = record
            return true
        }
    }

    func connectionClosed(address: String) {
        openConnections.subtract(1, ordering: .relaxed)
        addresses.withLock { table in
            guard var record = table[address] else { return }
            record.openConnections -= 1
            // Forget an address once nothing of it is left to remember.
            if record.openConnections <= 0 && record.blockedUntil == nil
                && record.windowStart + configuration.resetWindow <= .now {
                table[address] = nil
            } else {
                table[address] = record
            }
        }
    }

    /// Counts `count` stream resets the client at `address` sent; false once the address is over
    /// `maxStreamResetsPerAddress` in the current window (it is then blocked until the window ends).
    func recordResets(address: String, count: Int) -> Bool {
        addresses.withLock { table in
            var record = table[address] ?? AddressRecord()
            let now = ContinuousClock.now
            if record.windowStart + configuration.resetWindow <= now {
                record.windowStart = now
                record.resets = 0
            }
            record.resets += count
            let allowed = record.resets <= configuration.maxStreamResetsPerAddress
            if !allowed { record.blockedUntil = record.windowStart + configuration.resetWindow }
            table[address] = record
            return allowed
        }
    }

    /// Takes `count` bytes of the server's request budget; false (nothing taken) when it would pass
    /// `maxServerBufferedBytes`.
    func reserveRequestBytes(_ count: Int) -> Bool {
        let now = bufferedRequestBytes.add(count, ordering: .relaxed).newValue
        if now > configuration.maxServerBufferedBytes {
            bufferedRequestBytes.subtract(count, ordering: .relaxed)
            return false
        }
        return true
    }

    /// Moves `count` bytes a closing connection's handlers still hold onto the server's budget,
    /// whatever it holds already (they are held either way): the handlers give them back as they
    /// finish, so a client cannot free its handlers' memory by hanging up.
    func keepRequestBytes(_ count: Int) {
        guard count > 0 else { return }
        bufferedRequestBytes.add(count, ordering: .relaxed)
    }

    /// Gives `count` bytes back to the server's request budget.
    func releaseRequestBytes(_ count: Int) {
        bufferedRequestBytes.subtract(count, ordering: .relaxed)
    }

    /// Records one finished request in the loop's metrics and, if enabled, the access log.
    func recordRequest(loop: EventLoop, route: String, protocolName: String, method: String, path: String,
                       status: Int, grpcStatus: GRPCStatus?, start: ContinuousClock.Instant, peer: String) {
        let nanos = (ContinuousClock.now - start).nanoseconds
        let micros = nanos / 1000
        // A client error (4xx, or a gRPC status other than OK) counts as an error too.
        let isError = grpcStatus.map { $0.code != .ok } ?? (status >= 400)
        let response = grpcStatus.map { ResponseClass.grpc($0.code) } ?? .http(status)
        loop.metrics.record(method: route, latencyNanos: nanos, error: isError, response: response,
                            nowSecond: currentEpochSecond(), factory: metricsFactory)
        let level = configuration.accessLog
        guard level != .off else { return }
        let failed = grpcStatus.map { $0.code != .ok } ?? (status >= 400)
        guard level == .all || failed else { return }
        var line = "{\"ts\":\(String(format: "%.3f", Date().timeIntervalSince1970)),\"proto\":\"\(protocolName)\","
        line += "\"method\":\(jsonString(method)),\"path\":\(jsonString(path)),\"status\":\(status),"
        if let grpcStatus {
            line += "\"grpc_status\":\(grpcStatus.code.rawValue),"
            if !grpcStatus.message.isEmpty { line += "\"grpc_message\":\(jsonString(grpcStatus.message)),"}
        }
        line += "\"duration_ms\":\(String(format: "%.3f", Double(micros) / 1000)),\"peer\":\(jsonString(peer))}"
        if let sink = configuration.accessLogSink {
            sink(line)
        } else {
            logLock.withLock { _ in
                let text = line + "\n"
                _ = text.withCString { write(2, $0, strlen($0)) }
            }
        }
    }
}

/// A gRPC method as the dispatcher looks it up: its handler and the check of its headers.
struct GRPCRoute {
    var handler: GRPCMethodHandler
    var headCheck: (@Sendable ([Metadata]) -> GRPCStatus?)?
    /// What a request costs once decoded (nil: its size).
    var cost: RequestCost?
}

/// A JSON string literal for `text`.
func jsonString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
        }
    }
    return out + "\""
}

/// The server: gRPC over HTTP/2 and REST over HTTP/1.1 or HTTP/2, on one port.
///
/// One event-loop thread per core (by default) each owns a listening socket (SO_REUSEPORT) and the
/// connections it accepts; each HTTP/2 session lives on exactly one loop. Handlers that may wait
/// run as Swift tasks and hand their results back to the loop.
///
/// ```swift
/// var router = Router()
/// router.register("/learning.v1.LearningSystem/GetHealth", .unaryInline { _, _ in response })
/// let server = H2Server(configuration: ServerConfiguration(port: 50051), router: router)
/// try server.start()
/// // on SIGTERM: server.shutdown(grace: .seconds(10))
/// server.wait()
/// ```
public final class H2Server: @unchecked Sendable {
    /// The configuration the server runs with.
    public let configuration: ServerConfiguration
    private let core: ServerCore
    private var loops: [EventLoop] = []
    private var listeners: [Listener] = []
    private var threads: [Thread] = []
    private let state = Mutex<ServerLifecycleState>(.starting)
    private let observers = Mutex<[@Sendable (ServerLifecycleState) -> Void]>([])
    private let stoppedCondition = NSCondition()
    private var boundPort = 0
    private let startLock = NSLock()
    private var started = false

    /// Creates a server; nothing is bound until `start()`.
    public init(configuration: ServerConfiguration, router: Router) {
        self.configuration = configuration
        self.core = ServerCore(configuration: configuration, router: router)
    }

    /// Request bytes (and decoded requests' charges) the connections hold beyond their allowances
    /// now, against `maxServerBufferedBytes`.
    var serverHeldBytes: Int { core.bufferedRequestBytes.load(ordering: .relaxed) }

    /// The port the server listens on (the real one when configured with port 0), after `start()`.
    public var port: Int { startLock.withLock { boundPort } }

    /// The lifecycle state now.
    public var lifecycleState: ServerLifecycleState { state.withLock { $0 } }

    /// Calls `observer` with the current state now and on every change (e.g. to drive health).
    public func onLifecycleChange(_ observer: @escaping @Sendable (ServerLifecycleState) -> Void) {
        let current = observers.withLock { list -> ServerLifecycleState in
            list.append(observer)
            return state.withLock { $0 }
        }
        observer(current)
    }

    private func setState(_ new: ServerLifecycleState) {
        state.withLock { $0 = new }
        for observer in observers.withLock({ $0 }) { observer(new) }
    }

    /// Binds the port and starts the loop threads; returns once the server accepts connections.
    public func start() throws {
        try startLock.withLock {
            guard !started else { throw ServerError.alreadyStarted }
            started = true
            let count = configuration.loopThreads > 0 ? configuration.loopThreads
                                                      : max(1, ProcessInfo.processInfo.activeProcessorCount)
            var port = configuration.port
            for index in 0..<count {
                let loop = try EventLoop(index: index)
                let fd = try Sockets.listen(host: configuration.host, port: port)
                if port == 0 { port = Sockets.localPort(fd) }
                loops.append(loop)
                listeners.append(Listener(fd: fd, loop: loop, server: core))
            }
            boundPort = port
            for (loop, listener) in zip(loops, listeners) {
                loop.execute { [core] in
                    loop.register(listener.fd, listener, events: clearning_epollin())
                    Self.scheduleTimeoutChecks(loop: loop, configuration: core.configuration)
                }
                let thread = Thread { loop.run() }
                thread.name = "h2-loop-\(loop.index)"
                thread.stackSize = 1 << 20
                threads.append(thread)
                thread.start()
            }
        }
        setState(.serving)
    }

    private static func scheduleTimeoutChecks(loop: EventLoop, configuration: ServerConfiguration) {
        let interval = min(Duration.milliseconds(250), configuration.headerReadTimeout / 4)
        loop.scheduleTimer(at: .now + interval) {
            let now = ContinuousClock.now
            for handler in loop.watchedHandlers {
                (handler as? Connection)?.checkTimeouts(now: now, configuration: configuration)
            }
            scheduleTimeoutChecks(loop: loop, configuration: configuration)
        }
    }

    /// Blocks until the server has stopped (after `shutdown`).
    public func wait() {
        stoppedCondition.lock()
        while state.withLock({ $0 }) != .stopped { stoppedCondition.wait() }
        stoppedCondition.unlock()
    }

    /// Same as `wait()`: serves until `shutdown` completes.
    public func run() { wait() }

    /// Shuts down gracefully: reports draining (health turns NOT_SERVING), stops accepting, sends
    /// GOAWAY, lets in-flight calls finish for up to `grace`, flushes pending writes, closes every
    /// connection and stops the loops. Blocks until done; safe to call from any thread, once.
    public func shutdown(grace: Duration = .seconds(10)) {
        let proceed = state.withLock { current -> Bool in
            guard current == .serving || current == .starting else { return false }
            current = .draining
            return true
        }
        guard proceed else { wait(); return }
        core.setDraining()
        for observer in observers.withLock({ $0 }) { observer(.draining) }
        for (loop, listener) in zip(loops, listeners) {
            loop.execute {
                listener.closeListener()
                for handler in loop.watchedHandlers { (handler as? Connection)?.beginDrain() }
            }
        }
        let deadline = ContinuousClock.now + grace
        while core.openConnections.load(ordering: .relaxed) > 0 && ContinuousClock.now < deadline {
            usleep(5_000)
        }
        // Grace is over: close what is left (their pending writes were given the grace period).
        for loop in loops {
            loop.execute {
                for handler in loop.watchedHandlers { (handler as? Connection)?.close() }
            }
        }
        let hardDeadline = ContinuousClock.now + .seconds(1)
        while core.openConnections.load(ordering: .relaxed) > 0 && ContinuousClock.now < hardDeadline {
            usleep(1_000)
        }
        for loop in loops { loop.stop() }
        while threads.contains(where: { !$0.isFinished }) { usleep(1_000) }
        stoppedCondition.lock()
        setState(.stopped)
        stoppedCondition.broadcast()
        stoppedCondition.unlock()
    }

    /// A snapshot of request counters, latency histograms and connection counts.
    public var metrics: TransportMetrics {
        var methods: [String: MethodMetrics] = [:]
        var windowCount = 0
        var windowLatency: Int64 = 0
        let now = currentEpochSecond()
        for loop in loops {
            loop.metrics.collect(into: &methods, windowCount: &windowCount, windowLatency: &windowLatency, nowSecond: now)
        }
        var total = MethodMetrics()
        for metrics in methods.values { total.merge(metrics) }
        let window = Int(max(1, min(Int64(MetricsStore.windowSeconds), now - core.startSecond)))
        return TransportMetrics(
            methods: methods, total: total,
            recentRequestsPerSecond: Double(windowCount) / Double(window),
            recentAverageLatencyMs: windowCount == 0 ? 0 : Double(windowLatency) / Double(windowCount) / 1000,
            windowSeconds: window,
            openConnections: core.openConnections.load(ordering: .relaxed),
            acceptedConnections: core.acceptedConnections.load(ordering: .relaxed),
            rejectedConnections: core.rejectedConnections.load(ordering: .relaxed))
    }
}
