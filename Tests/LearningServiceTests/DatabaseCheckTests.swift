import Foundation
import LearningService
@testable import LearningServer
import LearningTestDatabase
import Testing

// `learning-server db-check`: the guide's in-container database check, with the server's own
// settings. (`learning db-check` runs it: LearningCLITests.)

@Suite("learning-server db-check")
struct DatabaseCheckTests {
    @Test func theSubcommandAndItsOptionsParse() throws {
        let check = try ServerArguments.parse(["db-check", "--json", "--database-url=postgresql://x@y/z", "--config", "/tmp/c.json"])
        #expect(check.databaseCheck && check.json)
        #expect(check.databaseURL == "postgresql://x@y/z")
        #expect(check.configPath == "/tmp/c.json")
        #expect(try !ServerArguments.parse(["--port", "0"]).databaseCheck)
        // Its options mean nothing to a serving server, and it takes no operands.
        #expect(throws: ConfigurationError.self) { try ServerArguments.parse(["--json"]) }
        #expect(throws: ConfigurationError.self) { try ServerArguments.parse(["--database-url", "x"]) }
        #expect(throws: ConfigurationError.self) { try ServerArguments.parse(["db-check", "extra"]) }
        #expect(throws: ConfigurationError.self) { try ServerArguments.parse(["db-check", "--json=yes"]) }
    }

    @Test func itUsesTheServersDatabaseSettingsButNotItsListeningRules() throws {
        // The container's environment: listening on every address without API keys, which the server
        // itself refuses unless told otherwise; db-check only needs the database settings.
        let environment = ["LEARNING_API_HOST": "0.0.0.0", "LEARNING_DATABASE_HOST": "postgres", "LEARNING_DATABASE_PORT": "5432",
                           "LEARNING_DATABASE_NAME": "claude_auth", "LEARNING_DATABASE_USER": "claude_user",
                           "LEARNING_DATABASE_PASSWORD": "secret"]
        let check = try ServerArguments.parse(["db-check"])
        #expect(try DatabaseCheck.databaseURL(arguments: check, environment: environment)
                == "host='postgres' port=5432 dbname='claude_auth' user='claude_user' password='secret'")
        var withURL = environment
        withURL["LEARNING_DATABASE_URL"] = "postgresql://u@h:1/d"
        #expect(try DatabaseCheck.databaseURL(arguments: check, environment: withURL) == "postgresql://u@h:1/d")
        let named = try ServerArguments.parse(["db-check", "--database-url", "postgresql://x@y/z"])
        #expect(try DatabaseCheck.databaseURL(arguments: named, environment: withURL) == "postgresql://x@y/z")
    }

    @Test func anInvalidSettingIsExit2NamingIt() throws {
        let outcome = DatabaseCheck.run(arguments: try ServerArguments.parse(["db-check"]),
                                        environment: ["LEARNING_DATABASE_PORT": "notaport"])
        #expect(outcome.code == 2)
        #expect(outcome.err.contains("LEARNING_DATABASE_PORT"), "\(outcome.err)")
        #expect(outcome.out.isEmpty)
    }

    @Test func theServerBinaryChecksAndExits() throws {
        let url = try TestEnvironment.freshDatabase()
        let binary = try ServerProcess.binary()
        let connected = try TestProcess.run(binary, ["db-check"], environment: ["LEARNING_DATABASE_URL": url])
        #expect(connected.status == 0, "\(connected.output)")
        #expect(connected.output.hasPrefix("Database connection successful: "), "\(connected.output)")
        // A fresh database: the service has not created its tables there yet.
        #expect(connected.output.contains("agents.execution_log absent"), "\(connected.output)")
        let refused = try TestProcess.run(binary, ["db-check", "--json", "--database-url", "postgresql://nobody@127.0.0.1:1/none"])
        #expect(refused.status == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(refused.output.utf8)) as? [String: Any])
        #expect(object["connected"] as? Bool == false)
        #expect(object["target"] as? String == "nobody@127.0.0.1:1/none")
    }
}
