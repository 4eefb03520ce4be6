import Foundation
import Synchronization
import Testing
import CProtobufC
import LearningProtoC
import ProtobufCSupport
@testable import GRPCWire
@testable import H2Transport

/// How long the tests wait for things that normally take milliseconds. A loaded 2-core CI machine
/// can be many times slower than a quiet one, so every wait is `patience` times what a quiet machine
/// needs; a real hang still fails, just later. LEARNING_TEST_TIME_SCALE (default 10) sets the factor.
enum TestTiming {
    static let scale: Double = {
        let value = ProcessInfo.processInfo.environment["LEARNING_TEST_TIME_SCALE"].flatMap(Double.init) ?? 10
        return max(value, 1)
    }()

    /// `quiet`, the time a step takes on a quiet machine, scaled for a loaded one.
    static func patience(_ quiet: Duration) -> Duration { quiet * scale }

    /// The deadline (seconds) the Python gRPC clients give calls whose point is not a deadline.
    static var pythonDeadline: String { String(Int(10 * scale)) }
}

/// Things the test handlers observed, for assertions.
final class HandlerProbe: Sendable {
    let cancelledCalls = Atomic<Int>(0)
    let completedSlowCalls = Atomic<Int>(0)
    let startedSlowCalls = Atomic<Int>(0)
    let inlineCalls = Atomic<Int>(0)
    /// Answers `.unaryCallback` handlers gave after their call's deadline.
    let lateAnswers = Atomic<Int>(0)
}

enum TestPaths {
    static let service = "/learning.v1.LearningSystem/"
    static let getHealth = service + "GetHealth"
    static let getAgentStatus = service + "GetAgentStatus"
    static let watchInsights = service + "WatchInsights"
    static let streamExecutions = service + "StreamExecutions"
    static let ingestExecutions = service + "IngestExecutions"
    static let logExecution = service + "LogExecution"
}

private struct PlainError: Error {}

/// A router with test handlers registered under the real method paths of learning.proto.
func makeTestRouter(probe: HandlerProbe) -> Router {
    var router = Router()
    router.register(TestPaths.getHealth, .unaryInline { context, request in
        probe.inlineCalls.add(1, ordering: .relaxed)
        guard unpackMessage(request, learning__v1__get_health_request__unpack) != nil else {
            throw GRPCStatus(.invalidArgument, "request is not a valid GetHealthRequest")
        }
        if let token = context.metadata.first("authorization") {
            context.responseMetadata.addInitial(Metadata("x-echo-authorization", token))
            context.responseMetadata.addTrailing(Metadata("x-trailer-check", "trailer-\(token)"))
        }
        let arena = ProtoArena()
        let response = arena.message(learning__v1__get_health_response__init)
        response.pointee.status = arena.string("healthy")
        response.pointee.service = arena.string("learning-system")
        response.pointee.version = arena.string("test")
        return packMessage(response)
    })
    router.register(TestPaths.getAgentStatus, .unary { context, request in
        guard let decoded = unpackMessage(request, learning__v1__get_agent_status_request__unpack) else {
            throw GRPCStatus(.invalidArgument, "request is not a valid GetAgentStatusRequest")
        }
        let name = stringField(decoded.message.agent_name)
        switch name {
        case "slow":
            do {
                try await Task.sleep(for: .seconds(5))
            } catch {
                probe.cancelledCalls.add(1, ordering: .relaxed)
                throw error
            }
        case "short":
            probe.startedSlowCalls.add(1, ordering: .relaxed)
            try await Task.sleep(for: .milliseconds(600))
            probe.completedSlowCalls.add(1, ordering: .relaxed)
        case "boom":
            throw PlainError()
        case "missing":
            throw GRPCStatus(.notFound, "agent 'missing' not found: naïve 100% ✗")
        default:
            break
        }
        let arena = ProtoArena()
        let response = arena.message(learning__v1__agent_status__init)
        response.pointee.status = arena.string("healthy")
        response.pointee.reason = arena.string("agent \(name.count) chars")
        return packMessage(response)
    })
    // Task-free unary: the agent name says how the call ends. "now": answered before the handler
    // returns; "later": from another thread 50 ms on; "late": 600 ms on; "invalid" / "boom": a
    // status / a plain error thrown by the answer.
    router.register(TestPaths.logExecution, .unaryCallback { _, request, responder in
        guard let decoded = unpackMessage(request, learning__v1__log_execution_request__unpack),
              let execution = decoded.message.execution else {
            return responder.complete { throw GRPCStatus(.invalidArgument, "request is not a valid LogExecutionRequest") }
        }
        let name = stringField(execution.pointee.agent_name)
        let answer: @Sendable () throws -> [UInt8] = {
            switch name {
            case "invalid": throw GRPCStatus(.invalidArgument, "agent_name \(name) is invalid")
            case "boom": throw PlainError()
            default: break
            }
            if name == "late" { probe.lateAnswers.add(1, ordering: .relaxed) }
            let arena = ProtoArena()
            let response = arena.message(learning__v1__log_execution_response__init)
            response.pointee.id = Int64(name.utf8.count)
            return packMessage(response)
        }
        switch name {
        case "later", "invalid", "boom":
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(50)) { responder.complete(answer) }
        case "late":
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(600)) { responder.complete(answer) }
        default:
            responder.complete(answer)
        }
    })
    router.register(TestPaths.watchInsights, .serverStreaming { _, request, writer in
        guard let decoded = unpackMessage(request, learning__v1__watch_insights_request__unpack) else {
            throw GRPCStatus(.invalidArgument, "request is not a valid WatchInsightsRequest")
        }
        let kinds = repeatedStrings(decoded.message.n_kinds, decoded.message.kinds)
        let forever = kinds.contains("forever")
        let count = forever ? Int.max : (Int(stringField(decoded.message.agent_name)) ?? 5)
        var index = 0
        do {
            while index < count {
                let arena = ProtoArena()
                let insight = arena.message(learning__v1__insight__init)
                insight.pointee.id = arena.string("i\(index)")
                insight.pointee.kind = arena.string("model")
                let event = arena.message(learning__v1__insight_event__init)
                event.pointee.event_case = LEARNING__V1__INSIGHT_EVENT__EVENT_INSIGHT
                event.pointee.insight = insight
                try await writer.send(packMessage(event))
                index += 1
                if forever { try await Task.sleep(for: .milliseconds(20)) }
            }
        } catch {
            probe.cancelledCalls.add(1, ordering: .relaxed)
            throw error
        }
        writer.addTrailingMetadata(Metadata("x-sent", String(index)))
    })
    router.register(TestPaths.streamExecutions, .clientStreaming { _, requests in
        var accepted: Int64 = 0
        for try await bytes in requests {
            guard unpackMessage(bytes, learning__v1__execution__unpack) != nil else {
                throw GRPCStatus(.invalidArgument, "message \(accepted) is not a valid Execution")
            }
            accepted += 1
        }
        let arena = ProtoArena()
        let response = arena.message(learning__v1__log_executions_response__init)
        response.pointee.accepted = accepted
        return packMessage(response)
    })
    router.register(TestPaths.ingestExecutions, .bidirectional { _, requests, writer in
        var sequence: Int64 = 0
        for try await bytes in requests {
            guard let execution = unpackMessage(bytes, learning__v1__execution__unpack) else {
                throw GRPCStatus(.invalidArgument, "message \(sequence) is not a valid Execution")
            }
            let arena = ProtoArena()
            let ack = arena.message(learning__v1__execution_ack__init)
            ack.pointee.sequence = sequence
            ack.pointee.id = Int64(stringField(execution.message.agent_name).count)
            try await writer.send(packMessage(ack))
            sequence += 1
        }
    })
    router.http = { request in
        switch (request.method, request.path) {
        case ("GET", "/health"):
            return .inline { _ in
                HTTPResponse(status: 200, headers: [Metadata("content-type", "application/json")],
                             body: Array("{\"status\":\"healthy\"}".utf8), route: "GET /health")
            }
        case ("GET", "/slow"):
            return .async { _ in
                try? await Task.sleep(for: .milliseconds(300))
                return HTTPResponse(status: 200, body: Array("slow".utf8))
            }
        case ("POST", "/echo"):
            return .async { request in
                HTTPResponse(status: 200, headers: [Metadata("content-type", "application/octet-stream"),
                                                    Metadata("x-body-length", String(request.body.count))],
                             body: request.body)
            }
        default:
            return .inline { request in
                HTTPResponse(status: 404, headers: [Metadata("content-type", "application/json")],
                             body: Array("{\"error\":\"no route for \(request.path)\"}".utf8))
            }
        }
    }
    return router
}

/// A server on an ephemeral port with the test router, stopped by `stop()`.
final class TestServer: Sendable {
    let server: H2Server
    let probe = HandlerProbe()
    let log = LogLines()

    init(configure: (inout ServerConfiguration) -> Void = { _ in }, router: Router? = nil) throws {
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0, loopThreads: 2)
        configure(&configuration)
        let log = self.log
        if configuration.accessLog != .off {
            configuration.accessLogSink = { line in log.lines.withLock { $0.append(line) } }
        }
        server = H2Server(configuration: configuration, router: router ?? makeTestRouter(probe: probe))
        try server.start()
    }

    var port: Int { server.port }

    func stop() { server.shutdown(grace: .seconds(2)) }
}

/// Access-log lines a test server wrote.
final class LogLines: Sendable {
    let lines = Mutex<[String]>([])
}

/// The result of a subprocess.
struct ProcessResult {
    var status: Int32
    var stdout: String
    var stderr: String

    /// stdout parsed as one JSON object.
    func json() throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any] else {
            throw TestFailure("not a JSON object: \(stdout) / \(stderr)")
        }
        return object
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs a program and collects its output (with a timeout).
func runProcess(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                timeout: Duration = TestTiming.patience(.seconds(30))) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    for (key, value) in environment { env[key] = value }
    process.environment = env
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let outData = Mutex(Data()), errData = Mutex(Data())
    let group = DispatchGroup()
    group.enter()
    startThread {
        let data = out.fileHandleForReading.readDataToEndOfFile()
        outData.withLock { $0 = data }
        group.leave()
    }
    group.enter()
    startThread {
        let data = err.fileHandleForReading.readDataToEndOfFile()
        errData.withLock { $0 = data }
        group.leave()
    }
    let deadline = ContinuousClock.now + timeout
    while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
    if process.isRunning {
        process.terminate()
        throw TestFailure("\(executable) \(arguments) timed out")
    }
    group.wait()
    return ProcessResult(status: process.terminationStatus,
                         stdout: String(decoding: outData.withLock { $0 }, as: UTF8.self),
                         stderr: String(decoding: errData.withLock { $0 }, as: UTF8.self))
}

/// Runs Tests/H2TransportTests/python/grpc_client.py with the test virtualenv. Fails (never skips)
/// when the environment scripts/test.sh exports is missing.
func runPythonClient(_ arguments: [String]) throws -> ProcessResult {
    let environment = ProcessInfo.processInfo.environment
    guard let python = environment["LEARNING_TEST_PYTHON"], let generated = environment["LEARNING_TEST_PYGEN"] else {
        throw TestFailure("LEARNING_TEST_PYTHON and LEARNING_TEST_PYGEN must be set (scripts/test.sh exports them)")
    }
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("python/grpc_client.py").path
    return try runProcess(python, [script] + arguments,
                          environment: ["PYTHONPATH": generated, "GRPC_TEST_DEADLINE": TestTiming.pythonDeadline],
                          timeout: TestTiming.patience(.seconds(30)))
}

/// The path of a command-line tool, or a failure naming it.
func tool(_ name: String) throws -> String {
    for directory in ["/usr/bin", "/usr/local/bin", "/usr/sbin", "/bin"] {
        let path = "\(directory)/\(name)"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    throw TestFailure("\(name) is not installed")
}

/// Runs blocking test code (subprocesses, sockets, waits) on a thread of its own, so it never
/// occupies the Swift concurrency pool the server's async handlers run on.
func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.stackSize = 4 << 20
        thread.start()
    }
}

/// Runs blocking work on a new thread. (Blocking Dispatch's global queues would starve the Swift
/// concurrency pool on Linux, which shares their threads, and with it the server's async handlers.)
func startThread(_ body: @escaping @Sendable () -> Void) {
    let thread = Thread(block: body)
    thread.start()
}
