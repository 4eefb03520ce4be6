// A pool of libpq connections, each owned by its own thread. libpq calls block, so they never
// run on Swift's cooperative threads: `withConnection` suspends the caller on a continuation and a
// pool thread resumes it when the statement is done.
import Dispatch
import Foundation
import Synchronization
import LearningRepository

/// Live database state other layers read cheaply (an atomic) for /health.
public final class DatabaseHealth: Sendable {
    private let connected = Atomic<Bool>(false)
    private let lastErrorBox = Mutex<String?>(nil)

    /// Creates a health flag, initially disconnected.
    public init() {}

    /// True while the last database round trip (or connect) succeeded.
    public var isConnected: Bool { connected.load(ordering: .relaxed) }

    /// `connected` or `disconnected`, the words /health reports.
    public var state: String { isConnected ? "connected" : "disconnected" }

    /// The last connection failure, if any.
    public var lastError: String? { lastErrorBox.withLock { $0 } }

    func markConnected() { connected.store(true, ordering: .relaxed) }

    func markDisconnected(_ reason: String) {
        connected.store(false, ordering: .relaxed)
        lastErrorBox.withLock { $0 = reason }
    }
}

/// A FIFO shared between producers (any thread or task) and blocking consumer threads.
final class BlockingQueue<Element>: @unchecked Sendable {
    private let condition = NSCondition()
    /// Popped slots are set to nil at once, so what they held is freed before compaction.
    private var items: [Element?] = []
    private var head = 0
    private var closed = false

    /// Appends; returns false when the queue is closed.
    func push(_ item: Element) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if closed { return false }
        items.append(item)
        condition.signal()
        return true
    }

    /// Blocks until an element is available (nil once closed and drained) or `timeout` passes.
    func pop(timeout: Double? = nil) -> Element?? {
        condition.lock()
        defer { condition.unlock() }
        let deadline = timeout.map { Date(timeIntervalSinceNow: $0) }
        while head == items.count {
            if closed { return .some(nil) }
            if let deadline {
                if !condition.wait(until: deadline) { return nil }
            } else {
                condition.wait()
            }
        }
        let item = items[head]!
        items[head] = nil
        head += 1
        if head > 1024, head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        return .some(item)
    }

    /// Removes everything queued (to fail it) and returns it.
    func drain() -> [Element] {
        condition.lock()
        defer { condition.unlock() }
        let rest = items[head...].compactMap { $0 }
        items.removeAll()
        head = 0
        return rest
    }

    /// Wakes every consumer; later pushes are refused.
    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}

/// Reconnect delays: the first attempt after a lost connection is immediate, then 50 ms doubling
/// up to 2 s while connecting keeps failing.
struct Backoff {
    private(set) var delay: Double = 0
    private(set) var notBefore: DispatchTime = .now()

    mutating func connectFailed() {
        delay = delay == 0 ? 0.05 : min(delay * 2, 2.0)
        notBefore = .now() + delay
    }

    mutating func succeeded() { delay = 0; notBefore = .now() }

    var mayTry: Bool { DispatchTime.now() >= notBefore }
}

/// One connection slot: connects lazily, reconnects with backoff, reports to the health flag.
/// Health turns `disconnected` when connecting fails (a connection found broken is replaced at
/// once, so a server restart does not flip the state once per stale pooled connection).
final class ConnectionSlot {
    private let url: String
    private let name: String
    private let health: DatabaseHealth
    private var connection: PGConnection?
    private(set) var backoff = Backoff()

    init(url: String, name: String, health: DatabaseHealth) {
        self.url = url
        self.name = name
        self.health = health
    }

    /// The live connection, connecting if needed; throws `unavailable` while backing off or down.
    func get() throws -> PGConnection {
        if let connection, connection.probe() { return connection }
        connection = nil
        guard backoff.mayTry else {
            throw StoreError.unavailable(health.lastError ?? "database unreachable (retrying)")
        }
        do {
            let c = try PGConnection(url: url, applicationName: name)
            connection = c
            backoff.succeeded()
            health.markConnected()
            return c
        } catch {
            backoff.connectFailed()
            health.markDisconnected("\(error)")
            throw error
        }
    }

    /// Runs `body` on the connection; a failure that broke the connection drops it (the next
    /// call reconnects) and is reported as `unavailable`.
    func run<T>(_ body: (PGConnection) throws -> T) throws -> T {
        let c = try get()
        do {
            let value = try body(c)
            health.markConnected()
            return value
        } catch {
            if !c.isHealthy {
                connection = nil
                if case StoreError.unavailable = error { throw error }
                throw StoreError.unavailable("\(error)")
            }
            throw error
        }
    }

    /// Drops the connection (e.g. on shutdown).
    func close() { connection = nil }

    /// Seconds until the next reconnect attempt is allowed.
    var secondsUntilRetry: Double {
        let now = DispatchTime.now()
        return backoff.notBefore > now ? Double(backoff.notBefore.uptimeNanoseconds - now.uptimeNanoseconds) / 1e9 : 0
    }
}

/// A fixed set of connection threads serving `withConnection` calls in FIFO order.
final class ConnectionPool: Sendable {
    private typealias Job = @Sendable (ConnectionSlot) -> Void
    private let queue = BlockingQueue<Job>()
    let health: DatabaseHealth
    let size: Int
    /// The libpq URL the pool connects with (for a short-lived extra connection).
    let url: String
    private let running = Atomic<Int>(0)

    /// Starts `size` threads; they connect lazily on their first job.
    init(url: String, size: Int, health: DatabaseHealth, name: String = "learning-system") {
        self.url = url
        self.health = health
        self.size = max(1, size)
        for i in 0..<self.size {
            let queue = self.queue
            let thread = Thread {
                let slot = ConnectionSlot(url: url, name: "\(name)-pool-\(i)", health: health)
                while let job = queue.pop() ?? nil { job(slot) }
                slot.close()
            }
            thread.name = "pg-pool-\(i)"
            thread.start()
        }
    }

    /// Runs `body` on a pool connection without blocking the caller's thread.
    func withConnection<T: Sendable>(_ body: @escaping @Sendable (PGConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let accepted = queue.push { slot in
                continuation.resume(with: Result { try slot.run(body) })
            }
            if !accepted { continuation.resume(throwing: StoreError.closed) }
        }
    }

    /// Runs `body` inside one transaction on a pool connection.
    func transaction<T: Sendable>(_ begin: String = "BEGIN",
                                  _ body: @escaping @Sendable (PGConnection) throws -> T) async throws -> T {
        try await withConnection { c in try c.transaction(begin) { try body(c) } }
    }

    /// Stops the threads once the queued jobs ran.
    func shutdown() { queue.close() }
}
