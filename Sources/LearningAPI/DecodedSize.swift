// What decoded request values cost in memory, for the transport's memory budget (issue 19): the
// budget charges a request what its handler holds once it decoded it, estimated before the decode
// from a scan that counts elements and string lengths (LearningRPC's wire scan, LearningREST's
// JSON scan). The sizes come from the types' layouts (`MemoryLayout`) and from how the standard
// library and glibc's malloc lay out what they allocate; bench/decode-cost.sh prints each shape's
// estimate beside its measured peak.

public import LearningCore

/// Heap bytes of decoded values, as the allocator sees them.
public enum DecodedSize {
    /// What glibc's malloc takes for a request of `bytes`: its 8-byte chunk header, rounded up
    /// to its 16-byte alignment, and never less than its 32-byte minimum chunk.
    @inline(__always)
    public static func allocation(_ bytes: Int) -> Int {
        max(32, (bytes + 8 + 15) & ~15)
    }

    /// The longest string kept inside the `String` value itself (a small string: no allocation).
    public static let smallStringBytes = 15
    /// The header of a native string's storage object (isa, reference count, capacity and
    /// count with their flags), before its UTF-8 bytes and terminating NUL.
    public static let stringStorageHeader = 32

    /// Heap bytes of a `String` of `utf8Count` UTF-8 bytes: none up to 15 (stored inline), else
    /// one storage object, which the standard library asks for rounded up to 16 bytes (its
    /// header, the bytes and a NUL: `determineCodeUnitCapacity`). Its inline 16 bytes are
    /// counted by the value that holds it.
    @inline(__always)
    public static func string(utf8Count: Int) -> Int {
        utf8Count <= smallStringBytes ? 0 : allocation((stringStorageHeader + utf8Count + 1 + 15) & ~15)
    }

    /// The header of a native dictionary's storage object: isa and reference count, then count,
    /// capacity, scale, reserved scale, extra, age, seed and the keys' and values' addresses.
    public static let dictionaryStorageHeader = 64

    /// Heap bytes of a `Dictionary<Key, Value>` holding `count` entries: none when empty (the
    /// shared empty singleton), else one storage object with the fewest buckets (a power of two)
    /// that keeps it at most 3/4 full, its occupancy bitmap and each bucket's key and value.
    /// The keys' and values' own heap storage is not included.
    public static func dictionary<Key, Value>(count: Int, of _: Key.Type, _: Value.Type) -> Int {
        guard count > 0 else { return 0 }
        var buckets = 1
        while buckets * 3 / 4 < count { buckets *= 2 }
        let bitmap = max(1, buckets / 64) * MemoryLayout<UInt>.stride
        return allocation(dictionaryStorageHeader + bitmap
                          + buckets * (MemoryLayout<Key>.stride + MemoryLayout<Value>.stride))
    }

    /// Heap bytes of a `Set<Element>` holding `count` elements: a dictionary's storage without values.
    public static func set<Element>(count: Int, of _: Element.Type) -> Int {
        guard count > 0 else { return 0 }
        var buckets = 1
        while buckets * 3 / 4 < count { buckets *= 2 }
        let bitmap = max(1, buckets / 64) * MemoryLayout<UInt>.stride
        return allocation(dictionaryStorageHeader + bitmap + buckets * MemoryLayout<Element>.stride)
    }

    /// The header of a native array's storage object (isa, reference count, count, capacity).
    public static let arrayStorageHeader = 32

    /// Heap bytes of an `Array<Element>` of `count` elements reserved at once (none when empty).
    public static func array<Element>(count: Int, of _: Element.Type) -> Int {
        count > 0 ? allocation(arrayStorageHeader + count * MemoryLayout<Element>.stride) : 0
    }

    /// Heap bytes of an `Array<Element>` that reached `count` elements appended one at a time:
    /// it doubles its capacity as it grows, so it ends with the next power of two.
    public static func grownArray<Element>(count: Int, of type: Element.Type) -> Int {
        guard count > 0 else { return 0 }
        var capacity = 1
        while capacity < count { capacity *= 2 }
        return array(count: capacity, of: type)
    }
}

/// What the service holds for a batch of executions it stores, counted from a scan of the request
/// before it is decoded: each execution's record (the service reads the batch into
/// `[ExecutionRecord]`, the only decoded copy it keeps while they are stored), its strings longer
/// than 15 bytes, its resource map, the answers, and the decoder's working memory for the
/// execution being read. Both bindings feed it (LearningRPC from the protobuf wire, LearningREST
/// from the JSON text) and add what they keep of the request (where each execution lies).
public struct DecodedExecutionsCost: Sendable, Equatable {
    /// Bytes of one record in the array the service holds (`ExecutionRecord`'s stride), before
    /// any string or resource map it holds on the heap.
    public static let executionBytes = MemoryLayout<ExecutionRecord>.stride
    /// The canonical form of a task id, which every record with a task id holds (36 bytes).
    static let taskUUIDBytes = 36

    /// Executions counted.
    public private(set) var executions = 0
    /// Heap bytes of their strings and resource maps counted so far.
    public private(set) var heapBytes = 0
    /// What the decoder holds for one execution while it reads it (a binding's own tree of the
    /// element: protobuf-c's unpacked message, the JSON parser's object), the largest counted:
    /// only one exists at a time, beside the records already read.
    public private(set) var elementWorkingBytes = 0

    public init() {}

    /// One element's working memory in the decoder (see `elementWorkingBytes`).
    public mutating func addElementWorkingBytes(_ bytes: Int) {
        elementWorkingBytes = max(elementWorkingBytes, bytes)
    }

    /// One more execution.
    public mutating func addExecution() {
        executions += 1
    }

    /// A string of `utf8Count` bytes that one of the records holds (a field or a resource's name).
    public mutating func addString(utf8Count: Int) {
        heapBytes += DecodedSize.string(utf8Count: utf8Count)
    }

    /// A task id of `utf8Count` bytes: the record holds its UUID, and the id itself too when it
    /// is not one (`task_ref`). `isCanonicalUUID` false when unsure (counts more).
    public mutating func addTaskID(utf8Count: Int, isCanonicalUUID: Bool) {
        heapBytes += DecodedSize.string(utf8Count: Self.taskUUIDBytes)
        if !isCanonicalUUID { heapBytes += DecodedSize.string(utf8Count: utf8Count) }
    }

    /// The resource map of one execution, with `count` entries (`ResourceUsage.other`; the named
    /// resources cpu, memory_mb and tokens are fields, counted in the execution's bytes).
    public mutating func addResources(count: Int) {
        heapBytes += DecodedSize.dictionary(count: count, of: String.self, Double.self)
    }

    /// Heap bytes of `count` answers, once stored: the store's acknowledgements and the results
    /// made of them (an id and a flag each), both alive as the call answers.
    public static func answerBytes(count: Int) -> Int {
        2 * DecodedSize.array(count: count, of: LogExecutionResult.self)
    }

    /// Heap bytes the service holds for the batch at its peak: the records, everything they hold,
    /// the answers, and the decoder's working memory for the execution being read.
    public var decodedBytes: Int {
        DecodedSize.array(count: executions, of: ExecutionRecord.self) + heapBytes + Self.answerBytes(count: executions)
            + elementWorkingBytes
    }

    /// What the model counts for records already read (a reference for the scans' tests): their
    /// array, strings and resource maps, and the answers; no decoder's working memory.
    public static func heldBytes(of records: [ExecutionRecord]) -> Int {
        var heap = 0
        for record in records {
            for text in [record.agentName, record.taskID, record.taskType, record.errorMessage, record.eventID, record.taskRef] {
                heap += DecodedSize.string(utf8Count: text?.utf8.count ?? 0)
            }
            for key in record.resourceUsage.other.keys { heap += DecodedSize.string(utf8Count: key.utf8.count) }
            heap += DecodedSize.dictionary(count: record.resourceUsage.other.count, of: String.self, Double.self)
        }
        return DecodedSize.array(count: records.count, of: ExecutionRecord.self) + heap + answerBytes(count: records.count)
    }
}
