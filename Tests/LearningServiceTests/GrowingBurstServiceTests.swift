import Foundation
import LearningCore
import LearningService
import LearningServiceScenarios
import Testing

/// A failure streak through the service: flagged while it happens, stored as one insight whose
/// totals (count, span, ids, severity) follow it as it grows.
@Suite("A growing failure streak through the service", .serialized)
struct GrowingBurstServiceTests {
    @Test func oneInsightFollowsTheStreakAsItGrows() async throws {
        let fixture = try await ServiceFixture.start()
        defer { Task { await fixture.stop() } }
        let service = fixture.service
        let start = Date().addingTimeInterval(-4 * 86_400)
        var baseline: [ExecutionInput] = []
        for i in 0..<300 {
            let ok = i % 14 != 0
            baseline.append(ExecutionInput(agentName: "flaky", taskID: UUID().uuidString, taskType: "deploy", executionTime: 2,
                                           success: ok, errorMessage: ok ? nil : "timeout",
                                           resourceUsage: ResourceUsage(cpu: 20, memoryMB: 100, tokens: 1000),
                                           timestamp: start.addingTimeInterval(Double(i) * 900), eventID: nil))
        }
        _ = try await service.logExecutions(baseline)
        try await eventually("the baseline held") { try await service.performanceAnalytics(windowHours: 0).totalExecutions == 300 }
        _ = try await service.retrain()
        // 15 failures an hour apart (beyond the 2-hour burst window), one at a time.
        let first = Date().addingTimeInterval(-16 * 3_600)
        var failed: [Int64] = []
        for i in 0..<15 {
            failed.append(try await service.logExecution(ExecutionInput(
                agentName: "flaky", taskID: UUID().uuidString, taskType: i % 3 == 0 ? "build" : "deploy", executionTime: 2,
                success: false, errorMessage: "connection refused", resourceUsage: ResourceUsage(cpu: 20, memoryMB: 100, tokens: 1000),
                timestamp: first.addingTimeInterval(Double(i) * 3_600), eventID: nil)).id)
            try await Task.sleep(for: .milliseconds(20))
        }
        var bursts: [Anomaly] = []
        try await eventually("the streak's insight has its 15 failures") {
            bursts = try await service.anomalies(AnomaliesQuery(agentName: "flaky")).filter { $0.kind == "failure_burst" }
            return bursts.count == 1 && bursts[0].detail.contains("failed 15 times in a row")
        }
        let burst = bursts[0]
        #expect(burst.observed == 15 && burst.detail.contains("14.0 hours"), "\(burst)")
        #expect(Set(burst.executionIDs) == Set(failed), "every failure of the streak: \(burst.executionIDs) vs \(failed)")
        let insight = try await service.insights(InsightsQuery(kind: "anomaly")).first { $0.id == burst.id }
        #expect(insight?.severity == "critical", "15 failures in a row: \(String(describing: insight))")
    }
}
