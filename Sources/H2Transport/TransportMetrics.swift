import GRPCWire
import CoreMetrics
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Latency histogram bucket upper bounds, in microseconds (the last bucket is unbounded).
let latencyBucketBoundsMicros: [Int64] = [50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000,
                                          100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000,
                                          10_000_000]

/// Counters and a latency histogram of one method (or of all of them).
public struct MethodMetrics: Sendable, Equatable {
    /// Requests completed.
    public var requests: Int = 0
    /// Requests that ended with a gRPC status other than OK or an HTTP status of 500 and above.
    public var errors: Int = 0
    /// Total latency, in microseconds.
    public var totalLatencyMicros: Int64 = 0
    /// Request counts per latency bucket; `latencyBucketUpperBoundsMicros[i]` bounds bucket `i`,
    /// the last bucket counts everything slower.
    public var latencyBuckets: [Int] = Array(repeating: 0, count: latencyBucketBoundsMicros.count + 1)

    /// The upper bound of each latency bucket, in microseconds (`nil` for the last, unbounded one).
    public static var latencyBucketUpperBoundsMicros: [Int64?] { latencyBucketBoundsMicros.map { $0 } + [nil] }

    /// Mean latency in milliseconds (0 without requests).
    public var averageLatencyMs: Double {
        requests == 0 ? 0 : Double(totalLatencyMicros) / Double(requests) / 1000
    }

    /// The 99th-percentile latency in milliseconds, as the upper bound of the bucket holding it.
    public var p99LatencyMs: Double { percentileLatencyMs(0.99) }

    /// A latency percentile (0...1) in milliseconds, as the upper bound of the bucket holding it.
    public func percentileLatencyMs(_ fraction: Double) -> Double {
        guard requests > 0 else { return 0 }
        let rank = Int((Double(requests) * fraction).rounded(.up))
        var seen = 0
        for (index, count) in latencyBuckets.enumerated() {
            seen += count
            if seen >= rank {
                let bound = index < latencyBucketBoundsMicros.count ? latencyBucketBoundsMicros[index]
                                                                     : latencyBucketBoundsMicros.last! * 2
                return Double(bound) / 1000
            }
        }
        return Double(latencyBucketBoundsMicros.last!) / 1000
    }

    mutating func record(latencyMicros: Int64, error: Bool) {
        requests += 1
        if error { errors += 1 }
        totalLatencyMicros += latencyMicros
        var index = 0
        while index < latencyBucketBoundsMicros.count && latencyMicros > latencyBucketBoundsMicros[index] { index += 1 }
        latencyBuckets[index] += 1
    }

    mutating func merge(_ other: MethodMetrics) {
        requests += other.requests
        errors += other.errors
        totalLatencyMicros += other.totalLatencyMicros
        for index in latencyBuckets.indices { latencyBuckets[index] += other.latencyBuckets[index] }
    }
}

/// A snapshot of what the transport has served, for the `/metrics` and `/status` endpoints.
public struct TransportMetrics: Sendable {
    /// Per gRPC method path (`/learning.v1.LearningSystem/GetHealth`) or REST route (`GET /health`).
    public var methods: [String: MethodMetrics]
    /// All methods together.
    public var total: MethodMetrics
    /// Requests per second over the recent window.
    public var recentRequestsPerSecond: Double
    /// Mean latency (ms) over the recent window.
    public var recentAverageLatencyMs: Double
    /// The recent window's length in seconds.
    public var windowSeconds: Int
    /// Connections open now.
    public var openConnections: Int
    /// Connections accepted since start.
    public var acceptedConnections: Int
    /// Connections refused because `maxConnections` was reached.
    public var rejectedConnections: Int
}

/// What a request was answered with, for the `status` label of `learning_responses_total`: the
/// HTTP status class (`2xx` ... `5xx`) of a REST request, the gRPC status name of a call. A
/// bounded set: 5 classes and 17 gRPC codes.
struct ResponseClass: Sendable, Equatable {
    /// Index into a route's response counters (0-4: HTTP classes; 5...: gRPC codes).
    let index: Int
    let label: String

    static let count = 5 + GRPCStatusCode.allCases.count

    private static let httpClasses = (1...5).map { ResponseClass(index: $0 - 1, label: "\($0)xx") }

    static func http(_ status: Int) -> ResponseClass {
        httpClasses[min(5, max(1, status / 100)) - 1]
    }

    static func grpc(_ code: GRPCStatusCode) -> ResponseClass {
        ResponseClass(index: 5 + code.rawValue, label: code.name)
    }
}

/// The swift-metrics handlers of one route, made once per loop.
struct RouteMetricHandlers {
    let route: String
    let requests: any CounterHandler
    let errors: any CounterHandler
    let duration: any TimerHandler
    /// `learning_responses_total{method, status}`, made the first time a class is answered.
    var responses: [(any CounterHandler)?] = Array(repeating: nil, count: ResponseClass.count)

    init(route: String, factory: any MetricsFactory) {
        self.route = route
        let dimensions = [("method", route)]
        requests = factory.makeCounter(label: "learning_requests_total", dimensions: dimensions)
        errors = factory.makeCounter(label: "learning_request_errors_total", dimensions: dimensions)
        duration = factory.makeTimer(label: "learning_request_duration_seconds", dimensions: dimensions)
    }

    /// Records one answered request.
    mutating func record(latencyNanos: Int64, error: Bool, response: ResponseClass, factory: any MetricsFactory) {
        requests.increment(by: 1)
        if error { errors.increment(by: 1) }
        duration.recordNanoseconds(latencyNanos)
        if let counter = responses[response.index] {
            counter.increment(by: 1)
            return
        }
        let counter = factory.makeCounter(label: "learning_responses_total",
                                          dimensions: [("method", route), ("status", response.label)])
        responses[response.index] = counter
        counter.increment(by: 1)
    }
}

/// Per-loop metric storage: each loop thread writes its own (uncontended) store; snapshots merge
/// them. Every request is also recorded through swift-metrics (the `/metrics` Prometheus text);
/// this store keeps what that write-only API cannot answer: the recent window's rate and the
/// per-method figures `/metrics` and `/status` report as JSON.
final class MetricsStore: Sendable {
    static let windowSeconds = 60
    static let maxDistinctMethods = 512

    private struct State {
        var methods: [String: MethodMetrics] = [:]
        var handlers: [String: RouteMetricHandlers] = [:]
        /// Per-second request counts and latency sums, indexed by `second % windowSeconds`.
        var windowSeconds: [Int64] = Array(repeating: -1, count: MetricsStore.windowSeconds)
        var windowCounts: [Int] = Array(repeating: 0, count: MetricsStore.windowSeconds)
        var windowLatency: [Int64] = Array(repeating: 0, count: MetricsStore.windowSeconds)
    }

    private let state = Mutex(State())

    func record(method: String, latencyNanos: Int64, error: Bool, response: ResponseClass, nowSecond: Int64,
                factory: any MetricsFactory) {
        let latencyMicros = latencyNanos / 1000
        state.withLock { state in
            let label = state.methods[method] == nil && state.methods.count >= MetricsStore.maxDistinctMethods ? "other" : method
            state.methods[label, default: MethodMetrics()].record(latencyMicros: latencyMicros, error: error)
            // One look-up: the route's handlers are made the first time it is answered.
            state.handlers[label, default: RouteMetricHandlers(route: label, factory: factory)]
                .record(latencyNanos: latencyNanos, error: error, response: response, factory: factory)
            let slot = Int(nowSecond % Int64(MetricsStore.windowSeconds))
            if state.windowSeconds[slot] != nowSecond {
                state.windowSeconds[slot] = nowSecond
                state.windowCounts[slot] = 0
                state.windowLatency[slot] = 0
            }
            state.windowCounts[slot] += 1
            state.windowLatency[slot] += latencyMicros
        }
    }

    /// Adds this store's figures to the accumulators.
    func collect(into methods: inout [String: MethodMetrics], windowCount: inout Int, windowLatency: inout Int64,
                 nowSecond: Int64) {
        state.withLock { state in
            for (name, metrics) in state.methods { methods[name, default: MethodMetrics()].merge(metrics) }
            for slot in 0..<MetricsStore.windowSeconds {
                let second = state.windowSeconds[slot]
                // The current second is still filling up: count only complete seconds.
                if second >= 0 && second < nowSecond && second >= nowSecond - Int64(MetricsStore.windowSeconds) {
                    windowCount += state.windowCounts[slot]
                    windowLatency += state.windowLatency[slot]
                }
            }
        }
    }
}

/// Wall-clock seconds since the epoch.
func currentEpochSecond() -> Int64 {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    return Int64(spec.tv_sec)
}
