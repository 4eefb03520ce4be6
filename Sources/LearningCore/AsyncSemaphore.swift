import Synchronization

/// A counting semaphore for async code; `wait` suspends while no permit is free. `close` wakes
/// every waiter and makes later waits fail, so a reader cannot hang once its consumer has gone.
public final class AsyncSemaphore: Sendable {
    private struct State {
        var permits: Int
        var closed = false
        var waiters: [CheckedContinuation<Bool, Never>] = []
    }

    private let state: Mutex<State>

    /// A semaphore with `permits` free permits.
    public init(permits: Int) {
        state = Mutex(State(permits: permits))
    }

    /// Takes a permit, suspending until one is free; throws `CancellationError` when the task is
    /// cancelled before it waits or the semaphore is closed.
    public func wait() async throws {
        try Task.checkCancellation()
        let granted = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let immediate = state.withLock { state -> Bool? in
                if state.closed { return false }
                if state.permits > 0 {
                    state.permits -= 1
                    return true
                }
                state.waiters.append(continuation)
                return nil
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
        if !granted { throw CancellationError() }
    }

    /// Returns a permit (to the longest waiter, if any).
    public func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            if state.waiters.isEmpty {
                state.permits += 1
                return nil
            }
            return state.waiters.removeFirst()
        }
        waiter?.resume(returning: true)
    }

    /// Wakes every waiter with an error; later waits fail at once.
    public func close() {
        let waiters = state.withLock { state -> [CheckedContinuation<Bool, Never>] in
            state.closed = true
            let waiters = state.waiters
            state.waiters.removeAll()
            return waiters
        }
        for waiter in waiters { waiter.resume(returning: false) }
    }
}
