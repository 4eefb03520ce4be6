import CProtobufC
import Foundation
import LearningProtoC
import LearningAPI
import ProtobufCSupport
#if canImport(Glibc)
import Glibc
#endif

// The CLI's only unsafe code: protobuf-c messages to and from the JSON the CLI prints and builds,
// driven by the generated descriptors (field names are the proto's snake_case names). Every
// message is either built in a `ProtoArena` and packed while the arena lives, or unpacked and
// freed by `protobuf_c_message_free_unpacked` before the function returns.

/// A method of `learning.v1.LearningSystem` with its request and response descriptors.
struct RPCMethod: @unchecked Sendable {
    /// The gRPC path, e.g. `/learning.v1.LearningSystem/GetHealth`.
    let path: String
    let input: UnsafePointer<ProtobufCMessageDescriptor>
    let output: UnsafePointer<ProtobufCMessageDescriptor>

    /// The method named `name` (e.g. `GetHealth`); the descriptors are the generated globals.
    static func named(_ name: String) -> RPCMethod {
        let service = learning__v1__learning_system__descriptor
        for index in 0..<Int(service.n_methods) {
            let method = service.methods[index]
            if String(cString: method.name) == name {
                return RPCMethod(path: "/learning.v1.LearningSystem/\(name)", input: method.input, output: method.output)
            }
        }
        preconditionFailure("learning.v1.LearningSystem has no method \(name)")
    }
}

/// Why a JSON value could not become a message.
struct ProtoJSONError: Error, CustomStringConvertible {
    var description: String
}

enum ProtoJSON {
    // MARK: Decoding (message bytes to JSON)

    /// Decodes `bytes` as a message of `descriptor` into JSON; `nil` when the bytes are not one.
    static func decode(_ bytes: [UInt8], _ descriptor: UnsafePointer<ProtobufCMessageDescriptor>) -> JSONValue? {
        let message = bytes.withUnsafeBufferPointer { buffer in
            protobuf_c_message_unpack(descriptor, nil, buffer.count, buffer.baseAddress)
        }
        guard let message else { return nil }
        defer { protobuf_c_message_free_unpacked(message, nil) }
        return json(of: UnsafeRawPointer(message), descriptor)
    }

    private static func name(_ descriptor: UnsafePointer<ProtobufCMessageDescriptor>) -> String {
        String(cString: descriptor.pointee.name)
    }

    private static func isMapEntry(_ descriptor: UnsafePointer<ProtobufCMessageDescriptor>) -> Bool {
        let d = descriptor.pointee
        return d.n_fields == 2 && String(cString: d.short_name).hasSuffix("Entry")
            && String(cString: d.fields[0].name) == "key" && String(cString: d.fields[1].name) == "value"
    }

    private static func json(of message: UnsafeRawPointer, _ descriptor: UnsafePointer<ProtobufCMessageDescriptor>) -> JSONValue {
        if name(descriptor) == "google.protobuf.Timestamp" {
            let seconds = message.load(fromByteOffset: Int(descriptor.pointee.fields[0].offset), as: Int64.self)
            return .string(formatISO8601(Date(timeIntervalSince1970: Double(seconds))))
        }
        var members: [(String, JSONValue)] = []
        let d = descriptor.pointee
        for index in 0..<Int(d.n_fields) {
            let field = d.fields[index]
            let key = String(cString: field.name)
            if field.label == PROTOBUF_C_LABEL_REPEATED {
                let count = message.load(fromByteOffset: Int(field.quantifier_offset), as: Int.self)
                let array = message.load(fromByteOffset: Int(field.offset), as: UnsafeRawPointer?.self)
                var elements: [JSONValue] = []
                if let array, count > 0 {
                    for element in 0..<count {
                        elements.append(scalar(array + element * stride(of: field.type), field))
                    }
                }
                if field.type == PROTOBUF_C_TYPE_MESSAGE, isMapEntry(field.descriptor.assumingMemoryBound(to: ProtobufCMessageDescriptor.self)) {
                    members.append((key, .object(elements.map { entry in
                        var name = ""
                        if case let .string(text)? = entry["key"] { name = text } else { name = entry["key"]?.text ?? "" }
                        return (name, entry["value"] ?? .null)
                    }.sorted { $0.0 < $1.0 })))
                } else {
                    members.append((key, .array(elements)))
                }
                continue
            }
            if field.flags & UInt32(PROTOBUF_C_FIELD_FLAG_ONEOF.rawValue) != 0 {
                let selected = message.load(fromByteOffset: Int(field.quantifier_offset), as: UInt32.self)
                if selected != field.id { continue }
            }
            members.append((key, scalar(message + Int(field.offset), field)))
        }
        return .object(members)
    }

    private static func stride(of type: ProtobufCType) -> Int {
        switch type {
        case PROTOBUF_C_TYPE_INT64, PROTOBUF_C_TYPE_SINT64, PROTOBUF_C_TYPE_SFIXED64, PROTOBUF_C_TYPE_UINT64,
             PROTOBUF_C_TYPE_FIXED64, PROTOBUF_C_TYPE_DOUBLE: return 8
        case PROTOBUF_C_TYPE_STRING, PROTOBUF_C_TYPE_MESSAGE: return MemoryLayout<UnsafeRawPointer?>.stride
        case PROTOBUF_C_TYPE_BYTES: return MemoryLayout<ProtobufCBinaryData>.stride
        default: return 4
        }
    }

    /// One value stored at `pointer` (a field slot or an element of a repeated field).
    private static func scalar(_ pointer: UnsafeRawPointer, _ field: ProtobufCFieldDescriptor) -> JSONValue {
        switch field.type {
        case PROTOBUF_C_TYPE_INT32, PROTOBUF_C_TYPE_SINT32, PROTOBUF_C_TYPE_SFIXED32: return .int(pointer.load(as: Int32.self))
        case PROTOBUF_C_TYPE_UINT32, PROTOBUF_C_TYPE_FIXED32: return .int(pointer.load(as: UInt32.self))
        case PROTOBUF_C_TYPE_INT64, PROTOBUF_C_TYPE_SINT64, PROTOBUF_C_TYPE_SFIXED64: return .int(pointer.load(as: Int64.self))
        case PROTOBUF_C_TYPE_UINT64, PROTOBUF_C_TYPE_FIXED64: return .int(pointer.load(as: UInt64.self))
        case PROTOBUF_C_TYPE_FLOAT: return .double(Double(pointer.load(as: Float.self)))
        case PROTOBUF_C_TYPE_DOUBLE: return .double(pointer.load(as: Double.self))
        case PROTOBUF_C_TYPE_BOOL: return .bool(pointer.load(as: Int32.self) != 0)
        case PROTOBUF_C_TYPE_ENUM:
            let value = pointer.load(as: Int32.self)
            let enumDescriptor = field.descriptor.assumingMemoryBound(to: ProtobufCEnumDescriptor.self)
            for index in 0..<Int(enumDescriptor.pointee.n_values) where enumDescriptor.pointee.values[index].value == value {
                return .string(String(cString: enumDescriptor.pointee.values[index].name))
            }
            return .int(value)
        case PROTOBUF_C_TYPE_STRING:
            guard let text = pointer.load(as: UnsafePointer<CChar>?.self) else { return .string("") }
            return .string(String(decoding: UnsafeRawBufferPointer(start: text, count: strlen(text)), as: UTF8.self))
        case PROTOBUF_C_TYPE_BYTES:
            let data = pointer.load(as: ProtobufCBinaryData.self)
            return .string(data.len == 0 ? "" : "\(data.len) bytes")
        case PROTOBUF_C_TYPE_MESSAGE:
            guard let message = pointer.load(as: UnsafeRawPointer?.self) else { return .null }
            return json(of: message, field.descriptor.assumingMemoryBound(to: ProtobufCMessageDescriptor.self))
        default:
            return .null
        }
    }

    // MARK: Encoding (JSON to message bytes)

    /// Builds a message of `descriptor` from a JSON object whose keys are the proto field names,
    /// and serializes it. Unknown keys are an error (they would be silently dropped otherwise).
    static func encode(_ value: JSONValue, _ descriptor: UnsafePointer<ProtobufCMessageDescriptor>) throws -> [UInt8] {
        let arena = ProtoArena()
        let message = try build(value, descriptor, arena)
        let base = message.assumingMemoryBound(to: ProtobufCMessage.self)
        let size = protobuf_c_message_get_packed_size(base)
        if size == 0 { return [] }
        return [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            count = protobuf_c_message_pack(base, buffer.baseAddress)
        }
    }

    private static func build(_ value: JSONValue, _ descriptor: UnsafePointer<ProtobufCMessageDescriptor>,
                              _ arena: ProtoArena) throws -> UnsafeMutableRawPointer {
        let d = descriptor.pointee
        let raw = UnsafeMutableRawPointer(arena.allocate(UInt8.self, count: d.sizeof_message))
        d.message_init(raw.assumingMemoryBound(to: ProtobufCMessage.self))
        if name(descriptor) == "google.protobuf.Timestamp" {
            guard case let .string(text) = value, let date = parseISO8601(text) else {
                throw ProtoJSONError(description: "a time must be an ISO 8601 string like 2025-01-25T10:30:00Z")
            }
            let seconds = date.timeIntervalSince1970.rounded(.down)
            raw.storeBytes(of: Int64(seconds), toByteOffset: Int(d.fields[0].offset), as: Int64.self)
            raw.storeBytes(of: Int32((date.timeIntervalSince1970 - seconds) * 1e9), toByteOffset: Int(d.fields[1].offset), as: Int32.self)
            return raw
        }
        guard case let .object(members) = value else {
            throw ProtoJSONError(description: "\(name(descriptor)) must be a JSON object")
        }
        for (key, member) in members {
            guard let index = (0..<Int(d.n_fields)).first(where: { String(cString: d.fields[$0].name) == key }) else {
                throw ProtoJSONError(description: "\(name(descriptor)) has no field \(key)")
            }
            if case .null = member { continue }
            let field = d.fields[index]
            if field.label == PROTOBUF_C_LABEL_REPEATED {
                var elements: [JSONValue]
                if field.type == PROTOBUF_C_TYPE_MESSAGE,
                   isMapEntry(field.descriptor.assumingMemoryBound(to: ProtobufCMessageDescriptor.self)) {
                    guard case let .object(entries) = member else { throw ProtoJSONError(description: "\(key) must be an object") }
                    elements = entries.map { .object([("key", .string($0.0)), ("value", $0.1)]) }
                } else {
                    guard case let .array(items) = member else { throw ProtoJSONError(description: "\(key) must be an array") }
                    elements = items
                }
                let elementStride = stride(of: field.type)
                let array = UnsafeMutableRawPointer(arena.allocate(UInt8.self, count: max(1, elements.count) * elementStride))
                for (offset, element) in elements.enumerated() {
                    try store(element, at: array + offset * elementStride, field, arena)
                }
                raw.storeBytes(of: elements.count, toByteOffset: Int(field.quantifier_offset), as: Int.self)
                raw.storeBytes(of: elements.isEmpty ? nil : UnsafeMutableRawPointer?.some(array),
                               toByteOffset: Int(field.offset), as: UnsafeMutableRawPointer?.self)
                continue
            }
            try store(member, at: raw + Int(field.offset), field, arena)
            if field.flags & UInt32(PROTOBUF_C_FIELD_FLAG_ONEOF.rawValue) != 0 {
                raw.storeBytes(of: field.id, toByteOffset: Int(field.quantifier_offset), as: UInt32.self)
            }
        }
        return raw
    }

    private static func number(_ value: JSONValue, _ field: ProtobufCFieldDescriptor) throws -> Double {
        guard case let .number(text) = value, let number = Double(text), number.isFinite else {
            throw ProtoJSONError(description: "\(String(cString: field.name)) must be a finite number")
        }
        return number
    }

    private static func integer<I: FixedWidthInteger>(_ value: JSONValue, _ field: ProtobufCFieldDescriptor, _: I.Type) throws -> I {
        let number = try number(value, field)
        guard number == number.rounded(), let exact = I(exactly: number) else {
            throw ProtoJSONError(description: "\(String(cString: field.name)) must be a whole number in range")
        }
        return exact
    }

    private static func store(_ value: JSONValue, at pointer: UnsafeMutableRawPointer, _ field: ProtobufCFieldDescriptor,
                              _ arena: ProtoArena) throws {
        switch field.type {
        case PROTOBUF_C_TYPE_INT32, PROTOBUF_C_TYPE_SINT32, PROTOBUF_C_TYPE_SFIXED32:
            pointer.storeBytes(of: try integer(value, field, Int32.self), as: Int32.self)
        case PROTOBUF_C_TYPE_UINT32, PROTOBUF_C_TYPE_FIXED32:
            pointer.storeBytes(of: try integer(value, field, UInt32.self), as: UInt32.self)
        case PROTOBUF_C_TYPE_INT64, PROTOBUF_C_TYPE_SINT64, PROTOBUF_C_TYPE_SFIXED64:
            pointer.storeBytes(of: try integer(value, field, Int64.self), as: Int64.self)
        case PROTOBUF_C_TYPE_UINT64, PROTOBUF_C_TYPE_FIXED64:
            pointer.storeBytes(of: try integer(value, field, UInt64.self), as: UInt64.self)
        case PROTOBUF_C_TYPE_FLOAT:
            pointer.storeBytes(of: Float(try number(value, field)), as: Float.self)
        case PROTOBUF_C_TYPE_DOUBLE:
            pointer.storeBytes(of: try number(value, field), as: Double.self)
        case PROTOBUF_C_TYPE_BOOL:
            guard case let .bool(flag) = value else { throw ProtoJSONError(description: "\(String(cString: field.name)) must be true or false") }
            pointer.storeBytes(of: Int32(flag ? 1 : 0), as: Int32.self)
        case PROTOBUF_C_TYPE_ENUM:
            let enumDescriptor = field.descriptor.assumingMemoryBound(to: ProtobufCEnumDescriptor.self).pointee
            var found: Int32?
            if case let .string(text) = value {
                found = (0..<Int(enumDescriptor.n_values)).first { String(cString: enumDescriptor.values[$0].name) == text }
                    .map { enumDescriptor.values[$0].value }
            } else {
                found = try integer(value, field, Int32.self)
            }
            guard let found else { throw ProtoJSONError(description: "\(String(cString: field.name)) has no value \(value.text)") }
            pointer.storeBytes(of: found, as: Int32.self)
        case PROTOBUF_C_TYPE_STRING:
            guard case let .string(text) = value, !text.utf8.contains(0) else {
                throw ProtoJSONError(description: "\(String(cString: field.name)) must be a string without NUL")
            }
            pointer.storeBytes(of: UnsafeMutablePointer<CChar>?.some(arena.string(text)), as: UnsafeMutablePointer<CChar>?.self)
        case PROTOBUF_C_TYPE_MESSAGE:
            let message = try build(value, field.descriptor.assumingMemoryBound(to: ProtobufCMessageDescriptor.self), arena)
            pointer.storeBytes(of: UnsafeMutableRawPointer?.some(message), as: UnsafeMutableRawPointer?.self)
        default:
            throw ProtoJSONError(description: "\(String(cString: field.name)) has a type the CLI does not send")
        }
    }
}
