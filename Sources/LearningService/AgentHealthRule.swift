public import Foundation

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
public enum AgentHealthRule {
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
