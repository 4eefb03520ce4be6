import Synchronization
import Testing
@testable import LearningService

/// A clock that moves only when the test advances it.
final class ManualClock: Clock, Sendable {
    struct Instant: InstantProtocol {
        var offset: Duration
        func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        func duration(to other: Instant) -> Duration { other.offset - offset }
        static func < (a: Instant, b: Instant) -> Bool { a.offset < b.offset }
    }

    private struct Sleeper {
        var deadline: Instant
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now = Instant(offset: .zero)
        var sleepers: [Int: Sleeper] = [:]
        var cancelled: Set<Int> = []
        var nextID = 0
    }

    private let state = Mutex(State())
    var now: Instant { state.withLock { $0.now } }
    var minimumResolution: Duration { .zero }
    /// Tasks sleeping now.
    var sleeping: Int { state.withLock { $0.sleepers.count } }

    func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        let id = state.withLock { state -> Int in state.nextID += 1; return state.nextID }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resume = state.withLock { state -> Result<Void, any Error>? in
                    if state.cancelled.remove(id) != nil { return .failure(CancellationError()) }
                    if deadline <= state.now { return .success(()) }
                    state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    return nil
                }
                if let resume { continuation.resume(with: resume) }
            }
        } onCancel: {
            let sleeper = state.withLock { state -> Sleeper? in
                if let sleeper = state.sleepers.removeValue(forKey: id) { return sleeper }
                state.cancelled.insert(id)
                return nil
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves the time on, waking the sleepers whose deadline passed.
    func advance(by duration: Duration) {
        let due = state.withLock { state -> [Sleeper] in
            state.now = state.now.advanced(by: duration)
            let due = state.sleepers.filter { $0.value.deadline <= state.now }
            for id in due.keys { state.sleepers[id] = nil }
            return Array(due.values)
        }
        for sleeper in due { sleeper.continuation.resume() }
    }
}

/// Counts the runs of each job.
final class RunLog: Sendable {
    private let runs = Mutex<[String: Int]>([:])
    func note(_ name: String) { runs.withLock { $0[name, default: 0] += 1 } }
    func count(_ name: String) -> Int { runs.withLock { $0[name] ?? 0 } }
}

/// A gate a job waits at until the test opens it.
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
    func wait() async {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state -> Bool in
                if state.open { return true }
                state.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }
    var waiting: Int { state.withLock { $0.waiters.count } }
    func open() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

@Suite("Job scheduler")
struct JobSchedulerTests {
    /// Waits (in real time, at most 10 s) until `condition` holds.
    func eventually(_ condition: () -> Bool) async -> Bool {
        for _ in 0..<10_000 {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(1))
        }
        return condition()
    }

    @Test func eachJobRunsAtItsOwnInterval() async {
        let clock = ManualClock()
        let log = RunLog()
        let scheduler = JobScheduler(jobs: [
            .every(.milliseconds(500), "fast") { log.note("fast") },
            .every(.seconds(2), "slow") { log.note("slow") },
            PeriodicJob("at once", every: .seconds(3), firstRunAfter: .zero) { log.note("at once"); return nil },
        ], clock: clock)
        let running = Task { await scheduler.run() }
        #expect(await eventually { clock.sleeping == 3 && log.count("at once") == 1 })
        for step in 1...12 { // 6 s in steps of 0.5 s
            clock.advance(by: .milliseconds(500))
            #expect(await eventually { clock.sleeping == 3 && log.count("fast") == step })
        }
        #expect(log.count("fast") == 12)
        #expect(log.count("slow") == 3)
        #expect(log.count("at once") == 3) // at 0, 3 and 6 s
        running.cancel()
        await running.value
    }

    @Test func aSlowRunDelaysOnlyItsOwnJob() async {
        let clock = ManualClock()
        let log = RunLog()
        let gate = Gate()
        let scheduler = JobScheduler(jobs: [
            .every(.seconds(1), "tick") { log.note("tick") },
            .every(.seconds(1), "stuck") { log.note("stuck"); await gate.wait() },
        ], clock: clock)
        let running = Task { await scheduler.run() }
        #expect(await eventually { clock.sleeping == 2 })
        clock.advance(by: .seconds(1))
        #expect(await eventually { gate.waiting == 1 && clock.sleeping == 1 && log.count("tick") == 1 })
        for step in 2...5 {
            clock.advance(by: .seconds(1))
            #expect(await eventually { clock.sleeping == 1 && log.count("tick") == step })
        }
        #expect(log.count("stuck") == 1)
        // Released at 5 s: its next run is one interval after its run ended.
        gate.open()
        #expect(await eventually { clock.sleeping == 2 })
        clock.advance(by: .seconds(1))
        #expect(await eventually { clock.sleeping == 2 && log.count("stuck") == 2 && log.count("tick") == 6 })
        running.cancel()
        await running.value
    }

    @Test func aRunMayAskForAnotherPause() async {
        let clock = ManualClock()
        let log = RunLog()
        let scheduler = JobScheduler(jobs: [
            PeriodicJob("stretched", every: .seconds(1), firstRunAfter: .zero) { log.note("stretched"); return .seconds(5) },
        ], clock: clock)
        let running = Task { await scheduler.run() }
        #expect(await eventually { clock.sleeping == 1 && log.count("stretched") == 1 })
        clock.advance(by: .seconds(4))
        #expect(await eventually { clock.sleeping == 1 })
        #expect(log.count("stretched") == 1)
        clock.advance(by: .seconds(1))
        #expect(await eventually { clock.sleeping == 1 && log.count("stretched") == 2 })
        running.cancel()
        await running.value
    }

    @Test func cancellingStopsEveryJob() async {
        let clock = ManualClock()
        let log = RunLog()
        let scheduler = JobScheduler(jobs: [
            .every(.seconds(1), "a") { log.note("a") },
            .every(.seconds(7), "b") { log.note("b") },
        ], clock: clock)
        let group = RuntimeGroup()
        group.start([scheduler], retaining: log)
        #expect(await eventually { clock.sleeping == 2 })
        await group.stop() // returns only once both jobs returned
        #expect(clock.sleeping == 0)
        clock.advance(by: .seconds(60))
        try? await Task.sleep(for: .milliseconds(20))
        #expect(log.count("a") == 0 && log.count("b") == 0)
    }
}
