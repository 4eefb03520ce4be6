// The OpenAPI 3 document and the self-contained HTML docs page, both derived from the catalogue.

public import LearningAPI
import ProtobufCSupport
import H2Transport

/// Builds the API's OpenAPI 3.0 document and its HTML rendering.
public enum APIDocumentation {
    private static let reasons: [Int: String] = [
        400: "Malformed request: invalid JSON, query string or path encoding",
        401: "Missing or wrong API key (when keys are configured)",
        404: "Unknown route or agent",
        405: "Method not allowed on this path (see the Allow header)",
        409: "Conflicts with the current state",
        413: "Body larger than the server accepts",
        415: "Body sent without Content-Type: application/json",
        422: "Well-formed JSON with invalid values (type, range, name, UUID)",
        429: "Overloaded; retry after the Retry-After header's seconds",
        503: "Database unavailable",
    ]

    // MARK: Schemas from Protos/

    /// The component name of a message: its name without the package (`learning.v1.Agent` → `Agent`).
    static func componentName(_ fullName: String) -> String {
        fullName.hasPrefix("learning.v1.") ? String(fullName.dropFirst("learning.v1.".count)) : fullName
    }

    /// A `$ref` to a message's component schema.
    static func reference(_ fullName: String) -> JSONValue {
        .object([("$ref", .string("#/components/schemas/\(componentName(fullName))"))])
    }

    /// The schema of one field's value, as the JSON bodies show it (int64 as a JSON number, a
    /// timestamp as an RFC 3339 string, a map as an object).
    static func schema(of type: ProtoFieldType) -> JSONValue {
        switch type {
        case .integer(let bits): return .object([("type", .string("integer")), ("format", .string("int\(bits)"))])
        case .number: return .object([("type", .string("number")), ("format", .string("double"))])
        case .bool: return .object([("type", .string("boolean"))])
        case .string: return .object([("type", .string("string"))])
        case .bytes: return .object([("type", .string("string")), ("format", .string("byte"))])
        case .enumeration(_, let values): return .object([("type", .string("string")), ("enum", .array(values.map { .string($0) }))])
        case .timestamp: return .object([("type", .string("string")), ("format", .string("date-time"))])
        case .map(let value): return .object([("type", .string("object")), ("additionalProperties", schema(of: value))])
        case .message(let name): return reference(name)
        }
    }

    /// The schema of a field: its value's, in an array when repeated, nullable when it may be absent.
    static func schema(of field: ProtoField) -> JSONValue {
        let value = schema(of: field.type)
        if field.isRepeated { return .object([("type", .string("array")), ("items", value)]) }
        return field.hasPresence ? nullable(value) : value
    }

    /// An object schema of `fields`; `closed`: no other keys (a response), or any (a request,
    /// whose unknown keys are ignored).
    static func objectSchema(_ fields: [(name: String, schema: JSONValue, required: Bool)], closed: Bool) -> JSONValue {
        var members: [(String, JSONValue)] = [("type", .string("object"))]
        let required = fields.filter(\.required).map { JSONValue.string($0.name) }
        if !required.isEmpty { members.append(("required", .array(required))) }
        if closed { members.append(("additionalProperties", .bool(false))) }
        members.append(("properties", .object(fields.map { ($0.name, $0.schema) })))
        return .object(members)
    }

    /// `schema` that also accepts `null` (a field that may be absent; in a request, null means absent).
    static func nullable(_ schema: JSONValue) -> JSONValue {
        guard case .object(var members) = schema, schema["nullable"] == nil else { return schema }
        // OpenAPI 3.0 ignores a $ref's siblings: nullable goes on an allOf around it.
        if schema["$ref"] != nil { return .object([("nullable", .bool(true)), ("allOf", .array([schema]))]) }
        members.append(("nullable", .bool(true)))
        return .object(members)
    }

    /// Which fields a message's schema lists as required.
    enum RequiredFields {
        /// A response body: every field without presence (the service always writes those),
        /// and no other keys.
        case always
        /// A request body: the fields its decoder requires (proto3 says nothing about that);
        /// the others may be null (absent), and unknown keys are ignored.
        case listed([String])
        /// A component schema, used by requests and responses alike: none required, nulls and
        /// other keys allowed.
        case none
    }

    /// A message's schema, with an endpoint's exceptions applied.
    static func schema(of message: ProtoMessageSchema, omitting: [String] = [], inlining: String? = nil,
                       overriding: [String: JSONValue] = [:], required requirement: RequiredFields,
                       service: ProtoServiceSchema) -> JSONValue {
        func isRequired(_ field: ProtoField) -> Bool {
            switch requirement {
            case .always: !field.hasPresence
            case .listed(let names): names.contains(field.name)
            case .none: false
            }
        }
        var fields: [(name: String, schema: JSONValue, required: Bool)] = []
        func add(_ field: ProtoField, _ fieldSchema: JSONValue) {
            let required = isRequired(field)
            if case .always = requirement {
                fields.append((field.name, fieldSchema, required))
            } else {
                fields.append((field.name, required ? fieldSchema : nullable(fieldSchema), required))
            }
        }
        for field in message.fields where !omitting.contains(field.name) {
            if field.name == inlining, case .message(let name) = field.type, let inner = service.messages[name] {
                for innerField in inner.fields { add(innerField, schema(of: innerField)) }
            } else if let schema = overriding[field.name] {
                add(field, schema)
            } else {
                add(field, schema(of: field))
            }
        }
        if case .always = requirement { return objectSchema(fields, closed: true) }
        return objectSchema(fields, closed: false)
    }

    /// The schema of an endpoint's request or response body; `nil` when it has none. Endpoints
    /// without an RPC (OTLP) are described by their example.
    static func bodySchema(_ body: BodySchema, endpoint: Endpoint, response: Bool, service: ProtoServiceSchema) -> JSONValue? {
        switch body {
        case .none:
            return nil
        case .custom(let schema):
            return schema
        case .message(let name, let omitting, let inlining, let overriding):
            guard let message = service.messages[name] else { preconditionFailure("no message \(name) in Protos/") }
            return schema(of: message, omitting: omitting, inlining: inlining, overriding: overriding,
                          required: response ? .always : .listed(endpoint.requestRequired), service: service)
        case .rpc:
            guard let rpc = endpoint.rpc, let method = service.methods[rpc] else {
                let example = response ? endpoint.responseExample : endpoint.requestExample
                return example.map(schema(of:))
            }
            guard let message = service.messages[response ? method.output : method.input] else { return nil }
            return schema(of: message, required: response ? .always : .listed(endpoint.requestRequired), service: service)
        }
    }

    /// The component schemas the document refers to (from `paths`, and from each other), by name.
    static func componentSchemas(referencedBy paths: JSONValue, _ service: ProtoServiceSchema) -> [(String, JSONValue)] {
        func references(in value: JSONValue, into names: inout Set<String>) {
            switch value {
            case .object(let members):
                for (key, member) in members {
                    if key == "$ref", case .string(let target) = member {
                        names.insert(target.replacingOccurrences(of: "#/components/schemas/", with: ""))
                    } else {
                        references(in: member, into: &names)
                    }
                }
            case .array(let elements):
                for element in elements { references(in: element, into: &names) }
            default:
                break
            }
        }
        let byName = Dictionary(uniqueKeysWithValues: service.messages.values.map { (componentName($0.fullName), $0) })
        var made: [String: JSONValue] = [:]
        var pending = Set<String>()
        references(in: paths, into: &pending)
        while let name = pending.popFirst() {
            guard made[name] == nil, let message = byName[name] else { continue }
            let schema = schema(of: message, required: .none, service: service)
            made[name] = schema
            references(in: schema, into: &pending)
        }
        return made.sorted { $0.key < $1.key }
    }

    /// A JSON schema describing the shape of an example value (the OTLP endpoint, whose messages
    /// are OpenTelemetry's).
    static func schema(of example: JSONValue) -> JSONValue {
        switch example {
        case .null: return .object([("nullable", .bool(true))])
        case .bool: return .object([("type", .string("boolean"))])
        case let .number(text):
            return .object([("type", .string(Int(text) != nil ? "integer" : "number"))])
        case .string: return .object([("type", .string("string"))])
        case let .array(elements):
            return .object([("type", .string("array")),
                            ("items", elements.first.map(schema(of:)) ?? .object([]))])
        case let .object(members):
            return .object([("type", .string("object")),
                            ("properties", .object(members.map { ($0.0, schema(of: $0.1)) }))])
        }
    }

    /// The OpenAPI 3.0.3 document.
    public static func openAPIDocument(version: String = "1.0.0") -> JSONValue {
        let service = ProtoServiceSchema.learningSystem
        var paths: [(String, JSONValue)] = []
        for endpoint in EndpointCatalogue.all {
            var operation: [(String, JSONValue)] = [
                ("operationId", .string(endpoint.id.rawValue)),
                ("summary", .string(endpoint.summary)),
                ("tags", .array([.string(endpoint.tag)])),
            ]
            if let rpc = endpoint.rpc {
                operation.append(("description", .string("gRPC twin: learning.v1.LearningSystem/\(rpc)")))
            }
            var parameters: [JSONValue] = []
            for segment in endpoint.path.split(separator: "/") where segment.hasPrefix("{") {
                parameters.append(.object([
                    ("name", .string(String(segment.dropFirst().dropLast()))), ("in", .string("path")),
                    ("required", .bool(true)), ("schema", .object([("type", .string("string"))])),
                ]))
            }
            for parameter in endpoint.query {
                parameters.append(.object([
                    ("name", .string(parameter.name)), ("in", .string("query")),
                    ("required", .bool(parameter.name == "task_type" && endpoint.id == .recommendations)),
                    ("description", .string(parameter.description)),
                    ("schema", .object([("type", .string(parameter.type))])),
                ]))
            }
            if !parameters.isEmpty { operation.append(("parameters", .array(parameters))) }
            if let request = endpoint.requestExample,
               let schema = bodySchema(endpoint.requestSchema, endpoint: endpoint, response: false, service: service) {
                operation.append(("requestBody", .object([
                    ("required", .bool(endpoint.id != .heartbeat && endpoint.id != .retrain)),
                    ("content", .object([("application/json", .object([
                        ("schema", schema), ("example", request),
                    ]))])),
                ])))
            }
            var success: [(String, JSONValue)] = [("description", .string("Success"))]
            if let schema = bodySchema(endpoint.responseSchema, endpoint: endpoint, response: true, service: service) {
                var media: [(String, JSONValue)] = [("schema", schema)]
                if let example = endpoint.responseExample { media.append(("example", example)) }
                success.append(("content", .object([(endpoint.responseType, .object(media))])))
            } else {
                success.append(("content", .object([(endpoint.responseType, .object([
                    ("schema", .object([("type", .string(endpoint.id == .openAPI ? "object" : "string"))])),
                ]))])))
            }
            var responses: [(String, JSONValue)] = endpoint.successStatuses.map { status in
                var described = success
                described[0] = ("description", .string(status == 201 ? "Stored" : endpoint.successStatuses.count > 1 ? "Already stored (a retry) or updated" : "Success"))
                return (String(status), .object(described))
            }
            for status in endpoint.sameBodyStatuses {
                var described = success
                described[0] = ("description", .string("Unhealthy (the database down, or the server draining): the same body"))
                responses.append((String(status), .object(described)))
            }
            for code in endpoint.errorStatuses {
                responses.append((String(code), .object([
                    ("description", .string(reasons[code] ?? "Error")),
                    ("content", .object([("application/json", .object([
                        ("schema", .object([("$ref", .string("#/components/schemas/Error"))])),
                    ]))])),
                ])))
            }
            operation.append(("responses", .object(responses)))
            if endpoint.requiresKey {
                operation.append(("security", .array([.object([("bearerAuth", .array([]))])])))
            }
            let method = endpoint.method.lowercased()
            if let index = paths.firstIndex(where: { $0.0 == endpoint.path }), case var .object(existing) = paths[index].1 {
                existing.append((method, .object(operation)))
                paths[index].1 = .object(existing)
            } else {
                paths.append((endpoint.path, .object([(method, .object(operation))])))
            }
        }
        return .object([
            ("openapi", .string("3.0.3")),
            ("info", .object([
                ("title", .string("learning-system")),
                ("version", .string(version)),
                ("description", .string("Records AI agent executions and learns from them: performance analytics, predictions, recommendations, anomalies and patterns. Every endpoint has a gRPC twin in learning.v1.LearningSystem.")),
            ])),
            ("paths", .object(paths)),
            ("components", .object([
                ("schemas", .object(componentSchemas(referencedBy: .object(paths), service) + [("Error", .object([
                    ("type", .string("object")),
                    ("required", .array([.string("error"), .string("detail")])),
                    ("properties", .object([
                        ("error", .object([("type", .string("string")), ("example", .string("not_found")),
                                            ("enum", .array(HTTPErrorCode.allCases.map { .string($0.rawValue) }))])),
                        ("detail", .object([("type", .string("string")), ("example", .string("agent director is not registered"))])),
                    ])),
                ]))])),
                ("securitySchemes", .object([("bearerAuth", .object([
                    ("type", .string("http")), ("scheme", .string("bearer")),
                    ("description", .string("An API key, required for writes and admin operations when the server has keys configured.")),
                ]))])),
            ])),
        ])
    }

    /// Escapes text for HTML.
    static func html(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    /// Pretty-prints JSON for the docs page.
    static func pretty(_ value: JSONValue, indent: String = "") -> String {
        let inner = indent + "  "
        switch value {
        case let .array(elements) where !elements.isEmpty:
            return "[\n" + elements.map { inner + pretty($0, indent: inner) }.joined(separator: ",\n") + "\n\(indent)]"
        case let .object(members) where !members.isEmpty:
            return "{\n" + members.map { inner + JSONValue.string($0.0).text + ": " + pretty($0.1, indent: inner) }
                .joined(separator: ",\n") + "\n\(indent)}"
        default:
            return value.text
        }
    }

    /// The docs page: every path and method of the OpenAPI document with its parameters, examples
    /// and error codes. Self-contained: inline CSS, no scripts, fonts or images from elsewhere.
    public static func htmlPage(document: JSONValue = openAPIDocument()) -> String {
        var body = ""
        var toc = ""
        guard case let .object(paths) = document["paths"] ?? .object([]) else { return "" }
        for (path, item) in paths {
            guard case let .object(operations) = item else { continue }
            for (method, operation) in operations {
                let anchor = "\(method)-\(path)".map { $0.isLetter || $0.isNumber ? String($0) : "-" }.joined()
                let summary: String
                if case let .string(text)? = operation["summary"] { summary = text } else { summary = "" }
                toc += "<li><a href=\"#\(anchor)\"><span class=\"m \(method)\">\(method.uppercased())</span> \(html(path))</a></li>\n"
                body += "<section id=\"\(anchor)\"><h2><span class=\"m \(method)\">\(method.uppercased())</span> <code>\(html(path))</code></h2>\n"
                body += "<p>\(html(summary))</p>\n"
                if case let .string(description)? = operation["description"] { body += "<p class=\"rpc\">\(html(description))</p>\n" }
                if case .array? = operation["security"] {
                    body += "<p class=\"auth\">Needs <code>Authorization: Bearer &lt;key&gt;</code> when API keys are configured.</p>\n"
                }
                if case let .array(parameters)? = operation["parameters"] {
                    body += "<table><tr><th>Parameter</th><th>In</th><th>Type</th><th>Description</th></tr>\n"
                    for parameter in parameters {
                        let cells = ["name", "in"].map { key -> String in
                            if case let .string(text)? = parameter[key] { return html(text) }
                            return ""
                        }
                        var type = ""
                        if case let .string(text)? = parameter["schema"]?["type"] { type = text }
                        var description = ""
                        if case let .string(text)? = parameter["description"] { description = text }
                        body += "<tr><td><code>\(cells[0])</code></td><td>\(cells[1])</td><td>\(type)</td><td>\(html(description))</td></tr>\n"
                    }
                    body += "</table>\n"
                }
                if let example = operation["requestBody"]?["content"]?["application/json"]?["example"] {
                    body += "<h3>Request</h3><pre>\(html(pretty(example)))</pre>\n"
                }
                if case let .object(responses)? = operation["responses"] {
                    if case let .object(contents)? = responses.first?.1["content"], let (mediaType, content) = contents.first {
                        body += "<h3>Response 200 <small>\(html(mediaType))</small></h3>\n"
                        if let example = content["example"] { body += "<pre>\(html(pretty(example)))</pre>\n" }
                    }
                    let errors = responses.dropFirst().map { code, response -> String in
                        var reason = ""
                        if case let .string(text)? = response["description"] { reason = text }
                        return "<li><b>\(code)</b> \(html(reason))</li>"
                    }
                    if !errors.isEmpty { body += "<h3>Errors</h3><ul class=\"errors\">\(errors.joined())</ul>\n" }
                }
                body += "</section>\n"
            }
        }
        var title = "learning-system API"
        if case let .string(version)? = document["info"]?["version"] { title += " \(version)" }
        return """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(html(title))</title>
        <style>
        body{font:15px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d232a;background:#fbfbfc}
        header{background:#22313f;color:#fff;padding:18px 28px}header h1{margin:0;font-size:22px}
        header p{margin:4px 0 0;color:#c9d3dc}main{display:flex;gap:28px;padding:20px 28px}
        nav{flex:0 0 300px;position:sticky;top:12px;align-self:flex-start;max-height:95vh;overflow:auto}
        nav ul{list-style:none;padding:0;margin:0}nav li{margin:2px 0}nav a{text-decoration:none;color:#1d232a;font-size:13px}
        .content{flex:1;min-width:0}section{background:#fff;border:1px solid #e1e4e8;border-radius:6px;padding:4px 18px 12px;margin-bottom:16px}
        h2{font-size:17px}h3{font-size:14px;margin:12px 0 4px}pre{background:#f3f5f7;padding:10px;border-radius:4px;overflow:auto;font-size:12.5px}
        code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace}.m{display:inline-block;min-width:44px;text-align:center;border-radius:3px;
        color:#fff;font-size:11px;font-weight:700;padding:1px 4px}.m.get{background:#2f7bbf}.m.post{background:#2e9d5b}
        .rpc{color:#5a6570;font-size:13px}.auth{color:#9a5b00;font-size:13px}table{border-collapse:collapse;font-size:13px}
        td,th{border:1px solid #e1e4e8;padding:3px 8px;text-align:left}ul.errors{font-size:13px;margin:0;padding-left:18px}
        </style></head>
        <body><header><h1>\(html(title))</h1><p>REST endpoints of learning-system. Every error has the body
        <code>{"error": "...", "detail": "..."}</code>. The OpenAPI document is at <a style="color:#fff" href="/api/openapi.json">/api/openapi.json</a>.</p></header>
        <main><nav><ul>
        \(toc)</ul></nav><div class="content">
        \(body)</div></main></body></html>

        """
    }

    /// The endpoint reference in Markdown (the body of docs/API.md's reference section), from the
    /// same catalogue as the OpenAPI document and the HTML page.
    public static func markdownReference() -> String {
        var out = ""
        var tag = ""
        for endpoint in EndpointCatalogue.all {
            if endpoint.tag != tag {
                tag = endpoint.tag
                out += "## \(tag)\n\n"
            }
            out += "### `\(endpoint.method) \(endpoint.path)`\n\n\(endpoint.summary)\n\n"
            if let rpc = endpoint.rpc {
                out += "- RPC twin: `learning.v1.LearningSystem/\(rpc)`\n"
            }
            out += "- API key: \(endpoint.requiresKey ? "required when keys are configured (`Authorization: Bearer <key>`)" : "not needed")\n"
            if endpoint.responseType != "application/json" {
                out += "- Response type: `\(endpoint.responseType)`\n"
            }
            for parameter in endpoint.query {
                out += "- Query `\(parameter.name)` (\(parameter.type)): \(parameter.description)\n"
            }
            out += "- Errors: " + endpoint.errorStatuses.map { "\($0)" }.joined(separator: ", ") + "\n\n"
            if let request = endpoint.requestExample {
                out += "Request:\n\n```json\n\(pretty(request))\n```\n\n"
            }
            if let response = endpoint.responseExample {
                out += "Response `200`:\n\n```json\n\(pretty(response))\n```\n\n"
            }
        }
        return out
    }
}
