import Foundation
import H2Transport
import LearningAPI
import Testing

/// What the transport answers by itself (before any route), over real sockets, with its raw
/// bytes: a malformed request line, a missing Host, a header block or body over the limit, a slow
/// body, a gRPC method path called as REST. Each is `{"error", "detail"}` JSON with the code
/// `HTTPErrorCode` documents for its status (docs/API.md "Errors").
private let rawExchanges = #"""
import socket, sys, time
port = int(sys.argv[1])
def exchange(name, data, pause_after=None):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(30)
    s.sendall(data)
    out = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        out += chunk
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    fields = {l.split(b":", 1)[0].strip().lower(): l.split(b":", 1)[1].strip() for l in lines[1:] if b":" in l}
    print(name, lines[0].split(b" ")[1].decode(), fields.get(b"content-type", b"-").decode(), body.decode(), sep="\t")
exchange("garbage", b"GARBAGE\r\n\r\n")
exchange("no-host", b"GET /health HTTP/1.1\r\n\r\n")
exchange("big-head", b"GET /health HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n")
exchange("slow-body", b"POST /ml/predict HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
exchange("version", b"GET /health HTTP/3.0\r\nHost: a\r\n\r\n")
exchange("grpc-path", b"POST /learning.v1.LearningSystem/GetHealth HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
"""#

extension IntegrationSuite {
@Test(.timeLimit(.minutes(3)))
func transportRefusalsAreJSONWithTheDocumentedCodes() async throws {
    try await ServerFixture.with(maxBodyBytes: 1 << 20, requestTimeout: .seconds(2)) { fixture in
        let result = try await run("/usr/bin/python3", ["-c", rawExchanges, String(fixture.port)])
        #expect(result.status == 0, "\(result.error)")
        var answers: [String: (status: Int, contentType: String, body: String)] = [:]
        for line in result.output.split(separator: "\n") {
            let parts = line.split(separator: "\t", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 4, let status = Int(parts[1]) else { continue }
            answers[parts[0]] = (status, parts[2], parts[3])
        }
        let expected: [(String, HTTPErrorCode)] = [
            ("garbage", .badRequest), ("no-host", .badRequest), ("big-head", .headerFieldsTooLarge),
            ("slow-body", .requestTimeout), ("version", .httpVersionNotSupported), ("grpc-path", .unsupportedMediaType),
        ]
        for (name, code) in expected {
            let answer = try #require(answers[name], "no answer to \(name): \(result.output)")
            #expect(answer.status == code.status, "\(name): \(answer)")
            #expect(answer.contentType == "application/json", "\(name): \(answer)")
            let json = try JSONValue.parse(answer.body)
            #expect(json["error"] == .string(code.rawValue), "\(name): \(answer.body)")
            if case .string(let detail)? = json["detail"] { #expect(!detail.isEmpty) } else { Issue.record("\(name): no detail") }
        }

        // Through curl, over both protocols: a body over the limit, a header list over the limit
        // (HTTP/2), a gRPC method called without the gRPC content type.
        let big = String(repeating: "a", count: 2 << 20)
        for http2 in [false, true] {
            let tooLarge = try await curl("POST", "\(fixture.base)/executions", body: big, http2: http2)
            #expect(tooLarge.status == 413 && tooLarge.errorCode == "payload_too_large", "\(http2): \(tooLarge.status) \(tooLarge.body.prefix(200))")
            let grpcPath = try await curl("POST", "\(fixture.base)/learning.v1.LearningSystem/PredictPerformance", body: "{}", http2: http2)
            #expect(grpcPath.status == 415 && grpcPath.errorCode == "unsupported_media_type", "\(grpcPath.body)")
            #expect(grpcPath.body.contains("application/grpc"))
        }
        let bigHeader = try await curl("GET", "\(fixture.base)/health", headers: ["X-Big: " + String(repeating: "b", count: 40_000)], http2: true)
        #expect(bigHeader.status == 431 && bigHeader.errorCode == "header_fields_too_large", "\(bigHeader.status) \(bigHeader.body)")
        // The same path with gRPC's content type is the gRPC method (a grpc-status, not 415).
        let call = try await curl("POST", "\(fixture.base)/learning.v1.LearningSystem/GetHealth", body: "\0\0\0\0\0",
                                  headers: ["TE: trailers"], http2: true, contentType: "application/grpc")
        #expect(call.status == 200)
    }
}
}
