import Foundation
import LearningTestDatabase
import H2Transport
import LearningCore
import LearningREST
import LearningRPC
import LearningService
import LearningStore
import Testing

/// Why an integration test could not run.
struct FixtureError: Error, CustomStringConvertible {
    var description: String
}

/// The whole server stack on an ephemeral port: a fresh database on the test PostgreSQL
/// (`LEARNING_TEST_DATABASE_URL`), the real `LearningService`, its gRPC methods and the REST
/// routes on one `H2Server`, exactly as learning-server wires them.
final class ServerFixture: @unchecked Sendable {
    let service: LearningService
    let server: H2Server
    let databaseURL: String
    var port: Int { server.port }
    var base: String { "http://127.0.0.1:\(port)" }

    private init(service: LearningService, server: H2Server, databaseURL: String) {
        self.service = service
        self.server = server
        self.databaseURL = databaseURL
    }

    static func start(apiKeys: [String] = [], maxBodyBytes: Int = 8 << 20, ingest: IngestSettings = IngestSettings(),
                      requestTimeout: Duration = .seconds(30),
                      configure: (inout LearningConfig) -> Void = { _ in }) async throws -> ServerFixture {
        let databaseURL = try freshDatabase()
        var config = LearningConfig()
        config.database.url = databaseURL
        config.server.apiKeys = apiKeys
        // The shared dev data is from January 2025: keep it inside the retention window.
        config.performance.metricsRetentionDays = 36_500
        configure(&config)
        let store = try await LearningStore.open(config: config, ingest: ingest)
        let service = LearningService(config: config, store: store)
        await service.start()
        _ = await service.waitUntilStarted()
        var router = Router()
        LearningRPC.register(into: &router, handlers: service)
        let prometheus = PrometheusExposition(expectedAgents: config.agents.totalAgents)
        router.http = makeRESTHandler(service: service, maxBodyBytes: maxBodyBytes, prometheus: prometheus)
        router.httpCost = makeRESTCost()
        var serverConfiguration = ServerConfiguration(host: "127.0.0.1", port: 0, loopThreads: 1,
                                                      maxHTTP1BodyBytes: maxBodyBytes, metricsFactory: prometheus.factory)
        serverConfiguration.requestTimeout = requestTimeout
        let server = H2Server(configuration: serverConfiguration, router: router)
        try server.start()
        service.setRequestFigures { RequestFigures(server.metrics) }
        return ServerFixture(service: service, server: server, databaseURL: databaseURL)
    }

    /// Runs `body` against a started fixture and always stops the fixture afterwards.
    static func with<R>(apiKeys: [String] = [], maxBodyBytes: Int = 8 << 20, ingest: IngestSettings = IngestSettings(),
                        requestTimeout: Duration = .seconds(30),
                        configure: (inout LearningConfig) -> Void = { _ in },
                        _ body: (ServerFixture) async throws -> R) async throws -> R {
        let fixture = try await start(apiKeys: apiKeys, maxBodyBytes: maxBodyBytes, ingest: ingest,
                                      requestTimeout: requestTimeout, configure: configure)
        do {
            let result = try await body(fixture)
            await fixture.stop()
            return result
        } catch {
            await fixture.stop()
            throw error
        }
    }

    func stop() async {
        server.shutdown(grace: .seconds(2))
        await service.shutdown()
    }

    /// A new empty database on the test server, so tests do not see each other's rows.
    static func freshDatabase() throws -> String { try TestDatabase.create(prefix: "rest_test") }
}

/// What a subprocess printed and how it ended.
struct ProcessResult {
    var status: Int32
    var output: String
    var error: String
}

/// Runs a program to completion on a thread of its own, so waiting for it never holds one of
/// Swift concurrency's few cooperative threads (the server under test needs them).
@discardableResult
func run(_ executable: String, _ arguments: [String], input: [UInt8]? = nil, environment: [String: String] = [:]) async throws -> ProcessResult {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try runBlocking(executable, arguments, input: input, environment: environment) })
        }
        thread.start()
    }
}

/// Runs a program to completion, feeding `input` on stdin (blocks the calling thread).
@discardableResult
func runBlocking(_ executable: String, _ arguments: [String], input: [UInt8]? = nil, environment: [String: String] = [:]) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    for (key, value) in environment { env[key] = value }
    process.environment = env
    let out = Pipe()
    let err = Pipe()
    let inPipe = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = inPipe
    try process.run()
    let writer = Thread {
        if let input { inPipe.fileHandleForWriting.write(Data(input)) }
        try? inPipe.fileHandleForWriting.close()
    }
    writer.start()
    // Drain stderr on another thread so neither pipe can fill up and block the child.
    let errorBox = DataBox()
    let reader = Thread { errorBox.data = err.fileHandleForReading.readDataToEndOfFile() }
    reader.start()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    while !errorBox.done { usleep(1_000) }
    return ProcessResult(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self),
                         error: String(decoding: errorBox.data, as: UTF8.self))
}

final class DataBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored = Data()
    private var finished = false
    var data: Data {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue; finished = true } }
    }
    var done: Bool { lock.withLock { finished } }
}

/// One HTTP exchange made with curl.
struct CurlReply {
    var status: Int
    var headers: [String: String]
    var body: String
    var json: JSONValue? { try? JSONValue.parse(body) }
    var errorCode: String? {
        if case let .string(code)? = json?["error"] { return code }
        return nil
    }
}

/// Sends a request with the curl binary (HTTP/1.1 by default, or HTTP/2 with prior knowledge).
func curl(_ method: String, _ url: String, body: String? = nil, headers: [String] = [], http2: Bool = false,
          contentType: String? = "application/json") async throws -> CurlReply {
    // HEAD through -I: with -X HEAD curl would wait for the body the Content-Length announces.
    var arguments = method == "HEAD" ? ["-s", "-S", "-I", "--max-time", "60"] : ["-s", "-S", "-i", "-X", method, "--max-time", "60"]
    arguments.append(http2 ? "--http2-prior-knowledge" : "--http1.1")
    for header in headers { arguments += ["-H", header] }
    if body != nil {
        if let contentType { arguments += ["-H", "Content-Type: \(contentType)"] } else { arguments += ["-H", "Content-Type:"] }
        arguments += ["--data-binary", "@-"]
    }
    arguments.append(url)
    let result = try await run("/usr/bin/curl", arguments, input: body.map { Array($0.utf8) })
    guard result.status == 0 else { throw FixtureError(description: "curl \(method) \(url) failed: \(result.error)") }
    // Headers, a blank line, then the body.
    let text = result.output
    guard let split = text.range(of: "\r\n\r\n") else { throw FixtureError(description: "curl: no header block in \(text.prefix(200))") }
    let headLines = text[..<split.lowerBound].components(separatedBy: "\r\n")
    let statusParts = headLines.first?.split(separator: " ") ?? []
    guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw FixtureError(description: "curl: bad status line \(headLines.first ?? "")") }
    var headers: [String: String] = [:]
    for line in headLines.dropFirst() {
        guard let colon = line.firstIndex(of: ":") else { continue }
        headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    return CurlReply(status: status, headers: headers, body: String(text[split.upperBound...]))
}

/// Repeats a request while the server answers 503 (e.g. a model still training on start-up),
/// waiting as `Retry-After` says, for at most `seconds`.
func curlRetrying(_ method: String, _ url: String, body: String? = nil, seconds: Double = 60) async throws -> CurlReply {
    let deadline = Date().addingTimeInterval(seconds)
    while true {
        let reply = try await curl(method, url, body: body)
        guard reply.status == 503, Date() < deadline else { return reply }
        let wait = Double(reply.headers["retry-after"] ?? "1") ?? 1
        try await Task.sleep(for: .milliseconds(Int(min(wait, 2) * 1000)))
    }
}

/// Polls until `condition` holds for the reply, for at most `seconds`; returns the last reply.
func curlUntil(_ url: String, seconds: Double = 60, _ condition: (CurlReply) -> Bool) async throws -> CurlReply {
    let deadline = Date().addingTimeInterval(seconds)
    while true {
        let reply = try await curl("GET", url)
        if condition(reply) || Date() >= deadline { return reply }
        try await Task.sleep(for: .milliseconds(250))
    }
}

/// The `learning` executable built beside the test bundle.
func learningBinary() throws -> String {
    let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    var directory = exe.deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = directory.appendingPathComponent("learning").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        directory = directory.deletingLastPathComponent()
    }
    throw FixtureError(description: "the learning executable is not built next to the tests (run swift build --build-tests)")
}


/// The integration tests, one at a time: each starts a whole server stack, and the machine has two cores.
@Suite(.serialized) struct IntegrationSuite {}
