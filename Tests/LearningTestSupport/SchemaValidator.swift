import Foundation
public import LearningAPI

/// Checks JSON bodies against the OpenAPI document's schemas (the subset of OpenAPI 3.0 the
/// document uses: `$ref`, `allOf`, `type`, `format`, `nullable`, `enum`, `properties`,
/// `required`, `additionalProperties`, `items`), so tests hold the service to its own document.
public struct SchemaValidator {
    let document: JSONValue

    public init(document: JSONValue) {
        self.document = document
    }

    /// The problems of `body` as the response of `method path` with `status` (empty: it conforms).
    public func problems(responseOf method: String, _ path: String, status: Int, body: JSONValue) -> [String] {
        guard let operation = document["paths"]?[path]?[method.lowercased()] else { return ["no operation \(method) \(path)"] }
        guard let response = operation["responses"]?[String(status)] else { return ["status \(status) is not documented"] }
        guard let schema = response["content"]?["application/json"]?["schema"] else { return ["no JSON schema for \(status)"] }
        return problems(body, schema, at: "$")
    }

    /// The problems of `body` as the request body of `method path`.
    public func problems(requestOf method: String, _ path: String, body: JSONValue) -> [String] {
        guard let schema = document["paths"]?[path]?[method.lowercased()]?["requestBody"]?["content"]?["application/json"]?["schema"]
        else { return ["no request schema for \(method) \(path)"] }
        return problems(body, schema, at: "$")
    }

    /// The problems of `value` against `schema`.
    public func problems(_ value: JSONValue, _ schema: JSONValue, at location: String) -> [String] {
        if case .string(let reference)? = schema["$ref"] {
            let name = reference.replacingOccurrences(of: "#/components/schemas/", with: "")
            guard let target = document["components"]?["schemas"]?[name] else { return ["\(location): unknown \(reference)"] }
            return problems(value, target, at: location)
        }
        if case .null = value {
            return schema["nullable"] == .bool(true) ? [] : ["\(location): null where the schema is not nullable"]
        }
        if case .array(let parts)? = schema["allOf"] {
            return parts.flatMap { problems(value, $0, at: location) }
        }
        var found: [String] = []
        if case .array(let allowed)? = schema["enum"], !allowed.contains(value) {
            found.append("\(location): \(value) is not one of \(allowed)")
        }
        guard case .string(let type)? = schema["type"] else { return found }
        switch (type, value) {
        case ("string", .string(let text)):
            if schema["format"] == .string("date-time"), !Self.isDateTime(text) {
                found.append("\(location): \"\(text)\" is not an RFC 3339 date-time")
            }
        case ("boolean", .bool):
            break
        case ("number", .number):
            break
        case ("integer", .number(let text)):
            if Int64(text) == nil { found.append("\(location): \(text) is not an integer") }
        case ("array", .array(let items)):
            if let itemSchema = schema["items"] {
                for (index, item) in items.enumerated() { found += problems(item, itemSchema, at: "\(location)[\(index)]") }
            }
        case ("object", .object(let members)):
            let properties = schema["properties"]
            if case .array(let required)? = schema["required"] {
                for case .string(let name) in required where !members.contains(where: { $0.0 == name }) {
                    found.append("\(location): required \"\(name)\" is missing")
                }
            }
            for (name, member) in members {
                if let property = properties?[name] {
                    found += problems(member, property, at: "\(location).\(name)")
                } else if let extra = schema["additionalProperties"] {
                    if extra == .bool(false) {
                        found.append("\(location): \"\(name)\" is not in the schema")
                    } else if case .object = extra {
                        found += problems(member, extra, at: "\(location).\(name)")
                    }
                }
            }
        default:
            found.append("\(location): \(Self.describe(value)) where the schema says \(type)")
        }
        return found
    }

    static func isDateTime(_ text: String) -> Bool {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if formatter.date(from: text) != nil { return true }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text) != nil
    }

    static func describe(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "a boolean"
        case .number(let text): "the number \(text)"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}
