import Foundation
import LearningCore
@testable import LearningML
import Testing

/// Issue 16 across the workload family, session 13: an outage repeats one error, so a burst of
/// one kind of failure is tested against how often its pair usually fails that way.
@Suite struct BurstOfOneKindTests {
    static let now = day0.addingTimeInterval(20 * 86_400)

    static let otherKinds = [
        "ConnectionRefusedError: connect to 10.0.3.%d:5432 failed",
        "Rate limit exceeded for API key 9f3a77c1: retry after %d00ms",
        "FileNotFoundError: [Errno 2] No such file or directory: '/data/in/%d.csv'",
        "PermissionError: user 'svc-etl' lacks write permission on /srv/out/%d",
    ]

    static func timeout(_ i: Int) -> String { "Timeout after \(30 + i % 40)s waiting for response from worker-\(i % 9).cluster.local" }
    static func maintenance(_ i: Int) -> String {
        String(format: "503 Service Unavailable: upstream in maintenance window (trace %016x)", i &* 2_654_435_761)
    }
    static func other(_ kind: Int, _ i: Int) -> String { String(format: otherKinds[kind], i % 250) }

    /// Twenty days of one agent every 10 minutes, one run in five on task type x and the rest on
    /// y, failing a quarter of the time: on x always by timing out, on y in four ways equally.
    /// Timeouts are a fifth of the agent's failures but all of its failures on x.
    /// With `maintenance`, runs on y between 02:00 and 03:00 UTC also fail 60 % of the time
    /// with a 503 of the upstream's maintenance window.
    func history(maintenance: Bool = false) -> [ExecutionRecord] {
        var w = WorkloadBuilder()
        for i in 0..<2_880 {
            let at = day0.addingTimeInterval(Double(i) * 600)
            let onX = i % 5 == 0
            let hour = (i / 6) % 24
            if maintenance, !onX, hour == 2, w.rng.bernoulli(0.6) {
                w.add(agent: "a", task: "y", at: at, success: false, time: 2, error: Self.maintenance(i))
                continue
            }
            let failed = w.rng.bernoulli(0.25)
            let error = !failed ? nil : onX ? Self.timeout(i) : Self.other(Int(w.rng.next() % 4), i)
            w.add(agent: "a", task: onX ? "x" : "y", at: at, success: !failed, time: 10 * exp(0.2 * w.rng.normal()),
                  error: error)
        }
        return w.sorted
    }

    /// Twelve runs on `task` 10 minutes apart, eight of them failing with `message(i)`, never
    /// more than two in a row (so no failure streak is significant either).
    func episode(_ e: inout LearningEngine, task: String, start: Date = now, every: TimeInterval = 600,
                 message: (Int) -> String) -> [DetectedAnomaly] {
        var found: [DetectedAnomaly] = []
        for i in 0..<12 {
            let failed = i % 3 != 2
            let r = ExecutionRecord(id: Int64(100_000 + i), agentName: "a", taskID: UUID().uuidString, taskType: task,
                                    executionTime: 10, success: !failed, errorMessage: failed ? message(i) : nil,
                                    resourceUsage: ResourceUsage(cpu: 40, memoryMB: 1_000, tokens: 5_000),
                                    timestamp: start.addingTimeInterval(Double(i) * every))
            found += e.observe(r).filter { $0.kind == .failureBurst }
        }
        return found
    }

    @Test func eightRefusedConnectionsInTwelveRunsAreABurstThoughEightFailuresAreNot() throws {
        var e = LearningEngine()
        _ = e.retrain(on: history(), now: Self.now)
        // Eight failures in twelve runs of a 25 % failing pair: 3 expected, P ≈ 0.01, no burst.
        // Eight refused connections, a quarter of its failures on y: 0.75 expected, P ≈ 1e-6.
        let refused = episode(&e, task: "y") { Self.other(0, $0) }
        let burst = try #require(refused.last, "a burst of refused connections")
        #expect(burst.description.contains("ConnectionRefusedError"), "\(burst.description)")
        #expect(burst.expected < 1.5, "failures of this kind expected: \(burst.expected)")
        #expect(Set(refused.flatMap(\.recordIDs)).count >= 5)
    }

    @Test func eightFailuresOfFourKindsAreNotABurst() {
        var e = LearningEngine()
        _ = e.retrain(on: history(), now: Self.now)
        #expect(episode(&e, task: "y") { Self.other($0 % 4, $0) }.isEmpty)
    }

    @Test func eightTimeoutsWherePairUsuallyTimesOutAreNotABurst() {
        // On x every failure is a timeout: eight timeouts are eight failures, 3 expected. Judged
        // by the agent's share of timeouts (a fifth), 0.6 would be expected and P ≈ 2e-7.
        var e = LearningEngine()
        _ = e.retrain(on: history(), now: Self.now)
        #expect(episode(&e, task: "x") { Self.timeout($0) }.isEmpty)
    }

    @Test func failuresOfAKindThatBelongsToItsHourAreNotABurst() {
        // 503s of a nightly maintenance hour are a tenth of y's failures over the day but most of
        // them between 02:00 and 03:00: eight of them in twelve runs then are expected (about 5.7
        // of the 8.4 failures expected in that hour; judged by their share over the whole day, 0.8).
        var e = LearningEngine()
        _ = e.retrain(on: history(maintenance: true), now: Self.now)
        let night = Self.now.addingTimeInterval(2 * 3_600)
        #expect(episode(&e, task: "y", start: night, every: 300) { Self.maintenance($0) }.isEmpty)
        // The same eight 503s at noon are a burst.
        var noon = LearningEngine()
        _ = noon.retrain(on: history(maintenance: true), now: Self.now)
        let midday = Self.now.addingTimeInterval(12 * 3_600)
        #expect(!episode(&noon, task: "y", start: midday, every: 300) { Self.maintenance($0) }.isEmpty)
    }

    /// A word of letters only for `n` (no digits for the signatures to mask).
    static func word(_ n: Int) -> String {
        let letters = Array("abcdefghijklmnopqrstuvwxyz")
        return String([letters[n % 26], letters[(n / 26) % 26], letters[(n / 676) % 26]]).capitalized
    }

    @Test func failureKindsPerPairAndAgentAreBounded() {
        var counts: [Int32: Int]? = nil
        for kind in 0..<40 { for _ in 0..<2 { LearningEngine.countFailure(kind: Int32(kind), in: &counts, limit: 32) } }
        #expect(counts?.count == 32)
        #expect(counts?[31] == 2 && counts?[32] == nil)
        // A pair whose failures fall in more kinds than it keeps counts only the first 32.
        var w = WorkloadBuilder()
        for i in 0..<2_000 {
            let failed = i % 4 == 0
            w.add(agent: "a", task: "t", at: day0.addingTimeInterval(Double(i) * 300), success: !failed, time: 10,
                  error: failed ? "\(Self.word(i % 200))Error: stage failed" : nil)
        }
        var e = LearningEngine()
        _ = e.retrain(on: w.sorted, now: day0.addingTimeInterval(8 * 86_400))
        #expect(e.errors.clusters.count > LearningEngine.maxKindsPerPair, "distinct kinds: \(e.errors.clusters.count)")
        #expect(e.pairs.first?.failureKinds?.count == LearningEngine.maxKindsPerPair)
        #expect((e.agentStates.first?.failureKinds?.count ?? 0) <= LearningEngine.maxKindsPerAgent)
        #expect(e.pairs.first?.labelledFailures == 500)
    }
}
