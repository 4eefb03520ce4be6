public import Foundation
public import LearningCore

/// One execution in the engine's compact form.
struct Row: Sendable {
    var agent: Int32
    var task: Int32   // -1 when the execution has no task type
    var day: Double
    var hour: Int
    var logTime: Double  // NaN when unknown
    var success: Bool
}

extension LearningEngine {
    // MARK: - Retrain

    /// Rebuilds the state from `records` (the history the service keeps, in any order) and fits
    /// the model: priors for shrinkage, hour effects, per-agent drift (change point + trend),
    /// similar agents, embeddings, collaboration and hand-off statistics. The most recent
    /// `holdoutDays` before `now` are first held out to measure accuracy (1 - Brier of success)
    /// with a model trained on the rest. Returns the report, including the anomalies found by
    /// re-scanning the history with the final baselines.
    public mutating func retrain(on records: [ExecutionRecord], now: Date) -> TrainingReport {
        retrain(on: records, history: [], now: now)
    }

    /// ``retrain(on:now:)`` over `records` (the recent executions, whole) and `history` (the
    /// older executions of the window, summed per agent and task type): the counts, success
    /// rates and time distributions behind every shrunk estimate cover both, while what needs
    /// single executions (hour effects, drift, collaboration, anomaly baselines, held-out
    /// accuracy) comes from `records`.
    public mutating func retrain(on records: [ExecutionRecord], history: [PairHistory], now: Date) -> TrainingReport {
        let clock = ContinuousClock.now
        let nowDay = days(now)
        let order = records.indices.sorted { records[$0].timestamp < records[$1].timestamp }
        let cutoff = nowDay - parameters.holdoutDays

        // Held-out accuracy: fit on the rows before the cut-off, score the window after it.
        var holdout = LearningEngine(parameters: parameters)
        holdout.skipErrors = true
        let trainPart = order.filter { days(records[$0].timestamp) < cutoff }
        var brier = 0.0, mae = 0.0, nB = 0, nT = 0
        var standardised: [Double] = []
        // With the window's older executions summed in, a sample that lies wholly within the
        // held-out days (a busy fleet: 500,000 executions in hours) is still scored, against a
        // model fitted on the older ones.
        let older = history.reduce(0) { $0 + $1.executions }
        let heldOut = order.count - trainPart.count
        var note: String? = nil
        if trainPart.count + older < Self.minimumHoldoutTraining {
            note = "no held-out accuracy: \(trainPart.count + older) executions before the held-out window "
                + "(the last \(Self.format(parameters.holdoutDays)) days before the training time), "
                + "\(Self.minimumHoldoutTraining) needed to fit a model to score it"
        } else if heldOut == 0 {
            note = "no held-out accuracy: no execution in the held-out window (the last "
                + "\(Self.format(parameters.holdoutDays)) days before the training time)"
        } else {
            holdout.fit(records, order: trainPart, history: history, now: cutoff, finalPass: false)
            for i in order where days(records[i].timestamp) >= cutoff && days(records[i].timestamp) <= nowDay {
                let r = records[i]
                guard let tt = r.taskType, let a = holdout.agents.id(r.agentName), let t = holdout.tasks.id(tt) else { continue }
                let e = holdout.expected(a, t, day: days(r.timestamp), hour: Self.hourOf(r.timestamp))
                let y = r.success ? 1.0 : 0.0
                // A forecast that is not a number is not scored (and cannot make the accuracy NaN).
                guard e.p.isFinite else { continue }
                brier += (e.p - y) * (e.p - y); nB += 1
                if let x = r.executionTime, x > 0, x.isFinite, e.mu.isFinite {
                    mae += abs(log(x) - e.mu); nT += 1
                    let sd = e.predictiveSD
                    if sd > 0, sd.isFinite { standardised.append((log(x) - e.mu) / sd) }
                }
            }
            if nB == 0 {
                note = "no held-out accuracy: none of the \(heldOut) held-out executions has an agent and task type "
                    + "the model fitted on the older ones knows"
            }
        }

        let params = parameters
        self = LearningEngine(parameters: params)
        _ = fit(records, order: order, history: history, now: nowDay, finalPass: true)
        var anomalies: [DetectedAnomaly] = []
        partnerStats = parameters.soloAdjustment ? [:] : nil
        rescan(records, order: order, anomalies: &anomalies)
        applySoloAdjustment()
        if parameters.pooledSuccessPrior ?? true { fitDeviationPrior() }
        model.accuracy = nB > 0 ? 1 - brier / Double(nB) : 0
        model.holdoutLogTimeMAE = nT > 0 ? mae / Double(nT) : 0
        model.holdoutRecords = nB
        model.holdoutNote = note
        if parameters.calibratedIntervals ?? true {
            let ends = Self.intervalEnds(calibratedOn: &standardised)
            model.intervalLowZ = ends?.low
            model.intervalHighZ = ends?.high
        }
        let elapsed = ContinuousClock.now - clock
        return TrainingReport(records: records.count, agents: agents.count, taskTypes: tasks.count,
                              pairs: pairs.count, accuracy: model.accuracy,
                              holdoutLogTimeMAE: model.holdoutLogTimeMAE, holdoutRecords: nB, accuracyNote: note,
                              durationSeconds: elapsed / .seconds(1),
                              anomalies: anomalies)
    }

    /// Pseudo-runs of the normal ±1.2816 in the calibrated 80 % interval's ends.
    static let intervalPriorRuns = 200.0

    /// The 80 % interval's ends from held-out forecast errors in predictive sd units: their 10 %
    /// and 90 % quantiles, shrunk towards ±1.2816 by ``intervalPriorRuns`` pseudo-runs and kept
    /// within ±0.5...±3 (nil without held-out times). A forecast's spread mixes successes with
    /// failures of other paces and a horizon of days; the held-out window measures how wide its
    /// 80 % really is, on both sides.
    static func intervalEnds(calibratedOn z: inout [Double]) -> (low: Double, high: Double)? {
        guard !z.isEmpty else { return nil }
        z.sort()
        func quantile(_ q: Double) -> Double {
            let pos = q * Double(z.count - 1)
            let i = Int(pos), f = pos - Double(i)
            return i + 1 < z.count ? z[i] * (1 - f) + z[i + 1] * f : z[i]
        }
        let n = Double(z.count), w = intervalPriorRuns
        let low = (n * quantile(0.1) + w * -1.2816) / (n + w)
        let high = (n * quantile(0.9) + w * 1.2816) / (n + w)
        return (min(max(low, -3), -0.5), min(max(high, 0.5), 3))
    }

    /// Fewest executions before the held-out window for a held-out accuracy to be measured.
    static let minimumHoldoutTraining = 50

    static func format(_ x: Double) -> String {
        x == x.rounded() ? String(Int(x)) : String(format: "%.2g", x)
    }

    /// Removes, from each pair's statistics, the residuals its agent showed while working with a
    /// significant collaborator (|z| >= 3), so forecasts describe the agent working alone.
    mutating func applySoloAdjustment() {
        guard let stats = partnerStats else { return }
        partnerStats = nil
        var significant = Set<Int64>()
        for c in collaborationPatterns() where abs(c.zScore) >= 3 {
            if let a = agents.id(c.agents.0), let b = agents.id(c.agents.1) { significant.insert(Self.agentPairKey(a, b)) }
        }
        guard !significant.isEmpty else { return }
        let mask21: Int64 = (1 << 21) - 1
        for (key, st) in stats {
            let a = Int32(key >> 42), b = Int32((key >> 21) & mask21), t = Int32(key & mask21)
            guard significant.contains(Self.agentPairKey(a, b)), let pi = pairIndex[Self.pairKey(a, t)] else { continue }
            pairs[Int(pi)].successAdjust -= st.successRes
            pairs[Int(pi)].logTimeAdjust -= st.timeRes
        }
    }

    /// Accumulates `records[order]` and fits the model as of `now`. Returns the compact rows.
    @discardableResult
    mutating func fit(_ records: [ExecutionRecord], order: [Int], history: [PairHistory] = [], now: Double,
                      finalPass: Bool) -> [Row] {
        absorb(history)
        var rows: [Row] = []
        rows.reserveCapacity(order.count)
        for i in order {
            let r = records[i]
            let a = agentID(r.agentName)
            let t = r.taskType.map { taskID($0) }
            let day = days(r.timestamp)
            let hour = Self.hourOf(r.timestamp)
            accumulate(r, agent: a, task: t, day: day, hour: hour, cluster: failureCluster(r, agent: a, task: t))
            rows.append(Row(agent: a, task: t ?? -1, day: day, hour: hour,
                            logTime: r.executionTime.flatMap { $0 > 0 ? log($0) : nil } ?? .nan,
                            success: r.success))
        }
        fitPriors()
        computeEmbeddings()
        fitSimilarAgents(neighbours: parameters.similarNeighbours)
        fitHourEffects(rows)
        fitDrifts(rows, now: now)
        model.trained = true
        model.trainedAt = now
        model.fittedRecords = recordsSeen
        return rows
    }

    /// Adds the summed older executions to the counting statistics of their agents, task types
    /// and pairs (not to the recency-weighted ones, which describe the recent executions). A
    /// pair's older times (`historyLogTime`) stand in for its time only when it has no recent
    /// rows: they carry no dates, so a change of pace among them could not be seen, while the
    /// recent rows tell the present pace.
    mutating func absorb(_ history: [PairHistory]) {
        for h in history where h.executions > 0 {
            let a = agentID(h.agent)
            agentStates[Int(a)].n += h.executions
            agentStates[Int(a)].successes += h.successes
            guard let name = h.taskType else { continue }
            let t = taskID(name)
            let pi = pairID(a, t)
            taskStates[Int(t)].n += h.executions
            taskStates[Int(t)].successes += h.successes
            pairs[pi].n += h.executions
            pairs[pi].successes += h.successes
            var times = Moments()
            for (time, count) in h.times where time > 0 && time.isFinite && count > 0 {
                let lt = log(time)
                taskStates[Int(t)].logTime.add(lt, weight: Double(count))
                times.add(lt, weight: Double(count))
            }
            if times.weight > 0 { historyLogTime[pi] = times }
        }
    }

    /// Additive effects (global + agent + task type) for success logit and mean log time, fitted
    /// on pair aggregates by a few backfitting sweeps with a ridge towards zero; then the
    /// between-pair dispersion around them, which sets how strongly pairs are shrunk.
    mutating func fitPriors() {
        let nA = agents.count, nT = tasks.count
        var totalN = 0.0, totalS = 0.0
        var timeW = 0.0, timeSum = 0.0
        for p in pairs {
            totalN += Double(p.n); totalS += Double(p.successes)
            timeW += p.logTime.weight; timeSum += p.logTime.weight * p.logTime.mean
        }
        guard totalN > 0 else { return }
        let g = logit((totalS + 1) / (totalN + 2))
        let gT = timeW > 0 ? timeSum / timeW : 0
        var aL = [Double](repeating: 0, count: nA), tL = [Double](repeating: 0, count: nT)
        var aT = [Double](repeating: 0, count: nA), tT = [Double](repeating: 0, count: nT)
        backfit(agent: &aL, task: &tL, ridge: Self.successRidge) { _, p, agent, task in
            let q = logistic(g + agent + task)
            return (Double(p.successes) - Double(p.n) * q, Double(p.n) * q * (1 - q))
        }
        backfit(agent: &aT, task: &tT, ridge: 10) { _, p, agent, task in
            (p.logTime.weight * (p.logTime.mean - gT - agent - task), p.logTime.weight)
        }
        model.globalLogit = g
        model.globalLogTime = gT
        model.agentLogit = aL; model.agentLogTime = aT
        model.taskLogit = tL; model.taskLogTime = tT
        model.agentRate = agentStates.map { Double($0.successes + 1) / Double($0.n + 2) }
        // Per task type: pooled within-pair sd of log time.
        var sw = [Double](repeating: 0, count: nT), sv = [Double](repeating: 0, count: nT)
        var gw = 0.0, gv = 0.0
        for p in pairs where p.logTime.weight > 1 {
            sw[Int(p.task)] += p.logTime.weight - 1; sv[Int(p.task)] += p.logTime.m2
            gw += p.logTime.weight - 1; gv += p.logTime.m2
        }
        model.globalLogSigma = gw > 0 ? (gv / gw).squareRoot() : 0.6
        model.taskLogSigma = (0..<nT).map { sw[$0] > 0 ? ((sv[$0] + 10 * model.globalLogSigma * model.globalLogSigma) / (sw[$0] + 10)).squareRoot() : model.globalLogSigma }
        // Per agent: pooled within-pair sd of its pace, shrunk (10 degrees of freedom) to the fleet's.
        var aw = [Double](repeating: 0, count: agents.count), av = aw
        var pw = 0.0, pv = 0.0
        for p in pairs {
            guard let pace = p.paceLogTime, pace.weight > 1 else { continue }
            aw[Int(p.agent)] += pace.weight - 1; av[Int(p.agent)] += pace.m2
            pw += pace.weight - 1; pv += pace.m2
        }
        let fleetPace = pw > 0 ? (pv / pw).squareRoot() : model.globalLogSigma
        model.agentPaceSigma = (0..<agents.count).map { ((av[$0] + 10 * fleetPace * fleetPace) / (aw[$0] + 10)).squareRoot() }
        // Dispersion of pairs around the prior (method of moments).
        var excessS = 0.0, pqS = 0.0, cntS = 0.0, excessT = 0.0, cntT = 0.0
        for p in pairs where p.n >= 10 {
            let a = Int(p.agent), t = Int(p.task)
            let q = logistic(g + aL[a] + tL[t])
            let r = Double(p.successes) / Double(p.n)
            excessS += (r - q) * (r - q) - q * (1 - q) / Double(p.n)
            pqS += q * (1 - q)
            cntS += 1
            if p.logTime.weight >= 10 {
                let d = p.logTime.mean - gT - aT[a] - tT[t]
                excessT += d * d - p.logTime.variance / p.logTime.weight
                cntT += 1
            }
        }
        if cntS > 0 {
            let tau2 = max(excessS / cntS, 1e-4)
            model.successStrength = min(max((pqS / cntS) / tau2 - 1, 2), 500)
        }
        if cntT > 0 { model.timeTau2 = max(excessT / cntT, 1e-3) }
    }

    /// The pooled prior of pair success offsets (``Model/deviationPrior``): the distribution of
    /// each pair's logit offset from its additive prior (global + agent + task type + similar
    /// agents), estimated from the data as a discrete distribution on ``deviationGrid`` by
    /// maximum marginal likelihood (EM for the nonparametric MLE, Laird 1978) over pairs with at
    /// least 3 runs. How much a pair is pooled towards its agent's and task type's strength thus
    /// adapts to the data: most pairs sit near the additive model, a few (specialities) far from
    /// it, and a normal prior of one variance would shrink those few too much and the rest too
    /// little.
    ///
    /// The additive effects were fitted as if every pair followed them; a few pairs far from
    /// them (an agent's speciality) pull its agent effect up for all its other task types. So
    /// the fit alternates (`rounds` times): the agent and task-type effects are refitted with
    /// each pair's posterior mean offset held fixed, then the prior of the offsets is refitted.
    mutating func fitDeviationPrior(rounds: Int = 2) {
        var offsets = [Double](repeating: 0, count: pairs.count)
        for round in 0...rounds {
            if round > 0 { refitSuccessEffects(offsets: offsets) }
            guard let g = fitOffsetPrior() else { model.deviationPrior = nil; return }
            model.deviationPrior = g
            guard round < rounds else { break }
            let grid = Self.deviationGrid
            for (pi, p) in pairs.enumerated() where Int(p.task) < model.taskLogit.count {
                offsets[pi] = Self.posteriorMean(prior: successPriorLogit(p.agent, p.task, pi: pi),
                                                 successes: Double(p.successes) + p.successAdjust, n: Double(p.n),
                                                 weights: g) { k, _ in grid[k] } ?? 0
            }
        }
    }

    /// Additive success prior logit of a pair (global + agent + task type + similar agents).
    func successPriorLogit(_ a: Int32, _ t: Int32, pi: Int) -> Double {
        let sim = pi < model.similarLogit.count ? model.similarLogit[pi] : 0
        return model.globalLogit + model.agentLogitEffect(a) + model.taskLogitEffect(t) + sim
    }

    /// Ridge of the success logit's agent and task-type effects (pseudo-observations at zero).
    static let successRidge = 4.0

    /// Backfitting of additive agent and task-type effects on the pair aggregates, as
    /// ``fitPriors()`` does for both success and time: `sweeps` rounds, each one step per task
    /// type and then one per agent, `effect += (num - effect · ridge) / (den + ridge)`, where
    /// `contribution(pairIndex, pair, agentEffect, taskEffect)` gives each pair's share of its
    /// task type's (then agent's) numerator and denominator under the current effects.
    func backfit(agent: inout [Double], task: inout [Double], ridge: Double, sweeps: Int = 8,
                 _ contribution: (Int, PairState, Double, Double) -> (num: Double, den: Double)) {
        func shares(byTask: Bool) -> (num: [Double], den: [Double]) {
            var num = [Double](repeating: 0, count: byTask ? task.count : agent.count), den = num
            for (pi, p) in pairs.enumerated() {
                let share = contribution(pi, p, agent[Int(p.agent)], task[Int(p.task)])
                let k = byTask ? Int(p.task) : Int(p.agent)
                num[k] += share.num
                den[k] += share.den
            }
            return (num, den)
        }
        func step(_ effects: inout [Double], _ s: (num: [Double], den: [Double])) {
            for k in effects.indices { effects[k] += s.num[k] / (s.den[k] + ridge) - effects[k] * ridge / (s.den[k] + ridge) }
        }
        for _ in 0..<sweeps {
            let byTask = shares(byTask: true)
            step(&task, byTask)
            let byAgent = shares(byTask: false)
            step(&agent, byAgent)
        }
    }

    /// The success part of ``fitPriors()`` again, from the current effects, with a fixed logit
    /// offset per pair and the pairs' solo adjustments counted.
    mutating func refitSuccessEffects(offsets: [Double]) {
        guard model.agentLogit.count == agents.count, model.taskLogit.count == tasks.count else { return }
        let g = model.globalLogit
        var aL = model.agentLogit, tL = model.taskLogit
        backfit(agent: &aL, task: &tL, ridge: Self.successRidge) { pi, p, agent, task in
            let q = logistic(g + agent + task + offsets[pi])
            return (Double(p.successes) + p.successAdjust - Double(p.n) * q, Double(p.n) * q * (1 - q))
        }
        model.agentLogit = aL
        model.taskLogit = tL
    }

    /// One maximum-marginal-likelihood fit of the offset prior around the current additive
    /// effects; nil with fewer than 20 pairs of >= 3 runs.
    func fitOffsetPrior() -> [Double]? {
        let grid = Self.deviationGrid, k = grid.count
        var lik: [Double] = []
        var rows = 0
        var ll = [Double](repeating: 0, count: k)
        for (pi, p) in pairs.enumerated() where p.n >= 3 && Int(p.task) < model.taskLogit.count {
            let mu = successPriorLogit(p.agent, p.task, pi: pi)
            let n = Double(p.n), s = min(max(Double(p.successes) + p.successAdjust, 0), n)
            var best = -Double.infinity
            for j in 0..<k {
                let l = mu + grid[j]
                ll[j] = s * l - n * softplus(l)
                best = max(best, ll[j])
            }
            for j in 0..<k { lik.append(exp(ll[j] - best)) }
            rows += 1
        }
        guard rows >= 20 else { return nil }
        var g = grid.map { exp(-$0 * $0 / 2) }
        let total = g.reduce(0, +)
        g = g.map { $0 / total }
        var next = [Double](repeating: 0, count: k)
        // EM sweeps; grid points whose weight has fallen below 1e-9 of the largest are dropped
        // from the sweeps (every 10th), so the cost shrinks as the prior concentrates.
        var active = Array(0..<k)
        lik.withUnsafeBufferPointer { L in
            for sweep in 0..<200 {
                if sweep % 10 == 9, let top = g.max() {
                    active = active.filter { g[$0] >= 1e-9 * top }
                    for j in 0..<k where !active.contains(j) { g[j] = 0 }
                }
                for j in active { next[j] = 0 }
                for r in 0..<rows {
                    let base = r * k
                    var z = 0.0
                    for j in active { z += L[base + j] * g[j] }
                    guard z > 0 else { continue }
                    let inv = 1 / z
                    for j in active { next[j] += L[base + j] * g[j] * inv }
                }
                var sum = 0.0
                for j in active { sum += next[j] }
                for j in active { g[j] = next[j] / sum }
            }
        }
        // The maximum-likelihood prior is discrete with a few atoms: drop the grid points EM left
        // (nearly) empty, so a posterior costs a few exponentials.
        let top = g.max() ?? 0
        for j in 0..<k where g[j] < 1e-4 * top { g[j] = 0 }
        let kept = g.reduce(0, +)
        return g.map { $0 / kept }
    }

    /// Pseudo-executions of the fleet's hour effect in each task type's (0: shrunk towards 0 only).
    static let hourPriorWeight = 40.0

    /// Per task type and UTC hour: shrunk mean residuals of log time and success against the
    /// pair baselines (towards the fleet's hour effects), centred so hours average to zero.
    mutating func fitHourEffects(_ rows: [Row]) {
        let nT = tasks.count
        var n = [[Double]](repeating: [Double](repeating: 0, count: 24), count: nT)
        var tr = n, sr = n, pq = n
        var base = [Int32: (p: Double, mu: Double)]()
        _ = base
        var pairP = [Double](repeating: 0, count: pairs.count), pairMu = pairP
        for (i, p) in pairs.enumerated() {
            pairP[i] = pairRate(p.agent, p.task).p
            pairMu[i] = pairLogTime(p.agent, p.task).mu
        }
        base = [:]
        for r in rows where r.task >= 0 {
            let pi = Int(pairIndex[Self.pairKey(r.agent, r.task)]!)
            let t = Int(r.task)
            let q = pairP[pi]
            sr[t][r.hour] += (r.success ? 1 : 0) - q
            pq[t][r.hour] += q * (1 - q)
            if !r.logTime.isNaN {
                n[t][r.hour] += 1
                tr[t][r.hour] += r.logTime - pairMu[pi]
            }
        }
        // The fleet's hour effects (every task type together) are the prior each task type's are
        // shrunk towards: load and shared maintenance windows move every type at the same hours.
        var gt = [Double](repeating: 0, count: 24), gl = gt
        for h in 0..<24 {
            let nh = (0..<nT).reduce(0.0) { $0 + n[$1][h] }, pqh = (0..<nT).reduce(0.0) { $0 + pq[$1][h] }
            gt[h] = (0..<nT).reduce(0.0) { $0 + tr[$1][h] } / (nh + 10)
            gl[h] = (0..<nT).reduce(0.0) { $0 + sr[$1][h] } / (pqh + 10)
        }
        let k = Self.hourPriorWeight
        var ht = [[Double]](), hl = [[Double]]()
        for t in 0..<nT {
            var et = (0..<24).map { (tr[t][$0] + k * gt[$0]) / (n[t][$0] + 10 + k) }
            var el = (0..<24).map { (sr[t][$0] + k * gl[$0]) / (pq[t][$0] + 10 + k) }
            let wsum = n[t].reduce(0, +)
            if wsum > 0 {
                let mt = (0..<24).reduce(0.0) { $0 + et[$1] * n[t][$1] } / wsum
                let ml = (0..<24).reduce(0.0) { $0 + el[$1] * n[t][$1] } / wsum
                et = et.map { $0 - mt }
                el = el.map { $0 - ml }
            }
            ht.append(et); hl.append(el)
            taskStates[t].hourN = n[t]; taskStates[t].hourTimeRes = tr[t]
            taskStates[t].hourSuccRes = sr[t]; taskStates[t].hourPQ = pq[t]
        }
        model.hourTime = ht
        model.hourLogit = hl
        model.typicalHourLogit = hl.map { e in let s = e.sorted(); return (s[11] + s[12]) / 2 }
    }

    /// Per agent: daily means of its residuals (success and log time, against pair and hour
    /// baselines), then a change-point fit: no change, a ramp, or a step starting at some day,
    /// chosen by least squares with a penalty for the extra parameters.
    mutating func fitDrifts(_ rows: [Row], now: Double) {
        let nA = agents.count
        guard let first = rows.first?.day else { return }
        let origin = first.rounded(.down)
        let nBins = max(Int((now - origin).rounded(.up)) + 1, 1)
        var sw = [[Double]](repeating: [Double](repeating: 0, count: nBins), count: nA)
        var ss = sw, tw = sw, ts = sw
        var sVar = [Double](repeating: 0, count: nA), sCnt = sVar, tVar = sVar, tCnt = sVar
        var pairP = [Double](repeating: 0, count: pairs.count), pairMu = pairP
        for (i, p) in pairs.enumerated() {
            pairP[i] = pairRate(p.agent, p.task).p
            pairMu[i] = pairLogTime(p.agent, p.task).mu
        }
        for r in rows where r.task >= 0 {
            let b = min(max(Int(r.day - origin), 0), nBins - 1)
            let a = Int(r.agent)
            let pi = Int(pairIndex[Self.pairKey(r.agent, r.task)]!)
            let p = logistic(logit(pairP[pi]) + model.hourLogitEffect(r.task, r.hour))
            let res = (r.success ? 1 : 0) - p
            sw[a][b] += 1; ss[a][b] += res
            sVar[a] += res * res; sCnt[a] += 1
            if !r.logTime.isNaN {
                var e = r.logTime - pairMu[pi] - model.hourTimeEffect(r.task, r.hour)
                e = min(max(e, -4 * model.taskSigma(r.task)), 4 * model.taskSigma(r.task))
                tw[a][b] += 1; ts[a][b] += e
                tVar[a] += e * e; tCnt[a] += 1
            }
        }
        // A drift shared by all agents (e.g. system load) first, on the pooled bins; the agents'
        // own drifts are then fitted on what it leaves.
        var gw = [Double](repeating: 0, count: nBins), gs = gw, gtw = gw, gts = gw
        for a in 0..<nA {
            for b in 0..<nBins { gw[b] += sw[a][b]; gs[b] += ss[a][b]; gtw[b] += tw[a][b]; gts[b] += ts[a][b] }
        }
        let gRate = logistic(model.globalLogit)
        let gsv = sCnt.reduce(0, +) > 0 ? sVar.reduce(0, +) / sCnt.reduce(0, +) : gRate * (1 - gRate)
        let gtv = tCnt.reduce(0, +) > 0 ? tVar.reduce(0, +) / tCnt.reduce(0, +) : 0.25
        var gsd = Self.fitChange(weights: gw, sums: gs, noise: gsv, origin: origin, now: now, penalty: parameters.driftPenalty)
        var gtd = Self.fitChange(weights: gtw, sums: gts, noise: gtv, origin: origin, now: now, penalty: parameters.driftPenalty)
        if !parameters.globalDrift { gsd = Drift(); gtd = Drift() }
        model.globalSuccessDrift = gsd
        model.globalTimeDrift = gtd
        for a in 0..<nA {
            for b in 0..<nBins {
                let x = origin + Double(b) + 0.5
                ss[a][b] -= sw[a][b] * gsd.value(at: x)
                ts[a][b] -= tw[a][b] * gtd.value(at: x)
            }
        }
        var sd = [Drift](), td = [Drift]()
        for a in 0..<nA {
            let rate = Int(a) < model.agentRate.count ? model.agentRate[a] : 0.7
            sd.append(Self.fitChange(weights: sw[a], sums: ss[a], noise: sCnt[a] > 0 ? sVar[a] / sCnt[a] : rate * (1 - rate),
                                     origin: origin, now: now, penalty: parameters.driftPenalty))
            td.append(Self.fitChange(weights: tw[a], sums: ts[a], noise: tCnt[a] > 0 ? tVar[a] / tCnt[a] : 0.25,
                                     origin: origin, now: now, penalty: parameters.driftPenalty))
        }
        model.successDrift = sd
        model.timeDrift = td
        model.pairSuccessDrift = []
        model.pairTimeDrift = []
        if parameters.pairDriftPenalty.isFinite && parameters.pairDriftPenalty < 1e6 {
            fitPairDrifts(rows, origin: origin, nBins: nBins, now: now, pairP: pairP, pairMu: pairMu)
        }
    }

    /// Per pair: the same change-point fit on the pair's daily residuals left after its agent's drift.
    mutating func fitPairDrifts(_ rows: [Row], origin: Double, nBins: Int, now: Double, pairP: [Double], pairMu: [Double]) {
        let nP = pairs.count
        var sw = [Double](repeating: 0, count: nP * nBins), ss = sw, tw = sw, ts = sw
        var sVar = [Double](repeating: 0, count: nP), sCnt = sVar, tVar = sVar, tCnt = sVar
        for r in rows where r.task >= 0 {
            let b = min(max(Int(r.day - origin), 0), nBins - 1)
            let pi = Int(pairIndex[Self.pairKey(r.agent, r.task)]!)
            let a = Int(r.agent)
            let rate = a < model.agentRate.count ? model.agentRate[a] : 0.7
            let l = logit(pairP[pi]) + model.hourLogitEffect(r.task, r.hour)
                + Self.logitShift(from: rate, by: model.successDrift[a].value(at: r.day))
            let p = logistic(l)
            let res = (r.success ? 1 : 0) - p
            sw[pi * nBins + b] += 1; ss[pi * nBins + b] += res
            sVar[pi] += res * res; sCnt[pi] += 1
            if !r.logTime.isNaN {
                let sg = model.taskSigma(r.task)
                var e = r.logTime - pairMu[pi] - model.hourTimeEffect(r.task, r.hour) - model.timeDrift[a].value(at: r.day)
                e = min(max(e, -4 * sg), 4 * sg)
                tw[pi * nBins + b] += 1; ts[pi * nBins + b] += e
                tVar[pi] += e * e; tCnt[pi] += 1
            }
        }
        var psd = [Drift](), ptd = [Drift]()
        psd.reserveCapacity(nP); ptd.reserveCapacity(nP)
        for pi in 0..<nP {
            let lo = pi * nBins, hi = lo + nBins
            let p = pairP[pi]
            var d = Self.fitChange(weights: Array(sw[lo..<hi]), sums: Array(ss[lo..<hi]),
                                   noise: sCnt[pi] > 0 ? max(sVar[pi] / sCnt[pi], 0.02) : p * (1 - p),
                                   origin: origin, now: now, penalty: parameters.pairDriftPenalty)
            if !d.detected { d = Drift() }
            psd.append(d)
            var e = Self.fitChange(weights: Array(tw[lo..<hi]), sums: Array(ts[lo..<hi]),
                                   noise: tCnt[pi] > 0 ? max(tVar[pi] / tCnt[pi], 0.01) : 0.25,
                                   origin: origin, now: now, penalty: parameters.pairDriftPenalty)
            if !e.detected { e = Drift() }
            ptd.append(e)
        }
        model.pairSuccessDrift = psd
        model.pairTimeDrift = ptd
    }

    /// Fits `c`, `c + β·max(0, x - s)` or `c + δ·[x > s]` to binned residual means.
    static func fitChange(weights w: [Double], sums: [Double], noise: Double, origin: Double, now: Double,
                          penalty: Double = 16) -> Drift {
        let idx = w.indices.filter { w[$0] > 0 }
        guard idx.count >= 4, noise > 0 else { return Drift() }
        let x = idx.map { origin + Double($0) + 0.5 }
        let ww = idx.map { w[$0] }
        let y = idx.map { sums[$0] / w[$0] }
        let sW = ww.reduce(0, +)
        let c0 = zip(ww, y).reduce(0.0) { $0 + $1.0 * $1.1 } / sW
        let sse0 = zip(ww, y).reduce(0.0) { $0 + $1.0 * ($1.1 - c0) * ($1.1 - c0) }
        var best = (sse: sse0, c: c0, b: 0.0, s: 0.0, ramp: true, inv: [1 / sW, 0, 0, 0])
        let firstX = x.first!, lastX = x.last!
        var s = (firstX + 2).rounded(.down)
        while s <= lastX - 1.5 {
            // A ramp needs three days after its start (two points do not make a trend worth
            // extrapolating: one bad last day would be carried on for a week); a step, two.
            for ramp in s <= lastX - 2.5 ? [true, false] : [false] {
                var a00 = 0.0, a01 = 0.0, a11 = 0.0, b0 = 0.0, b1 = 0.0
                for k in x.indices {
                    let f = ramp ? max(0, x[k] - s) : (x[k] > s ? 1 : 0)
                    a00 += ww[k]; a01 += ww[k] * f; a11 += ww[k] * f * f
                    b0 += ww[k] * y[k]; b1 += ww[k] * f * y[k]
                }
                let det = a00 * a11 - a01 * a01
                guard det > 1e-9 else { continue }
                let c = (a11 * b0 - a01 * b1) / det
                let beta = (a00 * b1 - a01 * b0) / det
                var sse = 0.0
                for k in x.indices {
                    let f = ramp ? max(0, x[k] - s) : (x[k] > s ? 1 : 0)
                    let e = y[k] - c - beta * f
                    sse += ww[k] * e * e
                }
                if sse < best.sse {
                    best = (sse, c, beta, s, ramp, [a11 / det, -a01 / det, -a01 / det, a00 / det])
                }
            }
            s += 1
        }
        let gain = (sse0 - best.sse) / noise
        guard gain > penalty else {
            return Drift(level: 0, start: 0, slope: 0, jump: 0, se: (noise / sW).squareRoot(), detected: false)
        }
        var d = Drift(level: best.c, start: best.s, slope: best.ramp ? best.b : 0, jump: best.ramp ? 0 : best.b,
                      se: 0, detected: true)
        let fNow = best.ramp ? max(0, now - best.s) : 1
        let inv = best.inv
        d.se = (noise * (inv[0] + 2 * fNow * inv[1] + fNow * fNow * inv[3])).squareRoot()
        return d
    }
}
