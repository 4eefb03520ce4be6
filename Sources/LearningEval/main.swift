// learning-eval: runs the ML evaluation protocol of ../shared/ml-eval/README.md against the
// LearningML engine directly (rows fed from the CSV, the same engine calls the service makes),
// and writes the scorer's JSONL. Usage: learning-eval <data-dir> <predictions.jsonl>
import Foundation
import LearningCore
import LearningML

/// CPU time of the calling thread (what a retrain costs regardless of other load on the machine).
func threadCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

let args = CommandLine.arguments
guard args.count >= 3 else {
    FileHandle.standardError.write("usage: learning-eval <data-dir> <predictions.jsonl>\n".data(using: .utf8)!)
    exit(2)
}
let dir = args[1], out = args[2]
do {
    let clock = ContinuousClock()
    let t0 = clock.now
    let meta = try EvalMeta(contentsOf: dir + "/meta.json")
    let records = try readExecutions(dir + "/executions.csv")
    let queries = try readTestQueries(dir + "/test_queries.csv")
    let nTrain = min(meta.nTrain, records.count)
    let tRead = clock.now
    var params = EngineParameters(config: LearningConfig())
    // Tuning knobs for experiments (documented in docs/ML.md); defaults are the engine's.
    let env = ProcessInfo.processInfo.environment
    if let v = env["ML_DRIFT_PENALTY"].flatMap(Double.init) { params.driftPenalty = v }
    if let v = env["ML_PAIR_DRIFT_PENALTY"].flatMap(Double.init) { params.pairDriftPenalty = v }
    if let v = env["ML_RECENT_MIX"].flatMap(Double.init) { params.recentMix = v }
    if let v = env["ML_RECENT_MIX_C"].flatMap(Double.init) { params.recentMixC = v }
    if let v = env["ML_REC_MIX"].flatMap(Double.init) { params.recommendRecentMix = v }
    if let v = env["ML_REC_MIX_C"].flatMap(Double.init) { params.recommendRecentMixC = v }
    if let v = env["ML_LAT_UNIT"].flatMap(Double.init) { params.latencyZPerUnit = v }
    if let v = env["ML_AGENT_MIX"].flatMap(Double.init) { params.agentRecentMix = v }
    if let v = env["ML_REC_AGENT_MIX"].flatMap(Double.init) { params.recommendAgentRecentMix = v }
    if let v = env["ML_SIMILAR"].flatMap(Int.init) { params.similarNeighbours = v }
    if let v = env["ML_REC_PRIOR"].flatMap(Double.init) { params.recommendPriorScale = v }
    if let v = env["ML_REC_KAPPA"].flatMap(Double.init) { params.recommendUncertainty = v }
    if let v = env["ML_EMB_PERF"].flatMap(Double.init) { params.embeddingPerformanceWeight = v }
    if let v = env["ML_SIM_THRESHOLD"].flatMap(Double.init) { params.similarityThreshold = v }
    if env["ML_NO_POOLED_PRIOR"] != nil { params.pooledSuccessPrior = false }
    if env["ML_GLOBAL_DRIFT"] != nil { params.globalDrift = true }
    if env["ML_NO_SOLO"] != nil { params.soloAdjustment = false }
    if env["ML_NO_TOKEN_LATENCY"] != nil { params.latencyGivenTokens = false }
    if env["ML_NO_INTERVAL_CALIBRATION"] != nil { params.calibratedIntervals = false }
    if let v = env["ML_DRIFT_EXTRAPOLATION"].flatMap(Double.init) { params.driftExtrapolation = v }
    if let v = env["ML_ANOMALY_THRESHOLD"].flatMap(Double.init) { params.anomalyThreshold = v }
    if let v = env["ML_HALF_LIFE"].flatMap(Double.init) { params.recencyHalfLife = v }
    var engine = LearningEngine(parameters: params)
    let train = Array(records[0..<nTrain])
    // ML_ONLINE=1 emulates the service path of bench/ml_eval_service.py: phase-1 rows are observed
    // online by an engine that starts untrained and is retrained after every 24 h of data (as of
    // the end of that day); the phase-1 anomalies are those found online, not the retrain's re-scan.
    var online: [DetectedAnomaly]? = nil
    if env["ML_ONLINE"] != nil, let first = records.first?.timestamp {
        var found: [DetectedAnomaly] = []
        var boundary = first.addingTimeInterval(86_400)
        for i in 0..<nTrain {
            if records[i].timestamp >= boundary {
                _ = engine.retrain(on: Array(records[0..<i]), now: boundary)
                while records[i].timestamp >= boundary { boundary = boundary.addingTimeInterval(86_400) }
            }
            found += engine.observe(records[i])
        }
        online = found
        engine = LearningEngine(parameters: params)
    }
    let report = engine.retrain(on: train, now: meta.splitTimestamp)
    let tTrain = clock.now
    // ML_REC_KAPPAS=0,0.5,1: the recommendations alone, ranked with each value of
    // EngineParameters.recommendUncertainty, to OUT.rec-K.jsonl (then exit): one retrain serves
    // every value, to choose it on many family members.
    if let list = env["ML_REC_KAPPAS"] {
        for k in list.split(separator: ",").compactMap({ Double($0) }) {
            var view = engine
            view.setRecommendUncertainty(k)
            var w = JSONLWriter()
            for t in view.taskTypeNames {
                let ranking = view.recommend(taskType: t, at: meta.end, limit: Int.max).map(\.agentName)
                w.add(["kind": .string("recommendation"), "task_type": .string(t), "ranking": .strings(ranking)])
            }
            try w.write(to: out + ".rec-\(k).jsonl")
        }
        exit(0)
    }
    var seen = Set<String>()
    var pairs: [(String, String)] = []
    for r in train {
        guard let t = r.taskType, seen.insert(r.agentName + "\u{1}" + t).inserted else { continue }
        pairs.append((r.agentName, t))
    }
    var w = JSONLWriter()
    exportPhase1(engine, pairs: pairs, queries: queries, end: meta.end, into: &w)
    var anomalies = online ?? report.anomalies
    for r in records[nTrain...] { anomalies += engine.observe(r) }
    let tObserve = clock.now
    var kinds: [String: Int] = [:]
    for a in anomalies { kinds[a.kind.rawValue, default: 0] += max(a.recordIDs.count, 1) }
    FileHandle.standardError.write("anomaly rows by kind: \(kinds.sorted { $0.key < $1.key })\n".data(using: .utf8)!)
    exportPhase2(engine, anomalies: anomalies, records: records, into: &w)
    try w.write(to: out)
    // The issue's retrain budget: a full retrain over every row of the workload.
    var full = LearningEngine(parameters: params)
    let tf0 = clock.now
    let cpu0 = threadCPUSeconds()
    _ = full.retrain(on: records, now: meta.end)
    let fullRetrain = clock.now - tf0
    let fullCPU = threadCPUSeconds() - cpu0
    let msg = """
    read \(records.count) rows in \(tRead - t0); retrain on \(nTrain) rows: \(tTrain - tRead) \
    (holdout accuracy \(String(format: "%.4f", report.accuracy)), log-time MAE \(String(format: "%.3f", report.holdoutLogTimeMAE))); \
    observed \(records.count - nTrain) rows online in \(tObserve - tTrain); \(anomalies.count) anomalies; wrote \(w.count) records to \(out); \
    full retrain on all \(records.count) rows: \(fullRetrain) wall, \(String(format: "%.3f", fullCPU)) s CPU

    """
    FileHandle.standardError.write(msg.data(using: .utf8)!)
    FileHandle.standardError.write("global drift: \(engine.driftSummary)\n".data(using: .utf8)!)
    if let a = env["ML_DEBUG_AGENT"] {
        FileHandle.standardError.write("drift of \(a): \(engine.driftSummary(agent: a) ?? "unknown")\n".data(using: .utf8)!)
    }
    if let path = env["ML_SIMILAR_OUT"] {
        // Every agent's similar agents at the configured threshold, for docs/ML.md "Similar agents".
        var sw = JSONLWriter()
        for a in engine.agentNames {
            let list = engine.similarAgents(to: a, limit: 1_000)
            sw.add(["kind": .string("similar"), "agent_name": .string(a), "similar": .strings(list.map(\.agent)),
                    "best": .number(engine.similarAgents(to: a, limit: 1, threshold: -1).first?.similarity ?? 0)])
        }
        try sw.write(to: path)
    }
} catch {
    FileHandle.standardError.write("learning-eval: \(error)\n".data(using: .utf8)!)
    exit(1)
}
