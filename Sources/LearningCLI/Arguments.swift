import ArgumentParser
import Foundation
import GRPCWire
import LearningAPI

// The command line of `learning`, declared with swift-argument-parser: one type per command, the
// global options (`--server`, `--api-key`, `--json`) accepted anywhere on the line, `--name value`
// or `--name=value`, `--` ends options. Every mistake is a usage error (exit code 2, not the
// library's 64: `CLI.run` maps it). Each command checks its arguments completely in `validate()`,
// before anything connects, and says what to do once connected in `plan(_:)`.

/// The options every command takes, anywhere on the line.
struct GlobalOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The server (default \(ConnectionSettings.defaultServer); env LEARNING_SERVER).",
                               valueName: "host:port"))
    var server: String?

    @Option(name: .customLong("api-key"),
            help: ArgumentHelp("API key for writes, sent as a bearer token (env LEARNING_API_KEY).", valueName: "key"))
    var apiKey: String?

    @Flag(help: "Print machine-readable JSON instead of text.")
    var json = false
}

/// A command that talks to the server: it validates its arguments, then plans its calls.
protocol ServerCommand: ParsableCommand {
    /// The global options, as parsed anywhere on the line.
    var global: GlobalOptions { get }
    /// What to do once connected (the arguments are valid by now).
    func plan(_ session: Session) throws -> Session.Plan
}

/// `learning`: the root of the command tree.
struct Learning: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "learning",
        abstract: "The command-line client of learning-system, over its gRPC API.",
        discussion: """
            Connects to 127.0.0.1:8080 unless --server or LEARNING_SERVER names another server, and sends \
            --api-key or LEARNING_API_KEY as a bearer token. --json prints the server's answer as JSON.

            Exit codes: 0 ok, 1 server or connection error, 2 usage error.
            """,
        subcommands: [Health.self, Agents.self, Log.self, Import.self, Predict.self, Recommend.self,
                      Patterns.self, Insights.self, Watch.self, DatabaseCheckCommand.self])

    @OptionGroup(title: "Global Options") var global: GlobalOptions
}

// MARK: - Commands

/// `learning health`.
struct Health: ServerCommand {
    static let configuration = CommandConfiguration(
        abstract: "Service, database and model health.",
        discussion: """
            Shows the service's health: status, database, registered agents and model states. \
            Exits 0 when the service is healthy, 1 when it is degraded, unhealthy or unreachable.
            """)

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    func plan(_ session: Session) throws -> Session.Plan {
        { channel in
            let health = try await session.call("GetHealth", .object([]), channel: channel)
            session.print(health, human: Format.health)
            return field(health, "status") == "healthy" ? ExitStatus.ok : ExitStatus.serverError
        }
    }
}

/// `learning agents list|status|register`.
struct Agents: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Registered agents: list them, show one's status, register one.",
        subcommands: [List.self, Status.self, Register.self])

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    /// An agent's status, as `agents list --status` filters by it.
    enum HealthStatus: String, CaseIterable, ExpressibleByArgument {
        case healthy, degraded, unhealthy, unknown
    }

    /// `learning agents list`.
    struct List: ServerCommand {
        static let configuration = CommandConfiguration(abstract: "List the registered agents.")

        @OptionGroup(title: "Global Options") var global: GlobalOptions
        @Option(help: "Only agents with this status.") var status: HealthStatus?

        func plan(_ session: Session) throws -> Session.Plan {
            let request = JSONValue.object([("status", .string(status?.rawValue ?? ""))])
            return { channel in
                session.print(try await session.call("ListAgents", request, channel: channel), human: Format.agentList)
                return ExitStatus.ok
            }
        }
    }

    /// `learning agents status NAME`.
    struct Status: ServerCommand {
        static let configuration = CommandConfiguration(abstract: "One agent's health and why.")

        @OptionGroup(title: "Global Options") var global: GlobalOptions
        @Argument(help: ArgumentHelp("The agent.", valueName: "name")) var name: String

        func plan(_ session: Session) throws -> Session.Plan {
            let request = JSONValue.object([("agent_name", .string(name))])
            return { channel in
                session.print(try await session.call("GetAgentStatus", request, channel: channel), human: Format.agentStatus)
                return ExitStatus.ok
            }
        }
    }

    /// `learning agents register NAME`.
    struct Register: ServerCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register an agent, or update its description, model and tools.",
            discussion: "Needs an API key when the server has keys.")

        @OptionGroup(title: "Global Options") var global: GlobalOptions
        @Argument(help: ArgumentHelp("The agent's name.", valueName: "name")) var name: String
        @Option(help: ArgumentHelp("What the agent does.", valueName: "text")) var description: String?
        @Option(help: ArgumentHelp("The model it runs on.", valueName: "model")) var model: String?
        @Option(help: ArgumentHelp("The tools it may use, comma-separated (Read,Edit).", valueName: "tools"))
        var tools: String?

        var request: RegisterAgentRequest {
            let list = (tools ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            return RegisterAgentRequest(name: name, description: description ?? "", tools: list, model: model ?? "")
        }

        func validate() throws {
            do {
                try Validation.registration(request)
            } catch let error as ServiceError {
                throw ValidationError(error.detail)
            }
        }

        func plan(_ session: Session) throws -> Session.Plan {
            let request = request
            let json = JSONValue.object([
                ("name", .string(request.name)), ("description", .string(request.description)),
                ("tools", .array(request.tools.map { .string($0) })), ("model", .string(request.model)),
            ])
            return { channel in
                let result = try await session.call("RegisterAgent", json, channel: channel)
                session.print(result) { value in
                    let verb = value["created"] == .bool(true) ? "registered" : "updated"
                    return "\(verb) \(field(value["agent"], "name"))"
                }
                return ExitStatus.ok
            }
        }
    }
}

/// `learning log`.
struct Log: ServerCommand {
    static let configuration = CommandConfiguration(
        abstract: "Log one execution.",
        discussion: """
            Give --success or --failure. Needs an API key when the server has keys. The execution is checked             here first, by the server's rules.
            """)

    /// How the execution ended.
    enum Outcome: String, EnumerableFlag {
        case success, failure

        static func help(for value: Outcome) -> ArgumentHelp? {
            value == .success ? "The execution succeeded." : "The execution failed."
        }
    }

    @OptionGroup(title: "Global Options") var global: GlobalOptions
    @Option(help: ArgumentHelp("The agent that ran.", valueName: "name")) var agent: String
    @Option(name: .customLong("task-type"), help: ArgumentHelp("The kind of task.", valueName: "type")) var taskType: String
    @Option(help: ArgumentHelp("How long it took.", valueName: "seconds")) var time: Double
    @Flag var outcome: Outcome
    @Option(help: ArgumentHelp("The error message of a failure.", valueName: "message")) var error: String?
    @Option(name: .customLong("task-id"), help: ArgumentHelp("The task, shared by collaborating agents.", valueName: "uuid"))
    var taskID: String?
    @Option(name: .customLong("event-id"),
            help: ArgumentHelp("An idempotency key: an execution with a stored event id is not stored again.", valueName: "id"))
    var eventID: String?

    var input: ExecutionInput {
        ExecutionInput(agentName: agent, taskID: taskID, taskType: taskType, executionTime: time,
                       success: outcome == .success, errorMessage: error, eventID: eventID)
    }

    func validate() throws {
        do {
            _ = try Validation.execution(input, field: "execution")
        } catch let error as ServiceError {
            throw ValidationError(error.detail)
        }
    }

    func plan(_ session: Session) throws -> Session.Plan {
        let request = JSONValue.object([("execution", ExecutionRows.protoJSON(input))])
        return { channel in
            let result = try await session.call("LogExecution", request, channel: channel)
            session.print(result) { value in
                value["duplicate"] == .bool(true) ? "already logged as execution \(field(value, "id"))" : "logged execution \(field(value, "id"))"
            }
            return ExitStatus.ok
        }
    }
}

/// `learning import FILE`.
struct Import: ServerCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bulk-import execution logs from CSV or JSON Lines.",
        discussion: """
            CSV columns are those of agents.execution_log: \
            agent_name,task_id,task_type,execution_time,success,error_message,resource_usage,timestamp[,event_id]. \
            JSONL lines are POST /executions bodies. Rows are validated locally, sent in batches, and importing \
            the same file again stores nothing twice (each row gets a stable event id). A progress bar goes to \
            stderr; the summary (read, accepted, duplicates, rejected with reasons) to stdout.
            """)

    @OptionGroup(title: "Global Options") var global: GlobalOptions
    @Argument(help: ArgumentHelp("The file to import.", valueName: "file.csv|file.jsonl")) var file: String
    @Option(name: .customLong("batch-size"), help: ArgumentHelp("Executions per LogExecutions call.", valueName: "n"))
    var batchSize = 500
    @Flag(name: .customLong("no-progress"), help: "Draw no progress bar.") var noProgress = false

    func validate() throws {
        guard (1...Validation.maxBatchSize).contains(batchSize) else {
            throw ValidationError("--batch-size must be between 1 and \(Validation.maxBatchSize)")
        }
    }

    func plan(_ session: Session) throws -> Session.Plan {
        let reader = try ExecutionFileReader(path: file)
        let batchSize = batchSize
        let showProgress = !noProgress
        return { channel in
            try await Importer(session: session, channel: channel, batchSize: batchSize, showProgress: showProgress).run(reader)
        }
    }
}

/// `learning predict AGENT TASK_TYPE`.
struct Predict: ServerCommand {
    static let configuration = CommandConfiguration(
        abstract: "Predicted time, success rate and resources of an agent for a task type.")

    @OptionGroup(title: "Global Options") var global: GlobalOptions
    @Argument(help: ArgumentHelp("The agent.", valueName: "agent")) var agent: String
    @Argument(help: ArgumentHelp("The task type.", valueName: "task-type")) var taskType: String

    func plan(_ session: Session) throws -> Session.Plan {
        let request = JSONValue.object([("agent_name", .string(agent)), ("task_type", .string(taskType))])
        return { channel in
            session.print(try await session.call("PredictPerformance", request, channel: channel), human: Format.prediction)
            return ExitStatus.ok
        }
    }
}

/// `learning recommend TASK_TYPE`.
struct Recommend: ServerCommand {
    static let configuration = CommandConfiguration(abstract: "Rank agents for a task type.")

    @OptionGroup(title: "Global Options") var global: GlobalOptions
    @Argument(help: ArgumentHelp("The task type.", valueName: "task-type")) var taskType: String
    @Option(help: ArgumentHelp("How many agents, 1 to 100.", valueName: "n")) var limit: Int?
    @Option(name: .customLong("speed-weight"),
            help: ArgumentHelp("0 ranks by success only, 1 by speed only.", valueName: "0..1"))
    var speedWeight: Double?

    func validate() throws {
        if let limit, !(1...100).contains(limit) { throw ValidationError("--limit must be between 1 and 100") }
        if let speedWeight, !(0...1).contains(speedWeight) { throw ValidationError("--speed-weight must be between 0 and 1") }
    }

    func plan(_ session: Session) throws -> Session.Plan {
        var members: [(String, JSONValue)] = [("task_type", .string(taskType))]
        if let limit { members.append(("limit", .int(limit))) }
        if let speedWeight { members.append(("speed_weight", .double(speedWeight))) }
        let request = JSONValue.object(members)
        return { channel in
            session.print(try await session.call("GetRecommendations", request, channel: channel), human: Format.recommendations)
            return ExitStatus.ok
        }
    }
}

/// `learning patterns`.
struct Patterns: ServerCommand {
    static let configuration = CommandConfiguration(
        abstract: "Collaboration, performance, resource and failure patterns.")

    @OptionGroup(title: "Global Options") var global: GlobalOptions
    @Option(help: ArgumentHelp("Only these kinds, comma-separated: collaboration, performance, resources, failures.",
                               valueName: "kinds"))
    var kinds: String?

    var kindList: [String] { (kinds ?? "").split(separator: ",").map(String.init) }

    func validate() throws {
        for kind in kindList where PatternKind(rawValue: kind) == nil {
            throw ValidationError("unknown pattern kind \(kind); use collaboration, performance, resources or failures")
        }
    }

    func plan(_ session: Session) throws -> Session.Plan {
        let request = JSONValue.object([("kinds", .array(kindList.map { .string($0) }))])
        return { channel in
            session.print(try await session.call("GetPatterns", request, channel: channel), human: Format.patterns)
            return ExitStatus.ok
        }
    }
}

/// `learning insights`.
struct Insights: ServerCommand {
    static let configuration = CommandConfiguration(abstract: "The latest insights: anomalies, synergies, drift, ...")

    @OptionGroup(title: "Global Options") var global: GlobalOptions
    @Option(help: ArgumentHelp("How many, 1 to 1000.", valueName: "n")) var limit: Int?
    @Option(help: ArgumentHelp("Only this kind: anomaly, synergy, conflict, drift, schedule, failure_pattern or model.",
                               valueName: "kind"))
    var kind: String?

    func validate() throws {
        if let limit, !(1...1000).contains(limit) { throw ValidationError("--limit must be between 1 and 1000") }
    }

    func plan(_ session: Session) throws -> Session.Plan {
        var members: [(String, JSONValue)] = [("kind", .string(kind ?? ""))]
        if let limit { members.append(("limit", .int(limit))) }
        let request = JSONValue.object(members)
        return { channel in
            session.print(try await session.call("GetInsights", request, channel: channel), human: Format.insights)
            return ExitStatus.ok
        }
    }
}

/// `learning watch`.
struct Watch: ServerCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stream new insights and anomalies as they are found, until Ctrl-C.")

    @OptionGroup(title: "Global Options") var global: GlobalOptions
    @Option(help: ArgumentHelp("Only these kinds, comma-separated.", valueName: "kinds")) var kind: String?
    @Option(help: ArgumentHelp("Only this agent's.", valueName: "name")) var agent: String?

    func plan(_ session: Session) throws -> Session.Plan {
        let kinds = (kind ?? "").split(separator: ",").map { JSONValue.string(String($0)) }
        let request = JSONValue.object([("kinds", .array(kinds)), ("agent_name", .string(agent ?? ""))])
        return { channel in
            let rpc = RPCMethod.named("WatchInsights")
            let bytes = try ProtoJSON.encode(request, rpc.input)
            let json = session.json
            let output = session.cli.output
            if !json { output.err("watching insights and anomalies (Ctrl-C to stop)...") }
            try await channel.serverStreaming(rpc.path, bytes, metadata: session.metadata) { message in
                guard let event = ProtoJSON.decode(message, rpc.output) else {
                    throw GRPCStatus(.internal, "the server sent an invalid InsightEvent")
                }
                output.out(json ? event.text : Format.event(event))
            }
            return ExitStatus.ok
        }
    }
}

/// `learning db-check`: runs `learning-server db-check`, which has the database driver.
struct DatabaseCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db-check",
        abstract: "Connect to the service's database directly (not via the server).",
        discussion: """
            Runs `learning-server db-check` (found next to `learning`, else on PATH), which connects with libpq \
            to the database learning-server would use with the same environment and config file \
            (LEARNING_DATABASE_URL, DATABASE_URL, LEARNING_DATABASE_*, LEARNING_CONFIG_FILE) unless --database-url \
            names another. Prints the user, host, port, database and server version, and whether \
            agents.execution_log exists. Exits 0 when connected, 1 when not.
            """)

    @OptionGroup(title: "Global Options") var global: GlobalOptions
    @Option(name: .customLong("database-url"), help: ArgumentHelp("Check this database instead.", valueName: "url"))
    var databaseURL: String?

    /// The arguments of `learning-server` that do the same.
    var serverArguments: [String] {
        ["db-check"] + (databaseURL.map { ["--database-url", $0] } ?? []) + (global.json ? ["--json"] : [])
    }
}

/// Where to connect and how: `--server` / `LEARNING_SERVER`, `--api-key` / `LEARNING_API_KEY`.
struct ConnectionSettings: Equatable {
    var host: String
    var port: Int
    var apiKey: String?

    static let defaultServer = "127.0.0.1:8080"

    init(global: GlobalOptions, environment: [String: String]) throws(UsageError) {
        let server = global.server ?? environment["LEARNING_SERVER"] ?? Self.defaultServer
        (host, port) = try Self.split(server)
        let key = global.apiKey ?? environment["LEARNING_API_KEY"]
        apiKey = (key?.isEmpty ?? true) ? nil : key
    }

    /// Splits `host:port`, `[v6]:port` or `host` (port 8080); strips an `http://` prefix.
    static func split(_ text: String) throws(UsageError) -> (String, Int) {
        var server = text
        for scheme in ["http://", "https://"] where server.hasPrefix(scheme) { server.removeFirst(scheme.count) }
        while server.hasSuffix("/") { server.removeLast() }
        var host = server
        var port = 8080
        if server.hasPrefix("[") {
            guard let close = server.firstIndex(of: "]") else { throw UsageError(description: "bad server address \(text)") }
            host = String(server[server.index(after: server.startIndex)..<close])
            let rest = server[server.index(after: close)...]
            if rest.hasPrefix(":") {
                guard let value = Int(rest.dropFirst()) else { throw UsageError(description: "bad port in \(text)") }
                port = value
            } else if !rest.isEmpty {
                throw UsageError(description: "bad server address \(text)")
            }
        } else if let colon = server.lastIndex(of: ":") {
            host = String(server[..<colon])
            guard let value = Int(server[server.index(after: colon)...]) else { throw UsageError(description: "bad port in \(text)") }
            port = value
        }
        guard !host.isEmpty, (1...65535).contains(port) else { throw UsageError(description: "bad server address \(text)") }
        return (host, port)
    }
}

/// A usage mistake found after parsing (a bad server address, an unreadable import file):
/// printed with the command's help, exit code 2.
struct UsageError: Error, CustomStringConvertible {
    var description: String
}
