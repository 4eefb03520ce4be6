import Foundation

extension LearningEngine {
    /// Executions an hour of a task type needs before it can be the type's best or worst hour.
    public static let minScheduleHourRuns = 5

    /// Per task type: the UTC hour with the lowest expected execution time and the hour with the
    /// highest failure rate, from shrunk per-hour residuals against the pair baselines (so an
    /// hour is not blamed for who happens to run then).
    ///
    /// Minimum support: only hours with at least ``minScheduleHourRuns`` executions of the task
    /// type (at the last retrain) can be its best or worst hour, and a task type needs at least
    /// two such hours; otherwise it has no schedule pattern (one or two runs made the best hour
    /// the worst hour too).
    public func schedulePatterns() -> [ScheduleEffect] {
        var out: [ScheduleEffect] = []
        for t in 0..<min(tasks.count, model.hourTime.count) {
            let ht = model.hourTime[t], hl = model.hourLogit[t]
            guard taskStates[t].n > 0 else { continue }
            let supported = (0..<24).filter { taskStates[t].hourN[$0] >= Double(Self.minScheduleHourRuns) }
            guard supported.count >= 2 else { continue }
            let best = supported.min { ht[$0] < ht[$1] } ?? 0
            let worst = supported.min { hl[$0] < hl[$1] } ?? 0
            let ts = taskStates[t]
            let base = Double(ts.n - ts.successes + 1) / Double(ts.n + 2)
            let lift = hl.map { logistic(logit(base) - $0) - base }
            out.append(ScheduleEffect(taskType: tasks[Int32(t)], bestHour: best, worstFailureHour: worst,
                                       hourTimeFactor: ht.map { exp($0) }, hourFailureLift: lift))
        }
        return out
    }

    /// Agents clustered by resource use (k-means, deterministic farthest-point start, on
    /// standardised log memory, log tokens and cpu), largest cluster first.
    public func resourceProfiles(clusters k: Int = 4) -> [AgentResourceProfile] {
        let ids = agentStates.indices.filter { agentStates[$0].logMemory.weight > 0 || agentStates[$0].cpu.weight > 0 }
        guard !ids.isEmpty, k > 0 else { return [] }
        var raw = ids.map { i -> [Double] in
            let s = agentStates[i]
            return [s.logMemory.mean, s.logTokens.mean, s.cpu.mean]
        }
        var mean = [0.0, 0.0, 0.0], sd = [0.0, 0.0, 0.0]
        for d in 0..<3 {
            mean[d] = raw.reduce(0) { $0 + $1[d] } / Double(raw.count)
            sd[d] = max((raw.reduce(0) { $0 + ($1[d] - mean[d]) * ($1[d] - mean[d]) } / Double(raw.count)).squareRoot(), 1e-9)
        }
        raw = raw.map { v in (0..<3).map { (v[$0] - mean[$0]) / sd[$0] } }
        let centres = kMeans(raw, k: min(k, raw.count))
        var groups = [[Int]](repeating: [], count: centres.count)
        for (j, v) in raw.enumerated() { groups[nearest(v, centres)].append(ids[j]) }
        var out: [AgentResourceProfile] = []
        for (c, g) in groups.enumerated() where !g.isEmpty {
            let n = Double(g.count)
            out.append(AgentResourceProfile(cluster: c, agents: g.map { agents[Int32($0)] }.sorted(),
                                       cpu: g.reduce(0) { $0 + agentStates[$1].cpu.mean } / n,
                                       memoryMB: exp(g.reduce(0) { $0 + agentStates[$1].logMemory.mean } / n),
                                       tokens: exp(g.reduce(0) { $0 + agentStates[$1].logTokens.mean } / n)))
        }
        out.sort { $0.agents.count != $1.agents.count ? $0.agents.count > $1.agents.count : $0.cluster < $1.cluster }
        return out
    }

    /// Recommended resources of a pair: median memory and tokens (from the quantile sketches)
    /// and mean cpu; nil when the pair was never seen.
    public func recommendedResources(agent: String, taskType: String) -> (cpu: Double?, memoryMB: Double?, tokens: Double?)? {
        guard let a = agents.id(agent), let t = tasks.id(taskType), let pi = pairIndex[Self.pairKey(a, t)] else { return nil }
        let p = pairs[Int(pi)]
        return (p.cpu.weight > 0 ? p.cpu.mean : nil, p.memorySketch.quantile(0.5), p.tokenSketch.quantile(0.5))
    }

    /// Failures grouped by error signature, most frequent first.
    public func failurePatterns(limit: Int = 100) -> [FailureCluster] {
        let sorted = errors.clusters.sorted { $0.count != $1.count ? $0.count > $1.count : $0.template < $1.template }
        return sorted.prefix(max(limit, 0)).map { c in
            FailureCluster(signature: c.template, count: c.count, agents: c.agents.map { agents[$0] }.sorted(),
                           taskTypes: c.taskTypes.map { tasks[$0] }.sorted(), example: c.example)
        }
    }

    /// The signature an error message belongs to now (see ``failurePatterns(limit:)``).
    public func errorSignature(of message: String) -> String { errors.signature(of: message) }

    /// Masks the variable parts of an error message (numbers, hex ids, UUIDs, IPs, quoted strings, paths).
    public static func normalizeErrorMessage(_ message: String) -> String { ErrorSignatures.mask(message) }
}

func nearest(_ v: [Double], _ centres: [[Double]]) -> Int {
    var best = 0, bd = Double.infinity
    for (i, c) in centres.enumerated() {
        var d = 0.0
        for j in v.indices { d += (v[j] - c[j]) * (v[j] - c[j]) }
        if d < bd { bd = d; best = i }
    }
    return best
}

/// Lloyd's k-means with a deterministic farthest-point initialisation.
func kMeans(_ xs: [[Double]], k: Int, iterations: Int = 50) -> [[Double]] {
    guard let first = xs.first, k > 0 else { return [] }
    let dim = first.count
    var mean = [Double](repeating: 0, count: dim)
    for x in xs { for j in 0..<dim { mean[j] += x[j] / Double(xs.count) } }
    var centres = [xs[nearest(mean, xs)]]
    while centres.count < k {
        var far = 0, fd = -1.0
        for (i, x) in xs.enumerated() {
            let c = centres[nearest(x, centres)]
            var d = 0.0
            for j in 0..<dim { d += (x[j] - c[j]) * (x[j] - c[j]) }
            if d > fd { fd = d; far = i }
        }
        centres.append(xs[far])
    }
    for _ in 0..<iterations {
        var sums = [[Double]](repeating: [Double](repeating: 0, count: dim), count: k)
        var counts = [Int](repeating: 0, count: k)
        for x in xs {
            let c = nearest(x, centres)
            counts[c] += 1
            for j in 0..<dim { sums[c][j] += x[j] }
        }
        var moved = false
        for c in 0..<k where counts[c] > 0 {
            let nc = sums[c].map { $0 / Double(counts[c]) }
            if nc != centres[c] { moved = true; centres[c] = nc }
        }
        if !moved { break }
    }
    return centres
}
