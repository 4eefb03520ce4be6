import Foundation
import GRPCWire
import LearningAPI

/// `learning import`: validates rows locally, sends them in `LogExecutions` batches, isolates a
/// batch the server rejects by sending its rows one by one, and prints the summary.
struct Importer {
    let session: Session
    let channel: any RPCChannel
    let batchSize: Int
    /// Whether to draw the progress bar on standard error.
    let showProgress: Bool

    struct Summary {
        var read = 0
        var accepted: Int64 = 0
        var duplicates: Int64 = 0
        var rejected: [(line: Int, reason: String)] = []
    }

    /// How many rejection reasons the summary lists (all are counted).
    static let listedRejections = 20

    func run(_ initialReader: ExecutionFileReader) async throws -> Int32 {
        var reader = initialReader
        var summary = Summary()
        var progress = ProgressReporter(totalBytes: reader.bytes.count, enabled: showProgress)
        var batch: [(line: Int, input: ExecutionInput)] = []
        let now = Date()
        while let record = reader.next() {
            summary.read += 1
            switch record.result {
            case .failure(let rejection):
                summary.rejected.append((record.line, rejection.reason))
            case .success(var input):
                if input.eventID == nil { input.eventID = ExecutionRows.eventID(for: input) }
                do {
                    _ = try Validation.execution(input, field: "row", now: now)
                    batch.append((record.line, input))
                } catch let error as ServiceError {
                    summary.rejected.append((record.line, error.detail))
                }
            }
            if batch.count >= batchSize {
                try await send(batch, into: &summary)
                batch.removeAll(keepingCapacity: true)
            }
            progress.update(bytes: reader.position, rows: summary.read)
        }
        if !batch.isEmpty { try await send(batch, into: &summary) }
        progress.finish(bytes: reader.bytes.count, rows: summary.read)
        report(summary)
        return ExitStatus.ok
    }

    private func send(_ batch: [(line: Int, input: ExecutionInput)], into summary: inout Summary, attempt: Int = 1) async throws {
        let request = JSONValue.object([("executions", .array(batch.map { ExecutionRows.protoJSON($0.input) }))])
        do {
            let result = try await call("LogExecutions", request)
            summary.accepted += int(result["accepted"])
            summary.duplicates += int(result["duplicates"])
        } catch let status as GRPCStatus where status.code == .invalidArgument {
            // One bad row rejects the whole batch: send the rows one by one to keep the good ones.
            for row in batch {
                do {
                    let result = try await call("LogExecution", .object([("execution", ExecutionRows.protoJSON(row.input))]))
                    if result["duplicate"] == .bool(true) { summary.duplicates += 1 } else { summary.accepted += 1 }
                } catch let status as GRPCStatus where status.code == .invalidArgument {
                    summary.rejected.append((row.line, status.message))
                }
            }
        } catch let status as GRPCStatus where (status.code == .resourceExhausted || status.code == .unavailable) && attempt < 8 {
            // The server is busy: back off and retry the same batch (event ids make this safe).
            try await Task.sleep(for: .milliseconds(250 << attempt))
            try await send(batch, into: &summary, attempt: attempt + 1)
        }
    }

    private func call(_ method: String, _ request: JSONValue) async throws -> JSONValue {
        try await session.call(method, request, channel: channel)
    }

    private func int(_ value: JSONValue?) -> Int64 {
        if case let .number(text)? = value { return Int64(text) ?? 0 }
        return 0
    }

    private func report(_ summary: Summary) {
        if session.json {
            session.out(JSONValue.object([
                ("read", .int(summary.read)), ("accepted", .int(summary.accepted)), ("duplicates", .int(summary.duplicates)),
                ("rejected", .int(summary.rejected.count)),
                ("rejections", .array(summary.rejected.prefix(1000).map {
                    .object([("line", .int($0.line)), ("reason", .string($0.reason))])
                })),
            ]).text)
            return
        }
        var lines = ["read:       \(summary.read)",
                     "accepted:   \(summary.accepted)",
                     "duplicates: \(summary.duplicates)",
                     "rejected:   \(summary.rejected.count)"]
        for rejection in summary.rejected.prefix(Self.listedRejections) {
            lines.append("  line \(rejection.line): \(rejection.reason)")
        }
        if summary.rejected.count > Self.listedRejections {
            lines.append("  ... and \(summary.rejected.count - Self.listedRejections) more")
        }
        session.out(lines.joined(separator: "\n"))
    }
}
