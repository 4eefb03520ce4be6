// libFuzzer entry point for GRPCMessageDeframer and the server stream state machine: the input is
// fed in pieces whose sizes come from the input itself, and invariants are checked on every message.
import GRPCWire

import CFuzzerDriver

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGRPCDeframer(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard bytes.count >= 2 else { return 0 }
    let limit = Int(bytes[0]) * 8
    let step = Int(bytes[1] % 23) + 1
    var deframer = GRPCMessageDeframer(maxMessageBytes: limit)
    var machine = GRPCServerStreamStateMachine(maxReceiveMessageBytes: limit)
    _ = machine.receivedHeaders(method: "POST", contentType: "application/grpc", encoding: nil, timeout: nil,
                                endStream: false)
    var offset = 2
    var failed = false
    while offset < bytes.count {
        let end = min(bytes.count, offset + step)
        let chunk = Array(bytes[offset..<end])
        offset = end
        deframer.append(chunk)
        do {
            while let message = try deframer.next() {
                precondition(!failed, "a message after an error")
                precondition(message.bytes.count <= limit, "message above the limit")
            }
        } catch {
            failed = true
            precondition(deframer.bufferedByteCount == 0, "bytes kept after an error")
        }
        _ = machine.receivedData(chunk, endStream: offset >= bytes.count)
    }
    _ = try? deframer.finish()
    _ = machine.sendingStatus()
    // The text helpers see the same input.
    let text = String(decoding: bytes, as: UTF8.self)
    precondition(GRPCMessageText.percentDecode(GRPCMessageText.percentEncode(text)) == text, "percent round trip")
    _ = GRPCTimeout.parse(text)
    return 0
}

/// The entry point SwiftPM links as `main`; it runs libFuzzer's driver with the harness.
@_cdecl("FuzzGRPCDeframer_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in fuzzGRPCDeframer(data!, size) }
}
