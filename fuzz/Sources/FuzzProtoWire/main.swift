// libFuzzer entry point for the wire check gRPC requests pass before protobuf-c unpacks them
// (ProtobufCSupport's ProtoWireCheck): the first byte chooses one of the service's messages, the
// rest is its encoding. The scan must end, for any bytes, with an answer: accepted, or a problem
// that names what is wrong; with small limits, so the counting paths are reached too.
import ProtobufCSupport

import CFuzzerDriver

/// The service's messages, in a fixed order.
let messageNames = ProtoServiceSchema.learningSystem.messages.keys.sorted()
let smallLimits = ProtoWireLimits(maxDepth: 6, maxElementsPerField: 40, maxElements: 120)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzProtoWire(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    let name = messageNames[Int(data[0]) % messageNames.count]
    let body = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    for limits in [ProtoWireLimits(), smallLimits] {
        do {
            try ProtoServiceSchema.learningSystem.checkWire(body, message: name, limits: limits)
        } catch {
            precondition(!error.reason.isEmpty, "a problem says what is wrong")
        }
    }
    return 0
}

/// The entry point SwiftPM links as `main`; it runs libFuzzer's driver with the harness.
@_cdecl("FuzzProtoWire_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    // The schema is read once, before the first input: made during one, its allocations would
    // look like that input's leak to libFuzzer's leak check.
    precondition(!messageNames.isEmpty && smallLimits.maxDepth > 0)
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in fuzzProtoWire(data!, size) }
}
