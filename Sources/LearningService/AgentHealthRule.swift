public import Foundation
public import LearningAPI

/// How an agent's status follows from when it was last seen and its recent success rate.
///
/// With `I` = `agents.health_check_interval` seconds, `age` = seconds since the agent was last
/// seen (an execution or a heartbeat), and `rate` = success rate of its last
/// `AgentHealthRule.recentExecutions` executions (counted once there are at least
/// `minimumSample` of them):
/// - `unknown`: never seen.
/// - `unhealthy`: `age > 10 I`, or `rate < 0.5`.
/// - `degraded`: `age > 2 I`, or `rate < 0.8`.
/// - `healthy`: otherwise (seen within `2 I`, and succeeding at least 80% of the time or too few
///   recent executions to say).
///
/// An agent may also report its own status in a heartbeat (`healthy`, `degraded`, `unhealthy`).
/// While that heartbeat is fresh (at most `2 I` old) the worse of the reported status and the
/// rule's counts: an agent that says it is unhealthy is, and one that says it is healthy is still
/// degraded by its failures.
public enum AgentHealthRule {
    /// The statuses an agent may report in a heartbeat, best first.
    public static let reportableStatuses = ["healthy", "degraded", "unhealthy"]

    /// A heartbeat's status: nil for none (empty), else one of `reportableStatuses`;
    /// `invalidArgument` for anything else.
    public static func reportedStatus(_ status: String) throws(ServiceError) -> String? {
        guard !status.isEmpty else { return nil }
        guard reportableStatuses.contains(status) else {
            throw .invalidArgument("status must be healthy, degraded or unhealthy (or empty), got \(Validation.quoted(status))")
        }
        return status
    }

    /// The rule's status combined with one the agent reported at `reportedAt`.
    public static func evaluate(lastSeen: Date?, now: Date, healthCheckInterval: Int,
                                recentSuccesses: Int, recentTotal: Int,
                                reported: String?, reportedAt: Date?) -> (status: String, reason: String) {
        let rule = evaluate(lastSeen: lastSeen, now: now, healthCheckInterval: healthCheckInterval,
                            recentSuccesses: recentSuccesses, recentTotal: recentTotal)
        guard let reported, let reportedAt, let severity = reportableStatuses.firstIndex(of: reported),
              now.timeIntervalSince(reportedAt) <= 2 * Double(max(1, healthCheckInterval)) else { return rule }
        let ruleSeverity = reportableStatuses.firstIndex(of: rule.status) ?? -1
        guard severity > ruleSeverity else { return rule }
        let age = Int(max(0, now.timeIntervalSince(reportedAt)).rounded())
        return (reported, "the agent reported itself \(reported) in its heartbeat \(age) s ago; \(rule.reason)")
    }

    /// How many of an agent's latest executions make its recent success rate.
    public static let recentExecutions = 50
    /// The fewest recent executions for the success rate to count.
    public static let minimumSample = 3

    /// The status and a sentence explaining it.
    public static func evaluate(lastSeen: Date?, now: Date, healthCheckInterval: Int,
                                recentSuccesses: Int, recentTotal: Int) -> (status: String, reason: String) {
        guard let lastSeen else { return ("unknown", "never seen: no execution or heartbeat recorded") }
        let interval = Double(max(1, healthCheckInterval))
        let age = max(0, now.timeIntervalSince(lastSeen))
        let rate: Double? = recentTotal >= minimumSample ? Double(recentSuccesses) / Double(recentTotal) : nil
        let ageText = "last seen \(Int(age.rounded())) s ago (health check interval \(Int(interval)) s)"
        let rateText = rate.map { "\(Int(($0 * 100).rounded()))% of its last \(recentTotal) executions succeeded" }
            ?? "too few recent executions to judge success (\(recentTotal))"
        if age > 10 * interval { return ("unhealthy", "\(ageText): more than 10 intervals; \(rateText)") }
        if let rate, rate < 0.5 { return ("unhealthy", "\(rateText) (below 50%); \(ageText)") }
        if age > 2 * interval { return ("degraded", "\(ageText): more than 2 intervals; \(rateText)") }
        if let rate, rate < 0.8 { return ("degraded", "\(rateText) (below 80%); \(ageText)") }
        return ("healthy", "\(ageText); \(rateText)")
    }
}
