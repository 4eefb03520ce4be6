import Foundation
import GRPCWire
import H2Transport
import LearningRPC
import Testing

// gRPC LogExecutions through the handler LearningRPC registers, over the service on the in-memory
// repository: the executions are unpacked one at a time (bench/decode-cost.sh), and must arrive
// exactly as the whole-request unpack delivered them, with the same refusals.

private func varint(_ value: UInt64) -> [UInt8] {
    var out: [UInt8] = [], rest = value
    while rest >= 0x80 { out.append(UInt8(rest & 0x7F) | 0x80); rest >>= 7 }
    return out + [UInt8(rest)]
}
private func key(_ number: Int, _ wireType: Int) -> [UInt8] { varint(UInt64(number << 3 | wireType)) }
private func field(_ number: Int, _ value: [UInt8]) -> [UInt8] { key(number, 2) + varint(UInt64(value.count)) + value }
private func text(_ number: Int, _ value: String) -> [UInt8] { field(number, Array(value.utf8)) }

/// One `learning.v1.Execution`, as a `LogExecutionsRequest.executions` element.
private func execution(_ agent: String, event: String, extra: [UInt8] = []) -> [UInt8] {
    field(1, text(1, agent) + text(3, "review") + key(5, 0) + [1] + text(9, event) + extra)
}

@Suite("gRPC LogExecutions through the registered handler")
struct LogExecutionsDecodingTests {
    static let method = "/\(LearningRPC.serviceName)/LogExecutions"

    /// The registered handler of LogExecutions over `fixture`'s service.
    func handler(_ fixture: MemoryFixture) throws -> @Sendable (GRPCCallContext, [UInt8]) async throws -> [UInt8] {
        var router = Router()
        LearningRPC.register(into: &router, handlers: fixture.service)
        guard case .unary(let call) = router.grpcMethods[Self.method] else {
            throw GRPCStatus(.unimplemented, "LogExecutions is not a registered unary method")
        }
        return call
    }

    let context = GRPCCallContext(method: method, metadata: [], deadline: nil, peer: "127.0.0.1:1")

    /// The status `bytes` are refused with, nil when they are accepted.
    func refusal(_ call: @Sendable (GRPCCallContext, [UInt8]) async throws -> [UInt8], _ bytes: [UInt8]) async -> GRPCStatus? {
        do {
            _ = try await call(context, bytes)
            return nil
        } catch {
            return error as? GRPCStatus ?? GRPCStatus(.unknown, "not a status: \(error)")
        }
    }

    @Test func everyExecutionArrivesInOrderWhateverLiesBetweenThem() async throws {
        let fixture = try await MemoryFixture.start()
        defer { Task { await fixture.stop() } }
        let call = try handler(fixture)
        // An unknown varint field and an unknown length-delimited one between the executions are
        // skipped, as protobuf-c skips them; an empty execution field is an execution too (refused
        // by validation, so it is left out here).
        let bytes = execution("agent-0", event: "e0") + key(15, 0) + varint(300) + execution("agent-1", event: "e1")
            + field(14, [1, 2, 3]) + execution("agent-2", event: "e2", extra: text(6, "timeout after 30s"))
        let response = try await call(context, bytes)
        #expect(response == [0x08, 3], "accepted: 3")
        let stored = fixture.repository.storedExecutions
        #expect(stored.map(\.agentName) == ["agent-0", "agent-1", "agent-2"])
        #expect(stored.map(\.eventID) == ["e0", "e1", "e2"])
        #expect(stored.map(\.errorMessage) == [nil, nil, "timeout after 30s"])
        #expect(stored.allSatisfy { $0.taskType == "review" && $0.success })
    }

    @Test func theSameRefusalsAsTheWholeRequestUnpack() async throws {
        let fixture = try await MemoryFixture.start()
        defer { Task { await fixture.stop() } }
        let call = try handler(fixture)
        let good = execution("agent-0", event: "e0")

        // executions as a varint: protobuf-c refused the message, and so does the handler.
        let wrongType = await refusal(call, good + key(1, 0) + [1])
        #expect(wrongType?.code == .invalidArgument)
        #expect(wrongType?.message == "the request is not a valid learning.v1.LogExecutionsRequest message")

        // The wire check of the whole request names the execution and its field.
        let nul = await refusal(call, good + execution("agent\u{0}1", event: "e1"))
        #expect(nul?.code == .invalidArgument)
        #expect(nul?.message.hasPrefix("executions[1].agent_name") == true, "\(String(describing: nul))")

        // A bad timestamp in the third execution (nanos out of range): named by its index.
        let badTime = field(8, key(1, 0) + varint(1_737_800_000) + key(2, 0) + varint(2_000_000_000))
        let timed = await refusal(call, good + good + execution("agent-2", event: "e2", extra: badTime))
        #expect(timed?.code == .invalidArgument)
        #expect(timed?.message == "executions[2].timestamp is not a valid timestamp", "\(String(describing: timed))")

        // Validation after the decode: an execution without an agent.
        let anonymous = await refusal(call, good + field(1, []))
        #expect(anonymous?.code == .invalidArgument)
        #expect(anonymous?.message.contains("executions[1].agent_name") == true, "\(String(describing: anonymous))")

        #expect(fixture.repository.storedExecutions.isEmpty, "nothing of a refused batch is stored")
    }
}
