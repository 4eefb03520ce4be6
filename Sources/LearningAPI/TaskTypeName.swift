/// How executions stored without a task type are named where figures are broken down by task
/// type (`/agents/{name}/performance`'s `task_types`, `/analytics/performance`'s `task_types`,
/// the Prometheus execution-time histograms).
public enum TaskTypeName {
    /// `(none)`. Parentheses are not allowed in a task type (`Validation.taskType`), so this never
    /// collides with a real one.
    public static let unspecified = "(none)"

    /// The name figures use for a stored task type: itself, or `unspecified` when there is none.
    public static func reported(_ taskType: String?) -> String {
        guard let taskType, !taskType.isEmpty else { return unspecified }
        return taskType
    }
}
