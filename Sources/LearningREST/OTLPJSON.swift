// OTLP/HTTP JSON bodies (`POST /v1/traces` with `Content-Type: application/json`): the OTLP JSON
// encoding of ExportTraceServiceRequest (proto3 JSON with lowerCamelCase keys, trace and span ids
// as hex, 64-bit integers as strings or numbers, enums as numbers or names) into the same
// `OTLPSpan`s the protobuf decoder makes. The original proto field names are accepted too.
public import LearningAPI
public import LearningCore

/// Decoders and encoders of the OTLP JSON trace messages.
public enum OTLPJSON {
    /// The spans of an `ExportTraceServiceRequest` in OTLP JSON.
    public static func spans(_ body: JSONValue) throws(RESTError) -> [OTLPSpan] {
        let root = try object(body, "body")
        var spans: [OTLPSpan] = []
        for (r, resourceSpans) in try array(member(root, "resourceSpans", "resource_spans"), "resourceSpans").enumerated() {
            let path = "resourceSpans[\(r)]"
            let entry = try object(resourceSpans, path)
            var resource: [String: OTLPValue] = [:]
            if let value = member(entry, "resource") {
                resource = try attributes(member(try object(value, "\(path).resource"), "attributes"), "\(path).resource.attributes")
            }
            for (s, scopeSpans) in try array(member(entry, "scopeSpans", "scope_spans"), "\(path).scopeSpans").enumerated() {
                let scopePath = "\(path).scopeSpans[\(s)]"
                for (i, span) in try array(member(try object(scopeSpans, scopePath), "spans"), "\(scopePath).spans").enumerated() {
                    guard spans.count < 100_000 else {
                        throw RESTError.payloadTooLarge("the export has more than 100000 spans; send smaller batches")
                    }
                    spans.append(try self.span(span, resource: resource, path: "\(scopePath).spans[\(i)]"))
                }
            }
        }
        return spans
    }

    static func span(_ value: JSONValue, resource: [String: OTLPValue], path: String) throws(RESTError) -> OTLPSpan {
        let span = try object(value, path)
        var statusCode = 0
        var statusMessage = ""
        if let status = member(span, "status") {
            let fields = try object(status, "\(path).status")
            statusMessage = try string(member(fields, "message"), "\(path).status.message") ?? ""
            if let code = member(fields, "code") {
                switch code {
                case .string("STATUS_CODE_UNSET"): statusCode = 0
                case .string("STATUS_CODE_OK"): statusCode = 1
                case .string("STATUS_CODE_ERROR"): statusCode = 2
                default: statusCode = Int(try unsigned(code, "\(path).status.code") ?? 0)
                }
            }
        }
        var events: [OTLPSpanEvent] = []
        for (e, event) in try array(member(span, "events"), "\(path).events").enumerated() {
            let fields = try object(event, "\(path).events[\(e)]")
            events.append(OTLPSpanEvent(name: try string(member(fields, "name"), "\(path).events[\(e)].name") ?? "",
                                        attributes: try attributes(member(fields, "attributes"), "\(path).events[\(e)].attributes")))
        }
        return OTLPSpan(
            traceID: try hexID(member(span, "traceId", "trace_id"), "\(path).traceId"),
            spanID: try hexID(member(span, "spanId", "span_id"), "\(path).spanId"),
            parentSpanID: try hexID(member(span, "parentSpanId", "parent_span_id"), "\(path).parentSpanId"),
            name: try string(member(span, "name"), "\(path).name") ?? "",
            startTimeUnixNano: try unsigned(member(span, "startTimeUnixNano", "start_time_unix_nano"), "\(path).startTimeUnixNano") ?? 0,
            endTimeUnixNano: try unsigned(member(span, "endTimeUnixNano", "end_time_unix_nano"), "\(path).endTimeUnixNano") ?? 0,
            attributes: try attributes(member(span, "attributes"), "\(path).attributes"),
            resourceAttributes: resource, statusCode: statusCode, statusMessage: statusMessage, events: events)
    }

    /// The answer: `{}` when everything was stored, else `{"partialSuccess": {"rejectedSpans": "N",
    /// "errorMessage": "..."}}` (int64 as a string, as proto3 JSON writes it).
    public static func response(_ result: OTLPExportResult) -> JSONValue {
        let message = result.message
        guard result.rejected > 0 || !message.isEmpty else { return .object([]) }
        return .object([("partialSuccess", .object([
            ("rejectedSpans", .string(String(result.rejected))),
            ("errorMessage", .string(message)),
        ]))])
    }

    // MARK: - Readers

    static func member(_ members: [(String, JSONValue)], _ names: String...) -> JSONValue? {
        for name in names {
            if let found = members.first(where: { $0.0 == name }) {
                if case .null = found.1 { return nil }
                return found.1
            }
        }
        return nil
    }

    static func object(_ value: JSONValue, _ path: String) throws(RESTError) -> [(String, JSONValue)] {
        guard case let .object(members) = value else { throw RESTError.badRequest("\(path) must be an object, not \(value.typeName)") }
        return members
    }

    static func array(_ value: JSONValue?, _ path: String) throws(RESTError) -> [JSONValue] {
        guard let value else { return [] }
        guard case let .array(items) = value else { throw RESTError.badRequest("\(path) must be an array, not \(value.typeName)") }
        return items
    }

    static func string(_ value: JSONValue?, _ path: String) throws(RESTError) -> String? {
        guard let value else { return nil }
        guard case let .string(text) = value else { throw RESTError.badRequest("\(path) must be a string, not \(value.typeName)") }
        return text
    }

    /// A uint64/int64 written as a number or a decimal string.
    static func unsigned(_ value: JSONValue?, _ path: String) throws(RESTError) -> UInt64? {
        guard let value else { return nil }
        switch value {
        case .number(let text), .string(let text):
            if let number = UInt64(text) { return number }
            if let number = Double(text), number >= 0, number < 1.8e19, number == number.rounded() { return UInt64(number) }
            throw RESTError.badRequest("\(path) must be a non-negative integer, got \"\(text.prefix(40))\"")
        default:
            throw RESTError.badRequest("\(path) must be an integer, not \(value.typeName)")
        }
    }

    /// A trace or span id: hex in OTLP JSON (empty for none).
    static func hexID(_ value: JSONValue?, _ path: String) throws(RESTError) -> [UInt8] {
        guard let text = try string(value, path), !text.isEmpty else { return [] }
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0, digits.count <= 64 else {
            throw RESTError.badRequest("\(path) must be hex (32 digits for a trace id, 16 for a span id)")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else {
                throw RESTError.badRequest("\(path) must be hex (32 digits for a trace id, 16 for a span id)")
            }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    static func attributes(_ value: JSONValue?, _ path: String) throws(RESTError) -> [String: OTLPValue] {
        var out: [String: OTLPValue] = [:]
        for (index, item) in try array(value, path).prefix(256).enumerated() {
            let pair = try object(item, "\(path)[\(index)]")
            guard let key = try string(member(pair, "key"), "\(path)[\(index)].key") else {
                throw RESTError.badRequest("\(path)[\(index)].key is required")
            }
            out[key] = try anyValue(member(pair, "value"), "\(path)[\(index)].value", depth: 0)
        }
        return out
    }

    static func anyValue(_ value: JSONValue?, _ path: String, depth: Int) throws(RESTError) -> OTLPValue {
        guard let value else { return .empty }
        let fields = try object(value, path)
        if let text = member(fields, "stringValue", "string_value") {
            return .string(try string(text, "\(path).stringValue") ?? "")
        }
        if let flag = member(fields, "boolValue", "bool_value") {
            guard case let .bool(b) = flag else { throw RESTError.badRequest("\(path).boolValue must be true or false") }
            return .bool(b)
        }
        if let number = member(fields, "intValue", "int_value") {
            switch number {
            case .number(let text), .string(let text):
                guard let int = Int64(text) else { throw RESTError.badRequest("\(path).intValue must be an integer") }
                return .int(int)
            default: throw RESTError.badRequest("\(path).intValue must be an integer")
            }
        }
        if let number = member(fields, "doubleValue", "double_value") {
            switch number {
            case .number(let text), .string(let text):
                guard let double = Double(text) else { throw RESTError.badRequest("\(path).doubleValue must be a number") }
                return .double(double)
            default: throw RESTError.badRequest("\(path).doubleValue must be a number")
            }
        }
        if let list = member(fields, "arrayValue", "array_value") {
            guard depth < 4 else { return .array([]) }
            let items = try array(member(try object(list, "\(path).arrayValue"), "values"), "\(path).arrayValue.values")
            var values: [OTLPValue] = []
            for (index, item) in items.prefix(256).enumerated() {
                values.append(try anyValue(item, "\(path).arrayValue.values[\(index)]", depth: depth + 1))
            }
            return .array(values)
        }
        if member(fields, "kvlistValue", "kvlist_value") != nil { return .keyValueList }
        if member(fields, "bytesValue", "bytes_value") != nil { return .bytes([]) }
        return .empty
    }
}
