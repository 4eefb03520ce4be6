// Ids of the rows this process's writer committed, kept until the change feed reaches them, so the
// feed reports them by id instead of reading them back: their records already went to the
// writer's callers. (Under ingest, reading our own rows back cost PostgreSQL more CPU than
// writing them — uuid_out, jsonb and float8 output for every row — and the server a decode.)
import Synchronization

/// Committed row ids of this process's writer, awaiting the change feed. Bounded: ids are kept
/// only while a feed runs, at most `capacity` of them (the oldest batches go first); a row not
/// held here is simply read from the table and delivered as an outside row would be.
final class OwnWrites: Sendable {
    private struct State {
        var ids: Set<Int64> = []
        /// Ids per committed batch, oldest first, for eviction and pruning.
        var batches = FIFOQueue<[Int64]>()
        var feeds = 0
    }

    private let state = Mutex(State())
    let capacity: Int

    init(capacity: Int = 200_000) {
        self.capacity = capacity
    }

    /// Ids currently held.
    var count: Int { state.withLock { $0.ids.count } }

    /// True while at least one feed runs (ids are kept only then).
    var feedRunning: Bool { state.withLock { $0.feeds > 0 } }

    /// A feed starts (ids are kept from now on) or stops (kept only while some feed runs).
    func feedStarted() { state.withLock { $0.feeds += 1 } }
    func feedStopped() {
        state.withLock { s in
            s.feeds -= 1
            if s.feeds <= 0 { s = State() }
        }
    }

    /// Records the ids of committed rows. Called after COMMIT, before the callers resume.
    func committed(_ ids: [Int64]) {
        guard !ids.isEmpty else { return }
        state.withLock { s in
            guard s.feeds > 0 else { return }
            for id in ids { s.ids.insert(id) }
            s.batches.append(ids)
            while s.ids.count > capacity, !s.batches.isEmpty {
                Self.dropOldestBatch(&s)
            }
        }
    }

    /// Which of `ids` are held (aligned with `ids`); those are forgotten now.
    func take(_ ids: [Int64]) -> [Bool] {
        state.withLock { s in
            if s.ids.isEmpty { return [Bool](repeating: false, count: ids.count) }
            return ids.map { s.ids.remove($0) != nil }
        }
    }

    /// Forgets batches whose ids are all at or below `cursor` (the feed will not ask for them again).
    func prune(through cursor: Int64) {
        state.withLock { s in
            while let oldest = s.batches.first, (oldest.max() ?? Int64.min) <= cursor {
                Self.dropOldestBatch(&s)
            }
        }
    }

    /// Forgets everything (the table was truncated).
    func removeAll() {
        state.withLock { s in
            let feeds = s.feeds
            s = State()
            s.feeds = feeds
        }
    }

    private static func dropOldestBatch(_ s: inout State) {
        for id in s.batches.popFirst() ?? [] { s.ids.remove(id) }
    }
}
