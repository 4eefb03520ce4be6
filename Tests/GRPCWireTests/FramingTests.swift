import Testing
@testable import GRPCWire

@Test func framerWritesFlagAndBigEndianLength() {
    #expect(GRPCMessageFramer.frame([0xAA, 0xBB]) == [0, 0, 0, 0, 2, 0xAA, 0xBB])
    #expect(GRPCMessageFramer.frame([], compressed: true) == [1, 0, 0, 0, 0])
    #expect(GRPCMessageFramer.frame(Array(repeating: 7, count: 300)).prefix(5) == [0, 0, 0, 1, 44])
}

@Test func deframerKeepsPartialMessagesAcrossChunks() throws {
    var stream: [UInt8] = []
    GRPCMessageFramer.append([1, 2, 3], to: &stream)
    GRPCMessageFramer.append([], to: &stream)
    GRPCMessageFramer.append(Array(repeating: 9, count: 1000), to: &stream)
    // Feed one byte at a time: every split point of prefix and payload is crossed.
    var deframer = GRPCMessageDeframer(maxMessageBytes: 4096)
    var messages: [GRPCMessage] = []
    for byte in stream {
        deframer.append([byte])
        while let message = try deframer.next() { messages.append(message) }
    }
    #expect(messages.map(\.bytes) == [[1, 2, 3], [], Array(repeating: 9, count: 1000)])
    #expect(deframer.isAtMessageBoundary)
    try deframer.finish()
}

@Test func deframerReturnsManyMessagesFromOneChunk() throws {
    var stream: [UInt8] = []
    for index in 0..<50 { GRPCMessageFramer.append([UInt8(index)], to: &stream) }
    var deframer = GRPCMessageDeframer(maxMessageBytes: 10)
    deframer.append(stream)
    var count = 0
    while let message = try deframer.next() {
        #expect(message.bytes == [UInt8(count)])
        count += 1
    }
    #expect(count == 50)
}

@Test func deframerRejectsOversizeMessageBeforeBufferingIt() {
    var deframer = GRPCMessageDeframer(maxMessageBytes: 100)
    deframer.append([0, 0, 0, 0, 101])
    #expect(throws: GRPCDeframingError.messageTooLarge(declared: 101, limit: 100)) { try deframer.next() }
    deframer.append(Array(repeating: 0, count: 50))
    #expect(deframer.bufferedByteCount == 0)
    #expect(throws: GRPCDeframingError.self) { try deframer.next() }
    #expect(GRPCDeframingError.messageTooLarge(declared: 101, limit: 100).status.code == .resourceExhausted)
}

@Test func deframerAcceptsMessageOfExactlyTheLimit() throws {
    var deframer = GRPCMessageDeframer(maxMessageBytes: 3)
    deframer.append(GRPCMessageFramer.frame([1, 2, 3]))
    #expect(try deframer.next()?.bytes == [1, 2, 3])
}

@Test func deframerRejectsBadCompressedFlagAndTruncation() {
    var bad = GRPCMessageDeframer(maxMessageBytes: 100)
    bad.append([2, 0, 0, 0, 0])
    #expect(throws: GRPCDeframingError.invalidCompressedFlag(2)) { try bad.next() }

    var truncated = GRPCMessageDeframer(maxMessageBytes: 100)
    truncated.append([0, 0, 0, 0, 4, 1])
    #expect(throws: Never.self) { _ = try truncated.next() }
    #expect(throws: GRPCDeframingError.truncatedMessage) { try truncated.finish() }
}

@Test func timeoutParsesEveryUnitAndRejectsMalformedValues() {
    #expect(GRPCTimeout.parse("1H") == .seconds(3600))
    #expect(GRPCTimeout.parse("2M") == .seconds(120))
    #expect(GRPCTimeout.parse("3S") == .seconds(3))
    #expect(GRPCTimeout.parse("250m") == .milliseconds(250))
    #expect(GRPCTimeout.parse("99999999u") == .microseconds(99_999_999))
    #expect(GRPCTimeout.parse("5n") == .nanoseconds(5))
    #expect(GRPCTimeout.parse("123456789S") == nil) // more than 8 digits
    #expect(GRPCTimeout.parse("S") == nil)
    #expect(GRPCTimeout.parse("10x") == nil)
    #expect(GRPCTimeout.parse("-1S") == nil)
    #expect(GRPCTimeout.parse("") == nil)
    #expect(GRPCTimeout.format(.milliseconds(1500)) == "1500m")
    #expect(GRPCTimeout.parse(GRPCTimeout.format(.seconds(7))) == .seconds(7))
}

@Test func grpcMessageIsPercentEncodedAndDecoded() {
    #expect(GRPCMessageText.percentEncode("plain text ok") == "plain text ok")
    #expect(GRPCMessageText.percentEncode("100%") == "100%25")
    #expect(GRPCMessageText.percentEncode("line\nbreak") == "line%0Abreak")
    #expect(GRPCMessageText.percentEncode("café") == "caf%C3%A9")
    #expect(GRPCMessageText.percentDecode("caf%C3%A9 100%25") == "café 100%")
    // Malformed escapes are kept verbatim.
    #expect(GRPCMessageText.percentDecode("50%zz and %4") == "50%zz and %4")
    let text = "naïve – ✓ %\t\u{7F}"
    #expect(GRPCMessageText.percentDecode(GRPCMessageText.percentEncode(text)) == text)
}

@Test func contentTypeSeparatesGRPCProtoFromOtherTypes() {
    #expect(GRPCContentType("application/grpc") == .grpcProto)
    #expect(GRPCContentType("application/grpc+proto") == .grpcProto)
    #expect(GRPCContentType("Application/GRPC; charset=utf-8") == .grpcProto)
    #expect(GRPCContentType("application/grpc+json") == .unsupportedGRPC("application/grpc+json"))
    #expect(GRPCContentType("application/json") == .notGRPC)
    #expect(GRPCContentType(nil) == .notGRPC)
}
