public import Foundation
import LearningCore

/// The learning layer: online statistics of agent executions and everything learned from them
/// (predictions, recommendations, anomalies, patterns, embeddings).
///
/// A value type with no I/O and no locks. **Thread safety:** it is `Sendable` but not internally
/// synchronised; the service owns one engine inside an actor (or behind a mutex), calls
/// ``observe(_:)`` for every execution that reaches the database, ``retrain(on:now:)`` every
/// `ml.model_update_frequency` seconds (or on demand; train a copy off the hot path and swap it
/// in), and the read methods (``predict(agent:taskType:at:hour:collaborators:)`` and the
/// pattern queries) from any request. Reads never mutate, so a snapshot copy can serve readers
/// while a writer updates another copy.
///
/// ```swift
/// var engine = LearningEngine(parameters: EngineParameters(config: config))
/// let report = engine.retrain(on: history, now: Date())
/// let anomalies = engine.observe(newRecord)
/// let p = engine.predict(agent: "coder-01", taskType: "code_review", at: Date())
/// ```
public struct LearningEngine: Sendable {
    /// Hyperparameters (from `LearningConfig`).
    public internal(set) var parameters: EngineParameters
    var agents = NameTable()
    var tasks = NameTable()
    var pairIndex: [Int64: Int32] = [:]
    var pairs: [PairState] = []
    var agentStates: [AgentState] = []
    var taskStates: [TaskState] = []
    var model = Model()
    var errors = ErrorSignatures()
    var synergy: [Int64: SynergyStats] = [:]
    var handoffStats: [Int64: HandoffStats] = [:]
    var openTasks: [String: [TaskMember]] = [:]
    var recordsSeen = 0
    /// Set on the holdout copy during retrain: skips error signatures and quantile sketches
    /// (not used by the held-out success and time predictions).
    var skipErrors = false
    /// Per (agent, partner, task type) residuals, collected during the retrain re-scan only.
    var partnerStats: [Int64: PartnerStats]? = nil
    var latest = -Double.infinity
    /// Per pair index: the log times of the window's older executions (``retrain(on:history:now:)``),
    /// the pair's times when it has no recent rows.
    var historyLogTime: [Int: Moments] = [:]

    /// The model format version written by ``serialize()``.
    public static let modelVersion = 1

    /// An empty engine.
    public init(parameters: EngineParameters = EngineParameters()) {
        self.parameters = parameters
    }

    /// Sets ``EngineParameters/recommendUncertainty`` of a trained engine (for evaluations that
    /// rank one model several ways).
    public mutating func setRecommendUncertainty(_ k: Double?) { parameters.recommendUncertainty = k }

    /// Forgets everything learned (keeps the parameters).
    public mutating func reset() {
        self = LearningEngine(parameters: parameters)
    }

    /// Executions observed since the engine was created or reset.
    public var observedCount: Int { recordsSeen }
    /// Whether a retrain has produced a model.
    public var isTrained: Bool { model.trained }
    /// When the model was last trained (the `now` given to ``retrain(on:now:)``).
    public var trainedAt: Date? { model.trained ? Date(timeIntervalSince1970: model.trainedAt * 86_400) : nil }
    /// Names of all agents seen.
    public var agentNames: [String] { agents.names }
    /// Names of all task types seen.
    public var taskTypeNames: [String] { tasks.names }

    // MARK: - Ingestion

    @inline(__always) static func pairKey(_ a: Int32, _ t: Int32) -> Int64 { Int64(a) << 32 | Int64(t) }
    @inline(__always) static func agentPairKey(_ a: Int32, _ b: Int32) -> Int64 {
        a < b ? Int64(a) << 32 | Int64(b) : Int64(b) << 32 | Int64(a)
    }

    mutating func agentID(_ name: String) -> Int32 {
        let id = agents.intern(name)
        if Int(id) == agentStates.count { agentStates.append(AgentState(halfLife: parameters.recencyHalfLife)) }
        return id
    }

    mutating func taskID(_ name: String) -> Int32 {
        let id = tasks.intern(name)
        if Int(id) == taskStates.count { taskStates.append(TaskState()) }
        return id
    }

    mutating func pairID(_ a: Int32, _ t: Int32) -> Int {
        let key = Self.pairKey(a, t)
        if let p = pairIndex[key] { return Int(p) }
        pairs.append(PairState(agent: a, task: t))
        pairIndex[key] = Int32(pairs.count - 1)
        return pairs.count - 1
    }

    /// Adds a failed execution's message to the error signatures and returns its cluster (nil for
    /// a success, a failure without a message, and on the holdout copy, which keeps no signatures).
    mutating func failureCluster(_ r: ExecutionRecord, agent a: Int32, task t: Int32?) -> Int? {
        guard !skipErrors, !r.success, let msg = r.errorMessage, !msg.isEmpty else { return nil }
        return errors.add(msg, agent: a, taskType: t, hour: Self.hourOf(r.timestamp))
    }

    /// The cluster of a failed execution's message already added (read only; nil as above).
    func knownFailureCluster(_ r: ExecutionRecord) -> Int? {
        guard !skipErrors, !r.success, let msg = r.errorMessage, !msg.isEmpty else { return nil }
        return errors.cluster(of: msg)
    }

    /// The usual log-time offset of this execution's outcome: 0 for a success, the offset of its
    /// kind of failure otherwise (``ErrorSignatures/timeOffset(cluster:)``).
    func outcomeTimeOffset(_ r: ExecutionRecord, cluster: Int?) -> Double {
        r.success ? 0 : errors.timeOffset(cluster: cluster)
    }

    /// Weight a pair's pace needs before its failures teach the offsets of their kinds.
    static let paceBaselineForOffsets = 5.0

    /// Runs a pair's pace needs before a run is winsorised into it (at ±3 of its sd): the sd of a
    /// handful of runs is too unsure a yardstick, and clipping by it made young pairs' spread far
    /// too small (then ordinary runs looked like spikes).
    static let paceClipAfter = 20.0

    /// Updates the counting statistics with one execution (no detection, no model residuals);
    /// `cluster` is its message's error-signature cluster (``failureCluster(_:agent:task:)``).
    mutating func accumulate(_ r: ExecutionRecord, agent a: Int32, task t: Int32?, day: Double, hour: Int,
                             cluster: Int?) {
        recordsSeen += 1
        latest = max(latest, day)
        let logT: Double? = r.executionTime.flatMap { $0 > 0 && $0.isFinite ? log($0) : nil }
        Self.update(&agentStates[Int(a)], r, day: day)
        if let c = cluster {
            Self.countFailure(kind: Int32(c), in: &agentStates[Int(a)].failureKinds, limit: Self.maxKindsPerAgent)
            agentStates[Int(a)].labelledFailures = (agentStates[Int(a)].labelledFailures ?? 0) + 1
        }
        guard let t else { return }
        Self.update(&taskStates[Int(t)], r, logT: logT)
        let pi = pairID(a, t)
        Self.update(&pairs[pi], r, logT: logT, day: day, halfLife: parameters.recencyHalfLife, sketches: !skipErrors)
        if let c = cluster {
            Self.countFailure(kind: Int32(c), in: &pairs[pi].failureKinds, limit: Self.maxKindsPerPair)
            pairs[pi].labelledFailures = (pairs[pi].labelledFailures ?? 0) + 1
        }
        if let lt = logT, !skipErrors {
            var pace = pairs[pi].paceLogTime ?? Moments()
            if !r.success && pace.weight >= Self.paceBaselineForOffsets {
                errors.addTimeResidual(lt - pace.mean, cluster: cluster)
            }
            let offset = outcomeTimeOffset(r, cluster: cluster)
            pace.addClipped(lt - offset, clip: 3, minCount: Self.paceClipAfter)
            pairs[pi].paceLogTime = pace
            if parameters.latencyGivenTokens ?? true, let k = r.resourceUsage.tokens, k > 0, k.isFinite {
                Self.addTimeOnTokens(&pairs[pi], logTime: lt, logTokens: log(k), offset: offset)
            }
        }
    }

    /// Runs a pair's time-on-tokens line needs before it judges latency and before a run is
    /// winsorised into it (at ±3 of its residual sd).
    static let timeOnTokensMinRuns = 20.0

    /// Adds one run to its pair's time-on-tokens line. A run whose tokens lie beyond ±4 sd of the
    /// pair's (a token blow-up) is left out: one such point would tilt the line.
    static func addTimeOnTokens(_ p: inout PairState, logTime: Double, logTokens x: Double, offset: Double) {
        let tokens = p.logTokens
        if tokens.weight >= timeOnTokensMinRuns, abs(x - tokens.mean) > 4 * max(tokens.sd, 0.05) { return }
        var line = p.timeOnTokens ?? TimeOnTokens()
        var y = logTime
        if line.n >= timeOnTokensMinRuns, let f = line.predict(x: x, o: offset) {
            y = min(max(y, f.mu - 3 * f.sd), f.mu + 3 * f.sd)
        }
        line.add(x: x, o: offset, y: y)
        p.timeOnTokens = line
    }

    /// Most error kinds counted per pair and per agent: state stays bounded however many distinct
    /// messages arrive. A kind beyond them still counts among the failures: its bursts on that
    /// pair are judged as if the pair had never failed that way (the agent's and fleet's share,
    /// diluted by the pair's other failures).
    static let maxKindsPerPair = 32
    static let maxKindsPerAgent = 128

    static func countFailure(kind: Int32, in counts: inout [Int32: Int]?, limit: Int) {
        if counts == nil { counts = [:] }
        if counts![kind] != nil || counts!.count < limit { counts![kind, default: 0] += 1 }
    }

    // In-place updates (inout on the array element: no copy-on-write of the nested arrays).
    static func update(_ s: inout AgentState, _ r: ExecutionRecord, day: Double) {
        s.n += 1
        if r.success { s.successes += 1 }
        s.firstSeen = min(s.firstSeen, day)
        s.lastSeen = max(s.lastSeen, day)
        if let m = r.resourceUsage.memoryMB, m > 0 { s.logMemory.add(log(m)) }
        if let k = r.resourceUsage.tokens, k > 0 { s.logTokens.add(log(k)) }
        if let c = r.resourceUsage.cpu { s.cpu.add(c) }
    }

    static func update(_ ts: inout TaskState, _ r: ExecutionRecord, logT: Double?) {
        ts.n += 1
        if r.success { ts.successes += 1 }
        if let lt = logT { ts.logTime.add(lt) }
    }

    static func update(_ p: inout PairState, _ r: ExecutionRecord, logT: Double?, day: Double, halfLife: Double,
                       sketches: Bool = true) {
        p.n += 1
        if r.success { p.successes += 1 }
        if let lt = logT {
            p.logTime.addClipped(lt, clip: 3)
            if sketches { p.timeSketch.add(r.executionTime!) }
        }
        if day > p.lastSeen, p.recentWeight > 0 {
            let f = exp(-0.6931471805599453 * (day - p.lastSeen) / halfLife)
            p.recentWeight *= f; p.recentSuccess *= f; p.recentLogTime *= f
        }
        p.recentWeight += 1
        p.recentSuccess += r.success ? 1 : 0
        p.recentLogTime += logT ?? p.logTime.mean
        p.lastSeen = max(p.lastSeen, day)
        guard sketches else { return }
        if let m = r.resourceUsage.memoryMB, m > 0 { p.logMemory.addClipped(log(m), clip: 3); p.memorySketch.add(m) }
        if let k = r.resourceUsage.tokens, k > 0 { p.logTokens.addClipped(log(k), clip: 3); p.tokenSketch.add(k) }
        if let c = r.resourceUsage.cpu { p.cpu.addClipped(c, clip: 3) }
    }

    static func hourOf(_ d: Date) -> Int {
        let s = d.timeIntervalSince1970
        let h = Int(((s.truncatingRemainder(dividingBy: 86_400)) + 86_400).truncatingRemainder(dividingBy: 86_400) / 3600)
        return min(max(h, 0), 23)
    }

    // MARK: - Baselines

    /// The shrunk success probability of a pair (no drift, no hour), and its standard error.
    /// With `recent`, the rate moves towards the pair's recency-weighted rate (see
    /// `EngineParameters.recentMix`): used for forecasts, not for in-sample residuals.
    func pairRate(_ a: Int32, _ t: Int32, recent: Bool = false) -> (p: Double, se: Double, n: Int) {
        pairRate(a, t, pi: pairIndex[Self.pairKey(a, t)].map(Int.init), recent: recent)
    }

    /// `pairRate` with the pair's index already looked up (nil when the pair is unseen).
    func pairRate(_ a: Int32, _ t: Int32, pi: Int?, recent: Bool = false) -> (p: Double, se: Double, n: Int) {
        let sim = pi.flatMap { $0 < model.similarLogit.count ? model.similarLogit[$0] : nil } ?? 0
        let prior = Int(t) < model.taskLogit.count
            ? logistic(model.globalLogit + model.agentLogitEffect(a) + model.taskLogitEffect(t) + sim)
            : untrainedSuccessPrior(t)
        let m = model.successStrength
        if let pi {
            // Read field by field: a copy of the whole pair state (sketches, detection lines)
            // costs more than this forecast.
            let ps = (successes: pairs[pi].successes, n: pairs[pi].n, successAdjust: pairs[pi].successAdjust,
                      recentWeight: pairs[pi].recentWeight, lastSeen: pairs[pi].lastSeen,
                      recentSuccess: pairs[pi].recentSuccess)
            var p = min(max((Double(ps.successes) + ps.successAdjust + m * prior) / (Double(ps.n) + m), 0.001), 0.999)
            if parameters.pooledSuccessPrior ?? true, let g = model.deviationPrior, g.count == Self.deviationGrid.count {
                p = min(max(Self.posteriorRate(prior: logit(prior), successes: Double(ps.successes) + ps.successAdjust,
                                               n: Double(ps.n), weights: g), 0.001), 0.999)
            }
            // (A pair known only from the window's older executions, summed, has no recent ones.)
            if recent && parameters.recentMix > 0 && ps.recentWeight > 0 {
                let f = ps.lastSeen.isFinite && latest > ps.lastSeen
                    ? exp(-0.6931471805599453 * (latest - ps.lastSeen) / parameters.recencyHalfLife) : 1
                let nr = ps.recentWeight * f
                let adj = ps.successAdjust * nr / max(Double(ps.n), 1)
                let pr = min(max((ps.recentSuccess * f + adj + m * p) / (nr + m), 0.001), 0.999)
                let v = max(p * (1 - p) * (1 / (nr + m) - 1 / (Double(ps.n) + m)), 1e-6)
                let z2 = (pr - p) * (pr - p) / v
                // A pair last seen long ago has no recent weight left: z2 is 0, and so may be
                // the constant (0/0 made the forecast NaN).
                if z2 > 0 { p += parameters.recentMix * z2 / (z2 + parameters.recentMixC) * (pr - p) }
                p = min(max(p, 0.001), 0.999)
            }
            return (p, (p * (1 - p) / (Double(ps.n) + m + 1)).squareRoot(), ps.n)
        }
        return (prior, (prior * (1 - prior) / (m + 1)).squareRoot(), 0)
    }

    /// Offsets (logit) of a pair's success from its additive prior at which the nonparametric
    /// prior ``Model/deviationPrior`` puts its mass: -4 ... 4 in steps of 0.1.
    static let deviationGrid: [Double] = (0...80).map { Double($0) * 0.1 - 4 }

    /// Posterior mean success probability of a pair with `successes` in `n` runs whose logit is
    /// `prior` plus an offset drawn from `weights` (over ``deviationGrid``).
    static func posteriorRate(prior: Double, successes: Double, n: Double, weights: [Double]) -> Double {
        posteriorMean(prior: prior, successes: successes, n: n, weights: weights) { _, l in logistic(l) } ?? logistic(prior)
    }

    /// Posterior mean of `value(k, logit)` over the points `k` of ``deviationGrid`` for a pair
    /// with `successes` (clamped to 0...n) in `n` runs whose logit is `prior` plus the grid's
    /// offset, under the prior weights `g`; nil when no point has weight or likelihood.
    static func posteriorMean(prior: Double, successes s: Double, n: Double, weights g: [Double],
                              _ value: (_ k: Int, _ logit: Double) -> Double) -> Double? {
        let grid = deviationGrid
        let s = min(max(s, 0), n)
        var best = -Double.infinity
        for k in grid.indices where g[k] > 0 {
            let l = prior + grid[k]
            best = max(best, s * l - n * softplus(l))
        }
        var num = 0.0, den = 0.0
        for k in grid.indices where g[k] > 0 {
            let l = prior + grid[k]
            let w = g[k] * exp(s * l - n * softplus(l) - best)
            num += w * value(k, l); den += w
        }
        return den > 0 ? num / den : nil
    }

    /// Success prior of a pair whose task type the last retrain did not see (or before the
    /// first retrain): the task type's pooled online rate
    /// (Laplace-smoothed), or the default global rate when the task type is new.
    func untrainedSuccessPrior(_ t: Int32) -> Double {
        let ts = taskStates[Int(t)]
        if ts.n > 0 { return (Double(ts.successes) + 1) / (Double(ts.n) + 2) }
        return model.taskLogit.isEmpty ? fleetCounts().rate : logistic(model.globalLogit)
    }

    func similarLogitOffset(_ a: Int32, _ t: Int32) -> Double {
        guard let pi = pairIndex[Self.pairKey(a, t)], Int(pi) < model.similarLogit.count else { return 0 }
        return model.similarLogit[Int(pi)]
    }

    func similarLogTimeOffset(_ a: Int32, _ t: Int32) -> Double {
        guard let pi = pairIndex[Self.pairKey(a, t)], Int(pi) < model.similarLogTime.count else { return 0 }
        return model.similarLogTime[Int(pi)]
    }

    /// The shrunk mean log time of a pair, its standard error, and the pair's log-time sd.
    func pairLogTime(_ a: Int32, _ t: Int32) -> (mu: Double, se: Double, sigma: Double) {
        pairLogTime(a, t, pi: pairIndex[Self.pairKey(a, t)].map(Int.init))
    }

    /// `pairLogTime` with the pair's index already looked up (nil when the pair is unseen);
    /// `moments` replaces the pair's own log-time moments (its pace, for anomalies).
    /// `priorSigma` replaces the task type's spread as the prior of the pair's.
    func pairLogTime(_ a: Int32, _ t: Int32, pi: Int?, moments: Moments? = nil,
                     priorSigma: Double? = nil) -> (mu: Double, se: Double, sigma: Double) {
        let sim = pi.flatMap { $0 < model.similarLogTime.count ? model.similarLogTime[$0] : nil } ?? 0
        var prior = model.globalLogTime + model.agentLogTimeEffect(a) + model.taskLogTimeEffect(t) + sim
        var taskSigma = model.taskSigma(t)
        var tau2 = max(model.timeTau2, 1e-4)
        if Int(t) >= model.taskLogTime.count {
            // Before the first retrain (or for a task type new since it): the task type's pooled
            // online log times (all agents) are the prior, and their spread both the prior sd of
            // a pair's mean and of one execution.
            let ts = taskStates[Int(t)].logTime
            if ts.weight >= 3 {
                prior = ts.mean
                taskSigma = max(ts.sd, 0.05)
                tau2 = max(ts.variance, 1e-4)
            } else if !model.trained || model.taskLogTime.isEmpty {
                // Too few times of this task type and no fitted model: the fleet's times (all
                // task types), not the unfitted default.
                let fleet = fleetCounts().logTime
                if fleet.weight > 0 {
                    prior = fleet.mean
                    taskSigma = max(fleet.sd, model.globalLogSigma, 0.05)
                    tau2 = max(fleet.variance, taskSigma * taskSigma, 1e-4)
                }
            }
        }
        guard let pi else {
            return (prior, tau2.squareRoot(), taskSigma)
        }
        // A pair's recent rows tell its present pace; the window's older times (summed, undated)
        // stand in only for a pair with no recent rows.
        let m = moments ?? (pairs[Int(pi)].logTime.weight > 0 ? pairs[Int(pi)].logTime : historyLogTime[Int(pi)] ?? Moments())
        let nu0 = 6.0
        if let priorSigma { taskSigma = priorSigma }
        let s2 = (nu0 * taskSigma * taskSigma + max(m.weight - 1, 0) * m.variance) / (nu0 + max(m.weight - 1, 0))
        let w = m.weight / (m.weight + s2 / tau2)
        let mu = w * m.mean + (1 - w) * prior
        let se = (1 / (m.weight / s2 + 1 / tau2)).squareRoot()
        return (mu, se, s2.squareRoot())
    }
}
