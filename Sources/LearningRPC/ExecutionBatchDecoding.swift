// LogExecutions' request, decoded one execution at a time.
import GRPCWire
import LearningAPI
import LearningProtoC
import LearningService
import ProtobufCSupport

extension LearningRPC {
    /// The executions of a `LogExecutionsRequest`. The whole request passes the wire check first
    /// (bounds, strings, well-formedness: the same errors as before), and where each execution
    /// lies is noted (4 bytes each); the service then unpacks each from its own bytes, converts it
    /// and frees protobuf-c's tree before the next, as it reads the batch. The decode thus holds
    /// the offsets and one execution's tree beside the request, where converting every execution
    /// before the hand-over held an `ExecutionInput` (168 bytes) per execution: 27.7x the request
    /// for the smallest valid execution (bench/decode-cost.sh).
    static func executionBatch(_ bytes: [UInt8]) throws -> ExecutionBatch {
        let name = "learning.v1.LogExecutionsRequest"
        do {
            try ProtoServiceSchema.learningSystem.checkWire(bytes, message: name)
        } catch {
            throw GRPCStatus(.invalidArgument, error.path.isEmpty ? "the request is not a valid \(name) message: \(error.reason)"
                                                                  : "\(error.path) \(error.reason)")
        }
        guard let offsets = ProtoWireFields.lengthDelimitedKeyOffsets(1, in: bytes) else {
            throw GRPCStatus(.invalidArgument, "the request is not a valid \(name) message")
        }
        return ExecutionBatch(count: offsets.count) { index in
            try executionInput(bytes, keyOffset: Int(offsets[index]), index: index)
        }
    }

    /// The execution whose field starts at `keyOffset` in a checked `LogExecutionsRequest`.
    private static func executionInput(_ bytes: [UInt8], keyOffset: Int, index: Int) throws -> ExecutionInput {
        try bytes.withUnsafeBufferPointer { buffer in
            guard let range = ProtoWireFields.lengthDelimitedValue(at: keyOffset, in: buffer),
                  let execution = unpackMessage(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: buffer[range])), learning__v1__execution__unpack) else {
                throw UndecodableRequest(detail: "executions[\(index)] is not a valid learning.v1.Execution message")
            }
            // The strings are read from protobuf-c's tree, which `execution` frees: kept alive until they are.
            return try withExtendedLifetime(execution) {
                try ExecutionInput(proto: execution.message, path: "executions[\(index)]")
            }
        }
    }
}
