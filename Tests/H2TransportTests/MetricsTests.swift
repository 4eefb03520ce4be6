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
    store.record(method: "/a/B", latencyMicros: 100, error: false, nowSecond: 1000)
    store.record(method: "/a/B", latencyMicros: 300, error: false, nowSecond: 1001)
    store.record(method: "GET /x", latencyMicros: 100, error: true, nowSecond: 1002)
    var methods: [String: MethodMetrics] = [:]
    var count = 0
    var latency: Int64 = 0
    store.collect(into: &methods, windowCount: &count, windowLatency: &latency, nowSecond: 1002)
    #expect(methods["/a/B"]?.requests == 2)
    #expect(methods["GET /x"]?.errors == 1)
    #expect(count == 2)          // second 1002 is still filling up
    #expect(latency == 400)
}
