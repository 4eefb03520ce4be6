import Foundation
import LearningAPI
import LearningCore
import Testing

@Suite struct ValidationTests {
    @Test func taskIDAcceptsCanonicalUUIDsAndReturnsThemLowerCase() throws {
        #expect(try Validation.taskID("0152ed55-f844-473b-8237-3fadee3a98d0") == "0152ed55-f844-473b-8237-3fadee3a98d0")
        #expect(try Validation.taskID("0152ED55-F844-473B-8237-3FADEE3A98D0") == "0152ed55-f844-473b-8237-3fadee3a98d0")
    }

    /// Task ids that are not UUIDs (the guide's tracker sends its tasks' own ids) are stored as
    /// their name-based UUID, the same one Python's uuid.uuid5 gives in the documented namespace.
    @Test func taskIDsThatAreNotUUIDsMapToTheirNameBasedUUID() throws {
        let vectors = [
            ("task-123", "572d24d9-08b4-520b-8746-783e5ce3865f"),
            ("é", "ad762080-2b31-5c45-baf8-79dff3ce2968"),
            (String(repeating: "a", count: 128), "9867ea81-0a71-5cb5-a6d9-08e39e51f32a"),
        ]
        for (name, expected) in vectors {
            #expect(TaskIdentifier.uuid(forName: name) == expected)
            #expect(try Validation.taskID(name) == expected)
        }
        for nearMiss in ["0152ed55", "0152ed55-f844-473b-8237-3fadee3a98d", "{0152ed55-f844-473b-8237-3fadee3a98d0}",
                         " 0152ed55-f844-473b-8237-3fadee3a98d"] {
            let mapped = try Validation.taskID(nearMiss)
            #expect(isCanonicalUUID(mapped) && mapped == TaskIdentifier.uuid(forName: nearMiss), "\(nearMiss)")
        }
        // A UUID stays itself (lower-cased).
        #expect(try Validation.taskID("0152ED55-F844-473B-8237-3FADEE3A98D0") == "0152ed55-f844-473b-8237-3fadee3a98d0")
        // The record keeps the id as sent.
        let record = try Validation.execution(ExecutionInput(agentName: "a", taskID: "task-123", success: true))
        #expect(record.taskID == "572d24d9-08b4-520b-8746-783e5ce3865f" && record.taskRef == "task-123")
        let plain = try Validation.execution(ExecutionInput(agentName: "a", taskID: "0152ed55-f844-473b-8237-3fadee3a98d0", success: true))
        #expect(plain.taskRef == nil)
    }

    @Test(arguments: [String(repeating: "x", count: 129), "tab\there", "nul\u{0}"])
    func taskIDsTooLongOrWithControlCharactersAreRefusedNamingTheField(_ value: String) {
        do {
            _ = try Validation.taskID(value, field: "executions[3].task_id")
            Issue.record("accepted \(value)")
        } catch let error as ServiceError {
            #expect("\(error)".contains("executions[3].task_id"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    // MARK: - Units of the limits

    @Test func namesAreCountedInCharactersAsPostgreSQLCountsThem() {
        // 255 "é" are 510 bytes but 255 characters: VARCHAR(255) holds them (LearningStoreTests
        // stores them), so the length rule lets them by; the character set rule refuses them.
        let accented = String(repeating: "é", count: 255)
        do {
            try Validation.taskType(accented)
            Issue.record("accepted a task type outside the character set")
        } catch let error as ServiceError {
            #expect(error.detail.contains("must match"), "\(error)")
            #expect(!error.detail.contains("longer than"), "\(error)")
        } catch {
            Issue.record("unexpected \(error)")
        }
        #expect(throws: ServiceError.invalidArgument("agent_name is longer than 255 characters")) {
            try Validation.agentName(String(repeating: "a", count: 256))
        }
        #expect(throws: Never.self) { try Validation.agentName(String(repeating: "a", count: 255)) }
    }

    @Test func theStoredFormCountsUnicodeScalarsNotBytesOrSwiftCharacters() throws {
        func record(_ name: String) -> ExecutionRecord {
            ExecutionRecord(agentName: name, success: true, timestamp: Date(timeIntervalSince1970: 1_700_000_000))
        }
        for character in ["é", "🤖", "a"] {
            try record(String(repeating: character, count: 255)).checkStorable()
            #expect(throws: ExecutionProblem(field: "agent_name", reason: "is longer than 255 characters"), "\(character)") {
                try record(String(repeating: character, count: 256)).checkStorable()
            }
        }
        // "e" + a combining accent: one Swift Character, two characters to PostgreSQL.
        let combining = String(repeating: "e\u{301}", count: 255)
        #expect(combining.count == 255)
        #expect(throws: ExecutionProblem.self) { try record(combining).checkStorable() }
        var event = record("a")
        event.eventID = String(repeating: "é", count: 512)
        try event.checkStorable()
        event.eventID = String(repeating: "é", count: 513)
        #expect(throws: ExecutionProblem(field: "event_id", reason: "is longer than 1024 bytes")) { try event.checkStorable() }
    }

    @Test func theErrorMessageLimitIsInBytes() throws {
        func execution(_ message: String) -> ExecutionInput {
            ExecutionInput(agentName: "a", taskType: "t", executionTime: 1, success: false, errorMessage: message)
        }
        // 16,384 four-byte characters are exactly the 64 KiB allowed; one more is over.
        let fits = String(repeating: "🤖", count: Validation.maxErrorMessageBytes / 4)
        #expect(try Validation.execution(execution(fits)).errorMessage == fits)
        #expect(throws: ServiceError.invalidArgument("execution.error_message is longer than 65536 bytes")) {
            try Validation.execution(execution(fits + "🤖"))
        }
        // 32,769 two-byte characters: half as many characters as the limit has bytes, and over it.
        #expect(throws: ServiceError.self) { try Validation.execution(execution(String(repeating: "é", count: 32_769))) }
    }
}
