import Foundation
import LearningCore
import LearningML

/// A JSON value of the scorer's records.
enum JSONValue {
    case string(String)
    case number(Double)
    case int(Int64)
    case bool(Bool)
    case strings([String])
}

/// Builds the scorer's JSONL records (see ../shared/ml-eval/README.md) from engine results.
struct JSONLWriter {
    private(set) var count = 0
    private var text = ""

    static func quote(_ s: String) -> String { jsonStringLiteral(s) }

    mutating func add(_ fields: KeyValuePairs<String, JSONValue>) {
        var line = "{"
        for (i, (k, v)) in fields.enumerated() {
            if i > 0 { line += "," }
            line += Self.quote(k) + ":"
            switch v {
            case .string(let s): line += Self.quote(s)
            case .number(let x): line += x.isFinite ? "\(x)" : "null"
            case .int(let x): line += "\(x)"
            case .bool(let b): line += b ? "true" : "false"
            case .strings(let xs): line += "[" + xs.map(Self.quote).joined(separator: ",") + "]"
            }
        }
        text += line + "}\n"
        count += 1
    }

    func write(to path: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }
}

/// Phase 1 exports: pairs, test rows, recommendations, synergy, schedule, resources.
func exportPhase1(_ engine: LearningEngine, pairs: [(String, String)], queries: [TestQuery], end: Date,
                  into w: inout JSONLWriter) {
    for (a, t) in pairs {
        let p = engine.predict(agent: a, taskType: t, at: end)
        w.add(["kind": .string("pair"), "agent_name": .string(a), "task_type": .string(t),
               "predicted_execution_time": .number(p.expectedExecutionTime),
               "predicted_median_execution_time": .number(p.medianExecutionTime),
               "predicted_success_rate": .number(p.successProbability), "confidence": .number(p.confidence)])
        if let r = engine.recommendedResources(agent: a, taskType: t), let m = r.memoryMB, let c = r.cpu, let k = r.tokens {
            w.add(["kind": .string("resource"), "agent_name": .string(a), "task_type": .string(t),
                   "memory_mb": .number(m), "cpu": .number(c), "tokens": .number(k)])
        }
    }
    for q in queries {
        let hour = Calendar.utcHour(q.timestamp)
        let p = engine.predict(agent: q.agentName, taskType: q.taskType, at: q.timestamp, hour: hour)
        w.add(["kind": .string("row"), "row_id": .int(Int64(q.rowID)),
               "predicted_execution_time": .number(p.medianExecutionTime),
               "predicted_success_rate": .number(p.successProbability), "interval_low": .number(p.intervalLow),
               "interval_high": .number(p.intervalHigh)])
    }
    for t in engine.taskTypeNames {
        let ranking = engine.recommend(taskType: t, at: end, limit: Int.max).map(\.agentName)
        w.add(["kind": .string("recommendation"), "task_type": .string(t), "ranking": .strings(ranking)])
    }
    for c in engine.collaborationPatterns(minSharedTasks: 1) {
        w.add(["kind": .string("synergy"), "agents": .strings([c.agents.0, c.agents.1]), "score": .number(c.zScore)])
    }
    for s in engine.schedulePatterns() {
        w.add(["kind": .string("schedule"), "task_type": .string(s.taskType), "best_hour": .int(Int64(s.bestHour))])
    }
}

/// Phase 2 exports: flagged rows and the error signature of every failed row.
func exportPhase2(_ engine: LearningEngine, anomalies: [DetectedAnomaly], records: [ExecutionRecord], into w: inout JSONLWriter) {
    var flagged: [Int64: String] = [:]
    for a in anomalies { for id in a.recordIDs where flagged[id] == nil { flagged[id] = a.kind.rawValue } }
    for (id, detector) in flagged.sorted(by: { $0.key < $1.key }) {
        w.add(["kind": .string("anomaly"), "row_id": .int(id), "is_anomaly": .bool(true), "detector": .string(detector)])
    }
    if flagged.isEmpty { w.add(["kind": .string("anomaly_none")]) }
    for r in records where !r.success {
        guard let id = r.id else { continue }
        w.add(["kind": .string("error_group"), "row_id": .int(id),
               "signature": .string(engine.errorSignature(of: r.errorMessage ?? ""))])
    }
}

extension Calendar {
    static func utcHour(_ d: Date) -> Int {
        let s = d.timeIntervalSince1970
        return Int((s - (s / 86_400).rounded(.down) * 86_400) / 3600)
    }
}
