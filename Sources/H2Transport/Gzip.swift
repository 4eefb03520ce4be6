import CZlib
import GRPCWire

/// gzip decompression of gRPC messages (`grpc-encoding: gzip`), bounded by the receive limit.
enum Gzip {
    /// Inflates a gzip member; RESOURCE_EXHAUSTED when the result would exceed `limit`, INTERNAL
    /// when the bytes are not valid gzip.
    static func decompress(_ input: [UInt8], limit: Int) throws(GRPCStatus) -> [UInt8] {
        var stream = z_stream()
        // 16 + MAX_WBITS: expect a gzip header.
        guard inflateInit2_(&stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw GRPCStatus(.internal, "cannot initialise gzip decompression")
        }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        var result: Int32 = Z_OK
        try input.withUnsafeBufferPointer { (source: UnsafeBufferPointer<UInt8>) throws(GRPCStatus) in
            stream.next_in = UnsafeMutablePointer(mutating: source.baseAddress)
            stream.avail_in = uInt(source.count)
            repeat {
                let produced = chunk.withUnsafeMutableBufferPointer { buffer -> Int in
                    stream.next_out = buffer.baseAddress
                    stream.avail_out = uInt(buffer.count)
                    result = inflate(&stream, Z_NO_FLUSH)
                    return buffer.count - Int(stream.avail_out)
                }
                if result != Z_OK && result != Z_STREAM_END && !(result == Z_BUF_ERROR && produced > 0) {
                    throw GRPCStatus(.internal, "the message is not valid gzip")
                }
                if output.count + produced > limit {
                    throw GRPCStatus(.resourceExhausted, "decompressed message larger than max (\(limit))")
                }
                output.append(contentsOf: chunk[0..<produced])
                if produced == 0 && result != Z_STREAM_END && stream.avail_in == 0 {
                    throw GRPCStatus(.internal, "the gzip message is truncated")
                }
            } while result != Z_STREAM_END
        }
        return output
    }
}
