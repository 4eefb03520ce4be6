public import GRPCWire
import Synchronization

// The contract between the transport and the layers above it (the gRPC service bindings and the
// REST shim). The transport owns sockets, HTTP/2 sessions and HTTP/1.1 parsing; the layers above
// see only the types in this file.

/// One metadata entry (an HTTP/2 header or trailer), name in lower case.
public struct Metadata: Sendable, Equatable {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

extension Metadata {
    /// The trailing metadata key that tells a gRPC client how long to wait before retrying a refused
    /// call: gRPC's retry pushback (the key grpc-core's own retries honour), in whole milliseconds.
    public static let retryPushbackKey = "grpc-retry-pushback-ms"

    /// A retry pushback of `seconds` (rounded up to whole milliseconds, never negative).
    public static func retryPushback(seconds: Double) -> Metadata {
        Metadata(retryPushbackKey, String(Int64((max(0, seconds) * 1000).rounded(.up))))
    }
}

extension Array where Element == Metadata {
    /// The first value of a header, by lower-case name.
    public func first(_ name: String) -> String? {
        first(where: { $0.name == name })?.value
    }
}

/// What a gRPC handler knows about the call it serves.
public struct GRPCCallContext: Sendable {
    /// The full method path, e.g. `/learning.v1.LearningSystem/GetHealth`.
    public var method: String
    /// Custom request metadata (reserved HTTP/2 and gRPC headers removed), e.g. `authorization`.
    public var metadata: [Metadata]
    /// When the call must have finished (from `grpc-timeout`), if the client set a deadline.
    public var deadline: ContinuousClock.Instant?
    /// The peer's address, e.g. `127.0.0.1:53412`.
    public var peer: String
    /// Custom response metadata the handler wants sent: initial metadata goes out with the response
    /// headers, trailing metadata with the status (added by the transport; additive to the contract).
    public var responseMetadata: GRPCResponseMetadata

    public init(method: String, metadata: [Metadata], deadline: ContinuousClock.Instant?, peer: String) {
        self.method = method
        self.metadata = metadata
        self.deadline = deadline
        self.peer = peer
        self.responseMetadata = GRPCResponseMetadata()
    }
}

/// Response metadata a handler adds while it runs (e.g. a request id echoed back).
public final class GRPCResponseMetadata: Sendable {
    private let storage = Mutex<(initial: [Metadata], trailing: [Metadata])>(([], []))

    /// Creates an empty set.
    public init() {}

    /// Adds metadata sent with the response headers (ignored once the first message has gone out).
    public func addInitial(_ metadata: Metadata) {
        storage.withLock { $0.initial.append(metadata) }
    }

    /// Adds metadata sent with the trailers, after the last message.
    public func addTrailing(_ metadata: Metadata) {
        storage.withLock { $0.trailing.append(metadata) }
    }

    /// The initial metadata added so far.
    public var initial: [Metadata] { storage.withLock { $0.initial } }
    /// The trailing metadata added so far.
    public var trailing: [Metadata] { storage.withLock { $0.trailing } }
}

/// The messages a client sends on a client-streaming or bidirectional call, each a serialized
/// protobuf message (already de-framed and decompressed). Ends when the client half-closes;
/// throws `GRPCStatus(.cancelled)` when the client resets the stream.
public protocol GRPCRequestStream: AsyncSequence, Sendable where Element == [UInt8] {}

/// Sends response messages of a server-streaming or bidirectional call.
public protocol GRPCResponseWriter: Sendable {
    /// Sends one serialized protobuf message. Suspends while the peer's flow-control window is full;
    /// throws `GRPCStatus(.cancelled)` once the client has gone.
    func send(_ message: [UInt8]) async throws
    /// Adds custom metadata to the trailers sent when the handler returns.
    func addTrailingMetadata(_ metadata: Metadata)
}

/// A type-erased request stream handed to handlers.
public struct AnyGRPCRequestStream: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    private let makeNext: @Sendable () -> @Sendable () async throws -> [UInt8]?

    /// Wraps a function that makes an iterator's `next`.
    public init(makeNext: @escaping @Sendable () -> @Sendable () async throws -> [UInt8]?) {
        self.makeNext = makeNext
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let nextFunction: @Sendable () async throws -> [UInt8]?
        public mutating func next() async throws -> [UInt8]? { try await nextFunction() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(nextFunction: makeNext()) }
}

/// Answers a unary call served by a `.unaryCallback` handler: callable once, from any thread.
public struct GRPCUnaryResponder: Sendable {
    private let deliver: @Sendable (@escaping @Sendable () throws -> [UInt8]) -> Void

    /// A responder that hands the answer to `deliver`. The transport makes one per call; drivers
    /// that run handlers in process (the fuzz harnesses of `fuzz/`, benchmarks) make their own and
    /// call the function `deliver` receives to get the response or the thrown status.
    public init(_ deliver: @escaping @Sendable (@escaping @Sendable () throws -> [UInt8]) -> Void) {
        self.deliver = deliver
    }

    /// Ends the call: `response` runs on the call's event loop thread (so it must not block) and
    /// returns the serialized response message, or throws the call's status (`GRPCStatus`; any
    /// other error becomes `INTERNAL`). A call that ended meanwhile (deadline, client reset)
    /// drops the answer.
    public func complete(_ response: @escaping @Sendable () throws -> [UInt8]) {
        deliver(response)
    }
}

/// How one gRPC method is served. Handlers receive and return serialized protobuf messages; they
/// report failures by throwing `GRPCStatus` (any other error becomes `INTERNAL`, its text not leaked).
public enum GRPCMethodHandler: Sendable {
    /// A unary method that never blocks (reads in-memory state only). Runs inline on the event
    /// loop thread: the fastest path, for health checks and similar.
    case unaryInline(@Sendable (GRPCCallContext, [UInt8]) throws -> [UInt8])
    /// A unary method that may wait (database, long computations). Runs off the event loop.
    case unary(@Sendable (GRPCCallContext, [UInt8]) async throws -> [UInt8])
    /// A unary method that answers through a responder instead of a Swift task, for the hottest
    /// calls (a task per call costs a tenth of LogExecution's CPU). The function runs on the event
    /// loop thread, must not block, and passes the responder to whatever ends the call, e.g. a
    /// database writer thread after its commit. The call is not cancelled when the client goes.
    case unaryCallback(@Sendable (GRPCCallContext, [UInt8], GRPCUnaryResponder) -> Void)
    /// One request, a stream of responses.
    case serverStreaming(@Sendable (GRPCCallContext, [UInt8], any GRPCResponseWriter) async throws -> Void)
    /// A stream of requests, one response.
    case clientStreaming(@Sendable (GRPCCallContext, AnyGRPCRequestStream) async throws -> [UInt8])
    /// Streams both ways.
    case bidirectional(@Sendable (GRPCCallContext, AnyGRPCRequestStream, any GRPCResponseWriter) async throws -> Void)
}

/// What the requests of one gRPC method cost the server's memory once decoded (issue 19). The
/// transport's budget (`ServerConfiguration.maxConnectionHeldBytes`, `maxServerBufferedBytes`)
/// charges each request this much, not its size on the wire, from the moment its handler gets it
/// until the handler finishes (returns, throws or answers its responder), and refuses a request
/// the budget cannot hold before its handler sees it: RESOURCE_EXHAUSTED with
/// `grpc-retry-pushback-ms`, the same answer as bytes over the budget.
public struct RequestCost: Sendable {
    /// The bytes a handler holds for one request message (already de-framed and decompressed)
    /// once it decoded it, including the message itself: an estimate from a cheap scan, made on
    /// the event loop before the handler starts, so it must not decode and must never block.
    /// Values below the message's size are raised to it.
    public var message: @Sendable ([UInt8]) -> Int
    /// For client- and bidirectional-streaming methods: how many decoded messages the handler holds
    /// at most at once. A message's charge is kept until the handler has taken this many messages
    /// after it (or the call ends). Ignored for single-request methods.
    public var messagesHeld: Int

    /// A cost of `message` per request message; `messagesHeld` for streaming handlers.
    public init(messagesHeld: Int = 1, message: @escaping @Sendable ([UInt8]) -> Int) {
        self.message = message
        self.messagesHeld = max(1, messagesHeld)
    }
}

/// An HTTP request for the REST shim, whether it arrived over HTTP/1.1 or HTTP/2.
public struct HTTPRequest: Sendable {
    /// `GET`, `POST`, ...
    public var method: String
    /// The path without the query, percent-decoding left to the handler, e.g. `/agents/director/status`.
    public var path: String
    /// The raw query string without `?`, empty when absent.
    public var query: String
    /// Request headers, names in lower case.
    public var headers: [Metadata]
    /// The whole body (the transport enforces the size limit before calling the handler).
    public var body: [UInt8]
    /// The peer's address.
    public var peer: String

    public init(method: String, path: String, query: String, headers: [Metadata], body: [UInt8], peer: String) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.peer = peer
    }
}

/// An HTTP response of the REST shim.
public struct HTTPResponse: Sendable {
    public var status: Int
    /// Response headers; the transport adds `content-length`, `date` and connection headers itself.
    public var headers: [Metadata]
    public var body: [UInt8]
    /// The route the request matched, as its template (`GET /agents/{name}/status`): the label
    /// of its request metrics. `nil` when it matched none; those are counted as `unmatched`, so
    /// paths a client makes up never become series of their own.
    public var route: String?

    public init(status: Int, headers: [Metadata] = [], body: [UInt8] = [], route: String? = nil) {
        self.status = status
        self.headers = headers
        self.body = body
        self.route = route
    }
}

/// The metrics label of requests that matched no route.
public let unmatchedRouteLabel = "unmatched"

/// How the REST shim is served: inline on the loop (never blocks) or off the loop.
public enum HTTPRequestHandler: Sendable {
    /// Answers from in-memory state only; runs on the event loop thread.
    case inline(@Sendable (HTTPRequest) -> HTTPResponse)
    /// May wait; runs off the event loop.
    case async(@Sendable (HTTPRequest) async -> HTTPResponse)
}

/// Where requests go: gRPC methods by path, and HTTP routes for everything that is not gRPC.
///
/// Build it before the server starts; it is read-only afterwards.
public struct Router: Sendable {
    /// gRPC methods by full path (`/package.Service/Method`).
    public private(set) var grpcMethods: [String: GRPCMethodHandler] = [:]
    /// Called for every non-gRPC request; chooses per request whether to run inline.
    public var http: (@Sendable (HTTPRequest) -> HTTPRequestHandler)?
    /// Checks a REST request from its head alone, before a byte of its body is buffered (the
    /// request's `body` is empty here): nil to go on, or the response that answers it at once
    /// (e.g. 401 for a write without a valid key). Called only for requests with a body to come;
    /// must be cheap and never block (it runs on the event loop).
    public var httpHeadCheck: (@Sendable (HTTPRequest) -> HTTPResponse?)?
    /// Checks of gRPC calls by method path, run on the call's metadata when its headers arrive,
    /// before any request message is buffered: nil to go on, or the status that ends the call.
    public private(set) var grpcHeadChecks: [String: @Sendable ([Metadata]) -> GRPCStatus?] = [:]
    /// What requests of a gRPC method cost once decoded, by method path (`chargeDecoded(_:_:)`).
    public private(set) var grpcCosts: [String: RequestCost] = [:]
    /// What a REST request costs once decoded, from the request (its body complete): the bytes its
    /// handler holds at most while it runs. Called on the event loop before an `.async` handler
    /// starts, so it must be cheap (one pass over the body at most) and never block. Nil: the
    /// body's size. The transport charges at least the body's size whatever it answers.
    public var httpCost: (@Sendable (HTTPRequest) -> Int)?

    public init() {}

    /// Declares what the requests of the gRPC method at `path` cost once their handler decoded
    /// them, so the memory budget holds that (not the request's size on the wire) while the
    /// handler runs. Methods without a declaration are charged their request's size.
    public mutating func chargeDecoded(_ path: String, _ cost: RequestCost) {
        grpcCosts[path] = cost
    }

    /// Checks calls of the gRPC method at `path` from their metadata before their requests are
    /// read, e.g. an API key for a write. `check` must be cheap and never block.
    public mutating func checkHeaders(_ path: String, _ check: @escaping @Sendable ([Metadata]) -> GRPCStatus?) {
        grpcHeadChecks[path] = check
    }

    /// Registers a gRPC method, e.g. `register("/learning.v1.LearningSystem/GetHealth", .unaryInline { ... })`.
    public mutating func register(_ path: String, _ handler: GRPCMethodHandler) {
        grpcMethods[path] = handler
    }

    /// The answer to a request that is not gRPC but names a gRPC method's path: 415, saying which
    /// content type the method needs. Nil for every other path.
    public func nonGRPCRequestRefusal(path: String, contentType: String?) -> HTTPResponse? {
        guard grpcMethods[path] != nil else { return nil }
        let sent = contentType.map { "Content-Type \($0)" } ?? "no Content-Type"
        return HTTPErrorCode.unsupportedMediaType.response(
            "\(path) is a gRPC method: call it with Content-Type application/grpc over HTTP/2 (\(sent) was sent); "
                + "its REST twin is listed at /api/docs")
    }

    /// The names of the gRPC services that have at least one method, e.g. `learning.v1.LearningSystem`.
    public var serviceNames: [String] {
        Set(grpcMethods.keys.compactMap { path -> String? in
            let parts = path.split(separator: "/")
            return parts.count == 2 ? String(parts[0]) : nil
        }).sorted()
    }
}
