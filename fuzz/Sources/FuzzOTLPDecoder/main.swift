// libFuzzer entry point for the OTLP trace export decoder (OTLPWire): the first byte chooses
// whether the rest is a gzip body (inflated within a limit taken from the second byte) or the
// protobuf ExportTraceServiceRequest itself; the spans decoded are checked against the decoder's
// bounds and the answer built from their counts must decode again.
import LearningCore
import OTLPWire

import CFuzzerDriver

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOTLPDecoder(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard bytes.count >= 2 else { return 0 }
    var body = Array(bytes[2...])
    if bytes[0] & 1 == 1 {
        let limit = Int(bytes[1]) * 64
        do {
            body = try GzipInflate.inflate(body, limit: limit)
            precondition(body.count <= limit, "inflated past the limit")
        } catch {
            return 0
        }
    }
    guard let spans = try? OTLPProtobuf.decodeRequest(body) else { return 0 }
    precondition(spans.count <= OTLPProtobuf.maxSpans, "more spans than the bound")
    var result = OTLPExportResult()
    for span in spans {
        precondition(span.attributes.count <= OTLPProtobuf.maxAttributes, "more attributes than the bound")
        precondition(span.events.count <= OTLPProtobuf.maxAttributes, "more events than the bound")
        if span.attributes["gen_ai.agent.name"] == nil { result.skipped += 1 } else { result.rejected += 1 }
    }
    let answer = OTLPProtobuf.encodeResponse(result)
    precondition(result.rejected == 0 && result.skipped == 0 ? answer.isEmpty : !answer.isEmpty, "answer presence")
    return 0
}

/// The entry point SwiftPM links as `main`; it runs libFuzzer's driver with the harness.
@_cdecl("FuzzOTLPDecoder_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in fuzzOTLPDecoder(data!, size) }
}
