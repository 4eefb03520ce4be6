// libFuzzer entry point for the gRPC methods, end to end: the first byte picks one of the methods
// the server registers (LearningRPC's and the OTLP trace service's, from the same `Router` table,
// sorted by path), the rest is the request. Unary and server-streaming methods get it as their one
// message; client-streaming and bidirectional methods get a stream cut from it (each message a
// length byte, then that many bytes; the last takes what is left). The handlers run as the
// transport runs them (wire check, protobuf-c unpack, decoding into the service's requests,
// validation) into the real LearningService over the in-memory repository. A server-streaming
// call is cancelled at once (as a client that goes away): its request is still checked, and the
// stream it would watch ends.
// Invariants: no crash; a refusal is a `GRPCStatus` with a client-fault code and a non-empty
// message (never INTERNAL or UNKNOWN, never another error the transport would turn into
// INTERNAL); every response message passes the wire check of the method's response type.
import Foundation
import FuzzSupport
import GRPCWire
import H2Transport
import LearningCore
import LearningRPC
import LearningService
import ProtobufCSupport
import Synchronization

import CFuzzerDriver

let service = startInMemoryService(registering: ["director"])
let router: Router = {
    var router = Router()
    LearningRPC.register(into: &router, handlers: service)
    OTLPTraceService.register(into: &router, handlers: service, taskTypeAttributes: LearningConfig.OTLP().taskTypeAttributes)
    return router
}()
/// Every method path, in a fixed order (fuzz/make-seeds.py numbers its seeds the same way).
let methods = router.grpcMethods.keys.sorted()
let schema = ProtoServiceSchema.learningSystem

/// FUZZ_VERBOSE=1 prints every outcome (to see what seeds reach: `FuzzRPCMethods -runs=0 corpus/rpc`).
let verbose = ProcessInfo.processInfo.environment["FUZZ_VERBOSE"] == "1"

/// The statuses a request may be refused with: the client's fault, or the service's legitimate
/// state (a model not trained yet, back-pressure).
let refusals: Set<GRPCStatusCode> = [.invalidArgument, .notFound, .alreadyExists, .failedPrecondition, .outOfRange,
                                     .resourceExhausted, .unavailable]

/// Collects what a streaming handler sends.
final class CollectingWriter: GRPCResponseWriter {
    let sent = Mutex<[[UInt8]]>([])
    func send(_ message: [UInt8]) async throws { sent.withLock { $0.append(message) } }
    func addTrailingMetadata(_ metadata: Metadata) {}
}

/// The next message of one iteration over a request stream.
final class Cursor: Sendable {
    let messages: [[UInt8]]
    let position = Mutex(0)
    init(_ messages: [[UInt8]]) { self.messages = messages }
    func next() -> [UInt8]? {
        position.withLock { index in
            guard index < messages.count else { return nil }
            index += 1
            return messages[index - 1]
        }
    }
}

/// A request stream over fixed messages.
func requestStream(_ messages: [[UInt8]]) -> AnyGRPCRequestStream {
    AnyGRPCRequestStream(makeNext: {
        let cursor = Cursor(messages)
        return { cursor.next() }
    })
}

/// Cuts `bytes` into messages: a length byte, then that many bytes; the last takes the rest.
func messages(_ bytes: ArraySlice<UInt8>) -> [[UInt8]] {
    var result: [[UInt8]] = []
    var rest = bytes
    while let length = rest.first {
        rest = rest.dropFirst()
        let count = min(Int(length), rest.count)
        result.append(Array(rest.prefix(count)))
        rest = rest.dropFirst(count)
    }
    return result
}

/// What `body` returned or threw.
func outcome<Value>(_ body: () async throws -> Value) async -> Result<Value, any Error> {
    do { return .success(try await body()) } catch { return .failure(error) }
}

/// Runs the handler of `method` on `body`: the response messages, or what it threw.
func call(_ method: String, _ body: [UInt8]) -> (Result<[[UInt8]], any Error>, cancelled: Bool) {
    // What the transport's memory budget charges the message (the method's declared cost): its
    // scan runs on the event loop over whatever a client sends, so it must end and never trap.
    if let cost = router.grpcCosts[method], cost.message(body) < 0 {
        fatalError("\(method): a message of \(body.count) bytes charged a negative cost")
    }
    let context = GRPCCallContext(method: method, metadata: [], deadline: nil, peer: "127.0.0.1:40000")
    switch router.grpcMethods[method]! {
    case .unaryInline(let handler):
        return (Result { [try handler(context, body)] }, false)
    case .unary(let handler):
        return (runBlocking { await outcome { [try await handler(context, body)] } }, false)
    case .unaryCallback(let handler):
        let result = waitForCallback { (deliver: @escaping @Sendable (Result<[UInt8], any Error>) -> Void) in
            handler(context, body, GRPCUnaryResponder { response in deliver(Result { try response() }) })
        }
        return (result.map { [$0] }, false)
    case .serverStreaming(let handler):
        let writer = CollectingWriter()
        let result = runBlocking { () async -> Result<[[UInt8]], any Error> in
            let task = Task { try await handler(context, body, writer) }
            task.cancel()
            return await task.result.map { writer.sent.withLock { $0 } }
        }
        return (result, true)
    case .clientStreaming(let handler):
        let stream = requestStream(messages(body[...]))
        return (runBlocking { await outcome { [try await handler(context, stream)] } }, false)
    case .bidirectional(let handler):
        let stream = requestStream(messages(body[...]))
        let writer = CollectingWriter()
        return (runBlocking { await outcome { try await handler(context, stream, writer); return writer.sent.withLock { $0 } } },
                false)
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRPCMethods(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    let method = methods[Int(data[0]) % methods.count]
    let body = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let (result, cancelled) = call(method, body)
    if verbose {
        switch result {
        case .success(let responses): print("\(method): answered \(responses.map(\.count)) bytes")
        case .failure(let error): print("\(method): \(error)")
        }
    }
    switch result {
    case .success(let responses):
        guard let name = method.split(separator: "/").last, let output = schema.methods[String(name)]?.output,
              method.hasPrefix("/\(LearningRPC.serviceName)/") else { return 0 }
        for response in responses {
            do {
                try schema.checkWire(response, message: output)
            } catch {
                preconditionFailure("\(method) answered a \(output) that fails the wire check: \(error.reason)")
            }
        }
    case .failure(let error):
        guard let status = error as? GRPCStatus else {
            preconditionFailure("\(method) threw \(type(of: error)), which the transport sends as INTERNAL: \(error)")
        }
        precondition(refusals.contains(status.code) || (cancelled && status.code == .cancelled),
                     "\(method) refused with \(status)")
        precondition(!status.message.isEmpty, "\(method) refused with \(status.code) and no message")
    }
    return 0
}

/// The entry point SwiftPM links as `main`; it runs libFuzzer's driver with the harness.
@_cdecl("FuzzRPCMethods_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    // The service starts and the schema is read before the first input.
    precondition(!methods.isEmpty && !schema.methods.isEmpty)
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in fuzzRPCMethods(data!, size) }
}
