// What the generated codecs (Generated/MessageCodecs.swift) build on: the `ProtoMessage` protocol,
// arena helpers for timestamps and repeated fields, and the decoding helpers that keep the error
// behaviour of requests (the wire check before unpacking, field paths such as
// `executions[3].timestamp`, bad timestamps refused). Decoding reads an `UnpackedMessage` (freed by
// its owner); encoding builds messages in a `ProtoArena` and packs them before the arena goes away.
// No Swift memory is referenced from C.
import CProtobufC
import Foundation
import LearningAPI
import LearningProtoC
import ProtobufCSupport

/// A Swift type with a protobuf-c message of learning.v1: generated for every message by
/// scripts/generate-protos.sh, so the Swift types and the wire say the schema once.
protocol ProtoMessage {
    /// The protoc-c struct, e.g. `Learning__V1__GetHealthResponse`.
    associatedtype CMessage
    /// The message's full name, e.g. `learning.v1.GetHealthResponse`.
    static var protoName: String { get }
    /// protoc-c's `__unpack` function of the message.
    static var unpackFunction: ProtobufCUnpackFunction<CMessage> { get }
    /// The message with every field at its default (`__init`).
    static var emptyProto: CMessage { get }
    /// The message built in `arena`, valid while the arena lives.
    func proto(in arena: ProtoArena) -> UnsafeMutablePointer<CMessage>
    /// The value of a decoded message; `path` names it in errors (empty for a request itself).
    init(proto message: CMessage, path: @autoclosure () -> String) throws
}

// MARK: - Encoding

extension ProtoArena {
    func timestamp(_ date: Date) -> UnsafeMutablePointer<Google__Protobuf__Timestamp> {
        let message = self.message(google__protobuf__timestamp__init)
        let seconds = date.timeIntervalSince1970
        let whole = seconds.rounded(.down)
        message.pointee.seconds = Int64(whole)
        message.pointee.nanos = Int32(min(999_999_999, max(0, ((seconds - whole) * 1e9).rounded())))
        return message
    }

    func optionalTimestamp(_ date: Date?) -> UnsafeMutablePointer<Google__Protobuf__Timestamp>? {
        date.map(timestamp)
    }

    /// A repeated message field: the count and the array of pointers.
    func messages<Item, Message>(_ items: [Item], _ build: (Item) -> UnsafeMutablePointer<Message>) -> (Int, UnsafeMutablePointer<UnsafeMutablePointer<Message>?>?) {
        (items.count, array(items.map { Optional(build($0)) }))
    }
}

enum ProtoEncode {
    /// The wire bytes of `value`'s message (inlined: the hot path gets the message's own code).
    @inline(__always)
    static func message<Value: ProtoMessage>(_ value: Value) -> [UInt8] {
        let arena = ProtoArena()
        return packMessage(value.proto(in: arena))
    }
}

// MARK: - Decoding

/// A request that protobuf-c could not decode or that carries an impossible value.
struct UndecodableRequest: Error, ServiceErrorConvertible {
    var detail: String

    /// What the service answers when it meets one while it reads a request (an `ExecutionBatch`).
    var serviceError: ServiceError { .invalidArgument(detail) }
}

enum ProtoDecode {
    /// Decodes bytes with a generated `__unpack`, or throws INVALID_ARGUMENT-worthy `UndecodableRequest`.
    /// `field` names the message in errors (`message[3]` of a stream), when it is not the request.
    static func unpack<Message>(_ bytes: [UInt8], _ unpack: ProtobufCUnpackFunction<Message>, _ name: String,
                                field: @autoclosure () -> String = "") throws -> UnpackedMessage<Message> {
        // Strings and counts checked on the wire first: protobuf-c would cut a string at a NUL
        // byte, and allocate every element of a huge repeated field before anyone counted them.
        do {
            try ProtoServiceSchema.learningSystem.checkWire(bytes, message: name)
        } catch {
            let prefix = field()
            let path = prefix.isEmpty ? error.path : error.path.isEmpty ? prefix : "\(prefix).\(error.path)"
            throw UndecodableRequest(detail: path.isEmpty ? "the request is not a valid \(name) message: \(error.reason)"
                                                          : "\(path) \(error.reason)")
        }
        guard let message = unpackMessage(bytes, unpack) else {
            throw UndecodableRequest(detail: "the request is not a valid \(name) message")
        }
        return message
    }

    /// The value of a message's bytes: wire check, unpack, then the generated conversion.
    /// `field` names the message in errors (`message[3]` of a stream), when it is not the request.
    @inline(__always)
    static func message<Value: ProtoMessage>(_ bytes: [UInt8], as type: Value.Type = Value.self,
                                             field: @autoclosure () -> String = "") throws -> Value {
        let decoded = try unpack(bytes, Value.unpackFunction, Value.protoName, field: field())
        return try Value(proto: decoded.message, path: field())
    }

    /// One execution of a streaming ingest call; `field` (`message[3]`) prefixes its errors.
    static func executionBytes(_ bytes: [UInt8], field: @autoclosure () -> String) throws -> ExecutionInput {
        try message(bytes, as: ExecutionInput.self, field: field())
    }

    /// `field` names the field in the error only, so it is built only on failure.
    static func date(_ pointer: UnsafeMutablePointer<Google__Protobuf__Timestamp>?, field: @autoclosure () -> String) throws -> Date? {
        guard let pointer else { return nil }
        let seconds = pointer.pointee.seconds
        let nanos = pointer.pointee.nanos
        guard nanos >= 0, nanos < 1_000_000_000, seconds >= -62_135_596_800, seconds <= 253_402_300_799 else {
            throw UndecodableRequest(detail: "\(field()) is not a valid timestamp")
        }
        return Date(timeIntervalSince1970: Double(seconds) + Double(nanos) / 1e9)
    }

    /// The path of field `name` inside the message at `prefix` (`executions[3]` + `timestamp`).
    static func join(_ prefix: String, _ name: String) -> String {
        prefix.isEmpty ? name : "\(prefix).\(name)"
    }

    /// A string field whose empty value means "not given".
    static func nonEmpty(_ pointer: UnsafeMutablePointer<CChar>?) -> String? {
        let value = stringField(pointer)
        return value.isEmpty ? nil : value
    }

    /// A repeated message field; `decode` gets each element's index for its error path.
    static func messages<Message, Value>(_ count: Int, _ pointer: UnsafeMutablePointer<UnsafeMutablePointer<Message>?>?,
                                         _ decode: (Int, Message) throws -> Value) rethrows -> [Value] {
        guard let pointer, count > 0 else { return [] }
        var values: [Value] = []
        values.reserveCapacity(count)
        for index in 0..<count {
            guard let item = pointer[index] else { continue }
            values.append(try decode(index, item.pointee))
        }
        return values
    }

    /// A `map<string, V>` field (a repeated entry message); a repeated key keeps its last value.
    static func map<Entry, Value>(_ count: Int, _ pointer: UnsafeMutablePointer<UnsafeMutablePointer<Entry>?>?,
                                  _ entry: (Entry) -> (String, Value)) -> [String: Value] {
        guard let pointer, count > 0 else { return [:] }
        var values: [String: Value] = [:]
        values.reserveCapacity(count)
        for index in 0..<count {
            guard let item = pointer[index] else { continue }
            let (key, value) = entry(item.pointee)
            values[key] = value
        }
        return values
    }
}
