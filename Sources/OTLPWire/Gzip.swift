// gzip bodies of OTLP/HTTP exports (`Content-Encoding: gzip`), inflated with zlib within a limit.
import CZlib

/// gzip decompression bounded by a size limit (decompression bombs are refused, not inflated).
public enum GzipInflate {
    /// Why a body could not be inflated.
    public enum Failure: Error, Sendable, Equatable {
        /// Not a complete, valid gzip stream.
        case invalid
        /// The inflated body would be larger than the limit.
        case tooLarge(limit: Int)
    }

    /// Inflates one or more concatenated gzip members; throws `tooLarge` once the output would
    /// exceed `limit` bytes.
    public static func inflate(_ input: [UInt8], limit: Int) throws(Failure) -> [UInt8] {
        guard !input.isEmpty else { throw .invalid }
        var stream = z_stream()
        // 16 + MAX_WBITS: a gzip header and trailer are expected.
        guard inflateInit2_(&stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw .invalid
        }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        var failure: Failure?
        input.withUnsafeBufferPointer { source in
            stream.next_in = UnsafeMutablePointer(mutating: source.baseAddress)
            stream.avail_in = uInt(source.count)
            while true {
                var result: Int32 = Z_OK
                let produced = chunk.withUnsafeMutableBufferPointer { buffer -> Int in
                    stream.next_out = buffer.baseAddress
                    stream.avail_out = uInt(buffer.count)
                    result = CZlib.inflate(&stream, Z_NO_FLUSH)
                    return buffer.count - Int(stream.avail_out)
                }
                if result != Z_OK && result != Z_STREAM_END && !(result == Z_BUF_ERROR && produced > 0) {
                    failure = .invalid
                    return
                }
                if output.count + produced > limit {
                    failure = .tooLarge(limit: limit)
                    return
                }
                output.append(contentsOf: chunk[0..<produced])
                if result == Z_STREAM_END {
                    // Another member may follow (gzip allows concatenation).
                    if stream.avail_in == 0 { return }
                    guard inflateReset(&stream) == Z_OK else {
                        failure = .invalid
                        return
                    }
                    continue
                }
                if produced == 0 && stream.avail_in == 0 {
                    failure = .invalid  // truncated
                    return
                }
            }
        }
        if let failure { throw failure }
        return output
    }
}
