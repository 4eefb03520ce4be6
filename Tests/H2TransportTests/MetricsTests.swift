import MetricsTestKit
import Testing
@testable import H2Transport

@Test func latencyHistogramGivesAverageAndP99() {
    var metrics = MethodMetrics()
    for _ in 0..<98 { metrics.record(latencyMicros: 80, error: false) }      // bucket <= 100 µs
    metrics.record(latencyMicros: 4_000, error: true)                         // bucket <= 5 ms
    metrics.record(latencyMicros: 40_000, error: false)                       // bucket <= 50 ms
    #expect(metrics.requests == 100)
    #expect(metrics.errors == 1)
    #expect(metrics.averageLatencyMs == Double(98 * 80 + 4_000 + 40_000) / 100 / 1000)
    #expect(metrics.p99LatencyMs == 5)
    #expect(metrics.percentileLatencyMs(0.5) == 0.1)
    #expect(metrics.percentileLatencyMs(1.0) == 50)
}

@Test func metricsStoreCountsOnlyCompleteSecondsOfTheWindow() {
    let store = MetricsStore()
    let factory = TestMetrics()
    store.record(method: "/a/B", latencyNanos: 100_000, error: false, response: .grpc(.ok), nowSecond: 1000, factory: factory)
    store.record(method: "/a/B", latencyNanos: 300_000, error: false, response: .grpc(.ok), nowSecond: 1001, factory: factory)
    store.record(method: "GET /x", latencyNanos: 100_000, error: true, response: .http(404), nowSecond: 1002, factory: factory)
    var methods: [String: MethodMetrics] = [:]
    var count = 0
    var latency: Int64 = 0
    store.collect(into: &methods, windowCount: &count, windowLatency: &latency, nowSecond: 1002)
    #expect(methods["/a/B"]?.requests == 2)
    #expect(methods["GET /x"]?.errors == 1)
    #expect(count == 2)          // second 1002 is still filling up
    #expect(latency == 400)
}

/// The same requests reach the swift-metrics backend: a counter and a timer per route, errors apart.
@Test func everyRequestIsRecordedThroughSwiftMetrics() throws {
    let store = MetricsStore()
    let factory = TestMetrics()
    store.record(method: "/a/B", latencyNanos: 100_000, error: false, response: .grpc(.ok), nowSecond: 1000, factory: factory)
    store.record(method: "/a/B", latencyNanos: 300_000, error: true, response: .grpc(.notFound), nowSecond: 1001, factory: factory)
    store.record(method: "GET /x", latencyNanos: 7_000, error: false, response: .http(200), nowSecond: 1001, factory: factory)
    #expect(try factory.expectCounter("learning_requests_total", [("method", "/a/B")]).totalValue == 2)
    #expect(try factory.expectCounter("learning_request_errors_total", [("method", "/a/B")]).totalValue == 1)
    #expect(try factory.expectCounter("learning_request_errors_total", [("method", "GET /x")]).totalValue == 0)
    #expect(try factory.expectTimer("learning_request_duration_seconds", [("method", "/a/B")]).values == [100_000, 300_000])
    #expect(try factory.expectTimer("learning_request_duration_seconds", [("method", "GET /x")]).values == [7_000])
    // Each request counted with its status class (HTTP) or status name (gRPC).
    #expect(try factory.expectCounter("learning_responses_total", [("method", "/a/B"), ("status", "OK")]).totalValue == 1)
    #expect(try factory.expectCounter("learning_responses_total", [("method", "/a/B"), ("status", "NOT_FOUND")]).totalValue == 1)
    #expect(try factory.expectCounter("learning_responses_total", [("method", "GET /x"), ("status", "2xx")]).totalValue == 1)
    #expect(ResponseClass.http(503).label == "5xx" && ResponseClass.http(101).label == "1xx" && ResponseClass.http(999).label == "5xx")
}
