// The HTTP1Wire module: an incremental HTTP/1.1 request parser and response serializer, pure (no I/O).

/// One request header, name in lower case.
public struct HTTP1Header: Sendable, Equatable {
    /// The header name, lower-cased.
    public var name: String
    /// The value with surrounding whitespace removed.
    public var value: String

    /// Creates a header.
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// A complete HTTP/1.x request.
public struct HTTP1Request: Sendable, Equatable {
    /// The method, e.g. `GET`.
    public var method: String
    /// The request target as sent, e.g. `/agents?status=healthy`.
    public var target: String
    /// The minor version: 1 for HTTP/1.1, 0 for HTTP/1.0.
    public var minorVersion: Int
    /// Headers in order, names lower-cased.
    public var headers: [HTTP1Header]
    /// The body, de-chunked.
    public var body: [UInt8]
    /// Whether the connection stays open after the response.
    public var keepAlive: Bool

    /// The path part of the target (before `?`).
    public var path: String {
        guard let mark = target.firstIndex(of: "?") else { return target }
        return String(target[..<mark])
    }

    /// The query part of the target (after `?`), empty when absent.
    public var query: String {
        guard let mark = target.firstIndex(of: "?") else { return "" }
        return String(target[target.index(after: mark)...])
    }

    /// The first value of a header by lower-case name.
    public func header(_ name: String) -> String? {
        headers.first(where: { $0.name == name })?.value
    }
}

/// Why a request was refused. After an error the connection must be closed.
public enum HTTP1ParseError: Error, Sendable, Equatable {
    /// Malformed syntax (400).
    case badRequest(String)
    /// The request line and headers exceed the limit (431).
    case headersTooLarge
    /// The body exceeds the limit (413).
    case bodyTooLarge
    /// A transfer coding the server does not implement (501).
    case unsupportedTransferEncoding(String)
    /// Not HTTP/1.0 or HTTP/1.1 (505).
    case unsupportedVersion

    /// The HTTP status to answer with.
    public var status: Int {
        switch self {
        case .badRequest: return 400
        case .headersTooLarge: return 431
        case .bodyTooLarge: return 413
        case .unsupportedTransferEncoding: return 501
        case .unsupportedVersion: return 505
        }
    }
}

/// What the parser found in the bytes received so far.
public enum HTTP1ParseEvent: Sendable, Equatable {
    /// A complete request.
    case request(HTTP1Request)
    /// The client sent `Expect: 100-continue` and waits for `100 Continue` before the body.
    case continueExpected
    /// The stream is malformed or over a limit; answer with `error.status` and close.
    case error(HTTP1ParseError)
}

/// Limits the parser enforces.
public struct HTTP1Limits: Sendable, Equatable {
    /// Largest request line plus headers, in bytes.
    public var maxHeaderBytes: Int
    /// Largest body, in bytes.
    public var maxBodyBytes: Int

    /// Creates limits (defaults: 16 KiB of headers, 1 MiB of body).
    public init(maxHeaderBytes: Int = 16 * 1024, maxBodyBytes: Int = 1 << 20) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxBodyBytes = maxBodyBytes
    }
}

/// An incremental HTTP/1.1 request parser: feed bytes as they arrive, take complete requests out.
///
/// Handles keep-alive and pipelining (several requests in one read come out in order),
/// `Content-Length` and `chunked` bodies, and enforces header and body limits. Rejects requests
/// with both `Content-Length` and `Transfer-Encoding`, conflicting lengths and folded headers
/// (request-smuggling defences).
///
/// ```swift
/// var parser = HTTP1RequestParser(limits: HTTP1Limits())
/// parser.append(bytes)
/// while let event = parser.next() { ... }
/// ```
public struct HTTP1RequestParser: Sendable {
    private enum State: Sendable {
        case head
        case fixedBody(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case chunkTrailers
        case failed
    }

    /// The limits in force.
    public let limits: HTTP1Limits
    private var buffer: [UInt8] = []
    private var readIndex = 0
    private var state: State = .head
    private var current: HTTP1Request?
    private var pendingContinue = false

    /// Creates a parser.
    public init(limits: HTTP1Limits = HTTP1Limits()) {
        self.limits = limits
    }

    /// Bytes received and not yet consumed.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// Whether the parser sits between requests with nothing buffered.
    public var isIdle: Bool {
        if case .head = state { return bufferedByteCount == 0 }
        return false
    }

    /// Whether the parser is in the middle of a request head (used for header-read timeouts).
    public var isReadingHead: Bool {
        if case .head = state { return bufferedByteCount > 0 }
        return false
    }

    /// Whether a request's head was read and its body is being read.
    public var isReadingBody: Bool {
        switch state {
        case .fixedBody, .chunkSize, .chunkData, .chunkDataEnd, .chunkTrailers: return true
        case .head, .failed: return false
        }
    }

    /// The request whose body is being read (its body so far), so that its head can be checked
    /// (authorized) before the rest of the body is buffered; nil between requests.
    public var requestInProgress: HTTP1Request? { isReadingBody ? current : nil }

    /// Bytes the parser holds: received and not yet consumed, plus the body of the request in progress.
    public var heldByteCount: Int { bufferedByteCount + (current?.body.count ?? 0) }

    /// Adds received bytes.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        if case .failed = state { return }
        if readIndex > 0 && readIndex * 2 >= buffer.count {
            buffer.removeSubrange(0..<readIndex)
            readIndex = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// Adds received bytes.
    public mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// The next event, `nil` when more bytes are needed.
    public mutating func next() -> HTTP1ParseEvent? {
        if pendingContinue {
            pendingContinue = false
            return .continueExpected
        }
        while true {
            switch state {
            case .failed:
                return nil
            case .head:
                // Ignore empty lines before a request line (RFC 9112, 2.2).
                while readIndex + 1 < buffer.count, buffer[readIndex] == 13, buffer[readIndex + 1] == 10 {
                    readIndex += 2
                }
                while readIndex < buffer.count, buffer[readIndex] == 10 { readIndex += 1 }
                guard let end = findHeadEnd() else {
                    if bufferedByteCount > limits.maxHeaderBytes { return fail(.headersTooLarge) }
                    return nil
                }
                if end.headEnd - readIndex > limits.maxHeaderBytes { return fail(.headersTooLarge) }
                let head = Array(buffer[readIndex..<end.headEnd])
                readIndex = end.bodyStart
                switch parseHead(head) {
                case .failure(let error):
                    return fail(error)
                case .success(let (request, framing)):
                    current = request
                    switch framing {
                    case .none:
                        return finishRequest()
                    case .length(let length):
                        if length > limits.maxBodyBytes { return fail(.bodyTooLarge) }
                        if length == 0 { return finishRequest() }
                        // Capacity for what arrives, not for what the head promises: a large
                        // Content-Length sent without its body must not pin memory.
                        current!.body.reserveCapacity(min(length, 64 * 1024))
                        state = .fixedBody(remaining: length)
                    case .chunked:
                        state = .chunkSize
                    }
                    if request.header("expect")?.lowercased() == "100-continue" && bufferedByteCount == 0 {
                        return .continueExpected
                    }
                }
            case .fixedBody(let remaining):
                let take = min(remaining, bufferedByteCount)
                if take == 0 { return nil }
                current!.body.append(contentsOf: buffer[readIndex..<readIndex + take])
                readIndex += take
                if take == remaining { return finishRequest() }
                state = .fixedBody(remaining: remaining - take)
                return nil
            case .chunkSize:
                guard let lineEnd = findLineEnd(limit: 1024) else {
                    if bufferedByteCount > 1024 { return fail(.badRequest("chunk size line too long")) }
                    return nil
                }
                let line = buffer[readIndex..<lineEnd.contentEnd]
                readIndex = lineEnd.next
                let sizeText = line.prefix(while: { $0 != UInt8(ascii: ";") })
                guard let size = parseHex(sizeText) else { return fail(.badRequest("invalid chunk size")) }
                if size == 0 {
                    state = .chunkTrailers
                } else {
                    if current!.body.count + size > limits.maxBodyBytes { return fail(.bodyTooLarge) }
                    state = .chunkData(remaining: size)
                }
            case .chunkData(let remaining):
                let take = min(remaining, bufferedByteCount)
                if take == 0 { return nil }
                current!.body.append(contentsOf: buffer[readIndex..<readIndex + take])
                readIndex += take
                state = take == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - take)
            case .chunkDataEnd:
                guard bufferedByteCount >= 1 else { return nil }
                if buffer[readIndex] == 10 { readIndex += 1; state = .chunkSize; continue }
                guard bufferedByteCount >= 2 else { return nil }
                guard buffer[readIndex] == 13, buffer[readIndex + 1] == 10 else {
                    return fail(.badRequest("chunk data not followed by CRLF"))
                }
                readIndex += 2
                state = .chunkSize
            case .chunkTrailers:
                guard let lineEnd = findLineEnd(limit: limits.maxHeaderBytes) else {
                    if bufferedByteCount > limits.maxHeaderBytes { return fail(.headersTooLarge) }
                    return nil
                }
                let empty = lineEnd.contentEnd == readIndex
                readIndex = lineEnd.next
                if empty { return finishRequest() }
                // Trailer fields are read and dropped.
            }
        }
    }

    private mutating func finishRequest() -> HTTP1ParseEvent {
        state = .head
        let request = current!
        current = nil
        return .request(request)
    }

    private mutating func fail(_ error: HTTP1ParseError) -> HTTP1ParseEvent {
        state = .failed
        buffer = []
        readIndex = 0
        current = nil
        return .error(error)
    }

    private func findHeadEnd() -> (headEnd: Int, bodyStart: Int)? {
        var index = readIndex
        let limit = min(buffer.count, readIndex + limits.maxHeaderBytes + 4)
        while index < limit {
            if buffer[index] == 10 {
                if index + 1 < buffer.count && buffer[index + 1] == 10 { return (index, index + 2) }
                if index + 2 < buffer.count && buffer[index + 1] == 13 && buffer[index + 2] == 10 {
                    return (index - (index > readIndex && buffer[index - 1] == 13 ? 1 : 0), index + 3)
                }
            }
            index += 1
        }
        return nil
    }

    private func findLineEnd(limit: Int) -> (contentEnd: Int, next: Int)? {
        var index = readIndex
        let end = min(buffer.count, readIndex + limit + 2)
        while index < end {
            if buffer[index] == 10 {
                let contentEnd = index > readIndex && buffer[index - 1] == 13 ? index - 1 : index
                return (contentEnd, index + 1)
            }
            index += 1
        }
        return nil
    }

    private func parseHex(_ bytes: ArraySlice<UInt8>) -> Int? {
        var trimmed = bytes[...]
        while let last = trimmed.last, last == 32 || last == 9 { trimmed = trimmed.dropLast() }
        guard !trimmed.isEmpty, trimmed.count <= 8 else { return nil }
        var value = 0
        for byte in trimmed {
            let digit: Int
            switch byte {
            case 48...57: digit = Int(byte - 48)
            case 97...102: digit = Int(byte - 87)
            case 65...70: digit = Int(byte - 55)
            default: return nil
            }
            value = value * 16 + digit
        }
        return value
    }

    private enum BodyFraming { case none, length(Int), chunked }

    private func parseHead(_ head: [UInt8]) -> Result<(HTTP1Request, BodyFraming), HTTP1ParseError> {
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        for index in head.indices where head[index] == 10 {
            var end = index
            if end > start && head[end - 1] == 13 { end -= 1 }
            lines.append(head[start..<end])
            start = index + 1
        }
        var last = head[start...]
        if last.last == 13 { last = last.dropLast() }
        lines.append(last)

        // Request line: method SP target SP HTTP/1.x
        let parts = lines[0].split(separator: 32, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty else {
            return .failure(.badRequest("malformed request line"))
        }
        guard parts[0].allSatisfy(isTokenByte) else { return .failure(.badRequest("invalid method")) }
        guard parts[1].allSatisfy({ $0 > 32 && $0 < 127 }) else {
            return .failure(.badRequest("invalid request target"))
        }
        let version = Array(parts[2])
        guard version.count == 8, version.starts(with: Array("HTTP/".utf8)), version[6] == UInt8(ascii: "."),
              (48...57).contains(version[5]), (48...57).contains(version[7]) else {
            return .failure(.badRequest("malformed HTTP version"))
        }
        guard version[5] == UInt8(ascii: "1"), version[7] <= UInt8(ascii: "1") else {
            return .failure(.unsupportedVersion)
        }
        let minor = Int(version[7] - 48)
        let target = String(decoding: parts[1], as: UTF8.self)
        guard target.hasPrefix("/") || target == "*" || target.hasPrefix("http://") || target.hasPrefix("https://") else {
            return .failure(.badRequest("invalid request target"))
        }

        var headers: [HTTP1Header] = []
        headers.reserveCapacity(lines.count - 1)
        for line in lines.dropFirst() {
            guard let first = line.first else { continue }
            if first == 32 || first == 9 { return .failure(.badRequest("obsolete header folding")) }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
                return .failure(.badRequest("header line without a colon"))
            }
            let name = line[line.startIndex..<colon]
            guard !name.isEmpty, name.allSatisfy(isTokenByte) else {
                return .failure(.badRequest("invalid header name"))
            }
            var value = line[(colon + 1)...]
            while let byte = value.first, byte == 32 || byte == 9 { value = value.dropFirst() }
            while let byte = value.last, byte == 32 || byte == 9 { value = value.dropLast() }
            guard value.allSatisfy({ $0 >= 32 || $0 == 9 }) && !value.contains(127) else {
                return .failure(.badRequest("invalid header value"))
            }
            headers.append(HTTP1Header(String(decoding: name, as: UTF8.self).lowercased(),
                                       String(decoding: value, as: UTF8.self)))
        }

        var request = HTTP1Request(method: String(decoding: parts[0], as: UTF8.self), target: target,
                                   minorVersion: minor, headers: headers, body: [], keepAlive: minor == 1)
        let hosts = headers.lazy.filter { $0.name == "host" }.count
        if minor == 1 && hosts == 0 {
            return .failure(.badRequest("missing Host header"))
        }
        // RFC 9112 3.2: a request with more than one Host header is answered 400.
        if hosts > 1 { return .failure(.badRequest("more than one Host header")) }
        for header in headers where header.name == "connection" {
            for option in header.value.lowercased().split(separator: ",") {
                let trimmed = option.trimmingCharacters()
                if trimmed == "close" { request.keepAlive = false }
                if trimmed == "keep-alive" && minor == 0 { request.keepAlive = true }
            }
        }

        let transferEncodings = headers.filter { $0.name == "transfer-encoding" }
        let lengths = headers.filter { $0.name == "content-length" }
        if !transferEncodings.isEmpty {
            guard lengths.isEmpty else {
                return .failure(.badRequest("both Content-Length and Transfer-Encoding"))
            }
            let codings = transferEncodings.flatMap { $0.value.lowercased().split(separator: ",") }
                .map { $0.trimmingCharacters() }
            guard codings.last == "chunked" else {
                return .failure(.unsupportedTransferEncoding(codings.joined(separator: ", ")))
            }
            guard codings.count == 1 else {
                return .failure(.unsupportedTransferEncoding(codings.dropLast().joined(separator: ", ")))
            }
            return .success((request, .chunked))
        }
        if !lengths.isEmpty {
            let values = Set(lengths.flatMap { $0.value.split(separator: ",").map { $0.trimmingCharacters() } })
            guard values.count == 1, let text = values.first, !text.isEmpty, text.count <= 18,
                  text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let length = Int(text) else {
                return .failure(.badRequest("invalid Content-Length"))
            }
            return .success((request, length == 0 ? .none : .length(length)))
        }
        return .success((request, .none))
    }
}

private func isTokenByte(_ byte: UInt8) -> Bool {
    switch byte {
    case 48...57, 65...90, 97...122: return true
    case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
         UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
         UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
        return true
    default: return false
    }
}

extension Substring {
    fileprivate func trimmingCharacters() -> String {
        var slice = self[...]
        while slice.first == " " || slice.first == "\t" { slice = slice.dropFirst() }
        while slice.last == " " || slice.last == "\t" { slice = slice.dropLast() }
        return String(slice)
    }
}

/// Serializes HTTP/1.1 responses.
public enum HTTP1ResponseSerializer {
    /// The reason phrase for a status code.
    public static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 100: return "Continue"
        case 200: return "OK"
        case 201: return "Created"
        case 202: return "Accepted"
        case 204: return "No Content"
        case 301: return "Moved Permanently"
        case 302: return "Found"
        case 304: return "Not Modified"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 409: return "Conflict"
        case 413: return "Content Too Large"
        case 415: return "Unsupported Media Type"
        case 422: return "Unprocessable Content"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        case 505: return "HTTP Version Not Supported"
        default: return "Status \(status)"
        }
    }

    /// Appends a complete response to `buffer`.
    ///
    /// Adds `content-length`, `date` (when given) and `connection: close` when the connection will
    /// close; headers the caller passed with those names are dropped. With `omitBody` (HEAD) the
    /// length is announced but no body written.
    public static func append(status: Int, headers: [(name: String, value: String)], body: [UInt8],
                              keepAlive: Bool, date: String?, omitBody: Bool = false,
                              to buffer: inout [UInt8]) {
        buffer.reserveCapacity(buffer.count + 128 + body.count)
        buffer.append(contentsOf: "HTTP/1.1 \(status) \(reasonPhrase(status))\r\n".utf8)
        for header in headers {
            switch header.name.lowercased() {
            case "content-length", "connection", "date", "transfer-encoding": continue
            default: break
            }
            // Header injection defence: CR and LF never reach the wire.
            buffer.append(contentsOf: header.name.utf8.filter { $0 != 13 && $0 != 10 })
            buffer.append(contentsOf: ": ".utf8)
            buffer.append(contentsOf: header.value.utf8.filter { $0 != 13 && $0 != 10 })
            buffer.append(contentsOf: "\r\n".utf8)
        }
        if let date { buffer.append(contentsOf: "date: \(date)\r\n".utf8) }
        if status >= 200 && status != 204 && status != 304 {
            buffer.append(contentsOf: "content-length: \(body.count)\r\n".utf8)
        }
        if !keepAlive { buffer.append(contentsOf: "connection: close\r\n".utf8) }
        buffer.append(contentsOf: "\r\n".utf8)
        if !omitBody && status != 204 && status != 304 { buffer.append(contentsOf: body) }
    }

    /// A complete response.
    public static func serialize(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = [],
                                 keepAlive: Bool = true, date: String? = nil) -> [UInt8] {
        var buffer: [UInt8] = []
        append(status: status, headers: headers, body: body, keepAlive: keepAlive, date: date, to: &buffer)
        return buffer
    }
}
