/// The request half of one stream (or one HTTP/1.1 body) as the memory budget and the request
/// deadline see it, as a plain value: how many received bytes it still holds (not yet consumed by
/// its handler, or not yet dropped), and since when a request, or a message of a streaming call,
/// is incomplete. The owner calls `received`, `completed` and `release` as bytes come and go, and
/// asks `expiry(now:)` on its periodic check; nothing here does I/O, so tests drive it without
/// sockets.
struct RequestIntake: Equatable {
    /// Why an incomplete request is given up.
    enum Expiry: Equatable {
        /// It did not arrive within the request timeout.
        case timedOut
        /// It arrives slower than the minimum body rate (after the grace period).
        case tooSlow
    }

    /// The limits a stream is held to.
    struct Limits: Equatable {
        /// How long an incomplete request (or message) may take.
        var timeout: Duration
        /// The slowest accepted rate in bytes per second once `grace` passed; 0: no rate check.
        var minBytesPerSecond: Int
        /// How long the rate is not checked after a request started.
        var grace: Duration
    }

    /// Received bytes still held (counted against the connection's and the server's budget).
    private(set) var heldBytes = 0
    /// When the incomplete request (or message) started; nil while nothing is incomplete.
    private(set) var startedAt: ContinuousClock.Instant?
    /// Bytes received since `startedAt`.
    private(set) var bytesSinceStart = 0

    /// An intake with nothing received; `startedAt` set when a request is incomplete from the start
    /// (its headers came without END_STREAM and its body is awaited).
    init(startedAt: ContinuousClock.Instant? = nil) {
        self.startedAt = startedAt
    }

    /// Bytes arrived and are held; a request (or message) with nothing incomplete starts now.
    mutating func received(_ count: Int, at now: @autoclosure () -> ContinuousClock.Instant) {
        heldBytes += count
        if startedAt == nil {
            startedAt = now()
            bytesSinceStart = 0
        }
        bytesSinceStart += count
    }

    /// The request (or the message in progress) is complete: no deadline runs until more arrives.
    mutating func completed() {
        startedAt = nil
        bytesSinceStart = 0
    }

    /// The server held the client back for `duration` (its flow-control window was closed while
    /// handlers held the connection's bytes): that time counts neither against the timeout nor
    /// against the rate.
    mutating func heldBack(for duration: Duration) {
        guard let startedAt else { return }
        self.startedAt = startedAt + duration
    }

    /// Gives up to `count` held bytes back; returns how many were released (never more than held).
    mutating func release(_ count: Int) -> Int {
        let released = min(max(0, count), heldBytes)
        heldBytes -= released
        return released
    }

    /// Gives every held byte back (the stream ended); returns how many.
    mutating func releaseAll() -> Int {
        release(heldBytes)
    }

    /// Whether the incomplete request must be given up at `now`, and why; nil when it may go on.
    func expiry(now: ContinuousClock.Instant, limits: Limits) -> Expiry? {
        guard let startedAt else { return nil }
        let elapsed = startedAt.duration(to: now)
        if elapsed >= limits.timeout { return .timedOut }
        if limits.minBytesPerSecond > 0 && elapsed >= limits.grace {
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            if Double(bytesSinceStart) < Double(limits.minBytesPerSecond) * seconds { return .tooSlow }
        }
        return nil
    }
}

/// What one handler holds against the memory budget once it has its request: the decoded cost of
/// a single request (gRPC unary and server-streaming, REST), or of the messages a streaming handler
/// took most recently (`RequestCost.messagesHeld` of them: each is charged as the handler takes
/// it). The request bytes still waiting in the flow-control window are the stream's
/// `RequestIntake`'s, not this. A plain value: the owner charges the connection's buffer for what
/// `charged` adds and gives back what `took` and `releaseAll` return.
struct HandlerCharge: Equatable {
    /// Messages the handler holds decoded at most (1 for a single request).
    let messagesHeld: Int
    /// Bytes charged now.
    private(set) var bytes = 0
    /// The charge of each message not released yet, oldest first.
    private var charges = CostQueue()
    /// Messages whose charge went back so far.
    private var released = 0
    /// Messages the handler took so far.
    private var taken = 0

    init(messagesHeld: Int = 1) {
        self.messagesHeld = max(1, messagesHeld)
    }

    /// A message (or the single request) costing `cost` bytes is handed to the handler.
    mutating func charged(_ cost: Int) {
        charges.append(cost)
        bytes += cost
    }

    /// The handler took the next message: once it took `messagesHeld` after one, that one is
    /// no longer held. Returns the bytes released.
    mutating func took() -> Int {
        taken += 1
        guard taken > messagesHeld, released < taken - messagesHeld, let cost = charges.popFirst() else { return 0 }
        released += 1
        bytes -= cost
        return cost
    }

    /// The handler finished: everything is released. Returns the bytes.
    mutating func releaseAll() -> Int {
        let released = bytes
        bytes = 0
        charges.removeAll()
        return released
    }
}

/// Byte costs in arrival order, taken from the front (a handler's charges, a stream's messages
/// not taken yet). The taken prefix is dropped once it is 1,024 entries and half the array, so
/// a long stream costs amortised O(1) per entry and keeps only what is still queued.
struct CostQueue: Equatable {
    private var costs: [Int] = []
    private var head = 0

    mutating func append(_ cost: Int) {
        costs.append(cost)
    }

    /// The oldest cost, removed (nil when none is queued).
    mutating func popFirst() -> Int? {
        guard head < costs.count else { return nil }
        let cost = costs[head]
        head += 1
        if head >= 1024 && head * 2 >= costs.count {
            costs.removeFirst(head)
            head = 0
        }
        return cost
    }

    mutating func removeAll() {
        costs = []
        head = 0
    }
}

/// Request bytes held by one connection against its own limit and the server's budget: the first
/// `allowance` bytes are the connection's own, the rest is drawn from the server-wide counter, and
/// the connection never holds more than `limit` in all. The bytes are those of requests still
/// arriving or waiting for a handler, and what handlers hold of their decoded requests
/// (`HandlerCharge`). A plain value; the server-wide counter is reached through the closures
/// given to each call.
struct ConnectionBuffer: Equatable {
    /// Bytes the connection holds now.
    private(set) var heldBytes = 0
    /// What the connection holds without drawing on the server's budget.
    let allowance: Int
    /// The most the connection may hold.
    let limit: Int

    init(allowance: Int, limit: Int = .max) {
        self.allowance = allowance
        self.limit = limit
    }

    /// How many of `count` more bytes must come from the server's budget.
    func serverShare(adding count: Int) -> Int {
        max(0, heldBytes + count - allowance) - max(0, heldBytes - allowance)
    }

    /// Takes `count` more bytes when the connection's limit allows them and `reserve` grants the
    /// server's share of them; false (nothing taken) otherwise.
    mutating func take(_ count: Int, reserve: (Int) -> Bool) -> Bool {
        guard count <= limit - heldBytes else { return false }
        let share = serverShare(adding: count)
        if share > 0 && !reserve(share) { return false }
        heldBytes += count
        return true
    }

    /// Gives `count` bytes back, the server's share of them through `release`.
    mutating func give(_ count: Int, release: (Int) -> Void) {
        let count = min(count, heldBytes)
        let share = max(0, heldBytes - allowance) - max(0, heldBytes - count - allowance)
        heldBytes -= count
        if share > 0 { release(share) }
    }
}
