// Rows this process's writer committed, kept in memory until the change feed reaches them, so the
// feed hands them on without reading them back (under ingest, reading our own rows back cost
// PostgreSQL more CPU than writing them: uuid_out, jsonb and float8 output for every row).
import LearningCore
import Synchronization

/// Committed rows of this process's writer, by id, awaiting the change feed. Bounded: rows are
/// kept only while a feed runs, at most `capacity` of them (the oldest batches go first); a row
/// not found here is simply read from the table.
final class OwnWrites: Sendable {
    private struct State {
        var byID: [Int64: ExecutionRecord] = [:]
        /// Ids per committed batch, oldest first, for eviction and pruning.
        var batches: [[Int64]] = []
        var head = 0
        var feeds = 0
    }

    private let state = Mutex(State())
    let capacity: Int

    init(capacity: Int = 50_000) {
        self.capacity = capacity
    }

    /// Rows currently held.
    var count: Int { state.withLock { $0.byID.count } }

    /// A feed starts (rows are kept from now on) or stops (kept only while some feed runs).
    func feedStarted() { state.withLock { $0.feeds += 1 } }
    func feedStopped() {
        state.withLock { s in
            s.feeds -= 1
            if s.feeds <= 0 { s = State() }
        }
    }

    /// Records committed rows (each with its id). Called after COMMIT, before the callers resume.
    func committed(_ records: [ExecutionRecord]) {
        guard !records.isEmpty else { return }
        state.withLock { s in
            guard s.feeds > 0 else { return }
            var ids: [Int64] = []
            ids.reserveCapacity(records.count)
            for r in records {
                guard let id = r.id else { continue }
                s.byID[id] = r
                ids.append(id)
            }
            s.batches.append(ids)
            while s.byID.count > capacity, s.head < s.batches.count {
                Self.dropOldestBatch(&s)
            }
        }
    }

    /// Hands over the held rows among `ids` (aligned with `ids`, nil where the row must be read
    /// from the table) and forgets them.
    func take(_ ids: [Int64]) -> [ExecutionRecord?] {
        state.withLock { s in
            if s.byID.isEmpty { return [ExecutionRecord?](repeating: nil, count: ids.count) }
            var found: [ExecutionRecord?] = []
            found.reserveCapacity(ids.count)
            for id in ids { found.append(s.byID.removeValue(forKey: id)) }
            return found
        }
    }

    /// Forgets batches whose ids are all at or below `cursor` (the feed will not ask for them again).
    func prune(through cursor: Int64) {
        state.withLock { s in
            while s.head < s.batches.count, (s.batches[s.head].max() ?? Int64.min) <= cursor {
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
        for id in s.batches[s.head] { s.byID[id] = nil }
        s.batches[s.head] = []
        s.head += 1
        if s.head == s.batches.count {
            s.batches.removeAll(keepingCapacity: true)
            s.head = 0
        } else if s.head > 1024 {
            s.batches.removeFirst(s.head)
            s.head = 0
        }
    }
}
