import Foundation
import Testing
import H2Transport
@testable import LearningREST

/// A small deterministic generator, so a failing case can be replayed from its seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random JSON-ish text: valid values, near-valid values and junk.
func randomJSON(_ rng: inout SplitMix64, depth: Int = 0) -> String {
    let atoms = ["null", "true", "false", "0", "-0", "1e400", "-1e400", "1.5", "-3", "99999999999999999999999",
                 "\"\"", "\"director\"", "\"a\\u0000b\"", "\"\\ud800\"", "\"2025-01-25T10:30:00Z\"", "NaN", "\"é😀\"",
                 "\"120f4156-2bf0-4841-9994-cd8c5d83e6cf\"", "1.7976931348623157e308", "4.9e-324", "[]", "{}", "\"\u{7f}\""]
    let keys = ["agent_name", "success", "execution_time", "task_id", "task_type", "resource_usage", "timestamp",
                "error_message", "event_id", "executions", "name", "tools", "metadata", "agent", "task", "hour",
                "collaborators", "response_time", "cpu", "memory_mb", "status", "", "\\u0000"]
    let choice = Int.random(in: 0..<10, using: &rng)
    if depth > 4 || choice < 4 { return atoms.randomElement(using: &rng)! }
    if choice < 7 {
        let count = Int.random(in: 0..<6, using: &rng)
        let members = (0..<count).map { _ in "\"\(keys.randomElement(using: &rng)!)\": \(randomJSON(&rng, depth: depth + 1))" }
        return "{" + members.joined(separator: ",") + "}"
    }
    if choice < 9 {
        let count = Int.random(in: 0..<5, using: &rng)
        return "[" + (0..<count).map { _ in randomJSON(&rng, depth: depth + 1) }.joined(separator: ",") + "]"
    }
    // Mutate a valid text by deleting, duplicating or flipping a byte.
    var bytes = Array(#"{"agent_name": "director", "success": true, "execution_time": 1.5, "resource_usage": {"cpu": 3}}"#.utf8)
    let position = Int.random(in: 0..<bytes.count, using: &rng)
    switch Int.random(in: 0..<3, using: &rng) {
    case 0: bytes.remove(at: position)
    case 1: bytes.insert(bytes[position], at: position)
    default: bytes[position] = UInt8.random(in: 0...255, using: &rng)
    }
    return String(decoding: bytes, as: UTF8.self)
}

@Test func randomGarbageBodiesNeverCrashAndAlwaysGetAJSONError() async throws {
    let seed = UInt64(Date().timeIntervalSince1970 * 1000)
    var rng = SplitMix64(state: seed)
    let (_, shim) = await registered("director")
    let posts = EndpointCatalogue.all.filter { $0.method == "POST" }
    let allowed: Set = [200, 201, 400, 404, 409, 415, 422]
    for iteration in 0..<3_000 {
        let endpoint = posts.randomElement(using: &rng)!
        let path = endpoint.path.replacingOccurrences(of: "{name}", with: "director")
        var body: [UInt8]
        if Int.random(in: 0..<8, using: &rng) == 0 {
            body = (0..<Int.random(in: 0..<64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        } else {
            body = Array(randomJSON(&rng).utf8)
        }
        let request = HTTPRequest(method: "POST", path: path, query: "", headers: [Metadata("content-type", "application/json")],
                                  body: body, peer: "fuzz")
        let reply = await send(shim, request)
        #expect(allowed.contains(reply.status), "seed \(seed) iteration \(iteration): \(path) \(String(decoding: body, as: UTF8.self)) -> \(reply.status) \(reply.text)")
        if reply.status >= 400 {
            #expect(reply.json?.keys == ["error", "detail"], "seed \(seed) iteration \(iteration)")
        } else {
            #expect(reply.json != nil, "seed \(seed) iteration \(iteration)")
        }
    }
}

@Test func randomPathsAndQueriesNeverCrash() async throws {
    let seed = UInt64(Date().timeIntervalSince1970 * 1000) ^ 0x5555
    var rng = SplitMix64(state: seed)
    let (_, shim) = await registered("director")
    let pieces = ["agents", "director", "status", "list", "%", "%zz", "%00", "..", "", "metrics", "analytics", "insights",
                  "performance", "similar", "ml", "test", "patterns", "%C3%A9", "a b", "health", "recommendations"]
    let queryPieces = ["limit=5", "limit=-1", "limit=1e9", "limit=", "task_type=x", "task_type=%ff", "speed_weight=nan",
                       "since=2025-01-01T00:00:00Z", "since=tomorrow", "format=prometheus", "kinds=failures,x", "&&", "=",
                       "threshold=2", "window_hours=999999999999", "agent_name=director"]
    for iteration in 0..<3_000 {
        let path = "/" + (0..<Int.random(in: 0..<5, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined(separator: "/")
        let query = (0..<Int.random(in: 0..<4, using: &rng)).map { _ in queryPieces.randomElement(using: &rng)! }.joined(separator: "&")
        let method = ["GET", "POST", "DELETE", "PATCH"].randomElement(using: &rng)!
        let reply = await send(shim, method, path, query: query)
        #expect((200...599).contains(reply.status))
        if reply.status >= 400 {
            #expect(reply.json?.keys == ["error", "detail"], "seed \(seed) iteration \(iteration): \(method) \(path)?\(query)")
        }
    }
}
