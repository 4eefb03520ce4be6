public import Foundation
public import LearningCore

/// Hyperparameters of the learning engine. Defaults suit executions arriving every few minutes
/// per agent over weeks; all times are in days unless the name says otherwise.
public struct EngineParameters: Sendable, Codable, Equatable {
    /// `ml.vector_size`: dimensions of agent embeddings.
    public var vectorSize = 256
    /// `ml.similarity_threshold`: cosine similarity above which two agents count as similar.
    public var similarityThreshold = 0.85
    /// Weight of how an agent performs (its success and time on each task type beyond the
    /// additive model, its overall effects, its resource use) against what it works on (its
    /// share of each task type) in its embedding; see docs/ML.md "Similar agents". Nil means
    /// ``LearningEngine/defaultEmbeddingPerformanceWeight``.
    public var embeddingPerformanceWeight: Double? = nil
    /// `performance.anomaly_detection_threshold`: see ``AnomalyDetector`` for its meaning.
    public var anomalyThreshold = 2.0
    /// `performance.prediction_confidence_threshold`: predictions below it are flagged low-confidence.
    public var confidenceThreshold = 0.8
    /// Half-life (days) of the recency-weighted statistics and of the drift trend fits.
    public var recencyHalfLife = 5.0
    /// Length (days) of the most recent window held out to measure a model's accuracy at retrain.
    public var holdoutDays = 2.0
    /// Standard deviations of log time (against the pace of the execution's outcome) per unit of
    /// anomaly threshold for latency spikes of runs judged without tokens: chosen on workload
    /// family members 1-8 as the largest meeting latency-spike recall ≥ 0.60 with anomaly F1 ≥
    /// 0.75 on each (docs/ML.md). Judged for the tokens used, latency has the standard
    /// `AnomalyScale.zPerUnit`.
    public var latencyZPerUnit = 1.55
    /// Judge latency against the time a pair's runs take for the tokens they used (and their
    /// outcome) where that is a tighter baseline than the pair's pace (docs/ML.md, "Latency for
    /// the work done"). Nil means on (optional so models saved before it still load).
    public var latencyGivenTokens: Bool? = nil
    /// Calibrate the 80 % interval's ends on the held-out window at retrain (``Model/intervalLowZ``).
    /// Nil means on (optional so models saved before it still load).
    public var calibratedIntervals: Bool? = nil
    /// Nearest agents (by embedding) whose results on a task type inform a pair's prior; 0 = off.
    public var similarNeighbours = 5
    /// Longest window (minutes) scanned for a burst of one agent's failures.
    public var burstWindowMinutes = 120.0
    /// Evidence (chi-square units) a change point must add before an agent counts as drifting.
    public var driftPenalty = 16.0
    /// How far a pair's success forecast follows its recency-weighted rate when that departs
    /// from the all-time rate: the weight is `k·z²/(z² + c)` where z is the departure's
    /// significance, `c = recentMixC` and `k = recentMix` (k > 1 extrapolates the change). 2 and
    /// 2 were chosen on family members 1-16 (docs/ML.md): a departure of one standard error moves
    /// the forecast two thirds of the way, a clear one follows the trend beyond the recent rate.
    public var recentMix = 2.0
    /// See `recentMix`.
    public var recentMixC = 2.0
    /// Remove significant collaborators' lift from pair estimates at retrain (solo forecasts).
    public var soloAdjustment = true
    /// Fit a drift shared by all agents (system-wide change) before the agents' own drifts. Off
    /// by default: on the evaluation workload it latched onto a weekly load pattern rather than
    /// a lasting change.
    public var globalDrift = false
    /// Weight of the agent's recency-weighted residual (across all its task types) in forecasts.
    public var agentRecentMix = 0.0
    /// `recentMix` used when ranking agents for a recommendation. Ranking is decided among the
    /// few strongest agents of a task type, where a recent decline matters most, so it follows
    /// recent form more than the pair forecasts do (which minimise error over all pairs).
    public var recommendRecentMix = 1.3
    /// Multiplier of the pairs' prior strength when ranking agents (more pooling towards the
    /// agent + task type model: rankings are decided by small gaps that pair noise swamps).
    public var recommendPriorScale = 1.0
    /// Pair success rates are posterior means under the nonparametric empirical-Bayes prior of
    /// pair offsets from the additive model (fitted at retrain, see docs/ML.md) instead of the
    /// beta-binomial prior. Nil means on (optional so models saved before it still load).
    public var pooledSuccessPrior: Bool? = nil
    /// `recentMixC` used when ranking agents for a recommendation: a pair's recent departure
    /// from its all-time rate moves its rank with weight `z²/(z² + 16)`, so only a departure of
    /// about 4 standard errors (16 χ² units, the evidence `driftPenalty` asks of a change point)
    /// counts fully; below that, rankings follow the pooled all-time estimate, whose noise is far
    /// smaller than that of a recency-weighted rate extrapolated forwards.
    public var recommendRecentMixC = 16.0
    /// `agentRecentMix` used when ranking agents for a recommendation: an agent whose recent runs
    /// of all its task types fall short of its forecasts drops in every ranking. Nil means the
    /// default, ``LearningEngine/defaultRecommendAgentRecentMix`` (optional so models saved
    /// before it still load).
    public var recommendAgentRecentMix: Double? = nil
    /// The same for one (agent, task type) pair's own drift beyond its agent's; 1e6 or more
    /// turns pair-level change points off (the default: on the evaluation workloads they found
    /// more noise than drift, and the recency mix follows pair drift instead).
    public var pairDriftPenalty = 1e9
    /// Standard errors of its success forecast taken off an agent's score when ranking agents for
    /// a recommendation (a lower confidence bound: an agent known from 4 runs does not outrank
    /// one known from 200 on a point estimate alone). Nil means the default,
    /// ``LearningEngine/defaultRecommendUncertainty``.
    public var recommendUncertainty: Double? = nil
    /// Fraction of a detected drift trend extrapolated beyond the training time (0 = hold the
    /// current level, 1 = follow the fitted line, at most as far ahead as it was seen). 0 by
    /// default: on workload family members 1-8 following the line changed no score, and a line
    /// fitted on a few bad days can only run away.
    public var driftExtrapolation = 0.0

    /// Defaults (the guide's values).
    public init() {}

    /// The engine parameters named by the service configuration.
    public init(config: LearningConfig) {
        vectorSize = config.ml.vectorSize
        similarityThreshold = config.ml.similarityThreshold
        anomalyThreshold = config.performance.anomalyDetectionThreshold
        confidenceThreshold = config.performance.predictionConfidenceThreshold
    }
}

/// Where a prediction's evidence came from, most specific first.
public enum PredictionBasis: String, Sendable, Codable, Equatable {
    /// The (agent, task type) pair's own history, shrunk towards its prior.
    case pair
    /// Little or no pair history: the prior built from similar agents on this task type.
    case similarAgents = "similar_agents"
    /// No pair history: what the agent did on its other task types (with the task type's effect
    /// when the model has fitted one).
    case agent
    /// No history of this agent usable here: what the task type's other agents did.
    case taskType = "task_type"
    /// Neither the agent nor the task type known: the whole fleet's executions.
    case global
    /// Nothing observed at all: the numbers carry no information (success 0.5, times 0,
    /// confidence 0). The service answers "no basis" instead of them.
    case none
}

/// A forecast for one (agent, task type) at a time.
public struct Prediction: Sendable, Equatable {
    public var agentName: String
    public var taskType: String
    /// Expected (mean) execution time in seconds.
    public var expectedExecutionTime: Double
    /// Median execution time in seconds.
    public var medianExecutionTime: Double
    /// Probability of success, 0...1.
    public var successProbability: Double
    /// 0...1; grows with the evidence and shrinks with extrapolation and drift.
    public var confidence: Double
    /// True when `confidence` is below `performance.prediction_confidence_threshold`.
    public var lowConfidence: Bool
    /// Central 80% interval of one execution's time, seconds.
    public var intervalLow: Double
    /// See `intervalLow`.
    public var intervalHigh: Double
    /// Recommended resources (median memory and tokens, mean cpu) for this pair.
    public var recommendedResources: ResourceUsage
    /// Executions of this pair seen.
    public var sampleSize: Int
    /// What the estimate rests on.
    public var basis: PredictionBasis
    /// Executions behind `basis`: the pair's for `pair` and `similar_agents`, the agent's on its
    /// other task types for `agent`, the task type's for `task_type`, every one for `global`.
    public var basisExecutions: Int = 0
    /// True when this agent's recent performance departs significantly from its history.
    public var driftDetected: Bool
}

/// One ranked agent for a task type.
public struct RankedAgent: Sendable, Equatable {
    public var agentName: String
    /// The ranking score: success probability, traded against speed by `speedWeight`.
    public var score: Double
    public var prediction: Prediction
    /// Why this agent ranks here, in words.
    public var reason: String
}

/// Kinds of anomaly the detector reports.
public enum AnomalyKind: String, Sendable, Codable, Equatable {
    case latencySpike = "latency_spike"
    case resourceBlowup = "resource_blowup"
    case failureBurst = "failure_burst"
}

/// An execution (or a set of them, for bursts) that departs from its adaptive baseline.
public struct DetectedAnomaly: Sendable, Equatable {
    public var kind: AnomalyKind
    public var agentName: String
    public var taskType: String?
    /// Ids of the executions involved (`ExecutionRecord.id`); a burst lists every failure in it.
    public var recordIDs: [Int64]
    public var timestamp: Date
    /// Severity in threshold units: flagged when `score >= performance.anomaly_detection_threshold`.
    public var score: Double
    /// The observed value (seconds, MiB, tokens, cpu or failure count).
    public var observed: Double
    /// The baseline it was compared with.
    public var expected: Double
    /// A sentence for the insight.
    public var description: String
    /// How much it matters, by impact (see ``AnomalySeverity``).
    public var severity: AnomalySeverity = .warning
    /// When the episode began (a burst's or streak's first failure; the execution itself for
    /// latency and resource anomalies): anomalies of one agent and kind whose episode began
    /// before the previous one's last execution continue that episode (a growing burst).
    public var startedAt: Date? = nil
}

/// Severity of an anomaly by its impact: how many executions it spoiled, then how far it departs.
/// A failure burst or streak of at least ``criticalFailures`` failures is `critical`, a shorter one
/// `warning`; one execution's latency or resource spike is `warning` when its score reaches twice
/// the threshold and `info` below that (one slow or hungry run spoils no work).
public enum AnomalySeverity: String, Sendable, Codable, Equatable, Comparable {
    case info, warning, critical

    /// Failures in a burst or streak that make it critical.
    public static let criticalFailures = 10

    public static func < (l: Self, r: Self) -> Bool {
        let order: [Self] = [.info, .warning, .critical]
        return order.firstIndex(of: l)! < order.firstIndex(of: r)!
    }
}

/// Agents that do better or worse together than their own rates predict.
public struct CollaborationEffect: Sendable, Equatable {
    public var agents: (String, String)
    /// Shared tasks observed.
    public var sharedTasks: Int
    /// Observed minus expected success rate on shared tasks.
    public var successLift: Double
    /// Mean log-time residual on shared tasks (negative = faster together).
    public var logTimeLift: Double
    /// Significance: positive = better together, negative = worse; |z| > 2 is notable.
    public var zScore: Double

    public static func == (l: Self, r: Self) -> Bool {
        l.agents == r.agents && l.sharedTasks == r.sharedTasks && l.successLift == r.successLift
            && l.logTimeLift == r.logTimeLift && l.zScore == r.zScore
    }
}

/// Work passed from one agent to the next on the same task (same task id, by time).
public struct HandoffStatistics: Sendable, Equatable {
    public var from: String
    public var to: String
    public var count: Int
    /// Success rate of the receiving agent's executions after this hand-off.
    public var successRate: Double
    /// Median gap between the two executions, seconds.
    public var medianGapSeconds: Double
}

/// When a task type runs fastest and fails most.
public struct ScheduleEffect: Sendable, Equatable {
    public var taskType: String
    /// UTC hour with the lowest expected execution time.
    public var bestHour: Int
    /// UTC hour with the highest failure rate.
    public var worstFailureHour: Int
    /// Multiplicative time effect of each hour (24 values, 1 = average).
    public var hourTimeFactor: [Double]
    /// Failure rate lift of each hour vs the task type's average (24 values).
    public var hourFailureLift: [Double]
}

/// A cluster of agents with similar resource use.
public struct AgentResourceProfile: Sendable, Equatable {
    public var cluster: Int
    public var agents: [String]
    /// Cluster centre: mean cpu, median memory MiB, median tokens.
    public var cpu: Double
    public var memoryMB: Double
    public var tokens: Double
}

/// Failures grouped by a normalised error signature.
public struct FailureCluster: Sendable, Equatable {
    public var signature: String
    public var count: Int
    public var agents: [String]
    public var taskTypes: [String]
    /// One original message, for people.
    public var example: String
}

/// What a retrain did.
public struct TrainingReport: Sendable, Equatable {
    public var records: Int
    public var agents: Int
    public var taskTypes: Int
    public var pairs: Int
    /// Accuracy on the held-out recent window: 1 - Brier score of success predictions.
    public var accuracy: Double
    /// Held-out mean absolute error of log execution time.
    public var holdoutLogTimeMAE: Double
    /// Held-out rows scored.
    public var holdoutRecords: Int
    /// Why there is no held-out accuracy (`holdoutRecords == 0`, `accuracy` then 0), in words;
    /// nil when there is one.
    public var accuracyNote: String? = nil
    public var durationSeconds: Double
    /// Anomalies found re-scanning the history with the trained baselines.
    public var anomalies: [DetectedAnomaly]
}

/// The executions of one agent and task type in the retention window that the training rows do
/// not include (older than the recent sample the service holds), summed: what
/// ``LearningEngine/retrain(on:history:now:)`` adds to the counting statistics.
public struct PairHistory: Sendable {
    public var agent: String
    /// nil: executions without a task type.
    public var taskType: String?
    public var executions: Int
    public var successes: Int
    /// Execution times (> 0) with how many executions took about that long (a histogram's
    /// buckets, each at its middle).
    public var times: [(time: Double, count: Int)]

    public init(agent: String, taskType: String?, executions: Int, successes: Int, times: [(time: Double, count: Int)]) {
        self.agent = agent
        self.taskType = taskType
        self.executions = executions
        self.successes = successes
        self.times = times
    }
}
