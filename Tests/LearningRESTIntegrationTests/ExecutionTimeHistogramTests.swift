import Foundation
import LearningAPI
import LearningTestDatabase
import Testing

extension IntegrationSuite {
/// Prometheus histograms of execution time per agent and per task type (#14): executions posted
/// over REST and rows a writer inserts straight into agents.execution_log both count, in the
/// documented buckets; executions without a task type count under `(none)`, which
/// `/agents/{name}/performance` reports too.
@Test(.timeLimit(.minutes(3)))
func executionTimeHistogramsCountEveryStoredExecution() async throws {
    try await ServerFixture.with(configure: { $0.agents.totalAgents = 5 }) { fixture in
        let base = fixture.base
        let posted = [
            #"{"agent_name": "hist-a", "task_type": "review", "execution_time": 0.05, "success": true}"#,
            #"{"agent_name": "hist-a", "task_type": "review", "execution_time": 0.7, "success": true}"#,
            #"{"agent_name": "hist-a", "task_type": "review", "execution_time": 45, "success": false}"#,
            #"{"agent_name": "hist-a", "execution_time": 2, "success": true}"#,
        ]
        let batch = try await curl("POST", "\(base)/executions/batch", body: #"{"executions": [\#(posted.joined(separator: ","))]}"#)
        #expect(batch.status == 200, "\(batch.body)")
        try TestDatabase.psql(fixture.databaseURL, """
            INSERT INTO agents.execution_log (agent_name, task_type, execution_time, success)
            SELECT 'hist-sql', 'review', 3.0, true FROM generate_series(1, 4)
            """)

        var lines: Set<String> = []
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let text = try await curl("GET", "\(base)/metrics?format=prometheus").body
            lines = Set(text.split(separator: "\n").map(String.init))
            // The feed's rows count in the histograms at once, in the registry count at the next
            // snapshot (every 500 ms).
            if lines.contains(#"learning_execution_time_seconds_count{agent="hist-sql"} 4"#)
                && lines.contains("learning_agents_registered 2.0") { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        let expected = [
            "# TYPE learning_execution_time_seconds histogram",
            "# TYPE learning_task_execution_time_seconds histogram",
            #"learning_execution_time_seconds_bucket{agent="hist-a",le="0.1"} 1"#,
            #"learning_execution_time_seconds_bucket{agent="hist-a",le="1"} 2"#,
            #"learning_execution_time_seconds_bucket{agent="hist-a",le="2.5"} 3"#,
            #"learning_execution_time_seconds_bucket{agent="hist-a",le="30"} 3"#,
            #"learning_execution_time_seconds_bucket{agent="hist-a",le="60"} 4"#,
            #"learning_execution_time_seconds_bucket{agent="hist-a",le="+Inf"} 4"#,
            #"learning_execution_time_seconds_count{agent="hist-a"} 4"#,
            #"learning_execution_time_seconds_sum{agent="hist-a"} 47.75"#,
            #"learning_execution_time_seconds_bucket{agent="hist-sql",le="2.5"} 0"#,
            #"learning_execution_time_seconds_bucket{agent="hist-sql",le="5"} 4"#,
            #"learning_execution_time_seconds_count{agent="hist-sql"} 4"#,
            #"learning_task_execution_time_seconds_count{task_type="review"} 7"#,
            #"learning_task_execution_time_seconds_count{task_type="(none)"} 1"#,
            #"learning_task_execution_time_seconds_bucket{task_type="(none)",le="1"} 0"#,
            #"learning_task_execution_time_seconds_bucket{task_type="(none)",le="2.5"} 1"#,
            // agents.total_agents beside the registry's count.
            "learning_agents_expected 5.0",
            "learning_agents_registered 2.0",
        ]
        for line in expected {
            #expect(lines.contains(line), "missing \(line) in \(lines.filter { $0.contains("execution_time_seconds") }.sorted())")
        }

        let performance = try #require(try await curl("GET", "\(base)/agents/hist-a/performance").json)
        guard case .array(let types)? = performance["task_types"] else { Issue.record("no task_types: \(performance)"); return }
        let names = types.compactMap { type -> String? in
            if case .string(let name)? = type["task_type"] { return name }
            return nil
        }
        #expect(Set(names) == ["review", TaskTypeName.unspecified], "\(names)")
    }
}
}
