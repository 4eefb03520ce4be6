// OTLP/gRPC: opentelemetry.proto.collector.trace.v1.TraceService/Export on the service's port.
// Spans of agent work become executions (LearningService's `exportSpans`, the handler
// `POST /v1/traces` calls too). Back-pressure is UNAVAILABLE with a `google.rpc.retryinfo-bin`
// trailer (OTLP exporters wait that long) and `grpc-retry-pushback-ms`.
public import H2Transport
import LearningCore
public import LearningService
import GRPCWire
import Foundation
import OTLPWire

/// Registers the OTLP trace service in a transport `Router`.
///
/// ```swift
/// OTLPTraceService.register(into: &router, handlers: service, taskTypeAttributes: config.otlp.taskTypeAttributes)
/// ```
public enum OTLPTraceService {
    /// The service's full name.
    public static let serviceName = "opentelemetry.proto.collector.trace.v1.TraceService"
    /// The one method's path.
    public static let exportPath = "/\(serviceName)/Export"

    /// Adds `Export` to `router`; `taskTypeAttributes` is the configured `otlp.task_type_attributes`.
    public static func register(into router: inout Router, handlers: any LearningHandlers, taskTypeAttributes: [String]) {
        router.checkHeaders(exportPath, LearningRPC.headCheck(.logExecutions, handlers))
        router.register(exportPath, .unary { context, bytes in
            do {
                try handlers.authorize(.logExecutions, bearerToken: context.metadata.first("authorization"))
                let spans: [OTLPSpan]
                do {
                    spans = try OTLPProtobuf.decodeRequest(bytes)
                } catch let error as OTLPDecodeError {
                    throw GRPCStatus(.invalidArgument, error.detail)
                }
                let result = try await handlers.exportSpans(spans, taskTypeAttributes: taskTypeAttributes)
                return OTLPProtobuf.encodeResponse(result)
            } catch {
                throw status(for: error, context)
            }
        })
    }

    /// The status of a failed export; overload becomes UNAVAILABLE (retryable for every OTLP
    /// exporter) with the delay as `google.rpc.RetryInfo` and as gRPC retry pushback.
    static func status(for error: any Error, _ context: GRPCCallContext) -> GRPCStatus {
        if let status = error as? GRPCStatus { return status }
        let serviceError = ServiceError.wrap(error)
        if let delay = serviceError.retryAfterSeconds {
            let info = Data(OTLPProtobuf.retryInfo(seconds: delay)).base64EncodedString()
            context.responseMetadata.addTrailing(Metadata("google.rpc.retryinfo-bin", info))
            context.responseMetadata.addTrailing(.retryPushback(seconds: delay))
            return GRPCStatus(.unavailable, serviceError.detail)
        }
        return LearningRPC.status(for: serviceError)
    }
}
