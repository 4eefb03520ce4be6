import Foundation
import LearningTestDatabase
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A real `learning-server` process on an ephemeral port, over a fresh database.
final class ServerProcess: Sendable {
    let process: Process
    let port: Int
    let databaseURL: String
    private let output: OutputBuffer

    /// Text a child process writes, collected from a reading thread.
    final class OutputBuffer: Sendable {
        private let text = Mutex("")
        func append(_ data: Data) { text.withLock { $0 += String(decoding: data, as: UTF8.self) } }
        var value: String { text.withLock { $0 } }
    }

    /// The built server binary (`swift build --build-tests` builds it next to the tests).
    static func binary() throws -> String {
        var candidates: [URL] = []
        candidates.append(Bundle.main.bundleURL.appendingPathComponent("learning-server"))
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("learning-server"))
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(root.appendingPathComponent(".build/debug/learning-server"))
        if let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) { return found.path }
        throw TestEnvironment.Missing(description: "learning-server is not built: run `swift build --build-tests` first (scripts/test.sh does)")
    }

    /// Starts the server with `environment` added to a minimal one; waits until it listens.
    static func start(environment extra: [String: String] = [:], arguments: [String] = [],
                      databaseURL existing: String? = nil) throws -> ServerProcess {
        let databaseURL = try existing ?? TestEnvironment.freshDatabase()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try binary())
        process.arguments = arguments.isEmpty ? ["--port", "0"] : arguments
        var environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
                           "LEARNING_DATABASE_URL": databaseURL, "LEARNING_LOG_LEVEL": "INFO"]
        for (key, value) in extra { environment[key] = value }
        process.environment = environment
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = pipe
        let output = OutputBuffer()
        let reader = pipe.fileHandleForReading
        let readerDone = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            while true {
                let data = reader.availableData
                if data.isEmpty { break }
                output.append(data)
            }
            readerDone.signal()
        }
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        var port: Int?
        while port == nil && Date() < deadline && process.isRunning {
            usleep(50_000)
            let text = output.value
            if let range = text.range(of: #"listening on [^ ]+:(\d+)"#, options: .regularExpression) {
                port = Int(text[range].split(separator: ":").last ?? "")
            }
        }
        guard let port else {
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
            // What the server printed just before it exited may still be in the pipe: read to the end.
            _ = readerDone.wait(timeout: .now() + 5)
            throw TestEnvironment.Missing(description: "learning-server did not start: \(output.value)")
        }
        // Serving starts at once; the figures are complete (health `healthy`, not `starting`)
        // once the start-up says so.
        while !output.value.contains("start-up complete") && Date() < deadline && process.isRunning {
            usleep(20_000)
        }
        return ServerProcess(process: process, port: port, databaseURL: databaseURL, output: output)
    }

    private init(process: Process, port: Int, databaseURL: String, output: OutputBuffer) {
        self.process = process
        self.port = port
        self.databaseURL = databaseURL
        self.output = output
    }

    /// Everything the server wrote so far.
    var log: String { output.value }

    /// Sends SIGTERM and waits; returns the exit status.
    @discardableResult
    func stop(timeout: Double = 30) -> Int32 {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return -1
        }
        return process.terminationStatus
    }

    /// Runs one of the Python test scripts against this server; returns its output, failing the
    /// test when it exits non-zero.
    func runPython(_ script: String, _ arguments: [String]) throws -> String {
        let (python, generated) = try TestEnvironment.python()
        let (status, text) = try TestProcess.run(python, [TestEnvironment.scriptsDirectory + "/" + script] + arguments,
                                                 environment: ["PYTHONPATH": generated])
        if status != 0 {
            Issue.record("\(script) failed (\(status)):\n\(text)\n--- server log ---\n\(log.suffix(4000))")
        }
        return text
    }
}
