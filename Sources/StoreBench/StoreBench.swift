// StoreBench: repository-level load generator for LearningStore (the RPC layer is measured
// elsewhere). Modes:
//   single   --clients 64 --seconds 10           unary logExecution from N concurrent callers
//   batch    --batch 1000 --concurrency 2 --seconds 10
//   overload --clients 256 --batch 500 --seconds 10   send without waiting; count overloaded, peak RSS
//   fault    --total 100000 --clients 64    writes with event ids, retrying on unavailable/overloaded,
//            then checks every acknowledged id is stored once (bench/ingest-fault.sh stops the server meanwhile)
// Every mode takes --url URL (required) and prints one `key=value` summary line.
import Foundation
import LearningCore
import LearningStore
import Synchronization
import LearningRepository

struct Options {
    var values: [String: String] = [:]
    init(_ args: [String]) {
        var i = 0
        while i < args.count {
            if args[i].hasPrefix("--"), i + 1 < args.count { values[String(args[i].dropFirst(2))] = args[i + 1]; i += 2 } else { i += 1 }
        }
    }
    func int(_ k: String, _ d: Int) -> Int { values[k].flatMap(Int.init) ?? d }
    func double(_ k: String, _ d: Double) -> Double { values[k].flatMap(Double.init) ?? d }
    func string(_ k: String) -> String? { values[k] }
}

/// Writes a line to stdout unbuffered (progress must show even if the run is killed).
func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(2)
}

/// Peak and current resident memory of this process, MiB (from /proc/self/status).
func memoryMiB() -> (peak: Double, current: Double) {
    guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return (0, 0) }
    func field(_ name: String) -> Double {
        for line in s.split(separator: "\n") where line.hasPrefix(name) {
            return Double(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0").map { $0 / 1024 } ?? 0
        }
        return 0
    }
    return (field("VmHWM:"), field("VmRSS:"))
}

func sample(_ i: Int, event: String? = nil) -> ExecutionRecord {
    ExecutionRecord(agentName: "agent-\(i % 50)", taskID: UUID().uuidString, taskType: ["analysis", "planning", "codegen"][i % 3],
                    executionTime: 1.0 + Double(i % 100) / 100, success: i % 10 != 0,
                    errorMessage: i % 10 == 0 ? "timeout after 30s" : nil,
                    resourceUsage: ResourceUsage(cpu: Double(i % 100) + 0.5, memoryMB: 256, other: ["io_ops": Double(i % 64)]),
                    timestamp: Date(), eventID: event)
}

final class Counter: Sendable {
    private let v = Atomic<Int>(0)
    func add(_ n: Int) { v.add(n, ordering: .relaxed) }
    var value: Int { v.load(ordering: .relaxed) }
    /// Increments and returns the value before.
    func next() -> Int { v.add(1, ordering: .relaxed).oldValue }
}

final class Locked<Value: Sendable>: Sendable {
    private let m: Mutex<Value>
    init(_ v: Value) { m = Mutex(v) }
    func withLock<R: Sendable>(_ f: (inout Value) -> R) -> R { m.withLock { f(&$0) } }
}


@main
enum StoreBench {
    static func main() async throws { try await run() }

    /// The whole bench, off the main actor (its tasks share nothing with it).
    nonisolated static func run() async throws {
        let args = CommandLine.arguments
        guard args.count >= 2 else { fail("usage: StoreBench single|batch|overload|fault --url URL [options]") }
        let mode = args[1]
        let opts = Options(Array(args.dropFirst(2)))
        guard let url = opts.string("url") else { fail("--url is required") }
        var config = LearningConfig()
        config.database.url = url
        config.database.maxConnections = opts.int("max-connections", 20)
        var ingest = IngestSettings()
        ingest.queueCapacity = opts.int("queue", ingest.queueCapacity)
        ingest.maxBatchRows = opts.int("max-batch", ingest.maxBatchRows)
        ingest.writers = opts.int("writers", ingest.writers)

        let store = try await LearningStore.open(config: config, ingest: ingest)
        let before = try await store.counts().executions
        let clock = ContinuousClock()

        switch mode {
        case "single", "batch", "overload":
            let seconds = opts.double("seconds", 10)
            let clients = mode == "single" ? opts.int("clients", 64) : opts.int(mode == "batch" ? "concurrency" : "clients", mode == "batch" ? 2 : 256)
            let batch = mode == "single" ? 1 : opts.int("batch", mode == "batch" ? 1000 : 500)
            let acked = Counter(), overloaded = Counter(), failed = Counter()
            let latencies = Locked<[Double]>([])
            let start = clock.now
            let deadline = start + .seconds(seconds)
            // Pre-build records so the generator's cost is not measured.
            let prepared = (0..<max(batch, 1_000)).map { sample($0) }
            await withTaskGroup(of: Void.self) { group in
                for c in 0..<clients {
                    group.addTask {
                        var mine: [Double] = []
                        var i = c
                        while clock.now < deadline {
                            let t0 = clock.now
                            do {
                                if batch == 1 {
                                    _ = try await store.logExecution(prepared[i % prepared.count])
                                } else {
                                    _ = try await store.logExecutions(Array(prepared.prefix(batch)))
                                }
                                acked.add(batch)
                                let d = clock.now - t0
                                mine.append(d / .seconds(1))
                            } catch let e as StoreError {
                                if case .overloaded(let after) = e {
                                    overloaded.add(1)
                                    // The overload run does not honour the advice: it keeps pushing.
                                    if mode != "overload" { try? await Task.sleep(for: .seconds(after)) }
                                } else { failed.add(1) }
                            } catch { failed.add(1) }
                            i += clients
                        }
                        let collected = mine
                        latencies.withLock { $0 += collected }
                    }
                }
            }
            let elapsed = clock.now - start
            let secs = elapsed / .seconds(1)
            let after = try await store.counts().executions
            var l = latencies.withLock { $0 }
            l.sort()
            func pct(_ p: Double) -> String { l.isEmpty ? "0" : String(format: "%.2f", l[min(l.count - 1, Int(Double(l.count) * p))] * 1000) }
            let mem = memoryMiB()
            say(String(format: "mode=%@ clients=%d batch=%d seconds=%.1f acked_rows=%d rows_in_table=%lld rows_per_s=%.0f p50_ms=%@ p99_ms=%@ overloaded=%d failed=%d peak_rss_mib=%.1f rss_mib=%.1f",
                         mode, clients, batch, secs, acked.value, after - before, Double(acked.value) / secs, pct(0.5), pct(0.99),
                         overloaded.value, failed.value, mem.peak, mem.current))
            if Int64(acked.value) != after - before { say("WARNING: acknowledged rows \(acked.value) != rows added \(after - before)"); exit(1) }

        case "fault":
            let total = opts.int("total", 100_000)
            let clients = opts.int("clients", 64)
            let run = UUID().uuidString.prefix(8)
            let next = Counter(), ackedCount = Counter(), unavailable = Counter(), overloaded = Counter(), other = Counter()
            let ackedIDs = Locked<[String]>([])
            let start = clock.now
            let progress = Task.detached {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(2))
                    say("progress: acknowledged=\(ackedCount.value) unavailable_errors=\(unavailable.value) database=\(store.databaseState)")
                }
            }
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<clients {
                    group.addTask {
                        var mine: [String] = []
                        while true {
                            let n = next.value
                            if n >= total { break }
                            next.add(1)
                            let event = "fault-\(run)-\(n)"
                            // Retry the same event id until it is acknowledged (the client's at-least-once loop).
                            while true {
                                do {
                                    _ = try await store.logExecution(sample(n, event: event))
                                    mine.append(event)
                                    ackedCount.add(1)
                                    break
                                } catch let e as StoreError {
                                    switch e {
                                    case .unavailable: unavailable.add(1); try? await Task.sleep(for: .milliseconds(100))
                                    case .overloaded(let after): overloaded.add(1); try? await Task.sleep(for: .seconds(after))
                                    case .retryable: other.add(1)
                                    default: other.add(1); try? await Task.sleep(for: .milliseconds(100))
                                    }
                                } catch { other.add(1) }
                            }
                        }
                        let collected = mine
                        ackedIDs.withLock { $0 += collected }
                    }
                }
            }
            progress.cancel()
            let elapsed = clock.now - start
            let ids = ackedIDs.withLock { $0 }
            // Verify on a fresh session: every acknowledged event id exactly once.
            var verify: [String: Int] = [:]
            while true {
                do { verify = try await store.eventIDCounts(prefix: "fault-\(run)-"); break } catch let e as StoreError where e.isRetryable {
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
            var found = 0, lost = 0, duplicated = 0
            for id in ids {
                switch verify[id] ?? 0 {
                case 0: lost += 1
                case 1: found += 1
                default: found += 1; duplicated += 1
                }
            }
            let extra = verify.values.filter { $0 > 1 }.count
            let mem = memoryMiB()
            say("mode=fault writes=\(total) acknowledged=\(ids.count) found=\(found) lost=\(lost) duplicated=\(max(duplicated, extra)) unavailable_errors=\(unavailable.value) overloaded=\(overloaded.value) other_errors=\(other.value) seconds=\(elapsed.components.seconds) peak_rss_mib=\(String(format: "%.1f", mem.peak))")
            if lost > 0 || duplicated > 0 || extra > 0 || ids.count != total { exit(1) }

        default:
            fail("unknown mode \(mode)")
        }
        await store.shutdown()

    }
}
