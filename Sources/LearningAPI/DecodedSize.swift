// What decoded request values cost in memory, for the transport's memory budget (issue 19): the
// budget charges a request what its handler holds once it decoded it, estimated before the decode
// from a scan that counts elements and string lengths (LearningRPC's wire scan, LearningREST's
// JSON scan). The sizes come from the types' layouts (`MemoryLayout`) and from how the standard
// library and glibc's malloc lay out what they allocate; bench/decode-cost.sh prints each shape's
// estimate beside its measured peak.

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

/// What a batch of executions costs once decoded into `[ExecutionInput]`, counted from a scan of
/// the request before it is decoded: each execution's place in the array, its strings longer than
/// 15 bytes, and its resource map. Both bindings feed it (LearningRPC from the protobuf wire,
/// LearningREST from the JSON text).
public struct DecodedExecutionsCost: Sendable, Equatable {
    /// Bytes of one decoded execution in the array the service takes (`ExecutionInput`'s stride:
    /// 168 bytes on 64-bit Linux), before any string or resource map it holds on the heap.
    public static let executionBytes = MemoryLayout<ExecutionInput>.stride

    /// Executions counted.
    public private(set) var executions = 0
    /// Heap bytes of their strings and resource maps counted so far.
    public private(set) var heapBytes = 0
    /// What the decoder holds for one execution while it converts it (a binding's own tree of
    /// the element: protobuf-c's unpacked message, the JSON parser's object), the largest
    /// counted: only one exists at a time, beside the executions already decoded.
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

    /// A string of `utf8Count` bytes that one of the executions holds (a field or a resource's name).
    public mutating func addString(utf8Count: Int) {
        heapBytes += DecodedSize.string(utf8Count: utf8Count)
    }

    /// The resource map of one execution, with `count` entries (`ResourceUsage.other`; the named
    /// resources cpu, memory_mb and tokens are fields, counted in the execution's bytes).
    public mutating func addResources(count: Int) {
        heapBytes += DecodedSize.dictionary(count: count, of: String.self, Double.self)
    }

    /// Heap bytes of the decoded batch at its peak: the array of executions, everything they
    /// hold, and the decoder's working memory for the last one.
    public var decodedBytes: Int {
        DecodedSize.array(count: executions, of: ExecutionInput.self) + heapBytes + elementWorkingBytes
    }
}
