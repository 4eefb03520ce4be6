public import Foundation

/// One row's worth of `agents.ml_models` metadata (the bytes come from ``LearningEngine/serialize()``).
public struct ModelDescriptor: Sendable, Equatable {
    /// `model_name`: `performance_prediction`, `anomaly_detection` or `pattern_recognition`.
    public var name: String
    /// `model_type`: the method, in words.
    public var type: String
    /// `version`: `<format version>.<records trained on>`.
    public var version: String
    /// `accuracy`: measured on the held-out recent window (see ``TrainingReport``).
    public var accuracy: Double
    /// `trained_on`: the `now` of the retrain.
    public var trainedOn: Date
    /// `hyperparameters` (JSONB object of numbers).
    public var hyperparameters: [String: Double]
}

/// An insight the service can publish (`/analytics/insights`, the live insight stream).
public struct Insight: Sendable, Equatable {
    /// `anomaly.latency_spike`, `anomaly.resource_blowup`, `anomaly.failure_burst`,
    /// `pattern.collaboration` or `pattern.failure_signature`.
    public var type: String
    public var agentName: String?
    public var taskType: String?
    public var title: String
    public var description: String
    /// Severity or significance in threshold units (anomalies) or |z| (patterns).
    public var score: Double
    public var timestamp: Date
    /// Execution ids involved (anomalies).
    public var recordIDs: [Int64]
}

extension Anomaly {
    /// This anomaly as a publishable insight.
    public var insight: Insight {
        let title: String
        switch kind {
        case .latencySpike: title = "Latency spike: \(agentName)"
        case .resourceBlowup: title = "Resource blow-up: \(agentName)"
        case .failureBurst: title = "Failure burst: \(agentName)"
        }
        return Insight(type: "anomaly.\(kind.rawValue)", agentName: agentName, taskType: taskType, title: title,
                       description: description, score: score, timestamp: timestamp, recordIDs: recordIDs)
    }
}

extension LearningEngine {
    /// Metadata of the three models the engine holds (all stored with the same `serialize()` bytes).
    public func modelDescriptors() -> [ModelDescriptor] {
        guard model.trained else { return [] }
        let version = "\(Self.modelVersion).\(recordsSeen)"
        let at = Date(timeIntervalSince1970: model.trainedAt * 86_400)
        let hp = hyperparameters
        return [
            ModelDescriptor(name: "performance_prediction",
                            type: "empirical-Bayes shrinkage + change-point drift + recency", version: version,
                            accuracy: model.accuracy, trainedOn: at, hyperparameters: hp),
            ModelDescriptor(name: "anomaly_detection", type: "adaptive robust z + Poisson burst scan",
                            version: version, accuracy: model.accuracy, trainedOn: at, hyperparameters: hp),
            ModelDescriptor(name: "pattern_recognition", type: "residual co-occurrence z + Drain signatures + k-means",
                            version: version, accuracy: model.accuracy, trainedOn: at, hyperparameters: hp),
        ]
    }

    /// Significant collaboration patterns and the most frequent failure signatures as insights.
    public func patternInsights(minAbsZ: Double = 3, now: Date) -> [Insight] {
        var out: [Insight] = []
        for c in collaborationPatterns() where abs(c.zScore) >= minAbsZ {
            let better = c.zScore > 0
            out.append(Insight(type: "pattern.collaboration", agentName: c.agents.0, taskType: nil,
                               title: "\(c.agents.0) and \(c.agents.1) do \(better ? "better" : "worse") together",
                               description: String(format: "%d shared tasks: success %+.1f%% vs their own rates, time %+.0f%% (z = %.1f)",
                                                   c.sharedTasks, c.successLift * 100, (exp(c.logTimeLift) - 1) * 100, c.zScore),
                               score: abs(c.zScore), timestamp: now, recordIDs: []))
        }
        for f in failurePatterns(limit: 5) {
            out.append(Insight(type: "pattern.failure_signature", agentName: nil, taskType: nil,
                               title: "Failure signature seen \(f.count) times", description: f.signature,
                               score: Double(f.count), timestamp: now, recordIDs: []))
        }
        return out
    }

    /// The agent's coordination score in (-1, 1): tanh(z/3) of its most significant partnership
    /// (at least 3 shared tasks), positive when it does better with that partner than their own
    /// rates predict; nil without any. (A mean over all partners would be ~0 by construction:
    /// residuals against an agent's own rates sum to zero across its executions.)
    public func coordinationScore(agent: String) -> Double? {
        let pats = collaborationPatterns().filter { $0.agents.0 == agent || $0.agents.1 == agent }
        guard let best = pats.max(by: { abs($0.zScore) < abs($1.zScore) }) else { return nil }
        return tanh(best.zScore / 3)
    }
}
