import Synchronization
import CLearningShims
#if canImport(Glibc)
import Glibc
#endif

/// A loop's listening socket: accepts every pending connection when readable.
final class Listener: LoopWatched, @unchecked Sendable {
    let fd: Int32
    unowned let loop: EventLoop
    unowned let server: ServerCore

    init(fd: Int32, loop: EventLoop, server: ServerCore) {
        self.fd = fd
        self.loop = loop
        self.server = server
    }

    func handleEvents(_ events: UInt32) {
        while true {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let client = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    clearning_accept_nonblocking(fd, $0, &length)
                }
            }
            if client < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return // EAGAIN, or EMFILE and friends: try again on the next wake-up
            }
            guard server.admitConnection() else {
                close(client)
                continue
            }
            Sockets.setNoDelay(client)
            let connection = Connection(fd: client, peer: Sockets.describe(storage), loop: loop, server: server)
            loop.register(client, connection, events: clearning_epollin() | clearning_epollrdhup())
        }
    }

    func closeListener() {
        loop.unregister(fd)
        close(fd)
    }
}
