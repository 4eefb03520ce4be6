import Foundation
import Testing
@testable import H2Transport
#if canImport(Glibc)
import Glibc
#endif

// A client that goes away while the server is still writing to it: the server's next write to
// that socket fails. With write(2) that failure is SIGPIPE, whose default action ends the process
// (found in session 12: h2load ending an overload run killed learning-server, exit 141, on every
// run); the transport writes through `Sockets.send` (MSG_NOSIGNAL), gets EPIPE, closes that
// connection and serves on. This test runs in the test process: with write(2) it dies (exit 141).
// The end-to-end case is `bench/service-ingest.sh`'s overload, whose clients stop mid-response.

@Suite struct PeerResetTests {
    @Test func aWriteToAPeerThatHasGoneAwayFailsWithEPIPEAndTheProcessGoesOn() {
        // A socket pair whose other end is closed: write(2) would raise SIGPIPE at once and end
        // this test process; the transport's send fails instead.
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        close(fds[1])
        defer { close(fds[0]) }
        let bytes: [UInt8] = [1, 2, 3]
        let result = bytes.withUnsafeBytes { Sockets.send(fds[0], $0.baseAddress!, $0.count) }
        let error = errno
        #expect(result == -1)
        #expect(error == EPIPE)
    }
}
