import Synchronization
import CLearningShims
#if canImport(Glibc)
import Glibc
#endif

/// Something the loop watches with epoll.
protocol LoopWatched: AnyObject {
    /// Called on the loop thread with the epoll event mask.
    func handleEvents(_ events: UInt32)
}

/// One event-loop thread: an epoll set, an eventfd to wake it, a task queue other threads fill,
/// timers, and the connections it owns. Everything except `execute` and `stop` runs on the loop thread.
final class EventLoop: @unchecked Sendable {
    let index: Int
    let epollFD: Int32
    private let wakeFD: Int32
    /// Tasks other threads queued; `asleep` while the loop blocks (or is about to) in epoll_wait
    /// with an empty queue; `wakePending` once the eventfd was written for that sleep.
    private let tasks = Mutex<TaskQueue>(TaskQueue())
    /// A queued closure, or a Swift task's job resumed on this loop. An enum rather than an array
    /// of closures: the array would store each closure behind a reabstraction thunk with a
    /// context of its own, one allocation per queued task (measured with a malloc uprobe), and a
    /// job would need a closure around it besides.
    private enum LoopTask {
        case closure(@Sendable () -> Void)
        case job(UnownedJob)
    }
    private struct TaskQueue {
        var queue: [LoopTask] = []
        var asleep = false
        var wakePending = false
    }
    private let stopRequested = Atomic<Bool>(false)

    // Loop-thread state.
    private var watched: [Int32: any LoopWatched] = [:]
    private var timerHeap: [(deadline: ContinuousClock.Instant, id: UInt64)] = []
    private var timerActions: [UInt64: () -> Void] = [:]
    private var nextTimerID: UInt64 = 1
    private var dirty: [Connection] = []
    /// A buffer every connection of this loop reads into.
    let readBuffer: UnsafeMutableRawBufferPointer
    let metrics = MetricsStore()
    private var cachedDate: (second: Int64, text: String) = (-1, "")

    init(index: Int) throws(ServerError) {
        self.index = index
        epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epollFD >= 0 else { throw ServerError.system("epoll_create1", errno) }
        wakeFD = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard wakeFD >= 0 else { throw ServerError.system("eventfd", errno) }
        readBuffer = .allocate(byteCount: 256 * 1024, alignment: 16)
        var event = epoll_event()
        event.events = clearning_epollin()
        event.data.fd = wakeFD
        epoll_ctl(epollFD, EPOLL_CTL_ADD, wakeFD, &event)
    }

    deinit {
        close(epollFD)
        close(wakeFD)
        readBuffer.deallocate()
    }

    /// Runs `task` on the loop thread soon. Callable from any thread.
    func execute(_ task: @escaping @Sendable () -> Void) {
        queue(.closure(task))
    }

    private func queue(_ task: LoopTask) {
        // Only a sleeping loop needs the eventfd, and only once per sleep: an awake loop looks at
        // the queue before it sleeps again. A writer thread resuming a commit's dozen callers
        // thus wakes a loop once, not a dozen times (each write a syscall and a wake-up).
        let needsWake = tasks.withLock { state -> Bool in
            state.queue.append(task)
            if !state.asleep || state.wakePending { return false }
            state.wakePending = true
            return true
        }
        if needsWake {
            var one: UInt64 = 1
            _ = write(wakeFD, &one, 8)
        }
    }

    /// Asks the loop to return from `run` after its current iteration. Callable from any thread.
    func stop() {
        stopRequested.store(true, ordering: .sequentiallyConsistent)
        execute {}
    }

    // MARK: Loop-thread API

    func register(_ fd: Int32, _ handler: any LoopWatched, events: UInt32) {
        watched[fd] = handler
        var event = epoll_event()
        event.events = events
        event.data.fd = fd
        epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event)
    }

    func modify(_ fd: Int32, events: UInt32) {
        var event = epoll_event()
        event.events = events
        event.data.fd = fd
        epoll_ctl(epollFD, EPOLL_CTL_MOD, fd, &event)
    }

    func unregister(_ fd: Int32) {
        watched[fd] = nil
        epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, nil)
    }

    var watchedHandlers: [any LoopWatched] { Array(watched.values) }

    /// Runs `action` on the loop thread at `deadline`; returns an id for `cancelTimer`.
    @discardableResult
    func scheduleTimer(at deadline: ContinuousClock.Instant, _ action: @escaping () -> Void) -> UInt64 {
        let id = nextTimerID
        nextTimerID += 1
        timerActions[id] = action
        timerHeap.append((deadline, id))
        var child = timerHeap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            if timerHeap[parent].deadline <= timerHeap[child].deadline { break }
            timerHeap.swapAt(parent, child)
            child = parent
        }
        return id
    }

    func cancelTimer(_ id: UInt64) {
        timerActions[id] = nil
    }

    private func popTimer() {
        let last = timerHeap.removeLast()
        guard !timerHeap.isEmpty else { return }
        timerHeap[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < timerHeap.count && timerHeap[left].deadline < timerHeap[smallest].deadline { smallest = left }
            if right < timerHeap.count && timerHeap[right].deadline < timerHeap[smallest].deadline { smallest = right }
            if smallest == parent { break }
            timerHeap.swapAt(parent, smallest)
            parent = smallest
        }
    }

    /// Marks a connection to be flushed at the end of this loop iteration (batches writes).
    func scheduleFlush(_ connection: Connection) {
        if !connection.flushScheduled {
            connection.flushScheduled = true
            dirty.append(connection)
        }
    }

    /// The HTTP `date` header value, cached per second.
    func httpDate() -> String {
        let now = currentEpochSecond()
        if now != cachedDate.second {
            var time = time_t(now)
            var parts = tm()
            gmtime_r(&time, &parts)
            var buffer = [CChar](repeating: 0, count: 64)
            let count = strftime(&buffer, 64, "%a, %d %b %Y %H:%M:%S GMT", &parts)
            cachedDate = (now, String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return cachedDate.text
    }

    /// The loop: wait for events, run them, run due timers and queued tasks, flush dirty connections.
    func run() {
        let capacity = 512
        let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: capacity)
        defer { events.deallocate() }
        while !stopRequested.load(ordering: .relaxed) {
            var timeout: Int32 = -1
            if let first = timerHeap.first {
                let remaining = ContinuousClock.now.duration(to: first.deadline).nanoseconds
                timeout = remaining <= 0 ? 0 : Int32(min(remaining / 1_000_000 + 1, 60_000))
            }
            // Sleep only with an empty queue (tasks queued by the last iteration's timers and
            // flushes, or by other threads since `runTasks`, run first).
            let mayBlock = tasks.withLock { state -> Bool in
                state.asleep = state.queue.isEmpty
                return state.asleep
            }
            let count = epoll_wait(epollFD, events, Int32(capacity), mayBlock ? timeout : 0)
            tasks.withLock { state in
                state.asleep = false
                state.wakePending = false
            }
            if count < 0 && errno != EINTR { break }
            for index in 0..<max(0, Int(count)) {
                let fd = events[index].data.fd
                if fd == wakeFD {
                    var value: UInt64 = 0
                    _ = read(wakeFD, &value, 8)
                } else if let handler = watched[fd] {
                    handler.handleEvents(events[index].events)
                }
            }
            runTasks()
            runDueTimers()
            flushDirty()
        }
        runTasks()
        flushDirty()
    }

    /// The queue's second buffer, swapped with the shared one so that taking the queued tasks
    /// allocates nothing. Loop thread only.
    private var spareTasks: [LoopTask] = []

    private func runTasks() {
        while true {
            var batch: [LoopTask] = []
            swap(&batch, &spareTasks)
            tasks.withLock { state in swap(&state.queue, &batch) }
            defer {
                batch.removeAll(keepingCapacity: batch.capacity <= 4096)
                swap(&batch, &spareTasks)
            }
            if batch.isEmpty { return }
            for task in batch {
                switch task {
                case .closure(let run): run()
                case .job(let job): job.runSynchronously(on: asUnownedTaskExecutor())
                }
            }
        }
    }

    private func runDueTimers() {
        guard !timerHeap.isEmpty else { return }
        let now = ContinuousClock.now
        while let first = timerHeap.first, first.deadline <= now {
            popTimer()
            if let action = timerActions.removeValue(forKey: first.id) { action() }
        }
    }

    private func flushDirty() {
        // By index: a flush may mark connections dirty again (the loop reaches them).
        var next = 0
        while next < dirty.count {
            let connection = dirty[next]
            next += 1
            connection.flushScheduled = false
            connection.flush()
        }
        dirty.removeAll(keepingCapacity: true)
    }
}

/// Errors starting or running the server.
public enum ServerError: Error, Sendable, CustomStringConvertible {
    /// A system call failed with `errno`.
    case system(String, Int32)
    /// The host could not be resolved.
    case badAddress(String)
    /// `start()` was called twice.
    case alreadyStarted

    /// A readable description.
    public var description: String {
        switch self {
        case .system(let call, let code): return "\(call) failed: \(String(cString: strerror(code)))"
        case .badAddress(let host): return "cannot resolve address '\(host)'"
        case .alreadyStarted: return "the server was already started"
        }
    }
}

/// Handler tasks prefer their connection's loop as executor: a request is decoded, handled and
/// answered on the thread that read it, and a handler resumed by another thread (say, the store's
/// writer after a commit) comes back through the loop's queue. This saves two thread hand-offs
/// per call (to the global pool and back). Long CPU work must not run here: the service runs
/// training on threads of its own.
extension EventLoop: TaskExecutor {
    /// Requests up to this size are handled on the loop that read them; larger ones (a batch of
    /// thousands of records) go to the global pool so the loop's other connections keep moving.
    static let inlineRequestBytes = 16 * 1024

    /// Starts the task of a handler whose request has `requestBytes` (nil for a stream of
    /// requests): on this loop up to `inlineRequestBytes`, else on the global pool.
    @discardableResult
    func startHandlerTask(requestBytes: Int?, _ operation: @escaping @Sendable () async -> Void) -> Task<Void, Never> {
        if let requestBytes, requestBytes <= Self.inlineRequestBytes {
            return Task(executorPreference: self, operation: operation)
        }
        return Task(operation: operation)
    }

    func enqueue(_ job: consuming ExecutorJob) {
        queue(.job(UnownedJob(job)))
    }
}
