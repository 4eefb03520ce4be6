import H2Transport
import LearningREST

/// A response as a test sees it.
struct Reply {
    var status: Int
    var headers: [Metadata]
    var body: [UInt8]
    var wasInline: Bool

    var json: JSONValue? { try? JSONValue.parse(body) }
    var text: String { String(decoding: body, as: UTF8.self) }
    func header(_ name: String) -> String? { headers.first(name) }

    /// The `error` code of a JSON error body.
    var errorCode: String? {
        if case let .string(code)? = json?["error"] { return code }
        return nil
    }
}

/// Sends one request through the shim exactly as the transport would: choose, then run.
func send(_ shim: RESTShim, _ method: String, _ path: String, query: String = "", body: String? = nil,
          contentType: String? = "application/json", headers: [Metadata] = []) async -> Reply {
    var allHeaders = headers
    if body != nil, let contentType { allHeaders.append(Metadata("content-type", contentType)) }
    let request = HTTPRequest(method: method, path: path, query: query, headers: allHeaders,
                              body: Array((body ?? "").utf8), peer: "127.0.0.1:1")
    return await send(shim, request)
}

func send(_ shim: RESTShim, _ request: HTTPRequest) async -> Reply {
    switch shim.handler(for: request) {
    case .inline(let run):
        let response = run(request)
        return Reply(status: response.status, headers: response.headers, body: response.body, wasInline: true)
    case .async(let run):
        let response = await run(request)
        return Reply(status: response.status, headers: response.headers, body: response.body, wasInline: false)
    }
}

/// The shape of a JSON value: object keys (recursively), array element shapes, and scalar kinds.
/// `null` matches anything, so optional fields that happen to be absent still compare equal.
indirect enum Shape: Equatable, CustomStringConvertible {
    case any
    case scalar(String)
    case array(Shape?)
    case object([String: Shape])

    init(_ value: JSONValue) {
        switch value {
        case .null: self = .any
        case .bool: self = .scalar("boolean")
        case .number: self = .scalar("number")
        case .string: self = .scalar("string")
        case let .array(elements): self = .array(elements.first.map(Shape.init))
        case let .object(members): self = .object(Dictionary(members.map { ($0.0, Shape($0.1)) }, uniquingKeysWith: { a, _ in a }))
        }
    }

    /// True when both shapes agree wherever both are known.
    func matches(_ other: Shape) -> Bool {
        switch (self, other) {
        case (.any, _), (_, .any): return true
        case let (.scalar(a), .scalar(b)): return a == b
        case let (.array(a), .array(b)):
            guard let a, let b else { return true }
            return a.matches(b)
        case let (.object(a), .object(b)):
            // An empty object is an empty map (e.g. `metadata`), which any map matches.
            if a.isEmpty || b.isEmpty { return true }
            return Set(a.keys) == Set(b.keys) && a.allSatisfy { key, shape in shape.matches(b[key]!) }
        default: return false
        }
    }

    var description: String {
        switch self {
        case .any: return "any"
        case let .scalar(kind): return kind
        case let .array(element): return "[\(element?.description ?? "")]"
        case let .object(members): return "{" + members.keys.sorted().map { "\($0): \(members[$0]!)" }.joined(separator: ", ") + "}"
        }
    }
}
