// The executions of one ingest request as the service takes them: read one at a time from the
// request's own bytes when the service asks for them, so that decoding a request never holds a
// decoded copy of every execution beside its bytes (issue 19: a decode costs at most 4x the
// request's size; bench/decode-cost.sh).

/// The executions of one `LogExecutions` / `POST /executions/batch` request, in request order.
///
/// A binding checks the whole request first (syntax, bounds, strings on the wire: everything that
/// answers before any execution is looked at) and notes where each execution lies; the service
/// then decodes, validates and converts them one by one. An element that does not decode throws
/// `ServiceError.invalidArgument` naming its index, as the binding's eager decode did.
public struct ExecutionBatch: Sendable {
    /// How many executions the request holds.
    public let count: Int
    private let decodeElement: @Sendable (Int) throws -> ExecutionInput

    /// A batch whose executions are already decoded (the streaming ingest methods, tests).
    public init(_ inputs: [ExecutionInput]) {
        count = inputs.count
        decodeElement = { inputs[$0] }
    }

    /// A batch of `count` executions, the one at `index` decoded by `element(index)` each time it is
    /// read; `element` throws what the service should answer for an element it cannot decode.
    public init(count: Int, element: @escaping @Sendable (_ index: Int) throws -> ExecutionInput) {
        self.count = count
        decodeElement = element
    }

    /// The execution at `index` (`0..<count`), decoded now.
    public func input(at index: Int) throws -> ExecutionInput {
        precondition(index >= 0 && index < count, "execution index \(index) out of 0..<\(count)")
        return try decodeElement(index)
    }

    /// Every execution, decoded now, as one array (what a caller that keeps them all needs).
    public func decodedInputs() throws -> [ExecutionInput] {
        var inputs: [ExecutionInput] = []
        inputs.reserveCapacity(count)
        for index in 0..<count { inputs.append(try input(at: index)) }
        return inputs
    }
}
