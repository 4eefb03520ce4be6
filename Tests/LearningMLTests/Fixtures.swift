import Foundation
import LearningCore

/// Deterministic random numbers for constructed workloads (SplitMix64).
struct SplitMix {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
    mutating func bernoulli(_ p: Double) -> Bool { uniform() < p }
    mutating func normal() -> Double {
        let u = max(uniform(), 1e-12), v = uniform()
        return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
    }
}

let day0 = Date(timeIntervalSince1970: 1_736_121_600)  // 2025-01-06T00:00:00Z

/// Builds executions with ids in order of creation.
struct WorkloadBuilder {
    var rng = SplitMix(42)
    var records: [ExecutionRecord] = []

    mutating func add(agent: String, task: String, at date: Date, success: Bool, time: Double,
                      taskID: String? = nil, error: String? = nil, memory: Double = 1000, tokens: Double = 5000,
                      cpu: Double = 40) {
        records.append(ExecutionRecord(id: Int64(records.count), agentName: agent, taskID: taskID ?? UUID().uuidString,
                                       taskType: task, executionTime: time, success: success,
                                       errorMessage: success ? nil : (error ?? "Timeout after 30s waiting for worker-1"),
                                       resourceUsage: ResourceUsage(cpu: cpu, memoryMB: memory, tokens: tokens),
                                       timestamp: date))
    }

    /// `count` executions of `agent` on `task` spread over `days` days from `start`, success with
    /// probability `p(t)` (t = day offset), lognormal time around `median`.
    mutating func series(agent: String, task: String, count: Int, days: Double, start: Date = day0,
                         median: Double = 10, sigma: Double = 0.3, p: (Double) -> Double) {
        for i in 0..<count {
            let t = days * (Double(i) + rng.uniform()) / Double(count)
            let ok = rng.bernoulli(p(t))
            add(agent: agent, task: task, at: start.addingTimeInterval(t * 86_400), success: ok,
                time: median * exp(sigma * rng.normal()),
                memory: 1000 * exp(0.1 * rng.normal()), tokens: 5000 * exp(0.1 * rng.normal()), cpu: 40 + 3 * rng.normal())
        }
    }

    var sorted: [ExecutionRecord] {
        records.sorted { $0.timestamp < $1.timestamp }.enumerated().map { i, r in
            var r = r
            r.id = Int64(i)
            return r
        }
    }
}
