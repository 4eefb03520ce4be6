import Foundation
import LearningAPI
import LearningCore
import LearningProtoC
@testable import LearningRPC
import ProtobufCSupport
import Testing

// The estimates LearningRPC declares to the transport's memory budget (issue 19): what a request
// costs once decoded, from a walk over its wire keys that decodes nothing. Held here to the
// decode itself: for any executions, the estimate counts exactly what decoding them yields.

/// A batch read as the service reads it: each execution decoded and validated into its record.
private func records(_ batch: ExecutionBatch) throws -> [ExecutionRecord] {
    try (0..<batch.count).map { try Validation.execution(try batch.input(at: $0), field: "executions[\($0)]") }
}

/// The record the service makes of `input`, without the checks that refuse arbitrary values: the
/// strings it holds are the same (a task id as its UUID, and as itself when it is not one).
private func recordHeld(_ input: ExecutionInput) -> ExecutionRecord {
    var taskID: String?, taskRef: String?
    if let id = input.taskID, !id.isEmpty {
        if isCanonicalUUID(id) { taskID = id.lowercased() } else { (taskID, taskRef) = (TaskIdentifier.uuid(forName: id), id) }
    }
    func nonEmpty(_ text: String?) -> String? { text?.isEmpty == false ? text : nil }
    return ExecutionRecord(agentName: input.agentName, taskID: taskID, taskType: nonEmpty(input.taskType),
                           executionTime: input.executionTime, success: input.success, errorMessage: nonEmpty(input.errorMessage),
                           resourceUsage: input.resourceUsage, timestamp: input.timestamp ?? Date(), eventID: nonEmpty(input.eventID),
                           taskRef: taskRef)
}

/// The smallest valid execution, `agent_name` "a" and `success`: 7 bytes in a batch.
private let minimalExecution: [UInt8] = [0x0A, 0x01, 0x61, 0x28, 0x01]

private func batch(_ executions: [[UInt8]]) -> [UInt8] {
    var bytes: [UInt8] = []
    for execution in executions {
        bytes += [0x0A, UInt8(execution.count)] + execution // each shorter than 128 bytes here
    }
    return bytes
}

@Suite struct RequestCostTests {
    @Test func theSizesComeFromTheTypesLayouts() {
        #expect(DecodedExecutionsCost.executionBytes == MemoryLayout<ExecutionRecord>.stride)
        #expect(DecodedSize.string(utf8Count: 15) == 0) // a small string lives in the value
        #expect(DecodedSize.string(utf8Count: 16) == 80) // 32-byte header + 17 bytes asked as 64, malloc-rounded
        #expect(DecodedSize.dictionary(count: 0, of: String.self, Double.self) == 0)
        // 8 entries need 16 buckets (at most 3/4 full): 64 + 8 + 16 x 24 = 456, malloc-rounded.
        #expect(DecodedSize.dictionary(count: 8, of: String.self, Double.self) == 464)
        #expect(DecodedSize.allocation(1) == 32)
    }

    @Test func tenThousandOfTheSmallestExecutionsAreChargedWhatTheirDecodeHolds() throws {
        let bytes = batch(Array(repeating: minimalExecution, count: 10_000))
        #expect(bytes.count == 70_000)
        let cost = LearningRPC.executionBatchCost(bytes)
        let decoded = try LearningRPC.executionBatch(bytes)
        #expect(decoded.count == 10_000)
        let offsets = DecodedSize.array(count: 10_000, of: UInt32.self) // where each execution lies
        // ... and protobuf-c's tree of the execution being read: its struct and "a".
        let unpacked = DecodedSize.allocation(MemoryLayout<Learning__V1__Execution>.stride) + DecodedSize.allocation(2)
        #expect(cost == bytes.count + offsets + DecodedExecutionsCost.heldBytes(of: try records(decoded)) + unpacked)
        // The decode itself holds the offsets (40 KB, 0.6x the request); the service's records
        // (bench/decode-cost.sh prints both peaks) are what the charge is mostly made of.
        #expect(offsets < bytes.count)
        #expect(cost >= 70_000 + 10_000 * MemoryLayout<ExecutionRecord>.stride)
    }

    @Test func theDecodeKeepsFourBytesPerExecutionAndDecodesEachWhenRead() throws {
        let inputs = [ExecutionInput(agentName: "first", success: true), ExecutionInput(agentName: "second", success: false)]
        var bytes = ProtoEncode.message(LogExecutionsRequest(executions: inputs))
        let offsets = try #require(ProtoWireFields.lengthDelimitedKeyOffsets(1, in: bytes))
        #expect(offsets == [0, UInt32(2 + ProtoEncode.message(inputs[0]).count)])
        let batch = try LearningRPC.executionBatch(bytes)
        #expect(try batch.decodedInputs() == inputs)
        // A field of another wire type where the executions are: not a batch.
        bytes += [0x08, 0x01]
        #expect(ProtoWireFields.lengthDelimitedKeyOffsets(1, in: bytes) == nil)
    }

    @Test func theEstimateCountsWhatAnyExecutionsDecodeInto() throws {
        for seed in UInt64(1)...40 {
            let generator = MessageValueGenerator(seed: seed, full: seed % 2 == 0)
            let inputs = (0..<(1 + generator.index(20))).map { _ in ExecutionInput.arbitrary(generator) }
            let bytes = ProtoEncode.message(LogExecutionsRequest(executions: inputs))
            let decoded = try LearningRPC.executionBatch(bytes)
            let held = try decoded.decodedInputs().map(recordHeld)
            // What the service holds, plus protobuf-c's tree of one execution (at most its
            // structs and a copy of its bytes with each allocation's overhead).
            let decodedCost = bytes.count + DecodedSize.array(count: decoded.count, of: UInt32.self)
                + DecodedExecutionsCost.heldBytes(of: held)
            let largest = inputs.map { ProtoEncode.message($0).count }.max() ?? 0
            let estimate = LearningRPC.executionBatchCost(bytes)
            #expect(estimate > decodedCost && estimate <= decodedCost + 2 * largest + 4096, "seed \(seed)")
            for input in inputs {
                let message = ProtoEncode.message(input)
                let one = recordHeld(try ProtoDecode.executionBytes(message, field: "message"))
                // The input in the chunk beside its record, and its answers.
                let oneCost = MemoryLayout<ExecutionInput>.stride + DecodedExecutionsCost.heldBytes(of: [one])
                    - DecodedSize.array(count: 1, of: ExecutionRecord.self) + DecodedExecutionsCost.executionBytes
                    - DecodedExecutionsCost.answerBytes(count: 1) + 2 * MemoryLayout<LogExecutionResult>.stride
                let messageEstimate = LearningRPC.executionCost(message)
                #expect(messageEstimate > oneCost && messageEstimate <= oneCost + 2 * message.count + 4096, "seed \(seed)")
            }
        }
    }

    @Test func requestsTheHandlerRefusesBeforeDecodingAreChargedTheirSize() {
        let tooMany = batch(Array(repeating: minimalExecution, count: 10_001))
        #expect(LearningRPC.executionBatchCost(tooMany) == tooMany.count)
        let truncated: [UInt8] = [0x0A, 0x10, 0x0A]
        #expect(LearningRPC.executionBatchCost(truncated) == truncated.count)
        let wrongType: [UInt8] = [0x08, 0x01] // field 1 as a varint
        #expect(LearningRPC.executionBatchCost(wrongType) == wrongType.count)
        #expect(LearningRPC.executionBatchCost([]) == 0)
    }

    @Test func errorMessagesAreChargedTheirDecodedStringsAndTheAnswer() {
        var bytes: [UInt8] = []
        for _ in 0..<10_000 { bytes += [0x0A, 0x00] } // 10,000 empty messages: 2 bytes each
        let cost = LearningRPC.errorSignaturesCost(bytes)
        // protobuf-c: a pointer and a 1-byte allocation each; Swift: two arrays of 16-byte strings.
        let expected = bytes.count + DecodedSize.allocation(80_000) + 10_000 * DecodedSize.allocation(1)
            + 2 * DecodedSize.array(count: 10_000, of: String.self)
        #expect(cost == expected)
        #expect(cost > 30 * bytes.count)
    }

    @Test func everyMethodWhoseDecodeAmplifiesDeclaresItsCost() {
        let costs = Dictionary(uniqueKeysWithValues: LearningRPC.requestCosts().map { ($0.0, $0.1.messagesHeld) })
        #expect(Set(costs.keys) == ["LogExecutions", "StreamExecutions", "IngestExecutions", "GetErrorSignatures",
                                    "RegisterAgent", "SubmitMetrics"])
        #expect(costs["StreamExecutions"] == 5 * LearningRPC.streamChunkSize)
        #expect(costs["IngestExecutions"] == LearningRPC.ingestWindow + 1)
    }

    @Test func theWalkReportsFieldsAndRefusesMalformedBytes() {
        let bytes: [UInt8] = [0x08, 0x96, 0x01, 0x12, 0x02, 0x61, 0x62, 0x1D, 0, 0, 0, 0]
        var fields: [ProtoWireFields.Field] = []
        let wellFormed = bytes.withUnsafeBufferPointer { buffer in
            ProtoWireFields.forEachField(in: buffer, 0..<buffer.count) { fields.append($0); return true }
        }
        #expect(wellFormed)
        #expect(fields == [ProtoWireFields.Field(number: 1, wireType: 0, value: 1..<3),
                           ProtoWireFields.Field(number: 2, wireType: 2, value: 5..<7),
                           ProtoWireFields.Field(number: 3, wireType: 5, value: 8..<12)])
        for bad: [UInt8] in [[0x12, 0x05, 0x61], [0x0B], [0x80], [0x1D, 0, 0]] {
            let ok = bad.withUnsafeBufferPointer { buffer in ProtoWireFields.forEachField(in: buffer, 0..<buffer.count) { _ in true } }
            #expect(!ok, "\(bad)")
        }
    }
}
