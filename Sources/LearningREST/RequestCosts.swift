public import H2Transport
import LearningAPI

// What a REST request holds once its handler decoded it, for the transport's memory budget
// (`Router.httpCost`; issue 19, docs/TRANSPORT.md "Holding under abuse"). One pass over the body
// that builds nothing (`JSONCostScan`), on the event loop before the handler starts:
// `POST /executions/batch` holds its body and the decoded executions (the elements are streamed
// out of the parser, so only one element's JSON tree exists at a time); every other JSON body is
// parsed into a `JSONValue` tree first, and holds that. Other bodies are charged their size.

/// The function `Router.httpCost` calls: what a REST request costs once decoded.
///
/// ```swift
/// router.httpCost = makeRESTCost()
/// ```
public func makeRESTCost() -> @Sendable (HTTPRequest) -> Int {
    { request in RESTCost.estimate(request) }
}

/// The estimates behind `makeRESTCost()`.
public enum RESTCost {
    /// What `request`'s handler holds at most once it decoded the body, the body included.
    public static func estimate(_ request: HTTPRequest) -> Int {
        let body = request.body
        guard !body.isEmpty, isJSON(request) else { return body.count }
        let batch = request.method == "POST" && request.path == "/executions/batch"
        let scan = JSONCostScan.scan(body, executionBatch: batch)
        return body.count + (batch ? scan.executions.decodedBytes + scan.largestElementTree : scan.treeBytes)
    }

    /// Whether the body is read as JSON (a JSON content type, or none).
    static func isJSON(_ request: HTTPRequest) -> Bool {
        guard let type = request.headers.first("content-type")?.lowercased() else { return true }
        return type.hasPrefix("application/json") || type.contains("+json")
    }
}

/// One pass over a JSON text counting what its `JSONValue` tree, or the `[ExecutionInput]` of a
/// batch, would hold, without building either. Lenient: it counts what it meets, whether or not
/// the text turns out valid (the parser builds the tree up to the error it stops at).
struct JSONCostScan {
    /// Values held in arrays' storage (and the root).
    var arrayElements = 0
    /// Values held as object members, with their keys.
    var members = 0
    /// Arrays and objects: one storage object each.
    var containers = 0
    /// Heap bytes of strings and number texts longer than a small string.
    var stringHeap = 0
    /// For a batch: the executions (the objects in the top-level object's arrays).
    var executions = DecodedExecutionsCost()
    /// For a batch: the largest tree of one execution's JSON (the one the parser holds at a time).
    var largestElementTree = 0

    /// Heap bytes of the whole `JSONValue` tree.
    var treeBytes: Int {
        arrayElements * MemoryLayout<JSONValue>.stride + members * MemoryLayout<(String, JSONValue)>.stride
            + containers * DecodedSize.allocation(DecodedSize.arrayStorageHeader) + stringHeap
    }

    static func scan(_ bytes: [UInt8], executionBatch: Bool) -> JSONCostScan {
        var scan = JSONCostScan()
        bytes.withUnsafeBufferPointer { scan.run($0, executionBatch: executionBatch) }
        return scan
    }

    private mutating func run(_ bytes: UnsafeBufferPointer<UInt8>, executionBatch: Bool) {
        // Open containers, innermost last: true for an object.
        var stack: [Bool] = []
        stack.reserveCapacity(32)
        // In an object, the next string is a key.
        var expectKey = false
        // The execution being read (a batch): where its tree started, and its resource entries.
        var elementTreeStart = 0
        var resourceEntries = 0
        var index = 0
        let count = bytes.count
        func valueStarts() {
            if let top = stack.last, top { members += 1 } else { arrayElements += 1 }
        }
        func text(_ length: Int) {
            let heap = DecodedSize.string(utf8Count: length)
            stringHeap += heap
            if executionBatch && stack.count >= 3 { executions.addString(utf8Count: length) }
        }
        while index < count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                let start = index + 1
                index = start
                while index < count, bytes[index] != UInt8(ascii: "\"") {
                    index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
                }
                let length = min(index, count) - start
                if expectKey, stack.last == true {
                    expectKey = false
                    // A member of an object inside an execution: a resource (a batch).
                    if executionBatch && stack.count == 4 { resourceEntries += 1 }
                } else {
                    valueStarts()
                }
                text(length)
                index += 1
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                valueStarts()
                containers += 1
                let object = byte == UInt8(ascii: "{")
                if executionBatch && object && stack.count == 2 && stack[0] && !stack[1] {
                    executions.addExecution()
                    elementTreeStart = treeBytes
                    resourceEntries = 0
                }
                stack.append(object)
                expectKey = object
                index += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if !stack.isEmpty { stack.removeLast() }
                if executionBatch && byte == UInt8(ascii: "}") && stack.count == 2 && stack[0] && !stack[1] {
                    executions.addResources(count: resourceEntries)
                    largestElementTree = max(largestElementTree, treeBytes - elementTreeStart)
                }
                expectKey = false
                index += 1
            case UInt8(ascii: ","):
                expectKey = stack.last == true
                index += 1
            case UInt8(ascii: ":"), 0x20, 0x09, 0x0A, 0x0D:
                index += 1
            default:
                // A number or a literal: one value, its text kept for a number.
                valueStarts()
                let start = index
                while index < count {
                    switch bytes[index] {
                    case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), UInt8(ascii: "\""),
                         UInt8(ascii: "{"), UInt8(ascii: "["), 0x20, 0x09, 0x0A, 0x0D:
                        break
                    default:
                        index += 1
                        continue
                    }
                    break
                }
                if index == start { index += 1 } // a stray byte the parser will refuse
                text(index - start)
            }
        }
    }
}
