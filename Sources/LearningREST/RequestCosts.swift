public import H2Transport
import LearningAPI
import LearningCore

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
        guard batch else { return body.count + scan.treeBytes }
        // Beside the executions: the top-level object's key set, and the path the element being
        // converted is named by in errors (`executions[9999]`).
        let path = DecodedSize.string(utf8Count: "executions[\(max(0, scan.executions.executions - 1))]".utf8.count)
        // Where each element's text lies: two offsets each, reserved at once.
        let bounds = DecodedSize.array(count: 2 * scan.executions.executions, of: UInt32.self)
        return body.count + bounds + scan.executions.decodedBytes + scan.rootKeySet + path
    }

    /// Whether the body is read as JSON (a JSON content type, or none).
    static func isJSON(_ request: HTTPRequest) -> Bool {
        guard let type = request.headers.first("content-type")?.lowercased() else { return true }
        return type.hasPrefix("application/json") || type.contains("+json")
    }
}

/// One pass over a JSON text counting what its `JSONValue` tree, or the records the service reads
/// a batch into, would hold, without building either. Lenient: it counts what it meets, whether or not
/// the text turns out valid (the parser builds the tree up to the error it stops at).
struct JSONCostScan {
    /// Values held in arrays (and the root).
    var arrayElements = 0
    /// Values held as object members, with their keys.
    var members = 0
    /// Arrays and objects.
    var containers = 0
    /// Heap bytes of the containers' storage: each array's values and each object's members, in
    /// storage grown one element at a time (as the parser appends them).
    var storage = 0
    /// Heap bytes of strings and number texts longer than a small string.
    var stringHeap = 0
    /// The largest set of keys the parser keeps while it reads an object (to refuse duplicates).
    var largestKeySet = 0
    /// The key set of the top-level object, which the parser keeps while it streams a batch.
    var rootKeySet = 0
    /// For a batch: the executions (the objects in the top-level object's arrays), with the tree
    /// of the largest one and a copy of its text as the decoder's working memory (the parser
    /// holds one at a time, and the service parses each again from its own text).
    var executions = DecodedExecutionsCost()

    /// Heap bytes of the whole `JSONValue` tree at its peak.
    var treeBytes: Int { storage + stringHeap + largestKeySet }

    /// The resources `ResourceUsage` keeps as fields, not in its map (`ResourceUsage(json:)`).
    static let namedResources: [[UInt8]] = ["cpu", "memory_mb", "tokens"].map { Array($0.utf8) }
    /// The execution member whose string the record holds as a UUID (and as itself when it is not one).
    static let taskIDKey = Array("task_id".utf8)

    static func scan(_ bytes: [UInt8], executionBatch: Bool) -> JSONCostScan {
        var scan = JSONCostScan()
        bytes.withUnsafeBufferPointer { scan.run($0, executionBatch: executionBatch) }
        return scan
    }

    private mutating func run(_ bytes: UnsafeBufferPointer<UInt8>, executionBatch: Bool) {
        // Open containers, innermost last: whether each is an object, and its values so far.
        var stack: [(object: Bool, count: Int)] = []
        stack.reserveCapacity(32)
        // In an object, the next string is a key.
        var expectKey = false
        // The execution being read (a batch): its tree so far, and its resource entries.
        var elementStart = 0
        var elementTextStart = 0
        var elementKeySets = 0
        var resourceEntries = 0
        // The last key read in an execution was task_id: its value is the task id.
        var taskIDNext = false
        var index = 0
        let count = bytes.count
        func valueStarts() {
            if stack.isEmpty {
                arrayElements += 1
                return
            }
            stack[stack.count - 1].count += 1
            if stack[stack.count - 1].object { members += 1 } else { arrayElements += 1 }
        }
        func text(_ length: Int) {
            stringHeap += DecodedSize.string(utf8Count: length)
            if executionBatch && stack.count >= 3 { executions.addString(utf8Count: length) }
        }
        func taskID(_ range: Range<Int>) {
            stringHeap += DecodedSize.string(utf8Count: range.count)
            executions.addTaskID(utf8Count: range.count,
                                 isCanonicalUUID: parseCanonicalUUID(utf8: UnsafeBufferPointer(rebasing: bytes[range])) != nil)
        }
        /// The tree held so far, for an element's share of it.
        func held() -> Int { storage + stringHeap }
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
                let isTaskID = taskIDNext && !expectKey
                taskIDNext = false
                if expectKey, stack.last?.object == true {
                    expectKey = false
                    if executionBatch && stack.count == 3 {
                        taskIDNext = Self.taskIDKey.elementsEqual(bytes[start..<min(index, count)])
                    }
                    // A member of an object inside an execution: a resource (a batch), in the
                    // map unless it is one of the named ones, which are fields.
                    if executionBatch && stack.count == 4
                        && !Self.namedResources.contains(where: { $0.elementsEqual(bytes[start..<min(index, count)]) }) {
                        resourceEntries += 1
                    }
                } else {
                    valueStarts()
                }
                if isTaskID && executionBatch && stack.count == 3 { taskID(start..<min(index, count)) } else { text(length) }
                index += 1
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                valueStarts()
                containers += 1
                let object = byte == UInt8(ascii: "{")
                if executionBatch && object && stack.count == 2 && stack[0].object && !stack[1].object {
                    executions.addExecution()
                    elementStart = held()
                    elementTextStart = index
                    elementKeySets = 0
                    resourceEntries = 0
                }
                stack.append((object, 0))
                expectKey = object
                index += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if let closed = stack.popLast() {
                    if closed.object {
                        storage += DecodedSize.grownArray(count: closed.count, of: (String, JSONValue).self)
                        // The parser keeps a set of an object's keys only past a few (`keySetThreshold`).
                        let keys = closed.count > JSONValue.keySetThreshold ? DecodedSize.set(count: closed.count, of: String.self) : 0
                        largestKeySet = max(largestKeySet, keys)
                        elementKeySets += keys
                        if stack.isEmpty { rootKeySet = keys }
                    } else {
                        storage += DecodedSize.grownArray(count: closed.count, of: JSONValue.self)
                    }
                    if executionBatch && closed.object && stack.count == 2 && stack[0].object && !stack[1].object {
                        executions.addResources(count: resourceEntries)
                        executions.addElementWorkingBytes(held() - elementStart + elementKeySets
                                                          + DecodedSize.array(count: index + 1 - elementTextStart, of: UInt8.self))
                    }
                }
                expectKey = false
                index += 1
            case UInt8(ascii: ","):
                expectKey = stack.last?.object == true
                index += 1
            case UInt8(ascii: ":"), 0x20, 0x09, 0x0A, 0x0D:
                index += 1
            default:
                // A number or a literal: one value, its text kept for a number.
                valueStarts()
                let start = index
                scanning: while index < count {
                    switch bytes[index] {
                    case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), UInt8(ascii: "\""),
                         UInt8(ascii: "{"), UInt8(ascii: "["), 0x20, 0x09, 0x0A, 0x0D:
                        break scanning
                    default:
                        index += 1
                    }
                }
                if index == start { index += 1 } // a stray byte the parser will refuse
                text(index - start)
            }
        }
        // Containers left open by a truncated text: the parser built them up to where it stopped.
        for open in stack {
            storage += open.object ? DecodedSize.grownArray(count: open.count, of: (String, JSONValue).self)
                                   : DecodedSize.grownArray(count: open.count, of: JSONValue.self)
        }
    }
}
