import Synchronization

/// One periodic job of the runtime: its own interval, and a body that may ask for another pause
/// before its next run (a roll-up stretched by `PerformanceRollUps.rollUpPause`, a job that waits
/// for the start-up polling sooner).
struct PeriodicJob: Sendable {
    /// Names the job in logs and tests.
    var name: String
    /// The pause between the end of one run and the start of the next, unless the run returns another.
    var interval: Duration
    /// The pause before the first run.
    var firstRunAfter: Duration
    /// Runs once; returns the pause before the next run, nil for `interval`.
    var body: @Sendable () async -> Duration?

    init(_ name: String, every interval: Duration, firstRunAfter: Duration? = nil,
         _ body: @escaping @Sendable () async -> Duration?) {
        self.name = name
        self.interval = interval
        self.firstRunAfter = firstRunAfter ?? interval
        self.body = body
    }

    /// A job that runs every `interval`, the first time one interval after the start.
    static func every(_ interval: Duration, _ name: String, _ body: @escaping @Sendable () async -> Void) -> PeriodicJob {
        PeriodicJob(name, every: interval) { await body(); return nil }
    }
}

/// Runs periodic jobs, each on a timer of its own (a task per job sleeping its own pause), so a
/// slow run delays only its own job's next run; cancelling `run()` stops every job (a sleeping
/// job at once, a running one when its body returns).
struct JobScheduler<C: Clock>: RuntimeComponent where C.Duration == Duration {
    let jobs: [PeriodicJob]
    let clock: C

    init(jobs: [PeriodicJob], clock: C) {
        self.jobs = jobs
        self.clock = clock
    }

    func run() async {
        await withTaskGroup(of: Void.self) { group in
            for job in jobs {
                group.addTask { await Self.loop(job, clock: clock) }
            }
        }
    }

    private static func loop(_ job: PeriodicJob, clock: C) async {
        var pause = job.firstRunAfter
        while !Task.isCancelled {
            if pause > .zero { try? await clock.sleep(until: clock.now.advanced(by: pause), tolerance: nil) }
            if Task.isCancelled { break }
            pause = await job.body() ?? job.interval
        }
    }
}

extension JobScheduler where C == ContinuousClock {
    init(jobs: [PeriodicJob]) {
        self.init(jobs: jobs, clock: ContinuousClock())
    }
}
