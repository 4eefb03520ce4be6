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
                l += gd.value(at: day, horizon: model.trainedAt, extrapolation: parameters.driftExtrapolation) / max(g * (1 - g), 0.05)
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
            let scale = 1 / max(rate * (1 - rate), 0.05)
            l += d.value(at: day, horizon: model.trainedAt, extrapolation: parameters.driftExtrapolation) * scale
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
                let q = logistic(l)
                l += d.value(at: day, horizon: model.trainedAt, extrapolation: parameters.driftExtrapolation)
                    / max(q * (1 - q), 0.05)
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
        return Expectation(p: logistic(l), pSE: pSE, mu: mu, muSE: muSE, sigma: pt.sigma, n: pr.n, drift: drift)
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
        let day = days(date)
        let h = hour.map { (($0 % 24) + 24) % 24 }
        guard let t = tasks.id(taskType) else {
            return globalPrediction(agent: agent, taskType: taskType, agentID: agents.id(agent))
        }
        guard let a = agents.id(agent) else {
            return taskTypePrediction(agent: agent, taskType: taskType, t, hour: h)
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
        if e.n >= 10 { basis = .pair }
        else if let pi, pi < model.similarWeight.count, model.similarWeight[pi] > 0 { basis = .similarAgents }
        else if e.n > 0 { basis = .pair }
        else { basis = .agent }
        let sigma = e.sigma
        let predSD = (sigma * sigma + e.muSE * e.muSE).squareRoot()
        let conf = Self.confidence(pSE: e.pSE, muSE: e.muSE)
        var res = ResourceUsage()
        if let pi {
            let ps = pairs[pi]
            res.memoryMB = ps.memorySketch.quantile(0.5)
            res.tokens = ps.tokenSketch.quantile(0.5)
            res.cpu = ps.cpu.weight > 0 ? ps.cpu.mean : nil
        } else {
            let s = agentStates[Int(a)]
            res.memoryMB = s.logMemory.weight > 0 ? exp(s.logMemory.mean) : nil
            res.tokens = s.logTokens.weight > 0 ? exp(s.logTokens.mean) : nil
            res.cpu = s.cpu.weight > 0 ? s.cpu.mean : nil
        }
        let onlineDrift = abs(agentStates[Int(a)].successTrend.fit(at: day).slopeZ) > 3
        return Prediction(agentName: agent, taskType: taskType,
                          expectedExecutionTime: exp(e.mu + sigma * sigma / 2),
                          medianExecutionTime: exp(e.mu), successProbability: e.p, confidence: conf,
                          lowConfidence: conf < parameters.confidenceThreshold,
                          intervalLow: exp(e.mu - 1.2816 * predSD), intervalHigh: exp(e.mu + 1.2816 * predSD),
                          recommendedResources: res, sampleSize: e.n, basis: basis,
                          driftDetected: e.drift || onlineDrift)
    }

    func taskTypePrediction(agent: String, taskType: String, _ t: Int32, hour: Int?) -> Prediction {
        let ts = taskStates[Int(t)]
        var l = logit(Double(ts.successes + 1) / Double(ts.n + 2))
        var mu = ts.logTime.weight > 0 ? ts.logTime.mean : model.globalLogTime
        if let h = hour { l += model.hourLogitEffect(t, h); mu += model.hourTimeEffect(t, h) }
        let sd = max(ts.logTime.sd, model.taskSigma(t))
        let pSE = (model.successStrength > 0 ? 0.15 : 0.2), muSE = sd
        let conf = Self.confidence(pSE: pSE, muSE: muSE)
        return Prediction(agentName: agent, taskType: taskType, expectedExecutionTime: exp(mu + sd * sd / 2),
                          medianExecutionTime: exp(mu), successProbability: logistic(l), confidence: conf,
                          lowConfidence: conf < parameters.confidenceThreshold,
                          intervalLow: exp(mu - 1.2816 * sd), intervalHigh: exp(mu + 1.2816 * sd),
                          recommendedResources: ResourceUsage(), sampleSize: 0, basis: .taskType, driftDetected: false)
    }

    func globalPrediction(agent: String, taskType: String, agentID: Int32?) -> Prediction {
        var l = model.globalLogit, mu = model.globalLogTime
        if let a = agentID { l += model.agentLogitEffect(a); mu += model.agentLogTimeEffect(a) }
        let sd = max(model.globalLogSigma, 0.5) * 2
        let conf = Self.confidence(pSE: 0.2, muSE: sd)
        return Prediction(agentName: agent, taskType: taskType, expectedExecutionTime: exp(mu + sd * sd / 2),
                          medianExecutionTime: exp(mu), successProbability: logistic(l), confidence: conf,
                          lowConfidence: conf < parameters.confidenceThreshold,
                          intervalLow: exp(mu - 1.2816 * sd), intervalHigh: exp(mu + 1.2816 * sd),
                          recommendedResources: ResourceUsage(), sampleSize: 0,
                          basis: agentID == nil ? .global : .agent, driftDetected: false)
    }

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
        view.model.successStrength *= parameters.recommendPriorScale
        let preds = cands.map { view.predict(agent: agents[$0], taskType: taskType, at: date) }
        let logs = preds.map { log(max($0.medianExecutionTime, 1e-9)) }
        let lo = logs.min() ?? 0, hi = logs.max() ?? 0
        var recs: [RankedAgent] = []
        for (i, p) in preds.enumerated() {
            let slow = hi > lo ? (logs[i] - lo) / (hi - lo) : 0
            let score = p.successProbability - speedWeight * slow
            var why = String(format: "%.0f%% expected success, median %.1fs over %d runs", p.successProbability * 100,
                             p.medianExecutionTime, p.sampleSize)
            if p.driftDetected { why += "; recent trend extrapolated" }
            if p.basis != .pair { why += "; estimate from \(p.basis.rawValue)" }
            if p.lowConfidence { why += "; low confidence" }
            recs.append(RankedAgent(agentName: p.agentName, score: score, prediction: p, reason: why))
        }
        recs.sort { $0.score != $1.score ? $0.score > $1.score : $0.agentName < $1.agentName }
        return Array(recs.prefix(max(limit, 0)))
    }
}
