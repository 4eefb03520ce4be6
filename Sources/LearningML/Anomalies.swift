import Foundation
public import LearningCore

/// How anomaly scores relate to `performance.anomaly_detection_threshold`.
///
/// Every detector turns its evidence into a one-sided z value: for latency, memory and tokens the
/// deviation of the log value from the pair's adaptive baseline (for latency the time the pair's
/// runs take for this run's tokens and outcome, or without tokens the pair's pace for this hour,
/// drift and outcome; winsorised running mean of log memory/tokens) in units of its standard
/// deviation; for cpu the same on the raw value; for failure bursts the normal quantile of the
/// Poisson tail probability of seeing that many failures of one agent within
/// `burstWindowMinutes` given its usual failure rate. The anomaly score is `z / zPerUnit`
/// (`zPerUnit = 2`; latency against the pace alone `EngineParameters.latencyZPerUnit`, 1.55),
/// and a row is flagged when `score >= threshold`: the default threshold 2.0 flags deviations
/// beyond 4 standard deviations (about 3 in 100,000 for a normal tail), a latency beyond 3.1 sd
/// of its pace when its runs report no tokens (docs/ML.md).
public enum AnomalyScale {
    /// Standard deviations per unit of threshold (resources, failure bursts, latency for the
    /// tokens used).
    public static let zPerUnit = 2.0
    /// Executions a pair needs before its latency and resource baselines are trusted.
    public static let minBaseline = 10
    /// Executions a pair needs before its latency is judged once a model is fitted (the prior
    /// pace of its agent and task type stands in for the rest).
    public static let minLatencyBaseline = 3
}

extension LearningEngine {
    /// Ingests one execution: updates every online statistic and returns the anomalies it
    /// reveals (a latency spike or resource blow-up of this execution against its pair's
    /// baseline, or a burst of this agent's failures, which lists every failure in the burst).
    public mutating func observe(_ record: ExecutionRecord) -> [DetectedAnomaly] {
        let a = agentID(record.agentName)
        let t = record.taskType.map { taskID($0) }
        let day = days(record.timestamp)
        let hour = Self.hourOf(record.timestamp)
        let cluster = failureCluster(record, agent: a, task: t)
        var out = pointAnomalies(record, a, t, day: day, hour: hour, cluster: cluster)
        accumulate(record, agent: a, task: t, day: day, hour: hour, cluster: cluster)
        sequenceUpdate(record, a, t, day: day, hour: hour, cluster: cluster, anomalies: &out)
        refreshModelIfDue()
        return out
    }

    /// Executions seen before the first online refresh of the priors.
    public static let firstOnlineRefresh = 20

    /// The online refresh: each time the executions seen have doubled since the priors were last
    /// fitted (at a retrain or here), from ``firstOnlineRefresh`` on, the additive agent and
    /// task-type effects, their pooling strengths and the pooled prior of pair offsets are refitted
    /// from the online statistics (O(pairs), no pass over executions). A fresh service's model
    /// thus follows the data as it arrives instead of waiting for the scheduled retrain; hour
    /// effects, drifts and embeddings still come from retrains. Doubling keeps the cost amortised
    /// O(1) per execution.
    mutating func refreshModelIfDue() {
        let fitted = model.fittedRecords ?? (model.trained ? recordsSeen : 0)
        guard recordsSeen >= Self.firstOnlineRefresh, recordsSeen >= 2 * fitted else { return }
        fitPriors()
        if parameters.pooledSuccessPrior ?? true { fitDeviationPrior() }
        model.fittedRecords = recordsSeen
    }

    /// Executions the model's priors were last fitted on (at a retrain or an online refresh).
    public var modelRecords: Int { model.fittedRecords ?? (model.trained ? recordsSeen : 0) }

    /// Re-scans sorted history with the trained baselines (detection, collaboration, hand-offs).
    mutating func rescan(_ records: [ExecutionRecord], order: [Int], anomalies: inout [DetectedAnomaly]) {
        for i in order {
            let r = records[i]
            guard let a = agents.id(r.agentName) else { continue }
            let t = r.taskType.flatMap { tasks.id($0) }
            let day = days(r.timestamp)
            let hour = Self.hourOf(r.timestamp)
            let cluster = knownFailureCluster(r)
            anomalies += pointAnomalies(r, a, t, day: day, hour: hour, cluster: cluster)
            sequenceUpdate(r, a, t, day: day, hour: hour, cluster: cluster, anomalies: &anomalies)
        }
    }

    /// Latency and resource checks of one execution against its pair's baselines; `cluster` is the
    /// error-signature cluster of a failure's message.
    func pointAnomalies(_ r: ExecutionRecord, _ a: Int32, _ t: Int32?, day: Double, hour: Int,
                        cluster: Int?) -> [DetectedAnomaly] {
        guard let t, let pi = pairIndex[Self.pairKey(a, t)] else { return [] }
        // Only the baselines read here (field by field: a copy of the whole pair state, with its
        // sketches and failure kinds, costs more than these checks).
        let ps = (n: pairs[Int(pi)].n, paceLogTime: pairs[Int(pi)].paceLogTime, timeOnTokens: pairs[Int(pi)].timeOnTokens,
                  logMemory: pairs[Int(pi)].logMemory, logTokens: pairs[Int(pi)].logTokens, cpu: pairs[Int(pi)].cpu)
        // A fitted model gives a young pair a prior pace (its agent's and task type's effects, its
        // agent's steadiness), so its latency is judged from fewer runs.
        let latencyBaseline = model.trained ? AnomalyScale.minLatencyBaseline : AnomalyScale.minBaseline
        guard ps.n >= min(latencyBaseline, AnomalyScale.minBaseline) else { return [] }
        let thr = parameters.anomalyThreshold
        let unit = AnomalyScale.zPerUnit
        var out: [DetectedAnomaly] = []
        let ids = r.id.map { [$0] } ?? []
        let name = r.agentName, tt = r.taskType
        // How much longer than a success this execution's outcome usually takes (0 for one).
        let outcomeOffset = outcomeTimeOffset(r, cluster: cluster)
        if let x = r.executionTime, x > 0, ps.n >= latencyBaseline {
            var e = expected(a, t, day: day, hour: hour)
            // Judged against the pair's pace given the outcome: the pace's mean and spread
            // (failures' usual offsets for their kind taken out) replace the pair's all-outcome
            // ones, and this execution's expected time includes its own outcome's offset.
            var offset = 0.0
            if let pace = ps.paceLogTime, pace.weight >= Double(latencyBaseline) {
                let own = pairLogTime(a, t, pi: Int(pi), moments: pace, priorSigma: model.paceSigma(a))
                offset = outcomeOffset
                e.mu += own.mu - e.pairMu + offset
                e.sigma = own.sigma
            }
            // Predictive sd: the pair's spread plus the uncertainty of its baseline (large for
            // young pairs and before the first retrain, negligible for mature ones).
            // Student t with the degrees of freedom of the pooled sd (prior 6 + the pair's runs).
            var mu = e.mu, sd = max(e.predictiveSD, 0.05)
            var df = 5 + Double(ps.n), forWork = "", latencyUnit = parameters.latencyZPerUnit
            // Where the pair's time follows the tokens its runs use, the time expected for this
            // run's tokens (and outcome) is the tighter baseline: a slow run that did more work is
            // not a spike, a slow run with its usual tokens is. Against that baseline the
            // threshold has its standard meaning (`AnomalyScale.zPerUnit` sd per unit, as for
            // resources and bursts); the wider pace alone keeps its own unit. It is used when it
            // flags a smaller slowdown than the pace would (zPerUnit·sd below the pace's unit·sd):
            // where tokens explain little of the time, the pace stays the yardstick.
            if parameters.latencyGivenTokens ?? true, let k = r.resourceUsage.tokens, k > 0, k.isFinite,
               let line = ps.timeOnTokens, line.n >= Self.timeOnTokensMinRuns,
               let f = line.predict(x: log(k), o: outcomeOffset),
               AnomalyScale.zPerUnit * f.sd < parameters.latencyZPerUnit * sd {
                mu = f.mu; sd = max(f.sd, 0.05); df = f.df
                forWork = String(format: " for %.0f tokens", k)
                latencyUnit = AnomalyScale.zPerUnit
            }
            let t = (log(x) - mu) / sd
            let z = studentTAsNormal(t, df: df)
            if z / latencyUnit >= thr {
                let usual = r.success || offset == 0 ? "" : String(format: " (failures of this kind usually take %.1fx)", exp(offset))
                out.append(DetectedAnomaly(kind: .latencySpike, agentName: name, taskType: tt, recordIDs: ids,
                                   timestamp: r.timestamp, score: z / latencyUnit, observed: x, expected: exp(mu),
                                   description: String(format: "%@ took %.1fs on %@, expected about %.1fs%@%@ (%.1f sd)",
                                                       name, x, tt ?? "", exp(mu), forWork, usual, z),
                                   severity: z / latencyUnit >= 2 * thr ? .warning : .info, startedAt: r.timestamp))
            }
        }
        guard ps.n >= AnomalyScale.minBaseline else { return out }
        // Each resource against its pair's running mean and sd as a Student t predictive
        // (sd·√(1 + 1/n), n − 1 degrees of freedom), so young baselines need more evidence.
        func z(_ x: Double, _ m: Moments, floor: Double) -> Double {
            let t = (x - m.mean) / (max(m.sd, floor) * (1 + 1 / m.weight).squareRoot())
            return studentTAsNormal(t, df: m.weight - 1)
        }
        var worst: (z: Double, what: String, obs: Double, exp: Double) = (-.infinity, "", 0, 0)
        if let m = r.resourceUsage.memoryMB, m > 0, ps.logMemory.weight >= 5 {
            let z = z(log(m), ps.logMemory, floor: 0.05)
            if z > worst.z { worst = (z, "memory", m, exp(ps.logMemory.mean)) }
        }
        if let k = r.resourceUsage.tokens, k > 0, ps.logTokens.weight >= 5 {
            var z = z(log(k), ps.logTokens, floor: 0.05), usual = exp(ps.logTokens.mean)
            // Tokens for the time the run took (and its outcome), where that is the tighter
            // baseline: a run that used many more tokens than its time explains blew them up.
            if parameters.latencyGivenTokens ?? true, let x = r.executionTime, x > 0, x.isFinite,
               let line = ps.timeOnTokens, line.n >= Self.timeOnTokensMinRuns,
               let f = line.predictTokens(y: log(x), o: outcomeOffset),
               f.sd < max(ps.logTokens.sd, 0.05) * (1 + 1 / ps.logTokens.weight).squareRoot() {
                z = studentTAsNormal((log(k) - f.mu) / max(f.sd, 0.05), df: f.df)
                usual = exp(f.mu)
            }
            if z > worst.z { worst = (z, "tokens", k, usual) }
        }
        if let c = r.resourceUsage.cpu, ps.cpu.weight >= 5 {
            let z = z(c, ps.cpu, floor: 1)
            if z > worst.z { worst = (z, "cpu", c, ps.cpu.mean) }
        }
        if worst.z / unit >= thr {
            out.append(DetectedAnomaly(kind: .resourceBlowup, agentName: name, taskType: tt, recordIDs: ids,
                               timestamp: r.timestamp, score: worst.z / unit, observed: worst.obs, expected: worst.exp,
                               description: String(format: "%@ used %.0f %@ on %@, usually about %.0f (%.1f sd)",
                                                   name, worst.obs, worst.what, tt ?? "", worst.exp, worst.z),
                               severity: worst.z / unit >= 2 * thr ? .warning : .info, startedAt: r.timestamp))
        }
        return out
    }

    /// Sequence-dependent updates of one execution (already accumulated): failure-burst
    /// detection, collaboration and hand-off statistics, and the agent's online drift signal.
    mutating func sequenceUpdate(_ r: ExecutionRecord, _ a: Int32, _ t: Int32?, day: Double, hour: Int,
                                 cluster: Int?, anomalies: inout [DetectedAnomaly]) {
        let e: Expectation? = t.map { expected(a, $0, day: day, hour: hour) }
        let rate = Int(a) < model.agentRate.count ? model.agentRate[Int(a)]
            : Double(agentStates[Int(a)].successes + 1) / Double(agentStates[Int(a)].n + 2)
        // Failure bursts.
        let pair = t.flatMap { pairIndex[Self.pairKey(a, $0)] } ?? -1
        guard let cluster else {
            Self.detectBurst(&agentStates[Int(a)], r, pFail: 1 - (e?.p ?? rate), pair: pair, day: day,
                             window: parameters.burstWindowMinutes, threshold: parameters.anomalyThreshold,
                             anomalies: &anomalies)
            residuals(r, a, t, day: day, e: e)
            return
        }
        let kind = Int32(cluster)
        var state = agentStates[Int(a)]
        agentStates[Int(a)] = Self.placeholderAgent   // moved out while scanned: no copy of its arrays
        // The agent's usual share of this kind and the kind's hour profile, once per failure.
        let agentShare = failureShare(agentKinds: state.failureKinds, agentLabelled: state.labelledFailures ?? 0,
                                      cluster: cluster)
        let hours = errors.hourFactors(of: cluster)
        Self.detectBurst(&state, r, pFail: 1 - (e?.p ?? rate), kind: kind, pair: pair,
                         share: { p, c, at in
                             // The kind's share of the pair's failures, as often as it is seen at
                             // that hour of day.
                             // (From the day's fraction: `hourOf`'s two fmods, on every row of
                             // the window, cost 3 % of a retrain.)
                             let hour = min(max(Int((at - at.rounded(.down)) * 24), 0), 23)
                             return failureShare(agentShare: agentShare, pair: p, cluster: Int(c)) * (hours?[hour] ?? 1)
                         }, label: { errors.clusters[Int($0)].template }, day: day,
                         window: parameters.burstWindowMinutes, threshold: parameters.anomalyThreshold,
                         anomalies: &anomalies)
        agentStates[Int(a)] = state
        residuals(r, a, t, day: day, e: e)
    }

    /// Stands in for an agent's state while it is moved out to be scanned.
    static let placeholderAgent = AgentState(halfLife: 1)

    /// The agent's online drift signal and collaboration statistics from one execution's
    /// residuals against the model.
    mutating func residuals(_ r: ExecutionRecord, _ a: Int32, _ t: Int32?, day: Double, e: Expectation?) {
        guard t != nil, let e else { return }
        let y = r.success ? 1.0 : 0.0
        let logT = r.executionTime.flatMap { $0 > 0 ? log($0) : nil }
        agentStates[Int(a)].successTrend.add(t: day, y: y - e.p)
        if let lt = logT { agentStates[Int(a)].timeTrend.add(t: day, y: lt - e.mu) }
        collaborate(r, a, day: day, e: e, logT: logT)
    }

    /// Failure-burst scan: over the agent's executions of the last `window` minutes, every run
    /// that starts at a failure and ends at this failure is tested: observed failures against
    /// the Poisson tail with mean Σ(expected failure probability) of those executions (so hours
    /// and task types that usually fail more do not count). For a failure with an error kind
    /// (`kind`, its cluster), the runs of failures of that kind are tested the same way against
    /// Σ p_fail·`share(pair, kind, day)` (how much of each run's pair's failures that kind usually
    /// takes at that hour), from `minKindBurst` failures on. A failure streak (the agent's
    /// consecutive failures, however far apart) is tested too: the probability of them all under
    /// the model is the product of their expected failure probabilities. The more significant of
    /// the two, if its score reaches the threshold, is reported with all its failures not
    /// reported before, and a description of the whole episode so far (count, span, expected);
    /// each later failure that extends it is reported again with the grown totals, so a stored
    /// insight can follow it (``DetectedAnomaly/startedAt`` names the episode).
    static func detectBurst(_ s: inout AgentState, _ r: ExecutionRecord, pFail: Double, kind: Int32? = nil,
                            pair: Int32 = -1, share: (Int32, Int32, Double) -> Double = { _, _, _ in 1 },
                            label: (Int32) -> String = { _ in "" },
                            day: Double, window minutes: Double, threshold: Double,
                            anomalies: inout [DetectedAnomaly]) {
        let window = minutes / 1440
        var cut = 0
        while cut < s.recentTimes.count && s.recentTimes[cut] < day - window { cut += 1 }
        if s.recentKinds == nil || s.recentKinds!.count != s.recentTimes.count {
            s.recentKinds = [Int32](repeating: -1, count: s.recentTimes.count)
        }
        if s.recentPairs == nil || s.recentPairs!.count != s.recentTimes.count {
            s.recentPairs = [Int32](repeating: -1, count: s.recentTimes.count)
        }
        if cut > 0 || s.recentTimes.count >= 64 {
            let drop = max(cut, s.recentTimes.count - 63)
            s.recentTimes.removeFirst(drop); s.recentFailed.removeFirst(drop)
            s.recentIDs.removeFirst(drop); s.recentFlagged.removeFirst(drop); s.recentPFail.removeFirst(drop)
            s.recentKinds!.removeFirst(drop); s.recentPairs!.removeFirst(drop)
        }
        let pf = min(max(pFail, 0.01), 0.99)
        s.recentTimes.append(day); s.recentFailed.append(!r.success)
        s.recentIDs.append(r.id ?? -1); s.recentFlagged.append(false)
        s.recentPFail.append(pf)
        s.recentKinds!.append(kind ?? -1)
        s.recentPairs!.append(pair)
        guard !r.success else { s.streak = nil; return }
        var streak = s.streak ?? FailureStreak(start: day)
        streak.count += 1
        streak.logP += log(pf)
        streak.expected += pf
        if streak.ids.count < FailureStreak.maxIDs, let id = r.id { streak.ids.append(id) }
        defer { s.streak = streak }
        // Runs of the window that start at a failure: all its failures, and (when this failure
        // has a kind) its failures of this kind against the share of the agent's failures that
        // kind usually takes. An outage repeats one error; 6 refused connections in 8 runs are
        // far rarer than 6 failures of any kind.
        var f = 0, fk = 0, lambda = 0.0, lambdaKind = 0.0
        var best = (z: -Double.infinity, start: s.recentTimes.count - 1, f: 0, lambda: 0.0)
        var bestKind = best
        let kinds = s.recentKinds!, pairs = s.recentPairs!
        for j in stride(from: s.recentTimes.count - 1, through: 0, by: -1) {
            lambda += s.recentPFail[j]
            // Each run's chance of failing this way: its failure probability times the share of
            // its pair's failures this kind takes.
            if let kind { lambdaKind += s.recentPFail[j] * min(share(pairs[j], kind, s.recentTimes[j]), 1) }
            guard s.recentFailed[j] else { continue }
            f += 1
            if let kind, kinds[j] == kind {
                fk += 1
                if fk >= Self.minKindBurst {
                    let z = normalQuantileUpper(poissonUpperTail(fk, lambda: lambdaKind))
                    if z > bestKind.z { bestKind = (z, j, fk, lambdaKind) }
                }
            }
            guard f >= 3 else { continue }
            let z = normalQuantileUpper(poissonUpperTail(f, lambda: lambda))
            if z > best.z { best = (z, j, f, lambda) }
        }
        let streakZ = streak.count >= 3 ? normalQuantileUpper(logTail: streak.logP) : -Double.infinity
        let useKind = bestKind.z > best.z && bestKind.z > streakZ
        if useKind { best = bestKind }
        let useStreak = streakZ > best.z
        let z = max(streakZ, best.z)
        guard z / AnomalyScale.zPerUnit >= threshold else { return }
        var ids: [Int64] = []
        var fresh = false
        if useStreak {
            ids = Array(streak.ids[streak.reported...])
            fresh = !ids.isEmpty
            let reported = Set(ids)
            for k in s.recentIDs.indices where s.recentFailed[k] && reported.contains(s.recentIDs[k]) { s.recentFlagged[k] = true }
        } else {
            for k in best.start..<s.recentTimes.count where s.recentFailed[k] && !s.recentFlagged[k] {
                if useKind, let kind, kinds[k] != kind { continue }
                s.recentFlagged[k] = true
                fresh = true
                if s.recentIDs[k] >= 0 { ids.append(s.recentIDs[k]) }
            }
        }
        streak.reported = streak.ids.count
        guard fresh else { return }
        let count = useStreak ? streak.count : best.f
        let first = useStreak ? streak.start : s.recentTimes[best.start]
        let expected = useStreak ? streak.expected : best.lambda
        let mins = (day - first) * 1440
        let span = mins < 120 ? String(format: "%.0f minutes", mins) : String(format: "%.1f hours", mins / 60)
        let what = useStreak ? String(format: "failed %d times in a row over %@", count, span)
            : useKind ? String(format: "failed %d times with \"%@\" in %@", count, String(kind.map { label($0) }?.prefix(80) ?? ""), span)
            : String(format: "failed %d times in %@", count, span)
        anomalies.append(DetectedAnomaly(kind: .failureBurst, agentName: r.agentName, taskType: r.taskType,
                                 recordIDs: ids, timestamp: r.timestamp, score: z / AnomalyScale.zPerUnit,
                                 observed: Double(count), expected: expected,
                                 description: String(format: "%@ %@, %.1f expected", r.agentName, what, expected),
                                 severity: count >= AnomalySeverity.criticalFailures ? .critical : .warning,
                                 startedAt: Date(timeIntervalSince1970: first * 86_400)))
    }

    /// Fewest failures of one kind a burst of that kind needs: its test is repeated for every
    /// kind and start, so it asks for more support than the all-failures scan's 3.
    static let minKindBurst = 5

    /// Pseudo-failures of the fleet's share of a kind in an agent's share of it.
    static let failureKindPriorWeight = 10.0

    /// The share of an agent's failures that usually fall in error-signature `cluster`, given its
    /// failures per kind (`agentKinds`, of `agentLabelled` with a message): its own shrunk towards
    /// the whole fleet's share (``failureKindPriorWeight`` pseudo-failures).
    func failureShare(agentKinds: [Int32: Int]?, agentLabelled: Int, cluster: Int) -> Double {
        let m = Self.failureKindPriorWeight
        let own = Double(agentKinds?[Int32(cluster)] ?? 0)
        return (own + m * errors.share(of: cluster)) / (Double(agentLabelled) + m)
    }

    /// The share of the failures on pair `pair` (an index of `pairs`, or -1) that usually fall in
    /// error-signature `cluster`: the pair's own failures of that kind shrunk towards its agent's
    /// share `agentShare` (``failureKindPriorWeight`` pseudo-failures). Agents fail differently on
    /// different task types, so one kind can be most of a pair's failures and rare for its agent.
    func failureShare(agentShare: Double, pair: Int32, cluster: Int) -> Double {
        let m = Self.failureKindPriorWeight
        var share = agentShare
        if pair >= 0, Int(pair) < pairs.count, let nP = pairs[Int(pair)].labelledFailures {
            let ownP = Double(pairs[Int(pair)].failureKinds?[Int32(cluster)] ?? 0)
            share = (ownP + m * share) / (Double(nP) + m)
        }
        return min(max(share, 0.001), 1)
    }

    /// Most distinct agents remembered per open task.
    static let maxTaskMembers = 64

    mutating func collaborate(_ r: ExecutionRecord, _ a: Int32, day: Double, e: Expectation, logT: Double?) {
        let y = r.success ? 1.0 : 0.0
        guard let taskKey = r.taskID, !taskKey.isEmpty else { return }
        let me = TaskMember(agent: a, task: r.taskType.flatMap { tasks.id($0) } ?? -1, time: day, success: r.success, successRes: y - e.p, pq: e.p * (1 - e.p),
                            timeRes: logT.map { min(max($0 - e.mu, -4 * e.sigma), 4 * e.sigma) } ?? 0,
                            timeVar: logT == nil ? 0 : e.sigma * e.sigma)
        // Taken out of the dictionary while it is read and updated, so appending does not copy it.
        var members = openTasks.removeValue(forKey: taskKey) ?? []
        defer { openTasks[taskKey] = members }
        if let prev = members.max(by: { $0.time < $1.time }), prev.agent != a {
            let key = Int64(prev.agent) << 32 | Int64(a)
            var h = handoffStats[key] ?? HandoffStats()
            h.count += 1
            if r.success { h.successes += 1 }
            h.gaps.add(max((day - prev.time) * 86_400, 1e-3))
            handoffStats[key] = h
        }
        for m in members where m.agent != a {
            let key = Self.agentPairKey(a, m.agent)
            var st = synergy[key] ?? SynergyStats()
            st.tasks += 1
            st.rows += 2
            st.successRes += m.successRes + me.successRes
            st.pq += m.pq + me.pq
            st.timeRes += m.timeRes + me.timeRes
            st.timeVar += m.timeVar + me.timeVar
            synergy[key] = st
            if partnerStats != nil {
                if me.task >= 0 {
                    let k1 = Int64(a) << 42 | Int64(m.agent) << 21 | Int64(me.task)
                    partnerStats![k1, default: PartnerStats()].n += 1
                    partnerStats![k1]!.successRes += me.successRes
                    partnerStats![k1]!.timeRes += me.timeRes
                }
                if m.task >= 0 {
                    let k2 = Int64(m.agent) << 42 | Int64(a) << 21 | Int64(m.task)
                    partnerStats![k2, default: PartnerStats()].n += 1
                    partnerStats![k2]!.successRes += m.successRes
                    partnerStats![k2]!.timeRes += m.timeRes
                }
            }
        }
        // Each agent appears once per task (its first execution's residuals, the time of its latest
        // for hand-offs), and a task keeps at most `maxTaskMembers` agents: a task id reused by
        // thousands of executions costs no more than a small team's.
        if let mine = members.firstIndex(where: { $0.agent == a }) {
            members[mine].time = max(members[mine].time, day)
        } else if members.count < Self.maxTaskMembers {
            members.append(me)
        }
        if openTasks.count > Self.maxOpenTasks { pruneOpenTasks(now: day) }
    }

    /// Most tasks followed for collaboration at once.
    static let maxOpenTasks = 200_000

    /// Forgets tasks idle for a day; when more than half the limit were active within the day
    /// (a bulk load of a day's executions), keeps the most recently active half. Either way the
    /// next prune is at least `maxOpenTasks / 2` new tasks away (keeping every task of the day
    /// made each execution of a 1 M-row COPY filter 200,000 tasks: 99% of the feed's time).
    mutating func pruneOpenTasks(now day: Double) {
        func latest(_ members: [TaskMember]) -> Double { members.map(\.time).max() ?? 0 }
        var kept = openTasks.filter { latest($0.value) > day - 1 }
        let keep = Self.maxOpenTasks / 2
        if kept.count > keep {
            let cutoff = kept.values.map(latest).sorted()[kept.count - keep]
            kept = kept.filter { latest($0.value) >= cutoff }
        }
        openTasks = kept
    }

    /// Agent pairs that do better or worse together than their own baselines predict, most
    /// significant first (by |z|). Each shared task contributes both agents' residuals; the
    /// z-score combines the success residual (observed minus expected successes over its
    /// binomial sd) and the time residual (faster than expected is better).
    public func collaborationPatterns(minSharedTasks: Int = 3) -> [CollaborationEffect] {
        var out: [CollaborationEffect] = []
        for (key, s) in synergy where s.tasks >= minSharedTasks {
            let a = Int32(key >> 32), b = Int32(key & 0xffff_ffff)
            let zs = s.pq > 0 ? s.successRes / s.pq.squareRoot() : 0
            let zt = s.timeVar > 0 ? -s.timeRes / s.timeVar.squareRoot() : 0
            out.append(CollaborationEffect(agents: (agents[a], agents[b]), sharedTasks: s.tasks,
                                            successLift: s.successRes / max(s.rows, 1),
                                            logTimeLift: s.timeRes / max(s.rows, 1),
                                            zScore: (zs + zt) / 2.0.squareRoot()))
        }
        out.sort { abs($0.zScore) != abs($1.zScore) ? abs($0.zScore) > abs($1.zScore) : $0.agents.0 < $1.agents.0 }
        return out
    }

    /// Hand-offs between consecutive agents on the same task, most frequent first.
    public func handoffs(minCount: Int = 1) -> [HandoffStatistics] {
        var out: [HandoffStatistics] = []
        for (key, h) in handoffStats where h.count >= minCount {
            out.append(HandoffStatistics(from: agents[Int32(key >> 32)], to: agents[Int32(key & 0xffff_ffff)],
                                      count: h.count, successRate: Double(h.successes) / Double(h.count),
                                      medianGapSeconds: h.gaps.quantile(0.5) ?? 0))
        }
        out.sort { $0.count != $1.count ? $0.count > $1.count : ($0.from, $0.to) < ($1.from, $1.to) }
        return out
    }
}
