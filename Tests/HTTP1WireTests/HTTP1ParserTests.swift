import Testing
@testable import HTTP1Wire

private func parseAll(_ text: String, limits: HTTP1Limits = HTTP1Limits(), chunkSize: Int = .max) -> [HTTP1ParseEvent] {
    var parser = HTTP1RequestParser(limits: limits)
    var events: [HTTP1ParseEvent] = []
    let bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let end = min(bytes.count, offset + chunkSize)
        parser.append(Array(bytes[offset..<end]))
        offset = end
        while let event = parser.next() { events.append(event) }
    }
    return events
}

private func requests(_ events: [HTTP1ParseEvent]) -> [HTTP1Request] {
    events.compactMap { if case .request(let request) = $0 { return request } else { return nil } }
}

@Test func parsesSimpleGetWithKeepAliveByDefault() {
    let events = parseAll("GET /health?verbose=1 HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n")
    let request = requests(events).first
    #expect(request?.method == "GET")
    #expect(request?.path == "/health")
    #expect(request?.query == "verbose=1")
    #expect(request?.keepAlive == true)
    #expect(request?.header("accept") == "*/*")
}

@Test func pipelinedRequestsComeOutInOrderWhateverTheReadSizes() {
    let text = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
        + "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
        + "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n"
        + "GET /d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    for chunk in [1, 2, 7, 64, Int.max] {
        let parsed = requests(parseAll(text, chunkSize: chunk))
        #expect(parsed.map(\.path) == ["/a", "/b", "/c", "/d"], "chunk size \(chunk)")
        #expect(parsed.map { String(decoding: $0.body, as: UTF8.self) } == ["", "hello", "abcde", ""])
        #expect(parsed.map(\.keepAlive) == [true, true, true, false])
    }
}

@Test func http10ClosesUnlessKeepAliveAsked() {
    #expect(requests(parseAll("GET / HTTP/1.0\r\n\r\n")).first?.keepAlive == false)
    #expect(requests(parseAll("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")).first?.keepAlive == true)
}

@Test func oversizeHeadersGive431() {
    let limits = HTTP1Limits(maxHeaderBytes: 100, maxBodyBytes: 10)
    let big = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 200))\r\n\r\n"
    #expect(parseAll(big, limits: limits) == [.error(.headersTooLarge)])
    // Also when the head never ends (slowloris-style endless header).
    #expect(parseAll("GET / HTTP/1.1\r\nX: " + String(repeating: "b", count: 500), limits: limits, chunkSize: 10)
            == [.error(.headersTooLarge)])
}

@Test func oversizeBodiesGive413ForLengthAndChunked() {
    let limits = HTTP1Limits(maxHeaderBytes: 1000, maxBodyBytes: 4)
    #expect(parseAll("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", limits: limits)
            == [.error(.bodyTooLarge)])
    #expect(parseAll("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n",
                     limits: limits) == [.error(.bodyTooLarge)])
}

@Test func malformedRequestsGive400() {
    let bad = [
        "GARBAGE\r\n\r\n",
        "GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n",
        "GET / HTTX/1.1\r\nHost: x\r\n\r\n",
        "GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\n folded: value\r\n\r\n",
        "GET / HTTP/1.1\r\nBad Name: v\r\nHost: x\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n", // no Host
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXX",
        "GET nopath HTTP/1.1\r\nHost: x\r\n\r\n",
    ]
    for text in bad {
        let events = parseAll(text)
        guard case .error(let error) = events.first else { Issue.record("accepted: \(text)"); continue }
        #expect(error.status == 400, "\(text)")
    }
}

@Test func unknownTransferCodingGives501AndHTTP2VersionGives505() {
    #expect(parseAll("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n").first?.errorStatus == 501)
    #expect(parseAll("GET / HTTP/2.0\r\nHost: x\r\n\r\n").first?.errorStatus == 505)
}

@Test func parserStopsAfterAnError() {
    var parser = HTTP1RequestParser()
    parser.append(Array("BAD\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
    #expect(parser.next()?.errorStatus == 400)
    #expect(parser.next() == nil)
}

@Test func expectContinueIsReportedBeforeTheBody() {
    var parser = HTTP1RequestParser()
    parser.append(Array("POST /x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n".utf8))
    #expect(parser.next() == .continueExpected)
    #expect(parser.next() == nil)
    parser.append(Array("ok".utf8))
    guard case .request(let request) = parser.next() else { Issue.record("no request"); return }
    #expect(request.body == Array("ok".utf8))
    #expect(parser.isIdle)
}

@Test func serializerAddsLengthDateAndClose() {
    let bytes = HTTP1ResponseSerializer.serialize(status: 200, headers: [("content-type", "application/json"),
                                                                          ("Content-Length", "999")],
                                                  body: Array("{}".utf8), keepAlive: false, date: "D")
    #expect(String(decoding: bytes, as: UTF8.self)
            == "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ndate: D\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}")
    let injected = HTTP1ResponseSerializer.serialize(status: 404, headers: [("x", "a\r\nSet-Cookie: evil")])
    #expect(!String(decoding: injected, as: UTF8.self).contains("\r\nSet-Cookie"))
}

extension HTTP1ParseEvent {
    var errorStatus: Int? { if case .error(let error) = self { return error.status } else { return nil } }
}
