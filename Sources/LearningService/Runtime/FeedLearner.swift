import Foundation
import LearningCore
import LearningML
import Synchronization
import Logging

/// Learns from the executions the change feed counted: adds them to the recent sample and the
/// engine (`RuntimeState.learn`) and publishes the anomalies found, off the feed's path.
///
/// The feed consumer counts every row in the figures as it reads it and hands the rows here, so a
/// burst of outside rows (a COPY of a million) reaches `total_executions` and the analytics at the
/// speed of reading, while learning (about as costly again per row) follows on its own task.
/// While the feed reads a backlog (`feedBehind`), learning waits, so the figures have the cores;
/// rows wait in a bounded queue (`capacity`). Past it, the oldest waiting rows of a burst are
/// left out of learning and counted in `skipped`: the figures hold them all (they are counted
/// before they come here) and the sample keeps the newest executions in any case.
final class FeedLearner: RuntimeComponent {
    /// Rows waiting, at most.
    static let capacity = 100_000
    /// Rows learned under one hold of the runtime's lock (readers wait at most that long).
    static let chunk = 1_000

    private struct Pending {
        var records: [ExecutionRecord]
        var generation: Int
        var arrival: Date
    }

    private struct Queue {
        var pending: [Pending] = []
        var waiting = 0
        var skipped = 0
        /// Rows being learned right now (taken off the queue, not learned yet).
        var inFlight = 0
        /// The feed's last poll came back full: it is reading a backlog.
        var feedBehind = false
        /// Rows skipped in the current burst (logged once it is over).
        var burstSkipped = 0
    }

    private unowned let state: any RuntimeStateHolder
    private let publish: @Sendable (LearningML.DetectedAnomaly) async -> Void
    private let logger: Logger
    private let queue = Mutex(Queue())
    private let wake: AsyncStream<Void>.Continuation
    private let signals: AsyncStream<Void>

    /// `publish` receives the anomalies found (the `InsightPublisher`'s in the service).
    init(state: any RuntimeStateHolder, publish: @escaping @Sendable (LearningML.DetectedAnomaly) async -> Void,
         logger: Logger) {
        self.state = state
        self.publish = publish
        self.logger = logger
        (signals, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Rows counted but not learned yet.
    var backlog: Int { queue.withLock { $0.waiting + $0.inFlight } }

    /// Rows of bursts left out of learning since start (they are in the figures).
    var skipped: Int { queue.withLock { $0.skipped } }

    /// Queues counted rows of the state's `generation` for learning.
    func enqueue(_ records: [ExecutionRecord], generation: Int, arrival: Date) {
        guard !records.isEmpty else { return }
        let dropped = queue.withLock { queue -> Int in
            queue.pending.append(Pending(records: records, generation: generation, arrival: arrival))
            queue.waiting += records.count
            var dropped = 0
            while queue.waiting > Self.capacity, let first = queue.pending.first {
                let excess = queue.waiting - Self.capacity
                if first.records.count <= excess {
                    queue.pending.removeFirst()
                    queue.waiting -= first.records.count
                    dropped += first.records.count
                } else {
                    queue.pending[0].records.removeFirst(excess)
                    queue.waiting -= excess
                    dropped += excess
                }
            }
            queue.skipped += dropped
            defer { queue.burstSkipped += dropped }
            return dropped > 0 && queue.burstSkipped == 0 ? dropped : 0
        }
        if dropped > 0 {
            logger.warning("learning is \(Self.capacity) rows behind the change feed (a burst of outside rows): the oldest waiting rows are counted in the figures but not learned from")
        }
        wake.yield()
    }

    /// The feed counted `rows` outside rows of a burst without reading them one by one (it
    /// summed them): they are left out of learning like the oldest rows of a burst past the queue.
    func noteCountedOnly(_ rows: Int) {
        guard rows > 0 else { return }
        let first = queue.withLock { queue -> Bool in
            defer { queue.burstSkipped += rows }
            queue.skipped += rows
            return queue.burstSkipped == 0
        }
        if first {
            logger.warning("the change feed is far behind on outside rows (a burst): their sums go to the figures; learning follows from the burst's newest rows")
        }
    }

    /// The feed says whether it is reading a backlog (its last poll came back full); learning
    /// waits meanwhile, and starts again when it is not.
    func noteFeed(behind: Bool) {
        let (changed, skipped) = queue.withLock { queue -> (Bool, Int) in
            defer { queue.feedBehind = behind }
            let skipped = behind ? 0 : queue.burstSkipped
            if !behind { queue.burstSkipped = 0 }
            return (queue.feedBehind != behind, skipped)
        }
        if skipped > 0 {
            logger.info("the change feed caught up; \(skipped) rows of the burst were counted but not learned from, learning from the newest \(Self.capacity)")
        }
        if changed && !behind { wake.yield() }
    }

    /// Forgets every waiting row (the table was truncated; they describe rows that are gone).
    func clear() {
        queue.withLock { queue in
            queue.pending.removeAll()
            queue.waiting = 0
        }
    }

    func run() async {
        for await _ in signals {
            await drain()
        }
    }

    /// Learns from every waiting row, `chunk` rows per hold of the lock.
    func drain() async {
        while let next = take() {
            var start = 0
            while start < next.records.count {
                let end = min(start + Self.chunk, next.records.count)
                let slice = Array(next.records[start..<end])
                let anomalies = state.withState { state -> [LearningML.DetectedAnomaly] in
                    guard state.generation == next.generation else { return [] }
                    return state.learn(slice, arrival: next.arrival, new: false)
                }
                queue.withLock { $0.inFlight -= slice.count }
                for anomaly in anomalies { await publish(anomaly) }
                start = end
            }
        }
    }

    private func take() -> Pending? {
        queue.withLock { queue in
            guard !queue.pending.isEmpty, !queue.feedBehind else { return nil }
            let next = queue.pending.removeFirst()
            queue.waiting -= next.records.count
            queue.inFlight += next.records.count
            return next
        }
    }
}
