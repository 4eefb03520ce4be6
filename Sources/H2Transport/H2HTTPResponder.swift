/// Serves the REST requests of one HTTP/2 connection: feeds each request's
/// `HTTPStreamStateMachine`, runs the router's HTTP handler (inline or as a task) and submits the
/// response. Runs on the connection's loop thread, after nghttp2 returned.
final class H2HTTPResponder {
    private unowned let owner: H2Handler

    init(owner: H2Handler) {
        self.owner = owner
    }

    /// A request's headers arrived and its body is to come: a header list over the limit is
    /// answered 431, and the router's head check may answer it (e.g. 401), before a byte of the
    /// body is buffered.
    func headReceived(_ stream: HTTPStream) {
        if stream.head.tooLarge {
            answerEarly(stream, HTTPErrorCode.headerFieldsTooLarge.response("the request's header list is larger than the server accepts"))
            return
        }
        guard let check = owner.server.router.httpHeadCheck else { return }
        let (path, query) = Self.split(stream.head.path ?? "/")
        let head = HTTPRequest(method: stream.head.method ?? "GET", path: path, query: query,
                               headers: stream.head.metadata, body: [], peer: owner.connection.peer)
        if let response = check(head) { answerEarly(stream, response) }
    }

    /// Answers a request before it ended (its body is dropped; once the answer is out, the stream
    /// is reset with NO_ERROR if the client still sends).
    func answerEarly(_ stream: HTTPStream, _ response: HTTPResponse) {
        guard stream.machine.answeringEarly() else { return }
        submit(stream, response, head: stream.head.method == "HEAD")
    }

    private static func split(_ target: String) -> (path: String, query: String) {
        guard let mark = target.firstIndex(of: "?") else { return (target, "") }
        return (String(target[..<mark]), String(target[target.index(after: mark)...]))
    }

    /// The client ended its request: answer it (413 when the body was too large) or start its handler.
    func requestEnded(_ stream: HTTPStream) {
        if stream.head.tooLarge {
            answerEarly(stream, HTTPErrorCode.headerFieldsTooLarge.response("the request's header list is larger than the server accepts"))
        }
        guard let action = stream.machine.receivedEndStream() else { return }
        let method = stream.head.method ?? "GET"
        let head = method == "HEAD"
        let body: [UInt8]
        switch action {
        case .rejectTooLarge:
            respond(stream, HTTPErrorCode.payloadTooLarge.response("the request body is larger than the server accepts"), head: head)
            return
        case .handle(let requestBody):
            body = requestBody
        }
        let (path, query) = Self.split(stream.head.path ?? "/")
        if let refusal = owner.server.router.nonGRPCRequestRefusal(path: path, contentType: stream.head.contentType) {
            owner.releaseAll(.http(stream))
            respond(stream, refusal, head: head)
            return
        }
        let request = HTTPRequest(method: method, path: path, query: query, headers: stream.head.metadata,
                                  body: body, peer: owner.connection.peer)
        guard let route = owner.server.router.http else {
            owner.releaseAll(.http(stream))
            respond(stream, HTTPErrorCode.notFound.response("this server has no REST routes"), head: head)
            return
        }
        switch route(request) {
        case .inline(let function):
            owner.releaseAll(.http(stream)) // answered right here
            respond(stream, function(request), head: head)
        case .async(let function):
            // Handed on: the body leaves the window, and what it costs decoded is held against the
            // budget until the handler answers.
            let cost = max(body.count, owner.server.router.httpCost?(request) ?? 0)
            switch owner.handOver(.http(stream), cost: cost) {
            case .granted:
                break
            case .overBudget:
                owner.refuseOverBudget(.http(stream), message: H2Handler.overBudgetMessage(cost: cost))
                return
            case .tooLarge:
                owner.releaseAll(.http(stream))
                respond(stream, HTTPErrorCode.payloadTooLarge.response(
                    H2Handler.tooLargeMessage(cost: cost, limit: owner.connection.buffer.limit)), head: head)
                return
            }
            let id = stream.id
            let owner = self.owner
            let loop = owner.connection.loop
            // The task holds the connection's handler, not this object; a stream gone meanwhile
            // (reset, connection closed) is not found and the response is dropped.
            let operation: @Sendable () async -> Void = {
                let response = await function(request)
                loop.execute {
                    owner.handlerFinished(id)
                    guard let stream = owner.httpStream(id) else { return }
                    owner.http.respond(stream, response, head: head)
                }
            }
            loop.startHandlerTask(requestBytes: request.body.count, operation)
        }
    }

    /// Sends the response unless the stream is gone (`head`: headers only, for HEAD).
    func respond(_ stream: HTTPStream, _ response: HTTPResponse, head: Bool) {
        guard stream.machine.sendingResponse() else { return }
        submit(stream, response, head: head)
    }

    private func submit(_ stream: HTTPStream, _ response: HTTPResponse, head: Bool) {
        let headers = response.headers.filter {
            switch $0.name.lowercased() {
            case "content-length", "connection", "transfer-encoding", "keep-alive", "date": return false
            default: return true
            }
        }.map { ($0.name.lowercased(), $0.value) }
        let all = [(":status", String(response.status))] + headers
            + [("date", owner.connection.loop.httpDate()), ("content-length", String(response.body.count))]
        if head || response.body.isEmpty {
            owner.submitResponse(stream.id, headers: all, hasBody: false)
        } else {
            stream.body = H2ResponseBody(complete: response.body)
            owner.submitResponse(stream.id, headers: all, hasBody: true)
        }
        owner.record(start: stream.start, head: stream.head,
                     route: response.route ?? unmatchedRouteLabel,
                     httpStatus: response.status, grpcStatus: nil)
    }
}
