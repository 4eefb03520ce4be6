import Testing
import ProtobufCSupport

/// Wire bytes built by hand: a field's key, a varint, a length-delimited value.
private func key(_ number: Int, _ wireType: Int) -> [UInt8] { varint(UInt64(number << 3 | wireType)) }
private func varint(_ value: UInt64) -> [UInt8] {
    var out: [UInt8] = [], v = value
    while v >= 0x80 { out.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
    return out + [UInt8(v)]
}
private func bytesField(_ number: Int, _ value: [UInt8]) -> [UInt8] { key(number, 2) + varint(UInt64(value.count)) + value }
private func text(_ number: Int, _ value: String) -> [UInt8] { bytesField(number, Array(value.utf8)) }

private let schema = ProtoServiceSchema.learningSystem

private func problem(_ bytes: [UInt8], _ message: String, limits: ProtoWireLimits = ProtoWireLimits()) -> ProtoWireProblem? {
    do {
        try schema.checkWire(bytes, message: message, limits: limits)
        return nil
    } catch {
        return error
    }
}

/// protobuf-c would store "nulkey\0first" as "nulkey": the scan refuses the NUL with the field's path.
@Test func aNulInsideAStringIsRefusedWithItsPath() {
    let execution = text(1, "director") + key(5, 0) + [1] + text(9, "nulkey\0first")
    #expect(problem(execution, "learning.v1.Execution") == ProtoWireProblem(path: "event_id", reason: "must not contain NUL characters"))
    let request = bytesField(1, execution)
    #expect(problem(request, "learning.v1.LogExecutionRequest")?.description == "execution.event_id must not contain NUL characters")
    let batch = bytesField(1, text(1, "a")) + bytesField(1, text(1, "a\0b"))
    #expect(problem(batch, "learning.v1.LogExecutionsRequest")?.description == "executions[1].agent_name must not contain NUL characters")
    // A map's key and value (resource_usage.other is map<string, double>).
    let entry = text(1, "gpu\0") + key(2, 1) + [UInt8](repeating: 0, count: 8)
    let usage = bytesField(4, entry)
    #expect(problem(bytesField(7, usage), "learning.v1.Execution")?.description == "resource_usage.other key must not contain NUL characters")
}

@Test func textMustBeValidUTF8AndValidTextPasses() {
    #expect(problem(text(1, "dírector-🚀") + text(6, "ошибка: timeout"), "learning.v1.Execution") == nil)
    for bad: [UInt8] in [[0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0xFF], [0x80]] {
        #expect(problem(bytesField(3, Array("ok".utf8) + bad), "learning.v1.Execution")
                == ProtoWireProblem(path: "task_type", reason: "is not valid UTF-8"), "\(bad)")
    }
}

/// 4 MB of empty executions would cost protobuf-c an allocation each: counted on the wire first.
@Test func repeatedFieldsAreCountedBeforeUnpacking() {
    let empty = bytesField(1, [])
    let many = [UInt8]((0..<10_001).flatMap { _ in empty })
    #expect(problem(many, "learning.v1.LogExecutionsRequest")?.description == "executions has more than 10000 elements")
    #expect(problem([UInt8]((0..<10_000).flatMap { _ in empty }), "learning.v1.LogExecutionsRequest") == nil)
    let small = ProtoWireLimits(maxDepth: 32, maxElementsPerField: 100, maxElements: 150)
    let tools = [UInt8]((0..<99).flatMap { _ in text(3, "Read") })
    #expect(problem(text(1, "a") + tools, "learning.v1.RegisterAgentRequest", limits: small) == nil)
    #expect(problem(text(1, "a") + tools + text(3, "x") + text(3, "y"), "learning.v1.RegisterAgentRequest", limits: small)?.description
            == "tools has more than 100 elements")
}

@Test func malformedWireIsRefusedAndUnknownMessagesPass() {
    #expect(problem(key(1, 2) + varint(50) + Array("short".utf8), "learning.v1.Execution")?.reason == "is not well-formed protobuf")
    #expect(problem([0x80, 0x80], "learning.v1.Execution")?.reason == "is not well-formed protobuf")
    #expect(problem(key(4, 3), "learning.v1.Execution")?.reason == "is not well-formed protobuf", "a group")
    // Unknown fields are skipped (forward compatibility); messages outside the schema are not checked.
    #expect(problem(text(99, "anything\0") + text(1, "ok"), "learning.v1.Execution") == nil)
    #expect(problem([0xFF, 0xFF], "opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest") == nil)
}

/// The values of field `number` as a batch decoder finds them: where each key starts
/// (`lengthDelimitedKeyOffsets`), then each value from there (`lengthDelimitedValue`).
private func lengthDelimited(_ number: Int, in bytes: [UInt8]) -> [Range<Int>]? {
    guard let offsets = ProtoWireFields.lengthDelimitedKeyOffsets(number, in: bytes) else { return nil }
    let values = bytes.withUnsafeBufferPointer { buffer in
        offsets.compactMap { ProtoWireFields.lengthDelimitedValue(at: Int($0), in: buffer) }
    }
    return values.count == offsets.count ? values : nil
}

@Suite("ProtoWireFields")
struct ProtoWireFieldsTests {
    @Test func findsEveryValueOfTheFieldAmongOthersInWireOrder() {
        let first = text(1, "a")
        let second: [UInt8] = []
        let bytes = bytesField(1, first) + key(2, 0) + varint(300) + key(3, 1) + [UInt8](repeating: 7, count: 8)
            + bytesField(1, second) + key(4, 5) + [1, 2, 3, 4] + bytesField(9, [1, 2]) + bytesField(1, text(9, "xyz"))
        let ranges = lengthDelimited(1, in: bytes)
        #expect(ranges?.count == 3)
        #expect(ranges.map { $0.map { Array(bytes[$0]) } } == [first, second, text(9, "xyz")])
        #expect(lengthDelimited(5, in: bytes) == [])
        #expect(lengthDelimited(1, in: []) == [])
    }

    @Test func refusesWhatIsNotWellFormed() {
        #expect(lengthDelimited(1, in: key(1, 2) + [5, 1, 2]) == nil, "a length past the end")
        #expect(lengthDelimited(1, in: key(2, 0) + [0x80]) == nil, "a truncated varint")
        #expect(lengthDelimited(1, in: key(2, 1) + [1, 2, 3]) == nil, "a truncated fixed64")
        #expect(lengthDelimited(1, in: key(2, 5) + [1]) == nil, "a truncated fixed32")
        #expect(lengthDelimited(1, in: key(2, 3) + key(2, 4)) == nil, "a group")
        #expect(lengthDelimited(1, in: key(2, 6)) == nil, "wire type 6")
        #expect(lengthDelimited(1, in: [0x80]) == nil, "a truncated key")
        #expect(lengthDelimited(1, in: bytesField(1, []) + key(1, 0) + [1]) == nil,
                "the field as a varint: protobuf-c refuses the message, so must this")
        #expect(lengthDelimited(2, in: bytesField(1, []) + key(1, 0) + [1]) == [], "another field's wire type is its own")
    }
}
