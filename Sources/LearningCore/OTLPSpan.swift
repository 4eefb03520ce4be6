// OpenTelemetry spans as the service reads them from an OTLP trace export (OTLPWire decodes the
// protobuf form, LearningREST the JSON form) and what storing an export did. The mapping of spans
// to executions is LearningService's `OTLPMapping`.

/// A span attribute's value (OTLP `AnyValue`).
public enum OTLPValue: Sendable, Equatable {
    /// `string_value`.
    case string(String)
    /// `bool_value`.
    case bool(Bool)
    /// `int_value` (OTLP JSON may write it as a string).
    case int(Int64)
    /// `double_value`.
    case double(Double)
    /// `bytes_value`.
    case bytes([UInt8])
    /// `array_value`, nested at most 4 deep and 256 long.
    case array([OTLPValue])
    /// A key-value list (kept only as present; the mapping reads no nested attribute).
    case keyValueList
    /// An `AnyValue` with no value set.
    case empty

    /// The value as text: strings as they are, numbers and booleans printed; nil for the rest.
    public var text: String? {
        switch self {
        case .string(let value): value
        case .bool(let value): value ? "true" : "false"
        case .int(let value): String(value)
        case .double(let value): value.isFinite ? String(value) : nil
        default: nil
        }
    }

    /// The value as a number: ints and doubles, and strings that spell one (OTLP JSON writes
    /// int64 values as strings).
    public var number: Double? {
        switch self {
        case .int(let value): Double(value)
        case .double(let value): value.isFinite ? value : nil
        case .string(let value): Double(value).flatMap { $0.isFinite ? $0 : nil }
        default: nil
        }
    }
}

/// One event of a span (an `exception` event carries `exception.type` and `exception.message`).
public struct OTLPSpanEvent: Sendable, Equatable {
    /// The event's name, e.g. `exception`.
    public var name: String
    /// Its attributes by key.
    public var attributes: [String: OTLPValue]

    /// An event.
    public init(name: String, attributes: [String: OTLPValue]) {
        self.name = name
        self.attributes = attributes
    }
}

/// One OTLP span with the fields the mapping reads.
public struct OTLPSpan: Sendable, Equatable {
    /// 16 bytes (all zero or another length is invalid).
    public var traceID: [UInt8]
    /// 8 bytes.
    public var spanID: [UInt8]
    /// The parent span's id; empty for a root span.
    public var parentSpanID: [UInt8]
    /// The span's name, e.g. `invoke_agent director`.
    public var name: String
    /// Nanoseconds since the Unix epoch.
    public var startTimeUnixNano: UInt64
    /// Nanoseconds since the Unix epoch.
    public var endTimeUnixNano: UInt64
    /// The span's attributes by key (at most 256 are read).
    public var attributes: [String: OTLPValue]
    /// The attributes of the span's resource (`service.name`, ...).
    public var resourceAttributes: [String: OTLPValue]
    /// `STATUS_CODE_UNSET` 0, `OK` 1, `ERROR` 2.
    public var statusCode: Int
    /// The status message (set with `ERROR`).
    public var statusMessage: String
    /// The span's events (an `exception` event records an exception).
    public var events: [OTLPSpanEvent]

    /// A span.
    public init(traceID: [UInt8], spanID: [UInt8], parentSpanID: [UInt8] = [], name: String,
                startTimeUnixNano: UInt64, endTimeUnixNano: UInt64, attributes: [String: OTLPValue] = [:],
                resourceAttributes: [String: OTLPValue] = [:], statusCode: Int = 0, statusMessage: String = "",
                events: [OTLPSpanEvent] = []) {
        self.traceID = traceID
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.name = name
        self.startTimeUnixNano = startTimeUnixNano
        self.endTimeUnixNano = endTimeUnixNano
        self.attributes = attributes
        self.resourceAttributes = resourceAttributes
        self.statusCode = statusCode
        self.statusMessage = statusMessage
        self.events = events
    }
}

/// What an export did: the OTLP answer's `partial_success` is built from it.
public struct OTLPExportResult: Sendable, Equatable {
    /// Executions stored now.
    public var accepted: Int64 = 0
    /// Spans already stored before (an exporter's retry): their span ids are event ids.
    public var duplicates: Int64 = 0
    /// Spans that are not agent work (LLM calls, tools, HTTP, ...): counted, not stored.
    public var skipped: Int64 = 0
    /// Agent spans that could not become an execution (reasons in `rejections`).
    public var rejected: Int64 = 0
    /// Up to 5 reasons for rejected spans, each naming the span.
    public var rejections: [String] = []

    /// Nothing stored, skipped or rejected yet.
    public init() {}

    /// `ExportTracePartialSuccess.error_message`: the rejections, and the skipped spans as a
    /// warning (OTLP allows a message with `rejected_spans` 0). Empty when every span was stored.
    public var message: String {
        var parts: [String] = []
        if rejected > 0 {
            parts.append("\(rejected) agent span(s) rejected: " + rejections.joined(separator: "; "))
        }
        if skipped > 0 {
            parts.append("\(skipped) span(s) skipped: not agent work (no invoke_agent operation or gen_ai.agent.name)")
        }
        return parts.joined(separator: "; ")
    }
}

