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

    /// Accepting is paused (descriptors ran out) until this back-off timer fires.
    private var pauseTimer: UInt64?
    /// How long accepting pauses when the process or system has no descriptor left.
    static let descriptorBackOff: Duration = .milliseconds(200)

    func handleEvents(_ events: UInt32) {
        while pauseTimer == nil {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let client = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    clearning_accept_nonblocking(fd, $0, &length)
                }
            }
            if client < 0 {
                let error = errno
                if error == EINTR || error == ECONNABORTED { continue }
                if error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM { pauseAccepting() }
                return // EAGAIN: try again on the next wake-up
            }
            let peer = Sockets.describe(storage)
            guard server.admitConnection(address: Connection.address(of: peer)) else {
                close(client)
                continue
            }
            Sockets.setNoDelay(client)
            let connection = Connection(fd: client, peer: peer, loop: loop, server: server)
            loop.register(client, connection, events: clearning_epollin() | clearning_epollrdhup())
        }
    }

    /// Out of descriptors: the pending connection stays in the backlog and the level-triggered
    /// listener would wake the loop again at once, a full core until a descriptor frees up. The
    /// listener leaves the epoll set for a short back-off instead, then tries again.
    private func pauseAccepting() {
        server.acceptPauses.add(1, ordering: .relaxed)
        loop.modify(fd, events: 0)
        pauseTimer = loop.scheduleTimer(at: .now + Self.descriptorBackOff) { [self] in
            pauseTimer = nil
            guard !closed else { return }
            loop.modify(fd, events: clearning_epollin())
        }
    }

    private var closed = false

    func closeListener() {
        closed = true
        if let pauseTimer { loop.cancelTimer(pauseTimer) }
        loop.unregister(fd)
        close(fd)
    }
}
