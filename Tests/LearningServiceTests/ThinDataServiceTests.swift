import Foundation
import LearningCore
import LearningService
import LearningServiceScenarios
import LearningStore
import Testing

/// Every Double reachable from `value` (stored properties, optionals, collections) that is NaN or
/// infinite, by path.
func nonFiniteNumbers(_ value: Any, path: String = "") -> [String] {
    if let d = value as? Double { return d.isFinite ? [] : [path] }
    if let f = value as? Float { return f.isFinite ? [] : [path] }
    var out: [String] = []
    for (i, child) in Mirror(reflecting: value).children.enumerated() {
        out += nonFiniteNumbers(child.value, path: path + "." + (child.label ?? String(i)))
    }
    return out
}

/// What a new user meets first, through the service on PostgreSQL: one execution, one agent, an
/// old timestamp, task types never seen, only failures, identical times. No answer anywhere is
/// NaN or infinite, and none is the unfitted constant (median 1 s, success 0.731 = logistic(1)).
@Suite("Thin and degenerate data through the service", .serialized)
struct ThinDataServiceTests {
    func execution(_ agent: String, _ task: String, _ time: Double, _ success: Bool, at: Date) -> ExecutionInput {
        ExecutionInput(agentName: agent, taskID: UUID().uuidString, taskType: task, executionTime: time, success: success,
                       errorMessage: success ? nil : "connection refused", resourceUsage: ResourceUsage(cpu: 20, memoryMB: 300, tokens: 900),
                       timestamp: at, eventID: nil)
    }

    /// Every read the API offers, scanned for non-finite numbers.
    func expectEverythingFinite(_ service: LearningService, agent: String, taskType: String, _ what: String,
                                sourceLocation: SourceLocation = #_sourceLocation) async throws {
        var answers: [(String, Any)] = [("health", service.health()), ("status", service.status()), ("metrics", service.metrics())]
        answers.append(("analytics", try await service.performanceAnalytics(windowHours: 0)))
        answers.append(("agent", try await service.agentPerformance(name: agent)))
        answers.append(("predict", try await service.predict(PredictionRequest(agentName: agent, taskType: taskType))))
        answers.append(("predict unseen type", try await service.predict(PredictionRequest(agentName: agent, taskType: "never-seen"))))
        answers.append(("recommend", try await service.recommendations(RecommendationsRequest(taskType: taskType))))
        answers.append(("recommend unseen type", try await service.recommendations(RecommendationsRequest(taskType: "never-seen"))))
        answers.append(("patterns", try await service.patterns(kinds: [])))
        answers.append(("coordination", try await service.coordinationPatterns(limit: 0)))
        answers.append(("anomalies", try await service.anomalies(AnomaliesQuery(agentName: agent))))
        answers.append(("insights", try await service.insights(InsightsQuery(kind: ""))))
        for (name, answer) in answers {
            let bad = nonFiniteNumbers(answer)
            #expect(bad.isEmpty, "\(what): \(name) has non-finite \(bad)", sourceLocation: sourceLocation)
        }
    }

    @Test func oneExecutionOfOneAgentGivesHonestFiniteAnswers() async throws {
        let fixture = try await ServiceFixture.start()
        defer { Task { await fixture.stop() } }
        let service = fixture.service
        // The start-up training found nothing; then one execution arrives.
        try await eventually("the empty start-up training") {
            service.health().mlModels.first { $0.name == "performance_prediction" }?.state == .insufficientData
        }
        _ = try await service.logExecution(execution("solo", "build", 25, true, at: Date().addingTimeInterval(-60)))
        try await eventually("the execution held") { try await service.performanceAnalytics(windowHours: 0).totalExecutions == 1 }
        try await expectEverythingFinite(service, agent: "solo", taskType: "build", "one execution, before a retrain")
        for type in ["build", "never-seen"] {
            let p = try await service.predict(PredictionRequest(agentName: "solo", taskType: type))
            #expect(abs(p.medianExecutionTime - 25) < 1 && abs(p.successRate - 0.731) > 0.01 && p.lowConfidence,
                    "from the one execution, not the unfitted model: \(p)")
        }
        let listed = try await service.recommendations(RecommendationsRequest(taskType: "never-seen"))
        #expect(listed.recommendations.allSatisfy { !$0.reason.contains("over 0 runs") }, "\(listed)")
        _ = try await service.retrain()
        try await expectEverythingFinite(service, agent: "solo", taskType: "build", "one execution, retrained")
        let seen = try await service.predict(PredictionRequest(agentName: "solo", taskType: "build"))
        #expect(abs(seen.medianExecutionTime - 25) < 1 && seen.lowConfidence, "\(seen)")
        let unseen = try await service.predict(PredictionRequest(agentName: "solo", taskType: "never-seen"))
        #expect(unseen.basis == "agent" && abs(unseen.medianExecutionTime - 25) < 1 && unseen.lowConfidence, "\(unseen)")
        #expect(abs(unseen.successRate - 0.731) > 0.01, "not logistic(1): \(unseen)")
        let model = service.health().mlModels.first { $0.name == "performance_prediction" }
        #expect(model?.accuracy == nil, "one execution has no held-out window: \(String(describing: model))")
    }

    /// The session: executions within the last hours plus one a year old, an agent at
    /// 25 s and 93 %, a task type never seen, an agent that only fails with identical times.
    @Test func oldTimestampsUnseenTypesAndAllFailuresStayFiniteAndComeFromTheData() async throws {
        let fixture = try await ServiceFixture.start()
        defer { Task { await fixture.stop() } }
        let service = fixture.service
        let now = Date()
        var inputs: [ExecutionInput] = []
        for i in 0..<200 {
            let at = now.addingTimeInterval(-3 * 3_600 + Double(i) * 50)
            inputs.append(execution("steady", i % 2 == 0 ? "review" : "deploy", 25 * exp(0.2 * sin(Double(i))), i % 14 != 0, at: at))
            inputs.append(execution("broken", "review", 4, false, at: at.addingTimeInterval(5)))
        }
        inputs.append(execution("steady", "review", 25, true, at: now.addingTimeInterval(-365 * 86_400)))
        _ = try await service.logExecutions(inputs)
        try await eventually("the executions held") { try await service.performanceAnalytics(windowHours: 0).totalExecutions >= 400 }
        // Model states follow the data before any retrain (the online refresh).
        try await eventually("the prediction model active without a retrain") {
            service.health().mlModels.first { $0.name == "performance_prediction" }?.state == .active
        }
        try await expectEverythingFinite(service, agent: "steady", taskType: "review", "before a retrain")
        let result = try await service.retrain()
        #expect(nonFiniteNumbers(result).isEmpty, "\(result)")
        try await expectEverythingFinite(service, agent: "steady", taskType: "review", "old timestamp, retrained")
        try await expectEverythingFinite(service, agent: "broken", taskType: "review", "all failures, identical times")
        #expect(service.metrics().predictionAccuracy.isFinite)
        let stored = try await service.store.latestModel(named: "learning_engine")
        #expect(stored?.accuracy.map(\.isFinite) ?? true, "agents.ml_models.accuracy: \(String(describing: stored?.accuracy))")

        let unseen = try await service.predict(PredictionRequest(agentName: "steady", taskType: "migration"))
        #expect(unseen.basis == "agent", "\(unseen)")
        #expect(unseen.medianExecutionTime > 20 && unseen.medianExecutionTime < 31, "\(unseen)")
        #expect(unseen.successRate > 0.85 && unseen.lowConfidence, "\(unseen)")
        let broken = try await service.predict(PredictionRequest(agentName: "broken", taskType: "review"))
        #expect(broken.successRate < 0.1 && abs(broken.medianExecutionTime - 4) < 0.1, "\(broken)")
        let ranked = try await service.recommendations(RecommendationsRequest(taskType: "migration"))
        #expect(ranked.recommendations.map(\.agentName) == ["steady", "broken"], "\(ranked)")
        #expect(ranked.recommendations.allSatisfy { $0.reason.contains("other task types") && !$0.reason.contains("over 0 runs") },
                "\(ranked.recommendations.map(\.reason))")
    }

    @Test func withNothingLearnedAPredictionSaysThereIsNoBasis() async throws {
        let log = LogCapture()
        let fixture = try await ServiceFixture.start(log: log)
        defer { Task { await fixture.stop() } }
        _ = try await fixture.service.registerAgent(RegisterAgentRequest(name: "a"))
        // While the (empty) start-up training runs, the answer is `unavailable` (training).
        try await ServiceScenarios.waitForTheStartUpTraining(log)
        await expectServiceError("failed_precondition") {
            try await fixture.service.predict(PredictionRequest(agentName: "a", taskType: "t"))
        }
        await expectServiceError("failed_precondition") {
            try await fixture.service.recommendations(RecommendationsRequest(taskType: "t"))
        }
    }
}
