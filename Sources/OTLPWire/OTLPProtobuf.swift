// OTLP trace export messages in their protobuf form (the opentelemetry.proto messages of Protos/,
// compiled by protoc-c): the request into `OTLPSpan`s, the answer from an `OTLPExportResult`.
// Used by the gRPC TraceService and by `POST /v1/traces` with `Content-Type: application/x-protobuf`.
import CProtobufC
public import LearningCore
import LearningProtoC
import ProtobufCSupport

/// Why OTLP bytes could not be read.
public struct OTLPDecodeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What was wrong, safe to show to the client.
    public var detail: String

    /// An error with its detail.
    public init(_ detail: String) { self.detail = detail }

    /// The detail.
    public var description: String { detail }
}

/// Decoding and encoding of `opentelemetry.proto.collector.trace.v1` messages.
public enum OTLPProtobuf {
    /// Most spans one export may carry (an SDK's batch is 512 by default).
    public static let maxSpans = 100_000
    /// Most attributes of one span, resource or event read (the rest are ignored, as OTLP's
    /// `dropped_attributes_count` does for exporters).
    public static let maxAttributes = 256

    /// The spans of an `ExportTraceServiceRequest`, each with its resource's attributes.
    public static func decodeRequest(_ bytes: [UInt8]) throws(OTLPDecodeError) -> [OTLPSpan] {
        guard let request = unpackMessage(bytes, opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack) else {
            throw OTLPDecodeError("the body is not a valid opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest")
        }
        var spans: [OTLPSpan] = []
        let message = request.message
        for resourceSpans in UnsafeBufferPointer(start: message.resource_spans, count: message.n_resource_spans) {
            guard let resourceSpans else { continue }
            let resource = resourceSpans.pointee.resource.map { attributes($0.pointee.n_attributes, $0.pointee.attributes) } ?? [:]
            for scopeSpans in UnsafeBufferPointer(start: resourceSpans.pointee.scope_spans, count: resourceSpans.pointee.n_scope_spans) {
                guard let scopeSpans else { continue }
                for span in UnsafeBufferPointer(start: scopeSpans.pointee.spans, count: scopeSpans.pointee.n_spans) {
                    guard let span else { continue }
                    guard spans.count < maxSpans else {
                        throw OTLPDecodeError("the export has more than \(maxSpans) spans; send smaller batches")
                    }
                    spans.append(self.span(span.pointee, resource: resource))
                }
            }
        }
        return spans
    }

    static func span(_ span: Opentelemetry__Proto__Trace__V1__Span, resource: [String: OTLPValue]) -> OTLPSpan {
        var events: [OTLPSpanEvent] = []
        for event in UnsafeBufferPointer(start: span.events, count: min(span.n_events, maxAttributes)) {
            guard let event else { continue }
            events.append(OTLPSpanEvent(name: stringField(event.pointee.name),
                                        attributes: attributes(event.pointee.n_attributes, event.pointee.attributes)))
        }
        return OTLPSpan(
            traceID: binary(span.trace_id), spanID: binary(span.span_id), parentSpanID: binary(span.parent_span_id),
            name: stringField(span.name), startTimeUnixNano: span.start_time_unix_nano,
            endTimeUnixNano: span.end_time_unix_nano, attributes: attributes(span.n_attributes, span.attributes),
            resourceAttributes: resource, statusCode: Int(span.status?.pointee.code.rawValue ?? 0),
            statusMessage: stringField(span.status?.pointee.message), events: events)
    }

    static func binary(_ data: ProtobufCBinaryData) -> [UInt8] {
        guard let pointer = data.data, data.len > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: pointer, count: data.len))
    }

    static func attributes(_ count: Int, _ list: UnsafeMutablePointer<UnsafeMutablePointer<Opentelemetry__Proto__Common__V1__KeyValue>?>?) -> [String: OTLPValue] {
        var out: [String: OTLPValue] = [:]
        for pair in UnsafeBufferPointer(start: list, count: list == nil ? 0 : min(count, maxAttributes)) {
            guard let pair else { continue }
            let key = stringField(pair.pointee.key)
            out[key] = value(pair.pointee.value, depth: 0)
        }
        return out
    }

    static func value(_ pointer: UnsafeMutablePointer<Opentelemetry__Proto__Common__V1__AnyValue>?, depth: Int) -> OTLPValue {
        guard let pointer else { return .empty }
        let any = pointer.pointee
        switch any.value_case {
        case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE: return .string(stringField(any.string_value))
        case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE: return .bool(any.bool_value != 0)
        case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE: return .int(any.int_value)
        case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE: return .double(any.double_value)
        case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE: return .bytes(binary(any.bytes_value))
        case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE: return .keyValueList
        case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE:
            guard depth < 4, let array = any.array_value else { return .array([]) }
            let items = UnsafeBufferPointer(start: array.pointee.values, count: array.pointee.values == nil ? 0 : min(array.pointee.n_values, maxAttributes))
            return .array(items.map { value($0, depth: depth + 1) })
        default: return .empty
        }
    }

    /// An `ExportTraceServiceResponse`: `partial_success` set when spans were rejected or skipped
    /// (OTLP: rejected 0 with a message is a warning), empty otherwise.
    public static func encodeResponse(_ result: OTLPExportResult) -> [UInt8] {
        let arena = ProtoArena()
        let response = arena.message(opentelemetry__proto__collector__trace__v1__export_trace_service_response__init)
        let message = result.message
        if result.rejected > 0 || !message.isEmpty {
            let partial = arena.message(opentelemetry__proto__collector__trace__v1__export_trace_partial_success__init)
            partial.pointee.rejected_spans = result.rejected
            partial.pointee.error_message = arena.string(message)
            response.pointee.partial_success = partial
        }
        return packMessage(response)
    }

    /// A `google.rpc.RetryInfo` with `retry_delay` = `seconds`, for the `google.rpc.retryinfo-bin`
    /// trailer OTLP/gRPC exporters read before retrying.
    public static func retryInfo(seconds: Double) -> [UInt8] {
        let arena = ProtoArena()
        let info = arena.message(google__rpc__retry_info__init)
        let delay = arena.message(google__protobuf__duration__init)
        let clamped = max(0, min(seconds, 3_600))
        delay.pointee.seconds = Int64(clamped.rounded(.down))
        delay.pointee.nanos = Int32(((clamped - clamped.rounded(.down)) * 1e9).rounded())
        info.pointee.retry_delay = delay
        return packMessage(info)
    }
}
