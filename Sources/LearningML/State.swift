import Foundation

/// Online statistics of one (agent, task type) pair.
struct PairState: Sendable, Codable, Equatable {
    var agent: Int32
    var task: Int32
    var n = 0
    var successes = 0
    /// Log execution time, winsorised at ±4 sd.
    var logTime = Moments()
    /// Recency-weighted success and log time (exponential decay, `recencyHalfLife`).
    var recentWeight = 0.0
    var recentSuccess = 0.0
    var recentLogTime = 0.0
    var lastSeen = -Double.infinity
    var logMemory = Moments()
    var logTokens = Moments()
    var cpu = Moments()
    var timeSketch = LogSketch()
    var memorySketch = LogSketch()
    var tokenSketch = LogSketch()
    /// Removes the lift of significant collaborators from this pair's successes and summed log
    /// time, so the pair's estimates describe the agent working alone (set at retrain).
    var successAdjust = 0.0
    var logTimeAdjust = 0.0
    /// Log execution time with each failure's usual offset for its kind taken out
    /// (``ErrorSignatures/timeOffset(cluster:)``), winsorised: the agent's pace whatever the
    /// outcome, the baseline of latency anomalies (a timeout is not judged against the pace of
    /// successful runs, nor a run refused at once). Nil in models saved before it was kept.
    var paceLogTime: Moments? = nil
    /// Log execution time on log tokens and the outcome's offset (``TimeOnTokens``), runs with
    /// token counts only, winsorised: the baseline of latency anomalies where the work done
    /// explains time better than the pace alone. Nil before a run with tokens (and in older models).
    var timeOnTokens: TimeOnTokens? = nil
    /// The pair's failures per error-signature cluster, and how many had a message (nil before
    /// the first, and in older models).
    var failureKinds: [Int32: Int]? = nil
    var labelledFailures: Int? = nil

    init(agent: Int32, task: Int32) {
        self.agent = agent
        self.task = task
    }
}

/// Online statistics of one agent.
struct AgentState: Sendable, Codable, Equatable {
    var n = 0
    var successes = 0
    var firstSeen = Double.infinity
    var lastSeen = -Double.infinity
    /// Recency-weighted residuals against the pair baselines: the online drift signal.
    var successTrend: DecayedTrend
    var timeTrend: DecayedTrend
    /// Recent executions (days, success, record id) for failure-burst detection; bounded.
    var recentTimes: [Double] = []
    var recentFailed: [Bool] = []
    var recentIDs: [Int64] = []
    var recentFlagged: [Bool] = []
    var recentPFail: [Double] = []
    /// The error-signature cluster of each recent execution (-1: a success, or no message), in
    /// step with `recentTimes`. Nil in models saved before it was kept (then read as -1).
    var recentKinds: [Int32]? = nil
    /// The (agent, task type) pair of each recent execution (-1 without a task type), in step
    /// with `recentTimes`; nil in older models (then read as -1).
    var recentPairs: [Int32]? = nil
    /// The agent's failures per error-signature cluster (nil before its first labelled failure,
    /// and in older models): the share of its failures each kind usually takes.
    var failureKinds: [Int32: Int]? = nil
    var labelledFailures: Int? = nil
    var logMemory = Moments()
    var logTokens = Moments()
    var cpu = Moments()
    /// The agent's current run of consecutive failures (nil after a success).
    var streak: FailureStreak? = nil

    init(halfLife: Double) {
        successTrend = DecayedTrend(halfLife: halfLife)
        timeTrend = DecayedTrend(halfLife: halfLife)
    }
}

/// Online statistics of one task type, with per-hour residual sums for schedule effects.
struct TaskState: Sendable, Codable, Equatable {
    var n = 0
    var successes = 0
    var logTime = Moments()
    /// Per UTC hour: count, sum of log-time residuals, sum of success residuals, sum of p(1-p).
    var hourN = [Double](repeating: 0, count: 24)
    var hourTimeRes = [Double](repeating: 0, count: 24)
    var hourSuccRes = [Double](repeating: 0, count: 24)
    var hourPQ = [Double](repeating: 0, count: 24)
}

/// A fitted piecewise-linear drift of an agent: `level + slope·max(0, t - start)`, or a step
/// (`level + jump·[t > start]`), in residual units (probability for success, log seconds for time).
struct Drift: Sendable, Codable, Equatable {
    var level = 0.0
    var start = 0.0
    var slope = 0.0
    var jump = 0.0
    /// Standard error of the drift's value now (grows with extrapolation).
    var se = 0.0
    var detected = false

    /// Value at `t`; beyond `horizon` (the training time) the slope is scaled by `extrapolation`
    /// and followed at most as far ahead as the ramp was seen before `horizon`: a ramp fitted on
    /// the last day and a half is not carried on for a week.
    func value(at t: Double, horizon: Double = .infinity, extrapolation: Double = 1) -> Double {
        var tt = t
        if t > horizon {
            let seen = max(0, horizon - start)
            tt = horizon + min(t - horizon, seen) * extrapolation
        }
        return level + slope * max(0, tt - start) + (t > start ? jump : 0)
    }
}

/// Pair-level accumulators of collaboration: residuals of both agents' executions on shared tasks.
struct SynergyStats: Sendable, Codable, Equatable {
    var tasks = 0
    var rows = 0.0
    var successRes = 0.0
    var pq = 0.0
    var timeRes = 0.0
    var timeVar = 0.0
}

/// One agent's residuals on one task type when working with one partner (retrain only).
struct PartnerStats: Sendable, Equatable {
    var n = 0.0
    var successRes = 0.0
    var timeRes = 0.0
}

/// Hand-off accumulators from one agent to the next on a task.
struct HandoffStats: Sendable, Codable, Equatable {
    var count = 0
    var successes = 0
    var gaps = LogSketch()
}

/// Members of a recent task (same task id), kept for a bounded time to pair collaborators.
struct TaskMember: Sendable, Codable, Equatable {
    var agent: Int32
    var task: Int32
    var time: Double
    var success: Bool
    var successRes: Double
    var pq: Double
    var timeRes: Double
    var timeVar: Double
}

/// An agent's consecutive failures, however far apart: their number, the log of their joint
/// probability under the model (Σ log expected failure probability), the expected failures among
/// them, when the first happened, and their ids (the first `maxIDs`).
struct FailureStreak: Sendable, Codable, Equatable {
    static let maxIDs = 1_000
    var count = 0
    var logP = 0.0
    var expected = 0.0
    var start = 0.0
    var ids: [Int64] = []
    /// Ids of this streak already reported in an anomaly (a prefix of `ids`).
    var reported = 0
}
