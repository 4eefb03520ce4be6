import Foundation
import GRPCWire
import LearningAPI

/// How the CLI talks to the server: gRPC calls with serialized protobuf messages.
protocol RPCChannel: Sendable {
    /// One request, one response. Throws `GRPCStatus` for a non-OK status.
    func unary(_ path: String, _ request: [UInt8], metadata: [(String, String)]) async throws -> [UInt8]
    /// One request, a stream of responses handed to `onMessage` until the server ends the call.
    func serverStreaming(_ path: String, _ request: [UInt8], metadata: [(String, String)],
                         onMessage: @Sendable ([UInt8]) async throws -> Void) async throws
}

/// The exit codes: 0 ok, 1 the server (or the connection) failed, 2 usage.
enum ExitCode {
    static let ok: Int32 = 0
    static let serverError: Int32 = 1
    static let usage: Int32 = 2
}

/// Output sinks, so tests can capture what the CLI prints.
struct Output: Sendable {
    /// Writes a line to standard output at once (unbuffered: `learning watch | grep ...` must see
    /// each event as it arrives, not when a block buffer fills or the process exits).
    var out: @Sendable (String) -> Void = { FileHandle.standardOutput.write(Data(($0 + "\n").utf8)) }
    var err: @Sendable (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
}

let topLevelHelp = """
usage: learning [--server HOST:PORT] [--api-key KEY] [--json] COMMAND ...

Commands:
  health                               service, database and model health
  agents list [--status S]             registered agents
  agents status NAME                   one agent's health and why
  agents register NAME [--description D] [--model M] [--tools a,b]
  log --agent A --task-type T --time SECONDS --success|--failure [--error MSG] [--task-id UUID] [--event-id ID]
  import FILE.csv|FILE.jsonl [--batch-size N] [--no-progress]
  predict AGENT TASK_TYPE              predicted time, success rate and resources
  recommend TASK_TYPE [--limit N] [--speed-weight W]
  patterns [--kinds collaboration,performance,resources,failures]
  insights [--limit N] [--kind K]
  watch [--kind K] [--agent A]         live insights and anomalies until Ctrl-C
  db-check [--database-url URL]        connect to the service's database directly (not via the server)

Options:
  --server HOST:PORT   the server (default 127.0.0.1:8080, env LEARNING_SERVER)
  --api-key KEY        API key for writes (env LEARNING_API_KEY)
  --json               machine-readable JSON output
  --help, -h           help for any command

Exit codes: 0 ok, 1 server or connection error, 2 usage error.
"""

let commandHelp: [String: String] = [
    "health": "usage: learning health [--json]\n\nShows the service's health: status, database, registered agents and model states.\nExits 0 when the service is healthy, 1 when it is degraded, unhealthy or unreachable.",
    "agents": "usage: learning agents list [--status healthy|degraded|unhealthy|unknown]\n       learning agents status NAME\n       learning agents register NAME [--description TEXT] [--model MODEL] [--tools Read,Edit]",
    "log": "usage: learning log --agent NAME --task-type TYPE --time SECONDS (--success | --failure) [--error MESSAGE] [--task-id UUID] [--event-id ID]\n\nLogs one execution (needs an API key when the server has keys).",
    "import": "usage: learning import FILE.csv|FILE.jsonl [--batch-size N] [--no-progress]\n\nBulk-imports execution logs. CSV columns are those of agents.execution_log:\nagent_name,task_id,task_type,execution_time,success,error_message,resource_usage,timestamp[,event_id]\nJSONL lines are POST /executions bodies. Rows are validated locally, sent in batches, and\nimporting the same file again stores nothing twice (each row gets a stable event id).\nA progress bar goes to stderr; the summary (read, accepted, duplicates, rejected with reasons) to stdout.",
    "predict": "usage: learning predict AGENT TASK_TYPE\n\nPredicts the agent's execution time, success rate and resources for the task type.",
    "recommend": "usage: learning recommend TASK_TYPE [--limit N] [--speed-weight 0..1]\n\nRanks agents for a task type.",
    "patterns": "usage: learning patterns [--kinds collaboration,performance,resources,failures]",
    "insights": "usage: learning insights [--limit N] [--kind anomaly|synergy|conflict|drift|schedule|failure_pattern|model]",
    "db-check": "usage: learning db-check [--database-url URL] [--json]\n\nConnects to the database directly with libpq, not through the server: the one learning-server\nwould use with the same environment and config file (LEARNING_DATABASE_URL, DATABASE_URL,\nLEARNING_DATABASE_*, LEARNING_CONFIG_FILE) unless --database-url names another. Prints the user,\nhost, port, database and server version, and whether agents.execution_log exists.\nExits 0 when connected, 1 when not.",
    "watch": "usage: learning watch [--kind K] [--agent NAME]\n\nStreams new insights and anomalies as they are found, until Ctrl-C.",
]

/// The `learning` command-line client.
struct CLI {
    let output: Output
    let environment: [String: String]
    /// Makes the channel for the settings (a real gRPC connection; tests may substitute).
    let connect: @Sendable (ConnectionSettings) async throws -> any RPCChannel

    /// Runs one command line (without the program name) and returns the exit code.
    func run(_ arguments: [String]) async -> Int32 {
        let parsed: ParsedArguments
        do {
            parsed = try ParsedArguments(arguments)
        } catch {
            output.err("learning: \(error)\n\(topLevelHelp)")
            return ExitCode.usage
        }
        guard let command = parsed.positional.first else {
            if parsed.flags.contains("help") { output.out(topLevelHelp); return ExitCode.ok }
            output.err(topLevelHelp)
            return ExitCode.usage
        }
        if parsed.flags.contains("help") {
            guard let help = command == "help" ? topLevelHelp : commandHelp[command] else {
                output.err("learning: unknown command \(command)\n\(topLevelHelp)")
                return ExitCode.usage
            }
            output.out(help)
            return ExitCode.ok
        }
        if command == "help" {
            if parsed.positional.count > 1, let help = commandHelp[parsed.positional[1]] { output.out(help) } else { output.out(topLevelHelp) }
            return ExitCode.ok
        }
        if command == "db-check" { return databaseCheck(parsed) }
        do {
            let settings = try ConnectionSettings(arguments: parsed, environment: environment)
            let session = Session(cli: self, arguments: parsed, settings: settings)
            return try await session.run(command)
        } catch let error as UsageError {
            output.err("learning \(command): \(error)\n\n\(commandHelp[command] ?? topLevelHelp)")
            return ExitCode.usage
        } catch let status as GRPCStatus {
            output.err("learning \(command): \(Self.describe(status))")
            return ExitCode.serverError
        } catch {
            output.err("learning \(command): \(error)")
            return ExitCode.serverError
        }
    }

    /// `learning db-check`: the database, directly (no server involved).
    func databaseCheck(_ parsed: ParsedArguments) -> Int32 {
        let url: String
        do {
            try parsed.allow(["database-url"])
            guard parsed.positional.count == 1 else {
                throw UsageError(description: "unexpected \(parsed.positional.dropFirst().joined(separator: " "))")
            }
            url = try DatabaseCheck.databaseURL(arguments: parsed, environment: environment)
        } catch {
            output.err("learning db-check: \(error)\n\n\(commandHelp["db-check"]!)")
            return ExitCode.usage
        }
        let report = DatabaseCheck.run(url: url)
        if parsed.flags.contains("json") {
            let object: [String: Any] = ["connected": report.connected, "target": report.target,
                                         "server_version": report.serverVersion,
                                         "execution_log_present": report.executionLogPresent, "error": report.error]
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
            output.out(String(decoding: data, as: UTF8.self))
        } else if report.connected {
            output.out(DatabaseCheck.describe(report))
        } else {
            output.err(DatabaseCheck.describe(report))
        }
        return report.connected ? ExitCode.ok : ExitCode.serverError
    }

    /// `NOT_FOUND: agent x is not registered`.
    static func describe(_ status: GRPCStatus) -> String {
        let name: String
        switch status.code {
        case .invalidArgument: name = "INVALID_ARGUMENT"
        case .notFound: name = "NOT_FOUND"
        case .alreadyExists: name = "ALREADY_EXISTS"
        case .unauthenticated: name = "UNAUTHENTICATED (pass --api-key or set LEARNING_API_KEY)"
        case .permissionDenied: name = "PERMISSION_DENIED"
        case .resourceExhausted: name = "RESOURCE_EXHAUSTED"
        case .failedPrecondition: name = "FAILED_PRECONDITION"
        case .unavailable: name = "UNAVAILABLE"
        case .deadlineExceeded: name = "DEADLINE_EXCEEDED"
        case .unimplemented: name = "UNIMPLEMENTED"
        case .internal: name = "INTERNAL"
        default: name = "\(status.code)".uppercased()
        }
        return status.message.isEmpty ? name : "\(name): \(status.message)"
    }
}

/// One command's run: the parsed line, the connection and the output.
struct Session {
    let cli: CLI
    let arguments: ParsedArguments
    let settings: ConnectionSettings
    var json: Bool { arguments.flags.contains("json") }
    var operands: ArraySlice<String> { arguments.positional.dropFirst() }

    var metadata: [(String, String)] {
        settings.apiKey.map { [("authorization", "Bearer \($0)")] } ?? []
    }

    func out(_ text: String) { cli.output.out(text) }

    /// Calls `method` with a JSON request (proto field names) and returns the JSON response.
    func call(_ method: String, _ request: JSONValue, channel: any RPCChannel) async throws -> JSONValue {
        let rpc = RPCMethod.named(method)
        let bytes = try ProtoJSON.encode(request, rpc.input)
        let reply = try await channel.unary(rpc.path, bytes, metadata: metadata)
        guard let value = ProtoJSON.decode(reply, rpc.output) else {
            throw GRPCStatus(.internal, "the server's \(method) response is not a valid message")
        }
        return value
    }

    func expectOperands(_ count: Int, _ names: String) throws {
        guard operands.count == count else {
            throw UsageError(description: operands.count < count ? "missing \(names)" : "unexpected \(operands.dropFirst(count).joined(separator: " "))")
        }
    }

    func run(_ command: String) async throws -> Int32 {
        switch command {
        case "health", "agents", "log", "import", "predict", "recommend", "patterns", "insights", "watch": break
        default: throw UsageError(description: "unknown command \(command)")
        }
        // Check the command line completely before connecting.
        let plan = try plan(command)
        let channel = try await cli.connect(settings)
        return try await plan(channel)
    }

    typealias Plan = (any RPCChannel) async throws -> Int32

    /// Validates the command's arguments and returns what to do once connected.
    func plan(_ command: String) throws -> Plan {
        switch command {
        case "health":
            try arguments.allow([])
            try expectOperands(0, "")
            return { channel in
                let health = try await call("GetHealth", .object([]), channel: channel)
                print(health, human: Format.health)
                return field(health, "status") == "healthy" ? ExitCode.ok : ExitCode.serverError
            }
        case "agents":
            guard let sub = operands.first else { throw UsageError(description: "missing list, status or register") }
            let rest = Array(operands.dropFirst())
            switch sub {
            case "list":
                try arguments.allow(["status"])
                guard rest.isEmpty else { throw UsageError(description: "unexpected \(rest.joined(separator: " "))") }
                let request = JSONValue.object([("status", .string(arguments.options["status"] ?? ""))])
                return { channel in
                    print(try await call("ListAgents", request, channel: channel), human: Format.agentList)
                    return ExitCode.ok
                }
            case "status":
                try arguments.allow([])
                guard rest.count == 1 else { throw UsageError(description: "agents status takes one NAME") }
                return { channel in
                    print(try await call("GetAgentStatus", .object([("agent_name", .string(rest[0]))]), channel: channel),
                          human: Format.agentStatus)
                    return ExitCode.ok
                }
            case "register":
                try arguments.allow(["description", "model", "tools"])
                guard rest.count == 1 else { throw UsageError(description: "agents register takes one NAME") }
                let tools = (arguments.options["tools"] ?? "").split(separator: ",")
                    .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                let request = JSONValue.object([
                    ("name", .string(rest[0])), ("description", .string(arguments.options["description"] ?? "")),
                    ("tools", .array(tools.map { .string($0) })), ("model", .string(arguments.options["model"] ?? "")),
                ])
                return { channel in
                    let result = try await call("RegisterAgent", request, channel: channel)
                    print(result) { value in
                        let verb = value["created"] == .bool(true) ? "registered" : "updated"
                        return "\(verb) \(field(value["agent"], "name"))"
                    }
                    return ExitCode.ok
                }
            default:
                throw UsageError(description: "unknown agents command \(sub); use list, status or register")
            }
        case "log":
            try arguments.allow(["agent", "task-type", "time", "success", "failure", "error", "task-id", "event-id"])
            try expectOperands(0, "")
            let success = arguments.flags.contains("success")
            guard success != arguments.flags.contains("failure") else {
                throw UsageError(description: "give exactly one of --success or --failure")
            }
            guard let time = try arguments.number("time") else { throw UsageError(description: "--time is required") }
            let input = ExecutionInput(agentName: try arguments.required("agent"), taskID: arguments.options["task-id"],
                                       taskType: try arguments.required("task-type"), executionTime: time, success: success,
                                       errorMessage: arguments.options["error"], eventID: arguments.options["event-id"])
            do {
                _ = try Validation.execution(input, field: "execution")
            } catch let error as ServiceError {
                throw UsageError(description: error.detail)
            }
            return { channel in
                let result = try await call("LogExecution", .object([("execution", ExecutionRows.protoJSON(input))]), channel: channel)
                print(result) { value in
                    value["duplicate"] == .bool(true) ? "already logged as execution \(field(value, "id"))" : "logged execution \(field(value, "id"))"
                }
                return ExitCode.ok
            }
        case "import":
            try arguments.allow(["batch-size", "no-progress"])
            try expectOperands(1, "FILE")
            let batchSize = try arguments.integer("batch-size") ?? 500
            guard (1...Validation.maxBatchSize).contains(batchSize) else {
                throw UsageError(description: "--batch-size must be between 1 and \(Validation.maxBatchSize)")
            }
            let reader = try ExecutionFileReader(path: operands[operands.startIndex])
            return { channel in
                try await Importer(session: self, channel: channel, batchSize: batchSize).run(reader)
            }
        case "predict":
            try arguments.allow([])
            try expectOperands(2, "AGENT TASK_TYPE")
            let request = JSONValue.object([("agent_name", .string(operands[operands.startIndex])),
                                            ("task_type", .string(operands[operands.startIndex + 1]))])
            return { channel in
                print(try await call("PredictPerformance", request, channel: channel), human: Format.prediction)
                return ExitCode.ok
            }
        case "recommend":
            try arguments.allow(["limit", "speed-weight"])
            try expectOperands(1, "TASK_TYPE")
            var members: [(String, JSONValue)] = [("task_type", .string(operands[operands.startIndex]))]
            if let limit = try arguments.integer("limit") {
                guard (1...100).contains(limit) else { throw UsageError(description: "--limit must be between 1 and 100") }
                members.append(("limit", .int(limit)))
            }
            if let weight = try arguments.number("speed-weight") {
                guard (0...1).contains(weight) else { throw UsageError(description: "--speed-weight must be between 0 and 1") }
                members.append(("speed_weight", .double(weight)))
            }
            let request = JSONValue.object(members)
            return { channel in
                print(try await call("GetRecommendations", request, channel: channel), human: Format.recommendations)
                return ExitCode.ok
            }
        case "patterns":
            try arguments.allow(["kinds"])
            try expectOperands(0, "")
            let kinds = (arguments.options["kinds"] ?? "").split(separator: ",").map(String.init)
            for kind in kinds where PatternKind(rawValue: kind) == nil {
                throw UsageError(description: "unknown pattern kind \(kind); use collaboration, performance, resources or failures")
            }
            let request = JSONValue.object([("kinds", .array(kinds.map { .string($0) }))])
            return { channel in
                print(try await call("GetPatterns", request, channel: channel), human: Format.patterns)
                return ExitCode.ok
            }
        case "insights":
            try arguments.allow(["limit", "kind"])
            try expectOperands(0, "")
            var members: [(String, JSONValue)] = [("kind", .string(arguments.options["kind"] ?? ""))]
            if let limit = try arguments.integer("limit") {
                guard (1...1000).contains(limit) else { throw UsageError(description: "--limit must be between 1 and 1000") }
                members.append(("limit", .int(limit)))
            }
            let request = JSONValue.object(members)
            return { channel in
                print(try await call("GetInsights", request, channel: channel), human: Format.insights)
                return ExitCode.ok
            }
        case "watch":
            try arguments.allow(["kind", "agent"])
            try expectOperands(0, "")
            let kinds = (arguments.options["kind"] ?? "").split(separator: ",").map { JSONValue.string(String($0)) }
            let request = JSONValue.object([("kinds", .array(kinds)), ("agent_name", .string(arguments.options["agent"] ?? ""))])
            return { channel in
                let rpc = RPCMethod.named("WatchInsights")
                let bytes = try ProtoJSON.encode(request, rpc.input)
                let json = self.json
                let output = cli.output
                if !json { output.err("watching insights and anomalies (Ctrl-C to stop)...") }
                try await channel.serverStreaming(rpc.path, bytes, metadata: metadata) { message in
                    guard let event = ProtoJSON.decode(message, rpc.output) else {
                        throw GRPCStatus(.internal, "the server sent an invalid InsightEvent")
                    }
                    output.out(json ? event.text : Format.event(event))
                }
                return ExitCode.ok
            }
        default:
            throw UsageError(description: "unknown command \(command)")
        }
    }

    /// Prints JSON (with `--json`) or the human form.
    func print(_ value: JSONValue, human: (JSONValue) -> String) {
        out(json ? value.text : human(value))
    }
}

/// A field as display text ("" when absent).
func field(_ value: JSONValue?, _ key: String) -> String {
    switch value?[key] {
    case let .string(text)?: return text
    case let .number(text)?: return text
    case let .bool(flag)?: return flag ? "true" : "false"
    case nil, .null?: return ""
    case let other?: return other.text
    }
}

/// A number field, rounded for display.
func figure(_ value: JSONValue?, _ key: String, places: Int = 2) -> String {
    guard case let .number(text)? = value?[key], let number = Double(text) else { return "-" }
    return String(format: "%.\(places)f", number)
}

/// A fraction field as a percentage.
func percent(_ value: JSONValue?, _ key: String) -> String {
    guard case let .number(text)? = value?[key], let number = Double(text) else { return "-" }
    return String(format: "%.1f%%", number * 100)
}

func elements(_ value: JSONValue?) -> [JSONValue] {
    if case let .array(items)? = value { return items }
    return []
}

/// Pads text to a column width.
func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
}

/// Human-readable renderings of the responses.
enum Format {
    static func health(_ value: JSONValue) -> String {
        var lines = ["status:     \(field(value, "status"))",
                     "service:    \(field(value, "service")) \(field(value, "version"))",
                     "database:   \(field(value, "database"))",
                     "agents:     \(field(value, "agents_registered")) registered",
                     "executions: \(field(value, "total_executions"))",
                     "uptime:     \(field(value, "uptime_seconds")) s",
                     "time:       \(field(value, "timestamp"))"]
        for model in elements(value["ml_models"]) {
            lines.append("model:      \(pad(field(model, "name"), 24))\(field(model, "state_name"))")
        }
        return lines.joined(separator: "\n")
    }

    static func agentList(_ value: JSONValue) -> String {
        let agents = elements(value["agents"])
        var lines = [pad("NAME", 28) + pad("STATUS", 11) + pad("MODEL", 10) + "LAST SEEN"]
        for agent in agents {
            let seen = field(agent, "last_seen")
            lines.append(pad(field(agent, "name"), 28) + pad(field(agent, "status"), 11) + pad(field(agent, "model"), 10)
                         + (seen.isEmpty ? "never" : seen))
        }
        lines.append("\(field(value, "total")) agents")
        return lines.joined(separator: "\n")
    }

    static func agentStatus(_ value: JSONValue) -> String {
        let agent = value["agent"]
        return ["agent:        \(field(agent, "name"))",
                "status:       \(field(value, "status"))",
                "reason:       \(field(value, "reason"))",
                "executions:   \(field(value, "executions_total"))",
                "success rate: \(percent(value, "recent_success_rate")) (recent)",
                "last seen:    \(field(agent, "last_seen").isEmpty ? "never" : field(agent, "last_seen"))",
                "model:        \(field(agent, "model"))",
                "tools:        \(elements(agent?["tools"]).map { field(.object([("t", $0)]), "t") }.joined(separator: ", "))"]
            .joined(separator: "\n")
    }

    static func prediction(_ value: JSONValue) -> String {
        let resources = value["resources"]
        return ["agent:          \(field(value, "agent_name"))",
                "task type:      \(field(value, "task_type"))",
                "execution time: \(figure(value, "execution_time")) s (median \(figure(value, "median_execution_time")) s, 80% in \(figure(value, "interval_low"))..\(figure(value, "interval_high")) s)",
                "success rate:   \(percent(value, "success_rate"))",
                "confidence:     \(figure(value, "confidence"))\(value["low_confidence"] == .bool(true) ? " (low)" : "")",
                "resources:      cpu \(figure(resources, "cpu", places: 1))%, memory \(figure(resources, "memory_mb", places: 0)) MB, tokens \(figure(resources, "tokens", places: 0))",
                "based on:       \(field(value, "based_on_executions")) executions (\(field(value, "basis")))"]
            .joined(separator: "\n")
    }

    static func recommendations(_ value: JSONValue) -> String {
        var lines = ["task type: \(field(value, "task_type"))",
                     pad("RANK", 6) + pad("AGENT", 28) + pad("SUCCESS", 9) + pad("TIME(s)", 10) + pad("CONF", 6) + "REASON"]
        for item in elements(value["recommendations"]) {
            lines.append(pad(field(item, "rank"), 6) + pad(field(item, "agent_name"), 28) + pad(percent(item, "expected_success_rate"), 9)
                         + pad(figure(item, "predicted_execution_time"), 10) + pad(figure(item, "confidence"), 6) + field(item, "reason"))
        }
        return lines.joined(separator: "\n")
    }

    static func patterns(_ value: JSONValue) -> String {
        var lines: [String] = []
        let collaboration = elements(value["collaboration"])
        lines.append("collaboration (\(collaboration.count)):")
        for item in collaboration {
            let agents = elements(item["agents"]).map { field(.object([("a", $0)]), "a") }.joined(separator: " + ")
            lines.append("  \(pad(agents, 40))\(pad(field(item, "effect"), 9))together \(percent(item, "success_rate_together")) vs expected \(percent(item, "expected_success_rate")) over \(field(item, "shared_tasks")) tasks")
        }
        let performance = elements(value["performance"])
        lines.append("performance (\(performance.count)):")
        for item in performance {
            lines.append("  \(pad(field(item, "task_type"), 30))best hour \(field(item, "best_hour")):00 UTC, worst hour \(field(item, "worst_hour")):00 UTC (\(percent(item, "worst_hour_failure_rate")) failures)")
        }
        let resources = elements(value["resources"])
        lines.append("resources (\(resources.count)):")
        for item in resources {
            lines.append("  cluster \(field(item, "cluster")) \(pad(field(item, "label"), 14))cpu \(figure(item, "avg_cpu", places: 1))% memory \(figure(item, "avg_memory_mb", places: 0)) MB tokens \(figure(item, "avg_tokens", places: 0)): \(elements(item["agents"]).count) agents")
        }
        let failures = elements(value["failures"])
        lines.append("failures (\(failures.count)):")
        for item in failures {
            lines.append("  \(pad(field(item, "count"), 7))\(field(item, "signature"))")
        }
        return lines.joined(separator: "\n")
    }

    static func insight(_ item: JSONValue) -> String {
        "[\(field(item, "severity"))] \(field(item, "kind")): \(field(item, "title")) (\(field(item, "created_at")))\n    \(field(item, "detail"))"
    }

    static func insights(_ value: JSONValue) -> String {
        let items = elements(value["insights"])
        if items.isEmpty { return "no insights yet" }
        return items.map(insight).joined(separator: "\n")
    }

    static func event(_ value: JSONValue) -> String {
        if let item = value["insight"] { return insight(item) }
        if let anomaly = value["anomaly"] {
            return "[anomaly] \(field(anomaly, "kind")) \(field(anomaly, "agent_name"))/\(field(anomaly, "task_type")): observed \(figure(anomaly, "observed")) vs expected \(figure(anomaly, "expected")) (score \(figure(anomaly, "score")))"
        }
        return value.text
    }
}
