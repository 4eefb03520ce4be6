import Foundation
import Testing
@testable import LearningCLI

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

@Test func dbCheckConnectsToTheDatabaseTheEnvironmentNames() async throws {
    let url = try testDatabaseURL()
    let (code, captured) = await runCLI(["db-check"], environment: ["LEARNING_DATABASE_URL": url])
    #expect(code == ExitCode.ok, "\(captured.err)")
    #expect(captured.out.hasPrefix("Database connection successful: "), "\(captured.out)")
    #expect(captured.out.contains("PostgreSQL "))

    let (jsonCode, json) = await runCLI(["db-check", "--json", "--database-url", url], environment: [:])
    #expect(jsonCode == ExitCode.ok)
    let object = try #require(try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [String: Any])
    #expect(object["connected"] as? Bool == true)
    #expect((object["server_version"] as? String)?.hasPrefix("PostgreSQL ") == true)
}

@Test func dbCheckFailsWithLibpqsReasonWhenNothingListens() async throws {
    // Port 1 on loopback: nothing listens there, the connection is refused at once.
    let (code, captured) = await runCLI(["db-check"],
                                        environment: ["LEARNING_DATABASE_HOST": "127.0.0.1", "LEARNING_DATABASE_PORT": "1",
                                                      "LEARNING_DATABASE_USER": "nobody", "LEARNING_DATABASE_NAME": "none"])
    #expect(code == ExitCode.serverError)
    #expect(captured.err.hasPrefix("Database connection failed: "), "\(captured.err)")
    #expect(captured.err.contains("nobody@127.0.0.1:1/none"), "\(captured.err)")
    #expect(captured.out.isEmpty)
}

@Test func dbCheckUsesTheServersDatabaseSettingsButNotItsListeningRules() throws {
    // The container's environment: listening on every address without API keys, which the server
    // itself refuses unless told otherwise; db-check only needs the database settings.
    let environment = ["LEARNING_API_HOST": "0.0.0.0", "LEARNING_DATABASE_HOST": "postgres", "LEARNING_DATABASE_PORT": "5432",
                       "LEARNING_DATABASE_NAME": "claude_auth", "LEARNING_DATABASE_USER": "claude_user",
                       "LEARNING_DATABASE_PASSWORD": "secret"]
    let fields = try DatabaseCheck.databaseURL(arguments: try ParsedArguments(["db-check"]), environment: environment)
    #expect(fields == "host='postgres' port=5432 dbname='claude_auth' user='claude_user' password='secret'")
    var withURL = environment
    withURL["LEARNING_DATABASE_URL"] = "postgresql://u@h:1/d"
    #expect(try DatabaseCheck.databaseURL(arguments: try ParsedArguments(["db-check"]), environment: withURL) == "postgresql://u@h:1/d")
    #expect(try DatabaseCheck.databaseURL(arguments: try ParsedArguments(["db-check", "--database-url", "postgresql://x@y/z"]),
                                          environment: withURL) == "postgresql://x@y/z")
}

@Test func dbCheckRejectsOperandsAndForeignOptions() async {
    #expect(await runCLI(["db-check", "extra"], environment: [:]).0 == ExitCode.usage)
    #expect(await runCLI(["db-check", "--limit", "3"], environment: [:]).0 == ExitCode.usage)
    // An invalid setting of the service's configuration is a usage error naming it.
    let (code, captured) = await runCLI(["db-check"], environment: ["LEARNING_DATABASE_PORT": "notaport"])
    #expect(code == ExitCode.usage)
    #expect(captured.err.contains("LEARNING_DATABASE_PORT"), "\(captured.err)")
}
