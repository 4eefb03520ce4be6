import Foundation
import Testing
@testable import LearningCLI

// `learning db-check` runs `learning-server db-check` (the CLI links no database driver): these run
// the real server binary that `swift build --build-tests` puts next to the tests, as an installed
// `learning` finds it next to itself.

/// Runs the CLI with `environment` and no server (Captured and NoConnection: ArgumentsTests.swift).
private func runCLI(_ arguments: [String], environment: [String: String]) async -> (Int32, Captured) {
    let captured = Captured()
    let cli = CLI(output: captured.output, environment: environment, connect: { _ in throw NoConnection() })
    return (await cli.run(arguments), captured)
}

/// The cluster scripts/test.sh starts.
private func testDatabaseURL() throws -> String {
    guard let url = ProcessInfo.processInfo.environment["LEARNING_TEST_DATABASE_URL"], !url.isEmpty else {
        throw DatabaseMissing()
    }
    return url
}

private struct DatabaseMissing: Error, CustomStringConvertible {
    var description: String { "LEARNING_TEST_DATABASE_URL is not set: run the tests with scripts/test.sh (make test)" }
}

@Test func theServerBinaryIsFoundNextToTheClient() throws {
    let found = try #require(CLI.locateServerExecutable([:]), "learning-server is not built: run `swift build --build-tests`")
    #expect(found.hasSuffix("/learning-server"))
}

@Test func dbCheckConnectsToTheDatabaseTheEnvironmentNames() async throws {
    let url = try testDatabaseURL()
    let (code, captured) = await runCLI(["db-check"], environment: ["LEARNING_DATABASE_URL": url])
    #expect(code == ExitStatus.ok, "\(captured.err)")
    #expect(captured.out.hasPrefix("Database connection successful: "), "\(captured.out)")
    #expect(captured.out.contains("PostgreSQL "))

    let (jsonCode, json) = await runCLI(["db-check", "--json", "--database-url", url], environment: [:])
    #expect(jsonCode == ExitStatus.ok)
    let object = try #require(try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [String: Any])
    #expect(object["connected"] as? Bool == true)
    #expect((object["server_version"] as? String)?.hasPrefix("PostgreSQL ") == true)
}

@Test func dbCheckFailsWithLibpqsReasonWhenNothingListens() async throws {
    // Port 1 on loopback: nothing listens there, the connection is refused at once.
    let (code, captured) = await runCLI(["db-check"],
                                        environment: ["LEARNING_DATABASE_HOST": "127.0.0.1", "LEARNING_DATABASE_PORT": "1",
                                                      "LEARNING_DATABASE_USER": "nobody", "LEARNING_DATABASE_NAME": "none"])
    #expect(code == ExitStatus.serverError)
    #expect(captured.err.hasPrefix("Database connection failed: "), "\(captured.err)")
    #expect(captured.err.contains("nobody@127.0.0.1:1/none"), "\(captured.err)")
    #expect(captured.out.isEmpty)
}

@Test func dbCheckRejectsOperandsForeignOptionsAndInvalidSettings() async {
    #expect(await runCLI(["db-check", "extra"], environment: [:]).0 == ExitStatus.usage)
    #expect(await runCLI(["db-check", "--limit", "3"], environment: [:]).0 == ExitStatus.usage)
    // An invalid setting of the service's configuration is a usage error naming it.
    let (code, captured) = await runCLI(["db-check"], environment: ["LEARNING_DATABASE_PORT": "notaport"])
    #expect(code == ExitStatus.usage)
    #expect(captured.err.contains("LEARNING_DATABASE_PORT"), "\(captured.err)")
}

@Test func dbCheckWithoutTheServerBinarySaysWhatItNeeds() async {
    let captured = Captured()
    let cli = CLI(output: captured.output, environment: [:], connect: { _ in throw NoConnection() },
                  serverExecutable: { _ in nil })
    #expect(await cli.run(["db-check"]) == ExitStatus.serverError)
    #expect(captured.err.contains("learning-server was not found"), "\(captured.err)")
}
