import Foundation
import Testing
import LearningAPI
import LearningCore
@testable import LearningCLI

@Test func globalOptionsAreAcceptedAnywhereAndBothValueForms() throws {
    let parsed = try Learning.parseAsRoot(["--json", "agents", "--server=10.0.0.1:9000", "status", "director", "--api-key", "k"])
    let status = try #require(parsed as? Agents.Status)
    #expect(status.name == "director")
    #expect(status.global.server == "10.0.0.1:9000")
    #expect(status.global.apiKey == "k")
    #expect(status.global.json)
    // `--` ends the options: what follows is an operand even when it looks like one.
    let operand = try #require(try Learning.parseAsRoot(["agents", "status", "--", "--agent"]) as? Agents.Status)
    #expect(operand.name == "--agent")
}

@Test func unknownOptionsAndMissingValuesAreUsageErrors() async {
    for arguments in [["--bogus"], ["log", "--agent"], ["--json=yes", "health"], ["-x"], ["health", "--limit", "3"],
                      ["agents", "list", "--status", "sleepy"]] {
        let (code, captured) = await runOffline(arguments)
        #expect(code == ExitStatus.usage, "\(arguments)")
        #expect(captured.err.contains("Error: "), "\(arguments): \(captured.err)")
        #expect(captured.out.isEmpty, "\(arguments)")
    }
}

@Test func serverComesFromTheFlagThenTheEnvironmentThenTheDefault() throws {
    let none = try GlobalOptions.parse([])
    #expect(try ConnectionSettings(global: none, environment: [:]) ==
            ConnectionSettings(global: try GlobalOptions.parse(["--server", "127.0.0.1:8080"]), environment: [:]))
    let fromEnvironment = try ConnectionSettings(global: none, environment: ["LEARNING_SERVER": "db.local:9000", "LEARNING_API_KEY": "k"])
    #expect(fromEnvironment.host == "db.local")
    #expect(fromEnvironment.port == 9000)
    #expect(fromEnvironment.apiKey == "k")
    let flag = try ConnectionSettings(global: try GlobalOptions.parse(["--server", "http://[::1]:7000/", "--api-key", "x"]),
                                      environment: ["LEARNING_SERVER": "db.local:9000", "LEARNING_API_KEY": "k"])
    #expect(flag.host == "::1")
    #expect(flag.port == 7000)
    #expect(flag.apiKey == "x")
    for bad in ["host:0", "host:99999", ":80", "host:abc", "[::1"] {
        #expect(throws: UsageError.self, "\(bad)") { try ConnectionSettings.split(bad) }
    }
}

@Test func aBadServerAddressIsAUsageErrorBeforeConnecting() async {
    let (code, captured) = await runOffline(["health", "--server", "host:abc"])
    #expect(code == ExitStatus.usage)
    #expect(captured.err.hasPrefix("learning health: bad port in host:abc"), "\(captured.err)")
}

/// Captures what a CLI run prints.
final class Captured: @unchecked Sendable {
    private let lock = NSLock()
    private var outLines: [String] = []
    private var errLines: [String] = []
    var out: String { lock.withLock { outLines.joined(separator: "\n") } }
    var err: String { lock.withLock { errLines.joined(separator: "\n") } }
    var output: Output {
        Output(out: { line in self.lock.withLock { self.outLines.append(line) } },
               err: { line in self.lock.withLock { self.errLines.append(line) } })
    }
}

struct NoConnection: Error {}

func runOffline(_ arguments: [String]) async -> (Int32, Captured) {
    let captured = Captured()
    let cli = CLI(output: captured.output, environment: [:], connect: { _ in throw NoConnection() })
    return (await cli.run(arguments), captured)
}

@Test func usageMistakesExitWith2BeforeConnecting() async {
    for arguments in [[], ["frobnicate"], ["agents"], ["agents", "delete", "x"], ["agents", "status"], ["predict", "a"],
                      ["log", "--agent", "a", "--task-type", "t", "--time", "1"],                       // no --success/--failure
                      ["log", "--agent", "a", "--task-type", "t", "--time", "1", "--success", "--failure"],
                      ["log", "--agent", "a", "--task-type", "t", "--time", "x", "--success"],          // time not a number
                      ["log", "--agent", "a", "--task-type", "t", "--time", "-1", "--success"],         // negative
                      ["log", "--agent", "bad name", "--task-type", "t", "--time", "1", "--failure"],   // bad name
                      ["log", "--agent", "a", "--task-type", "t", "--time", "1", "--success", "--task-id", "no\tpe"],
                      ["agents", "register", "x", "--tools", "a,,b", "--model", String(repeating: "m", count: 300)],
                      ["recommend", "t", "--limit", "0"], ["recommend", "t", "--speed-weight", "2"],
                      ["insights", "--limit", "5000"], ["patterns", "--kinds", "astrology"], ["health", "--limit", "3"],
                      ["import"], ["import", "/nonexistent.csv"], ["import", "file.txt"], ["import", "f.csv", "--batch-size", "0"],
                      ["db-check", "extra"], ["db-check", "--limit", "3"]] {
        let (code, captured) = await runOffline(arguments)
        #expect(code == ExitStatus.usage, "\(arguments): \(captured.err)")
        #expect(!captured.err.isEmpty, "\(arguments)")
    }
}

@Test func aCheckByTheServersRulesNamesTheField() async {
    let (code, captured) = await runOffline(["log", "--agent", "bad name", "--task-type", "t", "--time", "1", "--failure"])
    #expect(code == ExitStatus.usage)
    #expect(captured.err.contains(#"execution.agent_name "bad name" must match"#), "\(captured.err)")
    #expect(captured.err.contains("Usage: learning log"), "\(captured.err)")
}

@Test func helpIsAvailableEverywhereAndExits0() async {
    for arguments in [["--help"], ["-h"], ["help"]] {
        let (code, captured) = await runOffline(arguments)
        #expect(code == 0, "\(arguments)")
        #expect(captured.out.contains("USAGE: learning [--server <host:port>] [--api-key <key>] [--json] <subcommand>"), "\(arguments)")
        #expect(captured.out.contains("Exit codes: 0 ok, 1 server or connection error, 2 usage error."), "\(arguments)")
        #expect(captured.err.isEmpty)
    }
    for command in [["health"], ["agents"], ["agents", "list"], ["agents", "status"], ["agents", "register"], ["log"], ["import"],
                    ["predict"], ["recommend"], ["patterns"], ["insights"], ["watch"], ["db-check"]] {
        for arguments in [command + ["--help"], ["help"] + command] {
            let (code, captured) = await runOffline(arguments)
            #expect(code == 0, "\(arguments)")
            #expect(captured.out.contains("USAGE: learning \(command.joined(separator: " "))"), "\(arguments): \(captured.out)")
            #expect(captured.out.contains("--server <host:port>"), "\(arguments): the global options are listed")
        }
    }
    let (_, log) = await runOffline(["log", "--help"])
    for option in ["--agent <name>", "--task-type <type>", "--time <seconds>", "--success", "--failure", "--error <message>",
                   "--task-id <uuid>", "--event-id <id>"] {
        #expect(log.out.contains(option), "\(option)")
    }
}

@Test func aConnectionFailureExitsWith1() async {
    let (code, captured) = await runOffline(["health"])
    #expect(code == 1)
    #expect(captured.err.contains("learning health"))
    let (agentCode, agent) = await runOffline(["agents", "status", "director"])
    #expect(agentCode == 1)
    #expect(agent.err.hasPrefix("learning agents status: "), "\(agent.err)")
}

// MARK: - Import files

@Test func csvReaderHandlesQuotesNewlinesAndCRLF() throws {
    var reader = CSVReader(bytes: Array("a,b,c\r\n1,\"x, \"\"y\"\"\",\"multi\nline\"\n\n2,,\n".utf8))
    #expect(try reader.next() == ["a", "b", "c"])
    #expect(try reader.next() == ["1", "x, \"y\"", "multi\nline"])
    #expect(reader.line == 4)
    #expect(try reader.next() == ["2", "", ""])
    #expect(try reader.next() == nil)
    var broken = CSVReader(bytes: Array("\"open".utf8))
    #expect(throws: ImportRejection.self) { try broken.next() }
}

@Test func theSharedDevCSVRowsParseIntoExecutions() throws {
    let header = "agent_name,task_id,task_type,execution_time,success,error_message,resource_usage,timestamp"
    let row = #"auditor-03,120f4156-2bf0-4841-9994-cd8c5d83e6cf,backup_verify,183.628,true,,"{""cpu"": 62.9, ""memory_mb"": 3434.0, ""tokens"": 29119}",2025-01-06T00:00:02.933Z"#
    let path = NSTemporaryDirectory() + "cli-\(UUID()).csv"
    try (header + "\n" + row + "\nx,,t,1,maybe,,,\ny,,t,abc,true,,,\n").write(toFile: path, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: path) }
    var reader = try ExecutionFileReader(path: path)
    let firstRecord = reader.next()
    let first = try #require(firstRecord)
    let input = try first.result.get()
    #expect(first.line == 2)
    #expect(input.agentName == "auditor-03")
    #expect(input.taskType == "backup_verify")
    #expect(input.executionTime == 183.628)
    #expect(input.resourceUsage.memoryMB == 3434)
    #expect(input.resourceUsage.tokens == 29119)
    #expect(input.timestamp?.timeIntervalSince1970 == 1_736_121_602.933)
    _ = try Validation.execution(input)
    let secondRecord = reader.next()
    let second = try #require(secondRecord)
    #expect(throws: ImportRejection.self) { try second.result.get() }
    let thirdRecord = reader.next()
    let third = try #require(thirdRecord)
    #expect((try? third.result.get()) == nil)
    let end = reader.next()
    #expect(end == nil)
}

@Test func eventIDsAreStableAndDifferPerRow() {
    let a = ExecutionInput(agentName: "a", taskType: "t", executionTime: 1.5, success: true, timestamp: Date(timeIntervalSince1970: 10))
    var b = a
    b.executionTime = 1.6
    #expect(ExecutionRows.eventID(for: a) == ExecutionRows.eventID(for: a))
    #expect(ExecutionRows.eventID(for: a) != ExecutionRows.eventID(for: b))
    #expect(ExecutionRows.eventID(for: a).count == 39)
    _ = try? Validation.eventID(ExecutionRows.eventID(for: a))
}

@Test func progressLineShowsPercentRateAndETA() {
    let line = ProgressReporter.line(bytes: 250, totalBytes: 1000, rows: 500, elapsed: 2)
    #expect(line == "[#######.......................]  25.0% 500 rows 250 rows/s ETA 6s")
    #expect(ProgressReporter.line(bytes: 1000, totalBytes: 1000, rows: 9, elapsed: 1, width: nil) == "100.0% 9 rows 9 rows/s ETA 0s")
}

// MARK: - Protobuf JSON

@Test func executionsRoundTripThroughTheProtoMessage() throws {
    let input = ExecutionInput(agentName: "director", taskID: "120f4156-2bf0-4841-9994-cd8c5d83e6cf", taskType: "plan",
                               executionTime: 2.5, success: false, errorMessage: "boom",
                               resourceUsage: ResourceUsage(cpu: 3, memoryMB: 4, tokens: 5, other: ["gpu": 1]),
                               timestamp: Date(timeIntervalSince1970: 1_736_121_602.933), eventID: "e1")
    let method = RPCMethod.named("LogExecution")
    let bytes = try ProtoJSON.encode(.object([("execution", ExecutionRows.protoJSON(input))]), method.input)
    let back = try #require(ProtoJSON.decode(bytes, method.input))
    let execution = try #require(back["execution"])
    #expect(execution["agent_name"] == .string("director"))
    #expect(execution["execution_time"] == .number("2.5"))
    #expect(execution["success"] == .bool(false))
    #expect(execution["resource_usage"]?["memory_mb"] == .number("4"))
    #expect(execution["resource_usage"]?["other"] == .object([("gpu", .number("1"))]))
    #expect(execution["timestamp"] == .string("2025-01-06T00:00:02Z"))
    #expect(execution["event_id"] == .string("e1"))
}

@Test func protoEncodingRejectsUnknownFieldsAndWrongTypes() {
    let method = RPCMethod.named("GetRecommendations")
    #expect(throws: ProtoJSONError.self) { try ProtoJSON.encode(.object([("nope", .int(1))]), method.input) }
    #expect(throws: ProtoJSONError.self) { try ProtoJSON.encode(.object([("limit", .string("x"))]), method.input) }
    #expect(throws: ProtoJSONError.self) { try ProtoJSON.encode(.object([("limit", .number("1e12"))]), method.input) }
    #expect(ProtoJSON.decode([0xFF, 0xFF, 0xFF], method.output) == nil)
}

@Test func randomImportFilesNeverCrashTheReader() throws {
    var state = UInt64(Date().timeIntervalSince1970 * 1000)
    func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    let header = "agent_name,task_id,task_type,execution_time,success,error_message,resource_usage,timestamp\n"
    let pieces = ["a", ",", "\"", "\"\"", "\n", "\r\n", "true", "false", "1e999", "-1", "{", "}", "{\"cpu\": 1}", "2025-01-06T00:00:02.933Z",
                  "é", "\u{0}", "120f4156-2bf0-4841-9994-cd8c5d83e6cf", "[", "nan"]
    for round in 0..<200 {
        for ext in ["csv", "jsonl"] {
            var text = ext == "csv" ? header : ""
            for _ in 0..<Int(next() % 60) { text += pieces[Int(next() % UInt64(pieces.count))] }
            let path = NSTemporaryDirectory() + "fuzz-\(round).\(ext)"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: path) }
            guard var reader = try? ExecutionFileReader(path: path) else { continue }
            var count = 0
            while let record = reader.next() {
                count += 1
                #expect(record.line >= 1)
                if count > 10_000 { Issue.record("reader does not advance"); break }
            }
        }
    }
}
