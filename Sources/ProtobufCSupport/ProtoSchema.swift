public import CProtobufC
import LearningProtoC

// The shape of the API's messages, read from the descriptors protoc-c generated from Protos/:
// the one description the OpenAPI document's schemas are built from (LearningREST), so a field
// added to a message in Protos/ appears in the document with its real type.

/// The type of one protobuf field, as the JSON APIs show it.
public indirect enum ProtoFieldType: Sendable, Equatable {
    /// A 32- or 64-bit integer (signed or not).
    case integer(bits: Int)
    /// `double` or `float`.
    case number
    case bool
    case string
    /// Bytes (base64 in JSON).
    case bytes
    /// An enum: its full name and value names.
    case enumeration(name: String, values: [String])
    /// `google.protobuf.Timestamp`: an RFC 3339 date-time string in JSON.
    case timestamp
    /// `map<K, V>`: a JSON object.
    case map(value: ProtoFieldType)
    /// Another message, by full name (`learning.v1.Agent`).
    case message(String)
}

/// One field of a message.
public struct ProtoField: Sendable, Equatable {
    /// The field's name in the .proto file (the JSON key).
    public var name: String
    /// Its field number.
    public var number: Int
    public var type: ProtoFieldType
    /// `repeated` (not a map).
    public var isRepeated: Bool
    /// Whether it may be absent: proto3 `optional`, a `oneof` member, or a message field.
    public var hasPresence: Bool

    public init(name: String, number: Int, type: ProtoFieldType, isRepeated: Bool, hasPresence: Bool) {
        self.name = name
        self.number = number
        self.type = type
        self.isRepeated = isRepeated
        self.hasPresence = hasPresence
    }
}

/// One message: its full name (`learning.v1.Agent`), short name (`Agent`) and fields in number order.
public struct ProtoMessageSchema: Sendable, Equatable {
    public var fullName: String
    public var shortName: String
    public var fields: [ProtoField]

    /// The field named `name`, if any.
    public func field(_ name: String) -> ProtoField? { fields.first { $0.name == name } }
}

/// The methods of a service and every message they reach.
public struct ProtoServiceSchema: Sendable {
    /// Method name → (request message, response message), by full name.
    public var methods: [String: (input: String, output: String)]
    /// Every message reachable from the methods, by full name (map entries and
    /// `google.protobuf.Timestamp` are folded into their fields' types, not listed).
    public var messages: [String: ProtoMessageSchema]
}

extension ProtoServiceSchema {
    /// `learning.v1.LearningSystem`, from the generated descriptors.
    public static let learningSystem: ProtoServiceSchema = ProtoSchemaReader.service(
        withUnsafePointer(to: learning__v1__learning_system__descriptor) { $0 })
}

/// Walks protoc-c descriptors (static data of the generated code, valid for the process's life).
enum ProtoSchemaReader {
    static func service(_ descriptor: UnsafePointer<ProtobufCServiceDescriptor>) -> ProtoServiceSchema {
        var methods: [String: (input: String, output: String)] = [:]
        var messages: [String: ProtoMessageSchema] = [:]
        let service = descriptor.pointee
        for index in 0..<Int(service.n_methods) {
            let method = service.methods[index]
            methods[String(cString: method.name)] = (String(cString: method.input.pointee.name),
                                                     String(cString: method.output.pointee.name))
            collect(method.input, into: &messages)
            collect(method.output, into: &messages)
        }
        return ProtoServiceSchema(methods: methods, messages: messages)
    }

    private static func collect(_ descriptor: UnsafePointer<ProtobufCMessageDescriptor>,
                                into messages: inout [String: ProtoMessageSchema]) {
        let fullName = String(cString: descriptor.pointee.name)
        guard messages[fullName] == nil, fullName != "google.protobuf.Timestamp" else { return }
        var schema = ProtoMessageSchema(fullName: fullName, shortName: String(cString: descriptor.pointee.short_name),
                                        fields: [])
        messages[fullName] = schema  // before the fields: a message may refer to itself
        var nested: [UnsafePointer<ProtobufCMessageDescriptor>] = []
        for index in 0..<Int(descriptor.pointee.n_fields) {
            let field = descriptor.pointee.fields[index]
            var type = scalarType(field)
            var repeated = field.label == PROTOBUF_C_LABEL_REPEATED
            if field.type == PROTOBUF_C_TYPE_MESSAGE {
                let message = field.descriptor.assumingMemoryBound(to: ProtobufCMessageDescriptor.self)
                if let value = mapValueType(message) {
                    type = .map(value: value.type)
                    repeated = false
                    if let valueMessage = value.message { nested.append(valueMessage) }
                } else if String(cString: message.pointee.name) == "google.protobuf.Timestamp" {
                    type = .timestamp
                } else {
                    type = .message(String(cString: message.pointee.name))
                    nested.append(message)
                }
            }
            let singularMessage: Bool
            switch type {
            case .message, .timestamp: singularMessage = !repeated
            default: singularMessage = false
            }
            schema.fields.append(ProtoField(
                name: String(cString: field.name), number: Int(field.id), type: type, isRepeated: repeated,
                hasPresence: singularMessage || (!repeated && (field.label == PROTOBUF_C_LABEL_OPTIONAL
                    || field.flags & UInt32(PROTOBUF_C_FIELD_FLAG_ONEOF.rawValue) != 0))))
        }
        schema.fields.sort { $0.number < $1.number }
        messages[fullName] = schema
        for message in nested { collect(message, into: &messages) }
    }

    /// The type of a non-message field (messages are resolved by the caller).
    private static func scalarType(_ field: ProtobufCFieldDescriptor) -> ProtoFieldType {
        switch field.type {
        case PROTOBUF_C_TYPE_INT32, PROTOBUF_C_TYPE_SINT32, PROTOBUF_C_TYPE_SFIXED32,
             PROTOBUF_C_TYPE_UINT32, PROTOBUF_C_TYPE_FIXED32:
            return .integer(bits: 32)
        case PROTOBUF_C_TYPE_INT64, PROTOBUF_C_TYPE_SINT64, PROTOBUF_C_TYPE_SFIXED64,
             PROTOBUF_C_TYPE_UINT64, PROTOBUF_C_TYPE_FIXED64:
            return .integer(bits: 64)
        case PROTOBUF_C_TYPE_FLOAT, PROTOBUF_C_TYPE_DOUBLE: return .number
        case PROTOBUF_C_TYPE_BOOL: return .bool
        case PROTOBUF_C_TYPE_BYTES: return .bytes
        case PROTOBUF_C_TYPE_ENUM:
            let descriptor = field.descriptor.assumingMemoryBound(to: ProtobufCEnumDescriptor.self).pointee
            let values = (0..<Int(descriptor.n_values)).map { String(cString: descriptor.values[$0].name) }
            return .enumeration(name: String(cString: descriptor.name), values: values)
        default: return .string
        }
    }

    /// A map field's value type: protoc makes `map<K, V>` a repeated `…Entry` message with
    /// fields `key = 1` and `value = 2`.
    private static func mapValueType(_ entry: UnsafePointer<ProtobufCMessageDescriptor>)
        -> (type: ProtoFieldType, message: UnsafePointer<ProtobufCMessageDescriptor>?)? {
        let message = entry.pointee
        guard String(cString: message.short_name).hasSuffix("Entry"), message.n_fields == 2,
              String(cString: message.fields[0].name) == "key", String(cString: message.fields[1].name) == "value"
        else { return nil }
        let value = message.fields[1]
        if value.type == PROTOBUF_C_TYPE_MESSAGE {
            let descriptor = value.descriptor.assumingMemoryBound(to: ProtobufCMessageDescriptor.self)
            return (.message(String(cString: descriptor.pointee.name)), descriptor)
        }
        return (scalarType(value), nil)
    }
}
