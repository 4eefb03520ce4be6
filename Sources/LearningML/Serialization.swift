import Foundation

/// Errors decoding a serialized model.
public enum ModelDecodingError: Error, Equatable, CustomStringConvertible {
    /// The bytes do not start with the model magic.
    case notAModel
    /// Written by a newer or older, incompatible format.
    case unsupportedVersion(Int)
    /// The payload is damaged.
    case corrupt(String)

    public var description: String {
        switch self {
        case .notAModel: "not a LearningML model (bad magic)"
        case .unsupportedVersion(let v): "unsupported LearningML model version \(v) (this build reads \(LearningEngine.modelVersion))"
        case .corrupt(let why): "corrupt LearningML model: \(why)"
        }
    }
}

/// Everything the engine learned, in a Codable form (tasks still in flight are not kept).
struct EngineSnapshot: Codable {
    var parameters: EngineParameters
    var agents: NameTable
    var tasks: NameTable
    var pairIndex: [Int64: Int32]
    var pairs: [PairState]
    var agentStates: [AgentState]
    var taskStates: [TaskState]
    var model: Model
    var errors: ErrorSignatures
    var synergy: [Int64: SynergyStats]
    var handoffStats: [Int64: HandoffStats]
    var recordsSeen: Int
    var latest: Double
    /// Absent in models written before the window's older executions were summed in.
    var historyLogTime: [Int: Moments]?
}

extension LearningEngine {
    static let magic: [UInt8] = Array("LSML".utf8)

    /// The trained state as bytes for `agents.ml_models.model_data`: the magic `LSML`, the format
    /// version (UInt32 little-endian), then the state (statistics, model, hyperparameters) as
    /// JSON. Collaboration pairing of tasks still in flight is not kept.
    public func serialize() -> [UInt8] {
        let snap = EngineSnapshot(parameters: parameters, agents: agents, tasks: tasks, pairIndex: pairIndex,
                                  pairs: pairs, agentStates: agentStates, taskStates: taskStates, model: model,
                                  errors: errors, synergy: synergy, handoffStats: handoffStats,
                                  recordsSeen: recordsSeen, latest: latest, historyLogTime: historyLogTime)
        let enc = JSONEncoder()
        enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        // Encoding plain Codable structs of numbers and strings cannot fail.
        let body = (try? enc.encode(snap)) ?? Data()
        var out = Self.magic
        let v = UInt32(Self.modelVersion)
        out += [UInt8(v & 0xff), UInt8((v >> 8) & 0xff), UInt8((v >> 16) & 0xff), UInt8(v >> 24)]
        out += body
        return out
    }

    /// Restores an engine from ``serialize()`` output.
    public init(serialized bytes: [UInt8]) throws {
        guard bytes.count >= 8, Array(bytes[0..<4]) == Self.magic else { throw ModelDecodingError.notAModel }
        let v = Int(bytes[4]) | Int(bytes[5]) << 8 | Int(bytes[6]) << 16 | Int(bytes[7]) << 24
        guard v == Self.modelVersion else { throw ModelDecodingError.unsupportedVersion(v) }
        let dec = JSONDecoder()
        dec.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let snap: EngineSnapshot
        do {
            snap = try dec.decode(EngineSnapshot.self, from: Data(bytes[8...]))
        } catch {
            throw ModelDecodingError.corrupt(String(describing: error))
        }
        guard snap.agentStates.count == snap.agents.count, snap.taskStates.count == snap.tasks.count,
              snap.pairIndex.count == snap.pairs.count,
              snap.pairIndex.values.allSatisfy({ $0 >= 0 && Int($0) < snap.pairs.count }),
              snap.pairs.allSatisfy({ Int($0.agent) < snap.agents.count && Int($0.task) < snap.tasks.count && $0.agent >= 0 && $0.task >= 0 })
        else { throw ModelDecodingError.corrupt("inconsistent tables") }
        self.init(parameters: snap.parameters)
        agents = snap.agents; tasks = snap.tasks; pairIndex = snap.pairIndex; pairs = snap.pairs
        agentStates = snap.agentStates; taskStates = snap.taskStates; model = snap.model; errors = snap.errors
        synergy = snap.synergy; handoffStats = snap.handoffStats; recordsSeen = snap.recordsSeen; latest = snap.latest; historyLogTime = snap.historyLogTime ?? [:]
    }

    /// The hyperparameters to store beside the model (`agents.ml_models.hyperparameters`).
    public var hyperparameters: [String: Double] {
        ["vector_size": Double(parameters.vectorSize), "similarity_threshold": parameters.similarityThreshold,
         "anomaly_threshold": parameters.anomalyThreshold, "confidence_threshold": parameters.confidenceThreshold,
         "recency_half_life_days": parameters.recencyHalfLife, "holdout_days": parameters.holdoutDays,
         "burst_window_minutes": parameters.burstWindowMinutes, "drift_penalty": parameters.driftPenalty,
         "pair_drift_penalty": parameters.pairDriftPenalty, "drift_extrapolation": parameters.driftExtrapolation,
         "recent_mix": parameters.recentMix, "recent_mix_c": parameters.recentMixC,
         "agent_recent_mix": parameters.agentRecentMix, "recommend_recent_mix": parameters.recommendRecentMix,
         "recommend_recent_mix_c": parameters.recommendRecentMixC,
         "recommend_agent_recent_mix": parameters.recommendAgentRecentMix ?? Self.defaultRecommendAgentRecentMix, "latency_z_per_unit": parameters.latencyZPerUnit,
         "success_prior_strength": model.successStrength, "time_tau2": model.timeTau2,
         "pooled_success_prior": (parameters.pooledSuccessPrior ?? true) ? 1 : 0,
         "pooled_prior_atoms": Double(model.deviationPrior?.filter { $0 > 0 }.count ?? 0),
         "embedding_performance_weight": parameters.embeddingPerformanceWeight ?? Self.defaultEmbeddingPerformanceWeight]
    }

    /// The system-wide drift found at the last retrain, in words (for /status).
    public var driftSummary: String {
        "success: \(Self.describe(model.globalSuccessDrift, "probability")); log time: \(Self.describe(model.globalTimeDrift, "log s"))"
    }

    /// The drift fitted to one agent's residuals at the last retrain, in the words of ``driftSummary``.
    public func driftSummary(agent: String) -> String? {
        guard let a = agents.id(agent), Int(a) < model.successDrift.count else { return nil }
        return "success: \(Self.describe(model.successDrift[Int(a)], "probability")); log time: \(Self.describe(model.timeDrift[Int(a)], "log s"))"
    }

    static func describe(_ x: Drift, _ unit: String) -> String {
        x.detected ? String(format: "%@ from day %.0f: level %.4f, slope %.4f/day, jump %.3f %@", x.slope != 0 ? "ramp" : "step",
                            x.start, x.level, x.slope, x.jump, unit) : "none"
    }

    /// Accuracy measured on the held-out recent window at the last retrain (1 - Brier score).
    public var accuracy: Double { model.accuracy }

    /// Why the last retrain measured no held-out accuracy; nil when it did (see
    /// ``TrainingReport/accuracyNote``).
    public var accuracyNote: String? { model.holdoutNote }

    /// Approximate bytes of online state per (agent, task type) pair (statistics and sketches).
    public static var bytesPerPair: Int {
        MemoryLayout<PairState>.stride + 3 * (LogSketch.byteSize + 32)
    }
}
