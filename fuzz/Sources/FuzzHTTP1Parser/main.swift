// libFuzzer entry point for HTTP1RequestParser: the input is fed in pieces whose sizes come from the
// input itself, and invariants are checked on every event.
import HTTP1Wire

import CFuzzerDriver

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP1Parser(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let first = bytes.first else { return 0 }
    let limits = HTTP1Limits(maxHeaderBytes: 512, maxBodyBytes: 1024)
    var parser = HTTP1RequestParser(limits: limits)
    let step = Int(first % 17) + 1
    var offset = 1
    var failed = false
    while offset < bytes.count {
        let end = min(bytes.count, offset + step)
        parser.append(Array(bytes[offset..<end]))
        offset = end
        while let event = parser.next() {
            precondition(!failed, "an event after an error")
            switch event {
            case .request(let request):
                precondition(request.body.count <= limits.maxBodyBytes, "body above the limit")
                precondition(!request.method.isEmpty, "empty method")
                _ = request.path
                _ = request.query
            case .continueExpected:
                break
            case .error(let error):
                precondition([400, 413, 431, 501, 505].contains(error.status), "unexpected status")
                failed = true
            }
        }
    }
    return 0
}

/// The entry point SwiftPM links as `main`; it runs libFuzzer's driver with the harness.
@_cdecl("FuzzHTTP1Parser_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in fuzzHTTP1Parser(data!, size) }
}
