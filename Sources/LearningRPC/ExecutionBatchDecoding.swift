// LogExecutions' request, decoded one execution at a time.
import GRPCWire
import LearningProtoC
import LearningService
import ProtobufCSupport

extension LearningRPC {
    /// The executions of a `LogExecutionsRequest`. The whole request passes the wire check first
    /// (bounds, strings, well-formedness: the same errors as before), then each execution is
    /// unpacked from its own bytes, converted and freed before the next: what the decode holds at
    /// most is the decoded inputs and one execution's protobuf-c tree, where unpacking the request
    /// as one tree held every execution twice (bench/decode-cost.sh: the guide's execution went
    /// from 5.4x the request's size to below 4x).
    static func executionBatch(_ bytes: [UInt8]) throws -> [ExecutionInput] {
        let name = "learning.v1.LogExecutionsRequest"
        do {
            try ProtoServiceSchema.learningSystem.checkWire(bytes, message: name)
        } catch {
            throw GRPCStatus(.invalidArgument, error.path.isEmpty ? "the request is not a valid \(name) message: \(error.reason)"
                                                                  : "\(error.path) \(error.reason)")
        }
        guard let ranges = ProtoWireFields.lengthDelimited(1, in: bytes) else {
            throw GRPCStatus(.invalidArgument, "the request is not a valid \(name) message")
        }
        var inputs: [ExecutionInput] = []
        inputs.reserveCapacity(ranges.count)
        try bytes.withUnsafeBytes { buffer in
            for (index, range) in ranges.enumerated() {
                guard let execution = unpackMessage(UnsafeRawBufferPointer(rebasing: buffer[range]),
                                                    learning__v1__execution__unpack) else {
                    throw GRPCStatus(.invalidArgument, "executions[\(index)] is not a valid learning.v1.Execution message")
                }
                // The strings are read from protobuf-c's tree, which `execution` frees: kept alive until they are.
                inputs.append(try withExtendedLifetime(execution) {
                    try ExecutionInput(proto: execution.message, path: "executions[\(index)]")
                })
            }
        }
        return inputs
    }
}
