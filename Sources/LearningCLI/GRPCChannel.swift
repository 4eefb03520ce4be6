import Foundation
import GRPCWire
import H2Transport

/// The CLI's connection to the server's gRPC port: H2Transport's blocking `GRPCClient` (one
/// HTTP/2 connection, one call at a time), driven on a serial queue of its own so the async
/// commands never block the cooperative thread pool.
final class GRPCChannel: RPCChannel, @unchecked Sendable {
    /// Only touched on `queue`.
    private let client: GRPCClient
    private let queue = DispatchQueue(label: "learning.cli.grpc")
    /// Unary calls give up after this long (sent as `grpc-timeout` too).
    let unaryTimeout: Duration = .seconds(120)
    /// The largest response message the CLI accepts (a big insights page or import summary).
    static let maxReceiveMessageBytes = 64 << 20

    /// Connects to `settings.host:settings.port` and starts the HTTP/2 session.
    static func connect(_ settings: ConnectionSettings) async throws -> GRPCChannel {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<GRPCChannel, any Error>) in
            DispatchQueue.global().async {
                continuation.resume(with: Result {
                    let client = try GRPCClient(host: settings.host, port: settings.port)
                    client.maxReceiveMessageBytes = maxReceiveMessageBytes
                    return GRPCChannel(client: client)
                })
            }
        }
    }

    private init(client: GRPCClient) {
        self.client = client
    }

    func unary(_ path: String, _ request: [UInt8], metadata: [(String, String)]) async throws -> [UInt8] {
        let timeout = unaryTimeout
        let messages = try await onQueue { client in
            try client.unary(path, request: request, metadata: metadata.map { Metadata($0.0, $0.1) }, timeout: timeout).messages
        }
        guard messages.count == 1 else {
            throw GRPCStatus(.internal, "expected one response message, got \(messages.count)")
        }
        return messages[0]
    }

    func serverStreaming(_ path: String, _ request: [UInt8], metadata: [(String, String)],
                         onMessage: @Sendable ([UInt8]) async throws -> Void) async throws {
        let (stream, continuation) = AsyncThrowingStream<[UInt8], any Error>.makeStream()
        queue.async {
            do {
                try self.client.serverStreaming(path, request: request, metadata: metadata.map { Metadata($0.0, $0.1) }) { message in
                    // Once the reader has gone (its handler threw or it was cancelled), stop the call.
                    if case .terminated = continuation.yield(message) { throw CancellationError() }
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        for try await message in stream { try await onMessage(message) }
    }

    /// Runs `body` with the client on the channel's queue.
    private func onQueue<T: Sendable>(_ body: @escaping @Sendable (GRPCClient) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            queue.async { continuation.resume(with: Result { try body(self.client) }) }
        }
    }
}
