import Foundation
import LearningCore
import LearningTestDatabase
import Testing
@testable import LearningStore
import LearningRepository

// The store refuses a record before it joins a shared batch by `ExecutionRecord.checkStorable`, the
// check the API's validation ends with too. Its name limit is in the unit PostgreSQL's VARCHAR(255)
// counts (Unicode scalars): what it accepts, PostgreSQL stores; what it refuses, PostgreSQL would too.

@Suite("The storable-execution check against PostgreSQL", .serialized)
struct ExecutionCheckTests {
    @Test func namesOf255MultiByteCharactersAreStoredAnd256AreRefusedFirst() async throws {
        try await TestDatabase.withStore { store, url in
            for (index, character) in ["é", "🤖"].enumerated() {
                let name = String(repeating: character, count: 255)
                _ = try await store.logExecution(record(name, event: "long-\(index)", type: name))
                let stored = try #require(try await store.execution(eventID: "long-\(index)"))
                #expect(stored.agentName == name && stored.taskType == name, "\(character)")
                await #expect(throws: StoreError.invalidInput("agent_name is longer than 255 characters"), "\(character)") {
                    _ = try await store.logExecution(record(name + character))
                }
            }
            // One Swift Character ("e" and a combining accent) is two characters to PostgreSQL:
            // 255 of them are refused here, as PostgreSQL refuses them (22001, value too long).
            let combining = String(repeating: "e\u{301}", count: 255)
            await #expect(throws: StoreError.self) { _ = try await store.logExecution(record(combining)) }
            let c = try PGConnection(url: url)
            try c.execute("CREATE TEMP TABLE names (name VARCHAR(255))")
            #expect(throws: (any Error).self) { try c.query("INSERT INTO names VALUES ($1)", [.text(combining)]) }
            _ = try c.query("INSERT INTO names VALUES ($1)", [.text(String(repeating: "🤖", count: 255))])
            #expect(try await store.counts().executions == 2)
        }
    }
}
