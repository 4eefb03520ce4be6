// ml-bench: micro-benchmarks of LearningML on a synthetic workload shaped like the evaluation's
// (71 agents, 24 task types, 200,000 executions over 30 days, 30% multi-agent tasks).
// Usage: MLBench [rows]   — prints retrain time, prediction and observe cost, memory per pair.
import Foundation
import LearningCore
import LearningML

struct Rng {
    var s: UInt64
    mutating func next() -> UInt64 {
        s &+= 0x9e37_79b9_7f4a_7c15
        var z = s
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
    mutating func normal() -> Double {
        let u = max(uniform(), 1e-12), v = uniform()
        return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
    }
}

let rows = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 200_000 : 200_000
let agents = (0..<71).map { "agent-\($0)" }
let tasks = (0..<24).map { "task-\($0)" }
var rng = Rng(s: 1)
let agentSkill = agents.map { _ in rng.normal() * 0.5 }
let taskBase = tasks.map { _ in 1 + rng.normal() * 0.5 }
let taskTime = tasks.map { _ in 2 + rng.normal() }
let errors = ["Timeout after %ds waiting for worker-%d.cluster.local", "Deadlock detected on transaction 0x%x after %d retries",
              "ConnectionRefusedError: connect to 10.0.%d.%d:5432 failed"]
let start = Date(timeIntervalSince1970: 1_736_121_600)
var records: [ExecutionRecord] = []
records.reserveCapacity(rows)
var k = 0
while records.count < rows {
    let t = start.addingTimeInterval(30 * 86_400 * Double(records.count) / Double(rows))
    let taskID = UUID().uuidString
    let team = rng.uniform() < 0.3 ? 2 + Int(rng.next() % 3) : 1
    let tt = Int(rng.next() % UInt64(tasks.count))
    for m in 0..<team where records.count < rows {
        let a = Int(rng.next() % UInt64(agents.count))
        let p = 1 / (1 + exp(-(taskBase[tt] + agentSkill[a])))
        let ok = rng.uniform() < p
        let e = errors[k % errors.count]
        k += 1
        records.append(ExecutionRecord(
            id: Int64(records.count), agentName: agents[a], taskID: taskID, taskType: tasks[tt],
            executionTime: exp(taskTime[tt] + 0.4 * rng.normal()), success: ok,
            errorMessage: ok ? nil : String(format: e, Int(rng.next() % 900), Int(rng.next() % 50)),
            resourceUsage: ResourceUsage(cpu: 40 + 10 * rng.normal(), memoryMB: exp(7 + 0.3 * rng.normal()),
                                         tokens: exp(8 + 0.5 * rng.normal())),
            timestamp: t.addingTimeInterval(Double(m))))
    }
}
let now = records.last!.timestamp
let clock = ContinuousClock()
func seconds(_ d: Duration) -> Double { d / .seconds(1) }

/// CPU time of the calling thread (what a retrain costs regardless of other load on the machine).
func threadCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

var engine = LearningEngine()
var retrainTimes: [Double] = []
var retrainCPU: [Double] = []
for _ in 0..<3 {
    var e = LearningEngine()
    let t0 = clock.now
    let c0 = threadCPUSeconds()
    let report = e.retrain(on: records, now: now)
    retrainTimes.append(seconds(clock.now - t0))
    retrainCPU.append(threadCPUSeconds() - c0)
    precondition(report.records == rows)
    engine = e
}
retrainTimes.sort()
retrainCPU.sort()
let loadavg = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").first.map(String.init) ?? "?"

// Prediction cost: 1,000,000 calls over random known pairs.
let calls = 1_000_000
var idx: [(String, String)] = []
for _ in 0..<1024 { idx.append((agents[Int(rng.next() % 71)], tasks[Int(rng.next() % 24)])) }
let when = now.addingTimeInterval(6 * 86_400)
var sink = 0.0
let p0 = clock.now
for i in 0..<calls {
    let (a, t) = idx[i & 1023]
    sink += engine.predict(agent: a, taskType: t, at: when).successProbability
}
let predictNs = seconds(clock.now - p0) / Double(calls) * 1e9
let p1 = clock.now
for i in 0..<10_000 {
    let (a, t) = idx[i & 1023]
    sink += engine.predict(agent: a, taskType: t, at: when, hour: i % 24, collaborators: [agents[i % 71]]).confidence
}
let predictCtxNs = seconds(clock.now - p1) / 10_000 * 1e9
// Per-call latency of predict: 200,000 calls, each timed on the thread's CPU clock (the call's
// own cost, not the scheduler's pauses on a shared machine) and on the wall clock.
func threadNs() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
func wallNs() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
var cpuLat = [UInt64](), wallLat = [UInt64]()
cpuLat.reserveCapacity(200_000); wallLat.reserveCapacity(200_000)
for i in 0..<200_000 {
    let (a, t) = idx[(i &* 7) & 1023]
    let w0 = wallNs(), c0 = threadNs()
    sink += engine.predict(agent: a, taskType: t, at: when).successProbability
    let c1 = threadNs(), w1 = wallNs()
    cpuLat.append(c1 - c0); wallLat.append(w1 - w0)
}
cpuLat.sort(); wallLat.sort()
func pct(_ xs: [UInt64], _ q: Double) -> Double { Double(xs[min(Int(Double(xs.count) * q), xs.count - 1)]) }
print(String(format: "predict per call (200,000 timed): CPU p50 %.0f ns, p99 %.0f ns; wall p50 %.0f ns, p99 %.0f ns",
             pct(cpuLat, 0.5), pct(cpuLat, 0.99), pct(wallLat, 0.5), pct(wallLat, 0.99)))

// Observe cost: the last 20,000 records again, online.
var online = engine
let o0 = clock.now
var flagged = 0
for r in records.suffix(20_000) {
    var r = r
    r.timestamp = r.timestamp.addingTimeInterval(86_400)
    flagged += online.observe(r).count
}
let observeUs = seconds(clock.now - o0) / 20_000 * 1e6

let r0 = clock.now
let recs = engine.recommend(taskType: tasks[0], at: when, limit: 5)
let recommendUs = seconds(clock.now - r0) * 1e6

let bytes = engine.serialize()
let s0 = clock.now
let restored = try! LearningEngine(serialized: bytes)
let loadMs = seconds(clock.now - s0) * 1e3
precondition(restored.observedCount == engine.observedCount)

print(String(format: """
    rows: %d (71 agents x 24 task types, synthetic)
    load average during the run: %@ (2 cores)
    retrain (full, incl. holdout fit and history re-scan): wall min %.3f s, median %.3f s, max %.3f s; CPU median %.3f s
    predict(agent:taskType:at:): %.0f ns/call (1e6 calls)
    predict with hour + 1 collaborator: %.0f ns/call
    observe (online update + detection): %.1f us/record
    recommend (top 5 of one task type): %.0f us
    state bytes per (agent, task type) pair: %d
    serialized model: %d bytes, load %.1f ms
    (checksum %.3f, %d anomalies, %d recommendations)
    """, rows, loadavg, retrainTimes[0], retrainTimes[1], retrainTimes[2], retrainCPU[1], predictNs, predictCtxNs, observeUs, recommendUs,
    LearningEngine.bytesPerPair, bytes.count, loadMs, sink, flagged, recs.count))
