import ArgumentParser
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
enum ExitStatus {
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

/// The `learning` command-line client.
struct CLI: Sendable {
    let output: Output
    let environment: [String: String]
    /// Makes the channel for the settings (a real gRPC connection; tests may substitute).
    let connect: @Sendable (ConnectionSettings) async throws -> any RPCChannel
    /// Finds the `learning-server` executable that `db-check` runs (tests may substitute).
    var serverExecutable: @Sendable ([String: String]) -> String? = CLI.locateServerExecutable

    /// Runs one command line (without the program name) and returns the exit code.
    func run(_ arguments: [String]) async -> Int32 {
        let command: any ParsableCommand
        do {
            command = try Learning.parseAsRoot(arguments)
        } catch {
            return parserFinished(error)
        }
        switch command {
        case let command as any ServerCommand:
            return await run(command)
        case let command as DatabaseCheckCommand:
            return databaseCheck(command)
        default:
            // A group without its subcommand (`learning`, `learning agents`): its help, as a usage error.
            if !type(of: command).configuration.subcommands.isEmpty {
                output.err(Learning.helpMessage(for: type(of: command)))
                return ExitStatus.usage
            }
            // The built-in `help` command: it "fails" with the help text to print.
            do {
                var help = command
                try help.run()
                return ExitStatus.ok
            } catch {
                return parserFinished(error)
            }
        }
    }

    /// Prints what the parser stopped with: help (exit 0) or a usage error (exit 2, where the
    /// library would exit 64: `learning`'s exit codes predate it).
    private func parserFinished(_ error: any Error) -> Int32 {
        let message = Learning.fullMessage(for: error)
        if Learning.exitCode(for: error).isSuccess {
            output.out(message)
            return ExitStatus.ok
        }
        output.err(message)
        return ExitStatus.usage
    }

    /// A server command: checked completely before connecting, then run.
    private func run(_ command: any ServerCommand) async -> Int32 {
        let name = Self.name(of: command)
        do {
            let settings = try ConnectionSettings(global: command.global, environment: environment)
            let session = Session(cli: self, json: command.global.json, settings: settings)
            let plan = try command.plan(session)
            let channel = try await connect(settings)
            return try await plan(channel)
        } catch let error as UsageError {
            output.err("learning \(name): \(error)\n\n\(Learning.helpMessage(for: type(of: command)))")
            return ExitStatus.usage
        } catch let status as GRPCStatus {
            output.err("learning \(name): \(Self.describe(status))")
            return ExitStatus.serverError
        } catch {
            output.err("learning \(name): \(error)")
            return ExitStatus.serverError
        }
    }

    /// The command's words, e.g. `agents status`, for messages.
    static func name(of command: any ParsableCommand) -> String {
        func path(from node: any ParsableCommand.Type, to target: any ParsableCommand.Type) -> [String]? {
            if ObjectIdentifier(node) == ObjectIdentifier(target) { return [] }
            for child in node.configuration.subcommands {
                if let rest = path(from: child, to: target) { return [child._commandName] + rest }
            }
            return nil
        }
        return path(from: Learning.self, to: type(of: command))?.joined(separator: " ") ?? type(of: command)._commandName
    }

    /// `learning db-check`: runs `learning-server db-check` with the same environment, which
    /// connects with libpq; the CLI links no database driver. Prints what it printed and exits with its code.
    func databaseCheck(_ command: DatabaseCheckCommand) -> Int32 {
        guard let server = serverExecutable(environment) else {
            output.err("learning db-check: learning-server was not found next to learning or on PATH; "
                       + "db-check runs `learning-server db-check`, which connects to the database")
            return ExitStatus.serverError
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: server)
        process.arguments = command.serverArguments
        process.environment = environment
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        do {
            try process.run()
        } catch {
            output.err("learning db-check: cannot run \(server): \(error)")
            return ExitStatus.serverError
        }
        // Both pipes are read to the end before waiting, so a full pipe cannot stall the child.
        let errorData = ThreadSafeData()
        let errorReader = Thread { errorData.set(stderr.fileHandleForReading.readDataToEndOfFile()) }
        errorReader.start()
        let outData = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let errText = errorData.waitForValue()
        func lines(_ data: Data) -> String? {
            let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)
            return text.isEmpty ? nil : text
        }
        if let text = lines(outData) { output.out(text) }
        if let text = lines(errText) { output.err(text) }
        guard process.terminationReason == .exit else { return ExitStatus.serverError }
        return process.terminationStatus
    }

    /// `learning-server` next to this executable (as installed: both in one directory), else on PATH.
    static func locateServerExecutable(_ environment: [String: String]) -> String? {
        var candidates: [String] = []
        if let executable = Bundle.main.executableURL?.resolvingSymlinksInPath() {
            candidates.append(executable.deletingLastPathComponent().appendingPathComponent("learning-server").path)
        }
        for directory in (environment["PATH"] ?? "").split(separator: ":") where !directory.isEmpty {
            candidates.append("\(directory)/learning-server")
        }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// `NOT_FOUND: agent x is not registered`.
    static func describe(_ status: GRPCStatus) -> String {
        let name = status.code == .unauthenticated
            ? "UNAUTHENTICATED (pass --api-key or set LEARNING_API_KEY)" : status.code.name
        return status.message.isEmpty ? name : "\(name): \(status.message)"
    }
}

/// Bytes handed from a reading thread to the thread that waits for them.
final class ThreadSafeData: @unchecked Sendable {
    private let condition = NSCondition()
    private var value: Data?

    func set(_ data: Data) {
        condition.lock()
        value = data
        condition.broadcast()
        condition.unlock()
    }

    func waitForValue() -> Data {
        condition.lock()
        defer { condition.unlock() }
        while value == nil { condition.wait() }
        return value!
    }
}

/// One command's run: the connection settings and the output.
struct Session: Sendable {
    let cli: CLI
    /// `--json`: print the server's answers as JSON.
    let json: Bool
    let settings: ConnectionSettings

    /// What a command does once connected.
    typealias Plan = @Sendable (any RPCChannel) async throws -> Int32

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
