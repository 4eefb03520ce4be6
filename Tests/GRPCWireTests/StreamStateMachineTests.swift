import Testing
@testable import GRPCWire

private func acceptedMachine(endStream: Bool = false, encodings: Set<String> = []) -> GRPCServerStreamStateMachine {
    var machine = GRPCServerStreamStateMachine(maxReceiveMessageBytes: 1024, supportedEncodings: encodings)
    let action = machine.receivedHeaders(method: "POST", contentType: "application/grpc", encoding: nil,
                                         timeout: nil, endStream: endStream)
    #expect(action == .accept(timeout: nil))
    return machine
}

@Test func unaryCallWalksThroughBothHalves() {
    var machine = acceptedMachine()
    #expect(machine.state == .clientOpenServerIdle)
    let frame = GRPCMessageFramer.frame([1, 2])
    #expect(machine.receivedData(Array(frame.prefix(3)), endStream: false) == .deliver([], endOfInput: false))
    #expect(machine.receivedData(Array(frame.dropFirst(3)), endStream: true)
            == .deliver([GRPCMessage(bytes: [1, 2])], endOfInput: true))
    #expect(machine.state == .clientClosedServerIdle)
    #expect(machine.sendingMessage() == .sendHeadersAndMessage)
    #expect(machine.state == .clientClosedServerOpen)
    #expect(machine.sendingMessage() == .sendMessage)
    #expect(machine.sendingStatus() == .trailers)
    #expect(machine.state == .clientClosedServerClosed)
    #expect(machine.sendingStatus() == .drop)
    #expect(machine.receivedReset() == .ignore)
}

@Test func errorBeforeAnyResponseIsTrailersOnly() {
    var machine = acceptedMachine(endStream: true)
    #expect(machine.state == .clientClosedServerIdle)
    #expect(machine.sendingStatus() == .trailersOnly)
    #expect(machine.sendingMessage() == .drop)
}

@Test func headersWithUnsupportedContentTypeGet415AndGETGets405() {
    var json = GRPCServerStreamStateMachine(maxReceiveMessageBytes: 10)
    #expect(json.receivedHeaders(method: "POST", contentType: "application/grpc+json", encoding: nil,
                                 timeout: nil, endStream: false) == .rejectHTTP(status: 415))
    var get = GRPCServerStreamStateMachine(maxReceiveMessageBytes: 10)
    #expect(get.receivedHeaders(method: "GET", contentType: "application/grpc", encoding: nil,
                                timeout: nil, endStream: true) == .rejectHTTP(status: 405))
    #expect(get.state == .clientClosedServerClosed)
}

@Test func unknownEncodingIsUnimplementedAndAdvertisesEncodings() {
    var machine = GRPCServerStreamStateMachine(maxReceiveMessageBytes: 10, supportedEncodings: ["gzip"])
    let action = machine.receivedHeaders(method: "POST", contentType: "application/grpc", encoding: "snappy",
                                         timeout: nil, endStream: false)
    guard case .rejectWithStatus(let status, advertiseEncodings: true) = action else {
        Issue.record("expected a rejection, got \(action)"); return
    }
    #expect(status.code == .unimplemented)
    #expect(machine.state == .clientOpenServerClosed)
}

@Test func compressedMessageWithoutEncodingIsInternal() {
    var machine = acceptedMachine()
    let action = machine.receivedData(GRPCMessageFramer.frame([1], compressed: true), endStream: false)
    guard case .fail(let status) = action else { Issue.record("expected failure, got \(action)"); return }
    #expect(status.code == .internal)
    #expect(machine.inputFailed)
    // More input in the same read is ignored while the status goes out.
    #expect(machine.receivedData(GRPCMessageFramer.frame([2]), endStream: false) == .ignore)
    #expect(machine.sendingStatus() == .trailersOnly)
    #expect(machine.state == .clientOpenServerClosed)
    #expect(machine.receivedData([0], endStream: true) == .ignore)
    #expect(machine.state == .clientClosedServerClosed)
}

@Test func compressedMessageWithNegotiatedEncodingIsDelivered() {
    var machine = GRPCServerStreamStateMachine(maxReceiveMessageBytes: 10, supportedEncodings: ["gzip"])
    _ = machine.receivedHeaders(method: "POST", contentType: "application/grpc", encoding: "gzip",
                                timeout: "1S", endStream: false)
    #expect(machine.requestEncoding == "gzip")
    #expect(machine.receivedData(GRPCMessageFramer.frame([7], compressed: true), endStream: true)
            == .deliver([GRPCMessage(compressed: true, bytes: [7])], endOfInput: true))
}

@Test func oversizeRequestFailsWithResourceExhausted() {
    var machine = acceptedMachine()
    let action = machine.receivedData([0, 0, 0, 4, 1], endStream: false)
    guard case .fail(let status) = action else { Issue.record("expected failure, got \(action)"); return }
    #expect(status.code == .resourceExhausted)
}

@Test func streamEndingInsideAMessageFails() {
    var machine = acceptedMachine()
    guard case .fail(let status) = machine.receivedData([0, 0, 0, 0, 3, 1], endStream: true) else {
        Issue.record("expected failure"); return
    }
    #expect(status.code == .internal)
}

@Test func malformedTimeoutIsRejected() {
    var machine = GRPCServerStreamStateMachine(maxReceiveMessageBytes: 10)
    let action = machine.receivedHeaders(method: "POST", contentType: "application/grpc", encoding: nil,
                                         timeout: "soon", endStream: false)
    guard case .rejectWithStatus(let status, _) = action else { Issue.record("expected rejection"); return }
    #expect(status.code == .internal)
}

@Test func resetWhileRunningCancelsTheHandler() {
    var machine = acceptedMachine()
    #expect(machine.sendingMessage() == .sendHeadersAndMessage)
    #expect(machine.receivedReset() == .cancelHandler)
    #expect(machine.state == .clientClosedServerClosed)
    #expect(machine.sendingMessage() == .drop)
    #expect(machine.sendingStatus() == .drop)
}

@Test func timeoutIsParsedOnAccept() {
    var machine = GRPCServerStreamStateMachine(maxReceiveMessageBytes: 10)
    #expect(machine.receivedHeaders(method: "POST", contentType: "application/grpc+proto", encoding: "identity",
                                    timeout: "200m", endStream: false) == .accept(timeout: .milliseconds(200)))
}

@Test func failingFrameThatEndsTheStreamStillClosesTheClientHalf() {
    var machine = acceptedMachine()
    guard case .fail(let status) = machine.receivedData([0, 0, 0, 0, 3, 1], endStream: true) else {
        Issue.record("expected failure"); return
    }
    #expect(status.code == .internal)
    // The client is done: a status that ends the stream must not be followed by a reset.
    #expect(machine.state == .clientClosedServerIdle)
    #expect(!machine.inputFailed)
    #expect(machine.sendingStatus() == .trailersOnly)
    #expect(machine.state == .clientClosedServerClosed)
}
