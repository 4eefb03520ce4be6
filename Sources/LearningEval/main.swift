// learning-eval: runs the ML evaluation protocol of ../shared/ml-eval/README.md against the
// LearningML engine directly (rows fed from the CSV, the same engine calls the service makes),
// and writes the scorer's JSONL. Usage: learning-eval <data-dir> <predictions.jsonl>
import Foundation
import LearningCore
import LearningML

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
    var engine = LearningEngine(parameters: EngineParameters(config: LearningConfig()))
    let train = Array(records[0..<nTrain])
    let report = engine.retrain(on: train, now: meta.splitTimestamp)
    let tTrain = clock.now
    var seen = Set<String>()
    var pairs: [(String, String)] = []
    for r in train {
        guard let t = r.taskType, seen.insert(r.agentName + "\u{1}" + t).inserted else { continue }
        pairs.append((r.agentName, t))
    }
    var w = JSONLWriter()
    exportPhase1(engine, pairs: pairs, queries: queries, end: meta.end, into: &w)
    var anomalies = report.anomalies
    for r in records[nTrain...] { anomalies += engine.observe(r) }
    let tObserve = clock.now
    exportPhase2(engine, anomalies: anomalies, records: records, into: &w)
    try w.write(to: out)
    let msg = """
    read \(records.count) rows in \(tRead - t0); retrain on \(nTrain) rows: \(tTrain - tRead) \
    (holdout accuracy \(String(format: "%.4f", report.accuracy)), log-time MAE \(String(format: "%.3f", report.holdoutLogTimeMAE))); \
    observed \(records.count - nTrain) rows online in \(tObserve - tTrain); \(anomalies.count) anomalies; wrote \(w.count) records to \(out)

    """
    FileHandle.standardError.write(msg.data(using: .utf8)!)
} catch {
    FileHandle.standardError.write("learning-eval: \(error)\n".data(using: .utf8)!)
    exit(1)
}
