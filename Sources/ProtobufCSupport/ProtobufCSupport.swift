public import CProtobufC
#if canImport(Glibc)
import Glibc
#endif

// Ownership of protobuf-c messages, in one small API:
// - Messages protobuf-c decodes (`__unpack`) live in `UnpackedMessage`, which frees them with
//   `protobuf_c_message_free_unpacked` exactly once.
// - Messages Swift builds are allocated from a `ProtoArena`: every string, array and sub-message
//   is malloc-owned by the arena and freed together when the arena goes away, after `pack`.
// Swift-owned memory (Swift strings and arrays) is never referenced from a C message.

/// A decoded protobuf-c message, freed when the last reference goes away.
public final class UnpackedMessage<Message>: @unchecked Sendable {
    /// The decoded message; valid while this object is alive. Do not free it yourself.
    public let pointer: UnsafeMutablePointer<Message>

    fileprivate init(_ pointer: UnsafeMutablePointer<Message>) {
        self.pointer = pointer
    }

    /// The decoded message's fields.
    public var message: Message { pointer.pointee }

    deinit {
        protobuf_c_message_free_unpacked(
            UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: ProtobufCMessage.self), nil)
    }
}

/// The signature of protoc-c's generated `<message>__unpack` functions.
public typealias ProtobufCUnpackFunction<Message> =
    (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Message>?

/// Decodes `bytes` with a generated `__unpack` function; `nil` when the bytes are not a valid message.
///
/// ```swift
/// guard let request = unpackMessage(bytes, learning__v1__get_health_request__unpack) else { ... }
/// ```
public func unpackMessage<Message>(_ bytes: [UInt8], _ unpack: ProtobufCUnpackFunction<Message>) -> UnpackedMessage<Message>? {
    let pointer = bytes.withUnsafeBufferPointer { buffer in
        unpack(nil, buffer.count, buffer.baseAddress)
    }
    return pointer.map(UnpackedMessage.init)
}

/// Decodes a message from raw bytes (e.g. a slice of a receive buffer) without copying them.
public func unpackMessage<Message>(_ bytes: UnsafeRawBufferPointer, _ unpack: ProtobufCUnpackFunction<Message>) -> UnpackedMessage<Message>? {
    unpack(nil, bytes.count, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)).map(UnpackedMessage.init)
}

/// Serializes a protobuf-c message (any generated struct, whose first field is `ProtobufCMessage base`).
public func packMessage<Message>(_ message: UnsafePointer<Message>) -> [UInt8] {
    let base = UnsafeRawPointer(message).assumingMemoryBound(to: ProtobufCMessage.self)
    let size = protobuf_c_message_get_packed_size(base)
    if size == 0 { return [] }
    return [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
        count = protobuf_c_message_pack(base, buffer.baseAddress)
    }
}

/// The memory of one message Swift builds: strings, repeated fields and sub-messages, all
/// malloc-owned and freed together when the arena is released.
///
/// ```swift
/// let arena = ProtoArena()
/// let response = arena.message(learning__v1__get_health_response__init)
/// response.pointee.status = arena.string("healthy")
/// let bytes = packMessage(response)
/// ```
public final class ProtoArena {
    private var allocations: [UnsafeMutableRawPointer] = []

    /// Creates an empty arena.
    public init() {}

    deinit {
        for allocation in allocations { free(allocation) }
    }

    /// A zeroed block for `count` values of `T`, owned by the arena.
    public func allocate<T>(_ type: T.Type, count: Int = 1) -> UnsafeMutablePointer<T> {
        let bytes = max(1, count) * MemoryLayout<T>.stride
        guard let raw = calloc(1, bytes) else { fatalError("out of memory allocating \(bytes) bytes") }
        allocations.append(raw)
        return raw.bindMemory(to: T.self, capacity: max(1, count))
    }

    /// A new message initialised by its generated `__init` function.
    public func message<T>(_ initialize: (UnsafeMutablePointer<T>) -> Void) -> UnsafeMutablePointer<T> {
        let pointer = allocate(T.self)
        initialize(pointer)
        return pointer
    }

    /// A NUL-terminated copy of `value`, owned by the arena. Embedded NULs end the C string early,
    /// so callers validate text fields before they reach here.
    public func string(_ value: String) -> UnsafeMutablePointer<CChar> {
        var utf8 = Array(value.utf8)
        utf8.append(0)
        let pointer = allocate(CChar.self, count: utf8.count)
        utf8.withUnsafeBytes { source in
            UnsafeMutableRawPointer(pointer).copyMemory(from: source.baseAddress!, byteCount: source.count)
        }
        return pointer
    }

    /// A copy of `elements` for a repeated field, owned by the arena; `nil` for an empty array.
    public func array<T>(_ elements: [T]) -> UnsafeMutablePointer<T>? {
        if elements.isEmpty { return nil }
        let pointer = allocate(T.self, count: elements.count)
        pointer.initialize(from: elements, count: elements.count)
        return pointer
    }

    /// An array of C strings for a `repeated string` field; `nil` for an empty array.
    public func strings(_ values: [String]) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? {
        array(values.map { Optional(string($0)) })
    }
}

/// Reads a protobuf-c string field (NULL and the empty default both read as "").
public func stringField(_ pointer: UnsafeMutablePointer<CChar>?) -> String {
    guard let pointer else { return "" }
    return String(validatingCString: pointer) ?? String(decoding: UnsafeRawBufferPointer(start: pointer, count: strlen(pointer)), as: UTF8.self)
}

/// Reads a protobuf-c repeated field as a Swift array.
public func repeatedField<T, R>(_ count: Int, _ pointer: UnsafeMutablePointer<T>?, _ transform: (T) -> R) -> [R] {
    guard let pointer, count > 0 else { return [] }
    return UnsafeBufferPointer(start: pointer, count: count).map(transform)
}

/// Reads a protobuf-c `repeated string` field.
public func repeatedStrings(_ count: Int, _ pointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> [String] {
    repeatedField(count, pointer) { stringField($0) }
}
