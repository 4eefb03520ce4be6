import H2Transport
import LearningAPI
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

