import Foundation
import LearningAPI
import LearningCore
import Testing

extension IntegrationSuite {
/// The guide's tracker sends its tasks' own ids (#14 point 6): a task id that is not a UUID is
/// stored in the UUID column as its name-based UUID, the id itself in `task_ref`, on every write
/// path (one execution, a small batch through INSERT, a large one through COPY); executions of
/// one task share the UUID, so collaboration is seen.
@Test(.timeLimit(.minutes(3)))
func taskIDsThatAreNotUUIDsAreStoredAsNameBasedUUIDsWithTheIDKept() async throws {
    try await ServerFixture.with { fixture in
        let base = fixture.base
        let one = try await curl("POST", "\(base)/executions",
                                 body: #"{"agent_name": "tracker", "task_id": "task-123", "task_type": "review", "execution_time": 2, "success": true}"#)
        #expect(one.status == 201, "\(one.body)")
        let pair = [#"{"agent_name": "planner", "task_id": "job-9", "success": true}"#,
                    #"{"agent_name": "coder", "task_id": "job-9", "success": true}"#]
        #expect(try await curl("POST", "\(base)/executions/batch", body: #"{"executions": [\#(pair.joined(separator: ","))]}"#).status == 200)
        let many = (0..<300).map { #"{"agent_name": "bulk", "task_id": "bulk-\#($0 % 3)", "success": true}"# }
        #expect(try await curl("POST", "\(base)/executions/batch", body: #"{"executions": [\#(many.joined(separator: ","))]}"#).status == 200)

        let query = """
            SELECT agent_name, task_id::text, task_ref, count(*) FROM agents.execution_log
            GROUP BY 1, 2, 3 ORDER BY 1, 3
            """
        let result = try await run("/usr/bin/env", ["psql", fixture.databaseURL, "-XAt", "-F", "|", "-c", query])
        let rows = Set(result.output.split(separator: "\n").map(String.init))
        let expected: Set<String> = [
            "tracker|\(TaskIdentifier.uuid(forName: "task-123"))|task-123|1",
            "planner|\(TaskIdentifier.uuid(forName: "job-9"))|job-9|1",
            "coder|\(TaskIdentifier.uuid(forName: "job-9"))|job-9|1",
            "bulk|\(TaskIdentifier.uuid(forName: "bulk-0"))|bulk-0|100",
            "bulk|\(TaskIdentifier.uuid(forName: "bulk-1"))|bulk-1|100",
            "bulk|\(TaskIdentifier.uuid(forName: "bulk-2"))|bulk-2|100",
        ]
        #expect(rows == expected, "\(result.output) \(result.error)")
        #expect(TaskIdentifier.uuid(forName: "task-123") == "572d24d9-08b4-520b-8746-783e5ce3865f")
    }
}
}
