// libFuzzer entry point for the REST shim's request bodies, end to end: the first byte picks one
// of the POST routes of the endpoint catalogue (sorted by path; for POST /v1/traces its higher
// bits also pick protobuf or JSON and gzip), the rest is the body. The request goes through the
// shim's own handler (`makeRESTHandler`: routing, JSON parsing, decoding into the service's
// request, validation) into the real LearningService over the in-memory repository.
// Invariants: no crash; the memory budget's estimate of the body (`makeRESTCost`) is at least its
// size; a refusal is a 4xx whose body is the JSON object {"error": ..., "detail": ...}
// (two non-empty strings); anything accepted is a 2xx whose JSON body parses; never a 5xx.
import Foundation
import FuzzSupport
import H2Transport
import LearningREST
import LearningService

import CFuzzerDriver

/// The agent the path parameter names (registered before the first input).
let agentName = "director"
let service = startInMemoryService(registering: [agentName])
let shim = makeRESTHandler(service: service)
/// What the transport's memory budget charges a body (`Router.httpCost`): its scan runs on the
/// event loop over whatever a client sends, so it must end and never trap on any bytes.
let restCost = makeRESTCost()
/// Every POST route, in a fixed order (fuzz/make-seeds.py numbers its seeds the same way).
let routes = EndpointCatalogue.all.filter { $0.method == "POST" }.sorted { $0.path < $1.path }

/// FUZZ_VERBOSE=1 prints every answer (to see what seeds reach: `FuzzRESTBodies -runs=0 corpus/rest`).
let verbose = ProcessInfo.processInfo.environment["FUZZ_VERBOSE"] == "1"

/// Whether `body` is a JSON object with exactly the string members `error` and `detail`, both non-empty.
func isErrorBody(_ body: [UInt8]) -> Bool {
    guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
          object.count == 2,
          let error = object["error"] as? String, let detail = object["detail"] as? String else { return false }
    return !error.isEmpty && !detail.isEmpty
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRESTBodies(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    let route = routes[Int(data[0]) % routes.count]
    let variant = Int(data[0]) / routes.count
    let body = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    var headers = [Metadata("content-type", "application/json")]
    if route.id == .otlpTraces {
        if variant & 1 == 1 { headers = [Metadata("content-type", "application/x-protobuf")] }
        if variant & 2 == 2 { headers.append(Metadata("content-encoding", "gzip")) }
    }
    let request = HTTPRequest(method: "POST", path: route.path.replacingOccurrences(of: "{name}", with: agentName),
                              query: "", headers: headers, body: body, peer: "127.0.0.1:40000")
    let charged = restCost(request)
    guard charged >= 0, charged >= body.count || !headers.contains(where: { $0.value == "application/json" }) else {
        fatalError("POST \(route.path): a JSON body of \(body.count) bytes charged \(charged)")
    }
    let response: HTTPResponse
    switch shim(request) {
    case .inline(let answer): response = answer(request)
    case .async(let answer): response = runBlocking { await answer(request) }
    }
    let seen = "POST \(route.path) answered \(response.status): \(String(decoding: response.body.prefix(400), as: UTF8.self))"
    if verbose { print(seen) }
    switch response.status {
    case 200..<300:
        if response.headers.first("content-type") == "application/json" {
            precondition((try? JSONSerialization.jsonObject(with: Data(response.body))) != nil, "a 2xx body that is not JSON: \(seen)")
        } else {
            precondition(route.id == .otlpTraces, "a 2xx that is not JSON: \(seen)")
        }
    case 400..<500:
        precondition(isErrorBody(response.body), "a refusal without its {error, detail} body: \(seen)")
        precondition(response.headers.first("content-type") == "application/json", "a refusal not labelled JSON: \(seen)")
    default:
        preconditionFailure("neither accepted nor refused as the client's fault: \(seen)")
    }
    return 0
}

/// The entry point SwiftPM links as `main`; it runs libFuzzer's driver with the harness.
@_cdecl("FuzzRESTBodies_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    // The service starts before the first input (its start-up is not any input's work).
    precondition(!routes.isEmpty && service.health().status != "unhealthy")
    _ = shim
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in fuzzRESTBodies(data!, size) }
}
