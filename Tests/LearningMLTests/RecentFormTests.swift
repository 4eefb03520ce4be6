import Foundation
import LearningCore
@testable import LearningML
import Testing

// How forecasts and rankings follow an agent's recent form (`recentMix`, `recentMixC`,
// `recommendAgentRecentMix`; the values were chosen on workload family members 1-16, docs/ML.md).
// Each test compares the defaults with the values before them (recentMix 0.7 without a
// significance gate, no agent trend in rankings), so it fails if the defaults go back.

/// The parameters before session 12's choice.
private var previousParameters: EngineParameters {
    var p = EngineParameters()
    p.recentMix = 0.7
    p.recentMixC = 0
    p.recommendAgentRecentMix = 0
    return p
}

private func trained(_ w: WorkloadBuilder, _ parameters: EngineParameters = EngineParameters(), now: Date) -> LearningEngine {
    var e = LearningEngine(parameters: parameters)
    _ = e.retrain(on: w.sorted, now: now)
    return e
}

/// A fleet on task type "t" and five others, 20 days, so that priors and agent effects exist.
private func fleet(_ w: inout WorkloadBuilder) {
    for k in 0..<5 {
        for f in 0..<4 {
            w.series(agent: "filler-\(f)", task: "other-\(k)", count: 100, days: 20) { _ in 0.8 }
        }
    }
    for f in 0..<4 { w.series(agent: "filler-\(f)", task: "t", count: 100, days: 20) { _ in 0.75 } }
}

@Suite struct RecentFormTests {
    @Test func aPairsClearDeclineIsFollowedFurtherThanBefore() {
        var w = WorkloadBuilder()
        fleet(&w)
        // 90 % for two weeks, then a ramp down to 40 % at day 20 (the forecast time).
        w.series(agent: "decliner", task: "t", count: 600, days: 20) { t in t < 14 ? 0.9 : 0.9 - 0.5 * (t - 14) / 6 }
        for k in 0..<5 { w.series(agent: "decliner", task: "other-\(k)", count: 100, days: 20) { _ in 0.85 } }
        let now = day0.addingTimeInterval(20 * 86_400)
        let current = trained(w, now: now).predict(agent: "decliner", taskType: "t", at: now).successProbability
        let before = trained(w, previousParameters, now: now).predict(agent: "decliner", taskType: "t", at: now).successProbability
        #expect(abs(current - 0.4) < abs(before - 0.4), "now \(current), before \(before), truth 0.4")
        #expect(current < 0.65, "\(current)")
    }

    @Test func anAgentFallingShortOnItsOtherTaskTypesLosesRankingScore() {
        var w = WorkloadBuilder()
        fleet(&w)
        // Both run "t" well; "slipping" has not run it for its last two days, in which it failed
        // far more than usual on everything else: too short and too small a change for a change
        // point (no drift is fitted), but its recent runs fall short of its forecasts.
        w.series(agent: "slipping", task: "t", count: 180, days: 18) { _ in 0.9 }
        w.series(agent: "steady", task: "t", count: 200, days: 20) { _ in 0.86 }
        for k in 0..<5 {
            w.series(agent: "slipping", task: "other-\(k)", count: 120, days: 20) { t in t < 18.5 ? 0.85 : 0.6 }
            w.series(agent: "steady", task: "other-\(k)", count: 120, days: 20) { _ in 0.85 }
        }
        let now = day0.addingTimeInterval(20 * 86_400)
        let current = trained(w, now: now), before = trained(w, previousParameters, now: now)
        #expect(current.driftSummary(agent: "slipping") == "success: none; log time: none")
        func score(_ e: LearningEngine, _ name: String) -> Double {
            e.recommend(taskType: "t", at: now, limit: 10).first { $0.agentName == name }?.score ?? .nan
        }
        let slipped = score(before, "slipping") - score(current, "slipping")
        let moved = abs(score(before, "steady") - score(current, "steady"))
        #expect(slipped > 0.015 && moved < 0.005, "slipping lost \(slipped), steady moved \(moved)")
    }
}
