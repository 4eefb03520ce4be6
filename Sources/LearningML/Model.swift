import Foundation

/// What a retrain derives from the online statistics: priors for shrinkage, hour effects, agent
/// drifts, similar-agent offsets and embeddings. Online updates between retrains keep using it.
struct Model: Sendable, Codable, Equatable {
    var trained = false
    var trainedAt = 0.0
    var globalLogit = 1.0
    var globalLogTime = 0.0
    var globalLogSigma = 0.6
    var agentLogit: [Double] = []
    var agentLogTime: [Double] = []
    var agentRate: [Double] = []
    var taskLogit: [Double] = []
    var taskLogTime: [Double] = []
    var taskLogSigma: [Double] = []
    /// Per agent: pooled within-pair sd of its pace (``PairState/paceLogTime``), the prior spread
    /// of a pair's pace for latency anomalies (agents differ in steadiness far more than task
    /// types do). Nil in models saved before it was kept.
    var agentPaceSigma: [Double]? = nil
    /// Beta prior strength (pseudo-executions) of a pair's success rate around its prior.
    var successStrength = 20.0
    /// Nonparametric empirical-Bayes prior of the pairs' success offsets (logit) from the additive
    /// prior: weights over ``LearningEngine/deviationGrid`` fitted by maximum marginal likelihood
    /// on every pair with >= 3 runs. Nil before the first retrain (or in models saved before it).
    var deviationPrior: [Double]? = nil
    /// Between-pair variance of mean log time around the additive prior.
    var timeTau2 = 0.05
    /// Per task type and hour: log-time effect and success logit effect.
    var hourTime: [[Double]] = []
    var hourLogit: [[Double]] = []
    /// Per task type: the median of its hour logit effects (a typical hour).
    var typicalHourLogit: [Double] = []
    /// Drift shared by all agents (probability and log-time residual units).
    var globalSuccessDrift = Drift()
    var globalTimeDrift = Drift()
    var successDrift: [Drift] = []
    var timeDrift: [Drift] = []
    /// Per pair (same index as `pairs`): drift of the pair beyond its agent's drift.
    var pairSuccessDrift: [Drift] = []
    var pairTimeDrift: [Drift] = []
    /// Per pair (same index as `pairs`): similar agents' mean interaction on this task type
    /// (logit, log time) and the weight of that evidence.
    var similarLogit: [Double] = []
    var similarLogTime: [Double] = []
    var similarWeight: [Double] = []
    /// Per agent: unit embedding of `vectorSize` floats.
    var embeddings: [[Float]] = []
    /// Held-out accuracy of the last retrain.
    var accuracy = 0.0
    var holdoutLogTimeMAE = 0.0
    var holdoutRecords = 0
    /// The 80 % interval's ends in predictive sd units around a forecast's mean log time: the
    /// quantiles (10 % and 90 %) of the held-out executions' log times in units of their
    /// forecasts' predictive sd, shrunk towards the normal ±1.2816 by ``LearningEngine/intervalPriorRuns``
    /// pseudo-runs: the 80 % interval's ends (split-conformal calibration at retrain). Nil before
    /// a retrain with a held-out window (and in models saved before it).
    var intervalLowZ: Double? = nil
    var intervalHighZ: Double? = nil
    /// Why there is no held-out accuracy (see ``TrainingReport/accuracyNote``).
    var holdoutNote: String? = nil
    /// Executions the priors were last fitted on, at a retrain or an online refresh (nil in
    /// models saved before online refreshes).
    var fittedRecords: Int? = nil

    func agentLogitEffect(_ a: Int32) -> Double { Int(a) < agentLogit.count ? agentLogit[Int(a)] : 0 }
    func agentLogTimeEffect(_ a: Int32) -> Double { Int(a) < agentLogTime.count ? agentLogTime[Int(a)] : 0 }
    func taskLogitEffect(_ t: Int32) -> Double { Int(t) < taskLogit.count ? taskLogit[Int(t)] : 0 }
    func taskLogTimeEffect(_ t: Int32) -> Double { Int(t) < taskLogTime.count ? taskLogTime[Int(t)] : 0 }
    func taskSigma(_ t: Int32) -> Double { Int(t) < taskLogSigma.count ? taskLogSigma[Int(t)] : globalLogSigma }
    /// The prior spread of agent `a`'s pace (nil before a fit has seen the agent: the task type's
    /// spread stands in).
    func paceSigma(_ a: Int32) -> Double? {
        if let s = agentPaceSigma, Int(a) < s.count { return s[Int(a)] }
        return nil
    }
    func hourTimeEffect(_ t: Int32, _ h: Int) -> Double { Int(t) < hourTime.count ? hourTime[Int(t)][h] : 0 }
    func hourLogitEffect(_ t: Int32, _ h: Int) -> Double { Int(t) < hourLogit.count ? hourLogit[Int(t)][h] : 0 }
    func successDriftValue(_ a: Int32, at t: Double) -> Double {
        Int(a) < successDrift.count ? successDrift[Int(a)].value(at: t) : 0
    }
    func timeDriftValue(_ a: Int32, at t: Double) -> Double {
        Int(a) < timeDrift.count ? timeDrift[Int(a)].value(at: t) : 0
    }
}
