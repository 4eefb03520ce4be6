import Foundation
import LearningCore
import LearningML

/// Builds the scorer's JSONL records (see ../shared/ml-eval/README.md) from engine results.
struct JSONLWriter {
    private(set) var lines: [String] = []

    mutating func add(_ object: [String: Any]) {
        if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]),
           let s = String(data: data, encoding: .utf8) { lines.append(s) }
    }

    func write(to path: String) throws {
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    }
}

/// Phase 1 exports: pairs, test rows, recommendations, synergy, schedule, resources.
func exportPhase1(_ engine: LearningEngine, pairs: [(String, String)], queries: [TestQuery], end: Date,
                  into w: inout JSONLWriter) {
    for (a, t) in pairs {
        let p = engine.predict(agent: a, taskType: t, at: end)
        w.add(["kind": "pair", "agent_name": a, "task_type": t, "predicted_execution_time": p.expectedExecutionTime,
               "predicted_median_execution_time": p.medianExecutionTime,
               "predicted_success_rate": p.successProbability, "confidence": p.confidence])
        if let r = engine.recommendedResources(agent: a, taskType: t), let m = r.memoryMB, let c = r.cpu, let k = r.tokens {
            w.add(["kind": "resource", "agent_name": a, "task_type": t, "memory_mb": m, "cpu": c, "tokens": k])
        }
    }
    for q in queries {
        let hour = Calendar.utcHour(q.timestamp)
        let p = engine.predict(agent: q.agentName, taskType: q.taskType, at: q.timestamp, hour: hour)
        w.add(["kind": "row", "row_id": q.rowID, "predicted_execution_time": p.medianExecutionTime,
               "predicted_success_rate": p.successProbability, "interval_low": p.intervalLow,
               "interval_high": p.intervalHigh])
    }
    for t in engine.taskTypeNames {
        let ranking = engine.recommend(taskType: t, at: end, limit: Int.max).map(\.agentName)
        w.add(["kind": "recommendation", "task_type": t, "ranking": ranking])
    }
    for c in engine.collaborationPatterns(minSharedTasks: 1) {
        w.add(["kind": "synergy", "agents": [c.agents.0, c.agents.1], "score": c.zScore])
    }
    for s in engine.schedulePatterns() {
        w.add(["kind": "schedule", "task_type": s.taskType, "best_hour": s.bestHour])
    }
}

/// Phase 2 exports: flagged rows and the error signature of every failed row.
func exportPhase2(_ engine: LearningEngine, anomalies: [Anomaly], records: [ExecutionRecord], into w: inout JSONLWriter) {
    var flagged = Set<Int64>()
    for a in anomalies { for id in a.recordIDs { flagged.insert(id) } }
    for id in flagged.sorted() { w.add(["kind": "anomaly", "row_id": id, "is_anomaly": true]) }
    if flagged.isEmpty { w.add(["kind": "anomaly_none"]) }
    for r in records where !r.success {
        guard let id = r.id else { continue }
        w.add(["kind": "error_group", "row_id": id, "signature": engine.errorSignature(of: r.errorMessage ?? "")])
    }
}

extension Calendar {
    static func utcHour(_ d: Date) -> Int {
        let s = d.timeIntervalSince1970
        return Int((s - (s / 86_400).rounded(.down) * 86_400) / 3600)
    }
}
