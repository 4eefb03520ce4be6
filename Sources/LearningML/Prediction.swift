public import Foundation
import LearningCore

/// The model's expectation for one execution of a pair at a time (and optionally an hour).
struct Expectation {
    var p: Double
    var pSE: Double
    var mu: Double
    var muSE: Double
    var sigma: Double
    var n: Int
    var drift: Bool
    /// The pair's own part of `mu` (``LearningEngine/pairLogTime(_:_:pi:moments:priorSigma:)``),
    /// before hours and drift: what the latency check swaps for the pair's pace.
    var pairMu: Double

    /// The sd of one execution's log time around `mu`: its spread and the uncertainty of `mu`.
    /// The 80 % interval's width, and the unit its ends are calibrated in at retrain.
    var predictiveSD: Double { (sigma * sigma + muSE * muSE).squareRoot() }
}

extension LearningEngine {
    /// Expected success and log time of agent `a` on task type `t` at `day` (days since 1970).
    func expected(_ a: Int32, _ t: Int32, day: Double, hour: Int?) -> Expectation {
        expected(a, t, pi: pairIndex[Self.pairKey(a, t)].map(Int.init), day: day, hour: hour)
    }

    /// `expected` with the pair's index already looked up (nil when the pair is unseen).
    func expected(_ a: Int32, _ t: Int32, pi: Int?, day: Double, hour: Int?) -> Expectation {
        let pr = pairRate(a, t, pi: pi, recent: model.trained && day >= model.trainedAt)
        let pt = pairLogTime(a, t, pi: pi)
        let rate = Int(a) < model.agentRate.count ? model.agentRate[Int(a)] : logistic(model.globalLogit)
        var l = logit(pr.p)
        var mu = pt.mu
        var pSE = pr.se, muSE = pt.se
        var drift = false
        do {
            let gd = model.globalSuccessDrift, gt = model.globalTimeDrift
            let ahead = max(0, day - model.trainedAt)
            if gd.detected {
                let g = logistic(model.globalLogit)
                l += Self.logitShift(from: g, by: gd.value(at: day, horizon: model.trainedAt, extrapolation: parameters.driftExtrapolation))
                let se = gd.se * (1 + ahead / 4)
                pSE = (pSE * pSE + se * se).squareRoot()
            }
            if gt.detected {
                mu += gt.value(at: day, horizon: model.trainedAt, extrapolation: parameters.driftExtrapolation)
                let se = gt.se * (1 + ahead / 4)
                muSE = (muSE * muSE + se * se).squareRoot()
            }
        }
        if Int(a) < model.successDrift.count {
            let d = model.successDrift[Int(a)]
            l += Self.logitShift(from: rate, by: d.value(at: day, horizon: model.trainedAt, extrapolation: parameters.driftExtrapolation))
            let ahead = max(0, day - model.trainedAt)
            let se = d.detected ? d.se * (1 + ahead / 4) : 0
            pSE = (pSE * pSE + se * se).squareRoot()
            drift = drift || d.detected
            let td = model.timeDrift[Int(a)]
            mu += td.value(at: day, horizon: model.trainedAt, extrapolation: parameters.driftExtrapolation)
            let tse = td.detected ? td.se * (1 + ahead / 4) : 0
            muSE = (muSE * muSE + tse * tse).squareRoot()
            drift = drift || td.detected
        }
        if parameters.agentRecentMix > 0, model.trained, day >= model.trainedAt {
            // The agent's recency-weighted residual across its task types (online drift signal).
            let tr = agentStates[Int(a)].successTrend
            let n = tr.effectiveCount
            if n > 0 {
                let q = logistic(l)
                l += parameters.agentRecentMix * tr.mean * n / (n + 50) / max(q * (1 - q), 0.05)
            }
        }
        if let pi, pi < model.pairSuccessDrift.count {
            let ahead = max(0, day - model.trainedAt)
            let d = model.pairSuccessDrift[pi]
            if d.detected {
                l += Self.logitShift(from: logistic(l), by: d.value(at: day, horizon: model.trainedAt,
                                                                    extrapolation: parameters.driftExtrapolation))
                let se = d.se * (1 + ahead / 4)
                pSE = (pSE * pSE + se * se).squareRoot()
                drift = true
            }
            let td = model.pairTimeDrift[pi]
            if td.detected {
                mu += td.value(at: day, horizon: model.trainedAt, extrapolation: parameters.driftExtrapolation)
                let se = td.se * (1 + ahead / 4)
                muSE = (muSE * muSE + se * se).squareRoot()
                drift = true
            }
        }
        if let h = hour {
            l += model.hourLogitEffect(t, h)
            mu += model.hourTimeEffect(t, h)
        } else if Int(t) < model.typicalHourLogit.count {
            // No hour given: success at a typical hour (the median hour effect), so failures
            // confined to a few hours (maintenance windows) do not lower the base rate; time
            // stays the all-hours average.
            l += model.typicalHourLogit[Int(t)]
        }
        return Expectation(p: logistic(l), pSE: pSE, mu: mu, muSE: muSE, sigma: pt.sigma, n: pr.n, drift: drift,
                           pairMu: pt.mu)
    }

    /// Pseudo-runs of no departure in a pair's median-versus-mean-log correction.
    static let medianSkewPriorRuns = 50.0

    /// The change of logit that moves probability `p` by `delta` (drifts are fitted on residuals in
    /// probability units): exact, not linearised, so a large drop of a high rate is not turned
    /// into a far larger one (0.93 less 0.23 is 0.70, where Δ/(p(1 − p)) would give 0.29).
    static func logitShift(from p: Double, by delta: Double) -> Double {
        let lo = 0.005, hi = 0.995
        let from = min(max(p, lo), hi)
        return logit(min(max(from + delta, lo), hi)) - logit(from)
    }

    /// A confidence in 0...1 from the standard errors of the success and log-time estimates: 1 for
    /// a perfectly known pair, 0.5 when the success error is about 0.05 and the time error 0.1.
    static func confidence(pSE: Double, muSE: Double) -> Double {
        let u = (pSE / 0.05) * (pSE / 0.05) + (muSE / 0.1) * (muSE / 0.1)
        return 1 / (1 + u / 2)
    }

    /// Forecast for `agent` on `taskType` at `date`.
    ///
    /// - Parameters:
    ///   - hour: UTC hour of day the execution will run, if known (adds the task type's hour effect).
    ///   - collaborators: agents sharing the task; known collaboration effects shift the forecast.
    /// The estimate shrinks the pair's history towards a prior from the agent's and the task
    /// type's effects (and similar agents' results on this task type), adds the agent's drift
    /// extrapolated to `date`, and reports where its evidence came from in `basis`.
    public func predict(agent: String, taskType: String, at date: Date, hour: Int? = nil,
                        collaborators: [String] = []) -> Prediction {
        forecast(agent: agent, taskType: taskType, at: date, hour: hour, collaborators: collaborators).prediction
    }

    /// ``predict(agent:taskType:at:hour:collaborators:)`` with the standard error of its success
    /// probability.
    func forecast(agent: String, taskType: String, at date: Date, hour: Int? = nil,
                  collaborators: [String] = []) -> (prediction: Prediction, pSE: Double) {
        let day = days(date)
        let h = hour.map { (($0 % 24) + 24) % 24 }
        guard let t = tasks.id(taskType), let a = agents.id(agent) else {
            return fallbackPrediction(agent: agent, taskType: taskType, agentID: agents.id(agent),
                                      taskID: tasks.id(taskType), hour: h)
        }
        let pi = pairIndex[Self.pairKey(a, t)].map(Int.init)
        var e = expected(a, t, pi: pi, day: day, hour: h)
        var l = logit(e.p)
        for c in collaborators {
            guard let b = agents.id(c), b != a, let s = synergy[Self.agentPairKey(a, b)], s.rows > 0 else { continue }
            // Shrunk mean residual on shared tasks: logit and log-time offsets.
            l += s.successRes / (s.pq + 20)
            e.mu += s.timeRes / (s.rows + 20)
        }
        e.p = logistic(l)
        let basis: PredictionBasis
        let basisExecutions: Int
        if e.n >= 10 { basis = .pair; basisExecutions = e.n }
        else if let pi, pi < model.similarWeight.count, model.similarWeight[pi] > 0 { basis = .similarAgents; basisExecutions = e.n }
        else if e.n > 0 { basis = .pair; basisExecutions = e.n }
        else if Int(a) < model.agentLogit.count && Int(t) < model.taskLogit.count {
            // The fitted agent effect (its other task types) plus the task type's effect.
            basis = .agent; basisExecutions = agentStates[Int(a)].n
        } else {
            // No fitted effects yet: the task type's pooled executions are the prior.
            basis = .taskType; basisExecutions = taskStates[Int(t)].n
        }
        let sigma = e.sigma
        let predSD = e.predictiveSD
        let conf = Self.confidence(pSE: e.pSE, muSE: e.muSE)
        var res = ResourceUsage()
        if let pi {
            res.memoryMB = pairs[pi].memorySketch.quantile(0.5)
            res.tokens = pairs[pi].tokenSketch.quantile(0.5)
            res.cpu = pairs[pi].cpu.weight > 0 ? pairs[pi].cpu.mean : nil
        } else {
            res = agentResources(a)
        }
        let onlineDrift = abs(agentStates[Int(a)].successTrend.fit(at: day).slopeZ) > 3
        // A pair's times mix successes with failures of other paces (timeouts, refusals), so
        // their median is not exp(mean log time): the pair's own median departs from its mean log
        // by as much as its runs show (shrunk: 20 pseudo-runs of no departure).
        var medianLog = e.mu
        if let pi, let m = pairs[pi].timeSketch.quantile(0.5), m > 0, pairs[pi].logTime.weight > 0 {
            let n = pairs[pi].logTime.weight
            medianLog += (log(m) - pairs[pi].logTime.mean) * n / (n + Self.medianSkewPriorRuns)
        }
        return (Prediction(agentName: agent, taskType: taskType,
                           expectedExecutionTime: exp(e.mu + sigma * sigma / 2),
                           medianExecutionTime: exp(medianLog), successProbability: e.p, confidence: conf,
                           lowConfidence: conf < parameters.confidenceThreshold,
                           intervalLow: exp(e.mu + (model.intervalLowZ ?? -1.2816) * predSD),
                           intervalHigh: exp(e.mu + (model.intervalHighZ ?? 1.2816) * predSD),
                           recommendedResources: res, sampleSize: e.n, basis: basis, basisExecutions: basisExecutions,
                           driftDetected: e.drift || onlineDrift), e.pSE)
    }

    /// The agent's mean resource use over all its executions (for a pair it never ran).
    func agentResources(_ a: Int32) -> ResourceUsage {
        let s = agentStates[Int(a)]
        var res = ResourceUsage()
        res.memoryMB = s.logMemory.weight > 0 ? exp(s.logMemory.mean) : nil
        res.tokens = s.logTokens.weight > 0 ? exp(s.logTokens.mean) : nil
        res.cpu = s.cpu.weight > 0 ? s.cpu.mean : nil
        return res
    }

    /// Executions of a group (the fleet, one agent, one task type) as online counts.
    struct GroupCounts {
        var n = 0
        var successes = 0
        var logTime = Moments()
        var rate: Double { (Double(successes) + 1) / (Double(n) + 2) }
    }

    /// Per agent: its executions on every task type (times from its pairs: the recent rows, or
    /// the window's older times for a pair without recent rows).
    func agentCounts() -> [GroupCounts] {
        var out = agentStates.map { GroupCounts(n: $0.n, successes: $0.successes) }
        for (pi, p) in pairs.enumerated() {
            out[Int(p.agent)].logTime.merge(p.logTime.weight > 0 ? p.logTime : historyLogTime[pi] ?? Moments())
        }
        return out
    }

    /// The task types' executions (all agents).
    func taskCounts() -> [GroupCounts] {
        taskStates.map { GroupCounts(n: $0.n, successes: $0.successes, logTime: $0.logTime) }
    }

    /// How far groups (agents, or task types) differ: the between-group sd of their success rates
    /// and of their mean log times, method of moments (the spread of the groups' estimates less
    /// their sampling noise), over groups with at least 5 executions (3 timed). With fewer than
    /// two such groups nothing says how far they differ, and the between-execution spread of
    /// `whole` (sd of one success, sd of one log time) stands in: the widest honest range.
    static func spread(_ groups: [GroupCounts], whole: GroupCounts) -> (p: Double, logTime: Double) {
        let pw = whole.rate
        var rates = Moments(), noise = 0.0
        for g in groups where g.n >= 5 {
            rates.add(g.rate)
            noise += g.rate * (1 - g.rate) / Double(g.n + 2)
        }
        let sp = rates.weight >= 2 ? max(rates.variance - noise / rates.weight, 0).squareRoot()
            : (pw * (1 - pw)).squareRoot()
        var means = Moments(), tnoise = 0.0
        for g in groups where g.logTime.weight >= 3 {
            means.add(g.logTime.mean)
            tnoise += g.logTime.variance / g.logTime.weight
        }
        let st = means.weight >= 2 ? max(means.variance - tnoise / means.weight, 0).squareRoot()
            : max(whole.logTime.sd, 0.05)
        return (sp, st)
    }

    /// Every execution seen (all agents, all task types).
    func fleetCounts() -> GroupCounts {
        var g = GroupCounts()
        for s in agentStates { g.n += s.n; g.successes += s.successes }
        for ts in taskStates { g.logTime.merge(ts.logTime) }
        return g
    }

    /// A forecast when the agent or the task type was never seen: from the agent's executions on
    /// its other task types (basis `agent`), the task type's executions by other agents
    /// (`task_type`), or the whole fleet's (`global`), each estimate with a standard error that
    /// adds how far agents (or task types) differ from one another, so its confidence is low. The
    /// success rate is pooled towards the fleet's (two pseudo-executions); times are the group's
    /// log-time mean and sd. With nothing observed at all, basis `none`.
    func fallbackPrediction(agent: String, taskType: String, agentID a: Int32?, taskID t: Int32?,
                            hour: Int?) -> (prediction: Prediction, pSE: Double) {
        let fleet = fleetCounts()
        guard fleet.n > 0 else {
            return (Prediction(agentName: agent, taskType: taskType, expectedExecutionTime: 0, medianExecutionTime: 0,
                               successProbability: 0.5, confidence: 0, lowConfidence: true, intervalLow: 0, intervalHigh: 0,
                               recommendedResources: ResourceUsage(), sampleSize: 0, basis: .none, basisExecutions: 0,
                               driftDetected: false), 0.5)
        }
        let group: GroupCounts
        let basis: PredictionBasis
        let between: (p: Double, logTime: Double)
        var res = ResourceUsage()
        if let a, agentStates[Int(a)].n > 0 {
            // The agent on its other task types; a new task type may differ as task types do.
            group = agentCounts()[Int(a)]
            between = Self.spread(taskCounts(), whole: fleet)
            basis = .agent
            res = agentResources(a)
        } else if let t, taskStates[Int(t)].n > 0 {
            // The task type's other agents; a new agent may differ as agents do.
            group = taskCounts()[Int(t)]
            between = Self.spread(agentCounts(), whole: fleet)
            basis = .taskType
        } else {
            // Only the fleet: a new agent on a new task type may differ as both do.
            group = fleet
            let sa = Self.spread(agentCounts(), whole: fleet), st = Self.spread(taskCounts(), whole: fleet)
            between = ((sa.p * sa.p + st.p * st.p).squareRoot(), (sa.logTime * sa.logTime + st.logTime * st.logTime).squareRoot())
            basis = .global
        }
        let pf = fleet.rate
        var p = (Double(group.successes) + 2 * pf) / (Double(group.n) + 2)
        let times = group.logTime.weight > 0 ? group.logTime : fleet.logTime
        var mu = times.mean
        let sigma = max(times.weight >= 2 ? times.sd : fleet.logTime.sd, 0.05)
        if let t, let h = hour {
            p = logistic(logit(min(max(p, 0.001), 0.999)) + model.hourLogitEffect(t, h))
            mu += model.hourTimeEffect(t, h)
        }
        p = min(max(p, 0.001), 0.999)
        let pSE = (p * (1 - p) / (Double(group.n) + 2) + between.p * between.p).squareRoot()
        let muSE = (sigma * sigma / max(times.weight, 1) + between.logTime * between.logTime).squareRoot()
        let predSD = (sigma * sigma + muSE * muSE).squareRoot()
        let conf = Self.confidence(pSE: pSE, muSE: muSE)
        return (Prediction(agentName: agent, taskType: taskType, expectedExecutionTime: exp(mu + sigma * sigma / 2),
                           medianExecutionTime: exp(mu), successProbability: p, confidence: conf,
                           lowConfidence: conf < parameters.confidenceThreshold,
                           intervalLow: exp(mu - 1.2816 * predSD), intervalHigh: exp(mu + 1.2816 * predSD),
                           recommendedResources: res, sampleSize: 0, basis: basis, basisExecutions: group.n,
                           driftDetected: false), pSE)
    }

    /// Default of ``EngineParameters/recommendUncertainty``.
    public static let defaultRecommendUncertainty = 0.5
    /// Default of ``EngineParameters/recommendAgentRecentMix``: chosen on family members 1-16
    /// (mean top-1 0.362 -> 0.371, NDCG@3 0.570 -> 0.579, better on both halves; docs/ML.md).
    public static let defaultRecommendAgentRecentMix = 1.0

    /// Agents ranked for `taskType` at `date`, best first.
    ///
    /// The score is the forecast success probability minus `speedWeight` times the agent's
    /// relative slowness (0 for the fastest candidate, 1 for the slowest), so `speedWeight = 0`
    /// ranks purely by success and larger values favour fast agents. Candidates are the agents
    /// that have run this task type; when none has, every known agent is ranked on its prior.
    public func recommend(taskType: String, at date: Date, limit: Int = 5, speedWeight: Double = 0) -> [RankedAgent] {
        var cands: [Int32]
        if let t = tasks.id(taskType) {
            cands = pairs.filter { $0.task == t && $0.n > 0 }.map(\.agent)
            if cands.isEmpty { cands = (0..<Int32(agents.count)).map { $0 } }
        } else {
            cands = (0..<Int32(agents.count)).map { $0 }
        }
        var view = self
        view.parameters.recentMix = parameters.recommendRecentMix
        view.parameters.recentMixC = parameters.recommendRecentMixC
        view.parameters.agentRecentMix = parameters.recommendAgentRecentMix ?? Self.defaultRecommendAgentRecentMix
        view.model.successStrength *= parameters.recommendPriorScale
        let forecasts = cands.map { view.forecast(agent: agents[$0], taskType: taskType, at: date) }
        let preds = forecasts.map(\.prediction)
        let logs = preds.map { log(max($0.medianExecutionTime, 1e-9)) }
        let lo = logs.min() ?? 0, hi = logs.max() ?? 0
        let kappa = parameters.recommendUncertainty ?? Self.defaultRecommendUncertainty
        var recs: [RankedAgent] = []
        for (i, p) in preds.enumerated() {
            let slow = hi > lo ? (logs[i] - lo) / (hi - lo) : 0
            let score = p.successProbability - kappa * forecasts[i].pSE - speedWeight * slow
            var why = String(format: "%.0f%% expected success, median %.1fs", p.successProbability * 100, p.medianExecutionTime)
            switch p.basis {
            case .pair: why += " over \(p.sampleSize) runs"
            case .similarAgents: why += " from \(p.sampleSize) runs and similar agents' results on this task type"
            case .agent: why += " from its \(p.basisExecutions) runs of other task types (none of this one)"
            case .taskType: why += " from the \(p.basisExecutions) runs of this task type by all agents (none by this agent)"
            case .global: why += " from all \(p.basisExecutions) runs of the fleet"
            case .none: why = "nothing observed yet"
            }
            if p.driftDetected { why += "; recent trend extrapolated" }
            if p.lowConfidence { why += "; low confidence" }
            recs.append(RankedAgent(agentName: p.agentName, score: score, prediction: p, reason: why))
        }
        recs.sort { $0.score != $1.score ? $0.score > $1.score : $0.agentName < $1.agentName }
        return Array(recs.prefix(max(limit, 0)))
    }
}
