// The values of the executions' path through storage: the acknowledgement of a write, the change
// feed's events and where it stands.
public import LearningCore

/// The acknowledgement of one stored execution.
public struct IngestAck: Sendable, Equatable {
    /// `execution_log.id` of the stored row (for a duplicate event id: the row stored before).
    public var id: Int64
    /// True when the record's event id was stored before and nothing new was written.
    public var duplicate: Bool

    /// Creates an acknowledgement.
    public init(id: Int64, duplicate: Bool) {
        self.id = id
        self.duplicate = duplicate
    }
}

/// What the change feed delivers.
public enum FeedEvent: Sendable, Equatable {
    /// Newly visible executions (each delivered once; ids ascending within one event, not across).
    case executions([ExecutionRecord])
    /// Newly visible rows that this process's writer stored: their records went to the callers
    /// of `ExecutionRepository.logExecution(s)`, so only the ids come here (each once, like `executions`).
    /// A row the feed no longer held in memory arrives in `executions` instead.
    case ownWrites([Int64])
    /// The table was truncated: drop everything derived from it; the feed replays from the start
    /// (or, with `stopAtReset`, ends its run so the caller can start it again where it chooses).
    case reset
    /// Newly visible outside rows summed by PostgreSQL instead of read: a burst far behind the
    /// feed (`FeedSettings.summaryThreshold`). Each id is delivered once, as in `executions`.
    case summary(ExecutionSummary)
    /// Where the feed stands after the events before it: every row at or below the position's
    /// cursor (outside its gaps) has been delivered. Sent after each poll that moved it, and at
    /// least every `FeedSettings.positionRepeat` seconds while it stands still (an idle consumer
    /// still checkpoints what it counted last, and notices a change of its replica's role).
    case position(FeedPosition)
}

/// Where the change feed stands: every id at or below `maxSeen` outside `gaps` is final.
public struct FeedPosition: Sendable, Equatable {
    public var maxSeen: Int64
    /// Ids below `maxSeen` not (yet) seen: transactions in flight, or ids that never appear.
    public var gaps: [ClosedRange<Int64>]
    /// Set by the feed (not stored): the xmin of the snapshot of the poll that reached this
    /// position, and whether that poll read every visible row past it (not cut at its limit).
    public var snapshotXmin: UInt64 = 0
    public var readToEnd = false

    public init(maxSeen: Int64, gaps: [ClosedRange<Int64>] = []) {
        self.maxSeen = maxSeen
        self.gaps = gaps
    }

    /// True once every id up to `target` that will ever be in the table has been delivered:
    /// the cursor passed it, or a poll read to the end of the table after every transaction in
    /// flight when `target` was drawn (xmax `targetXmax`) had ended, with no gap left below it.
    public func covers(_ target: Int64, drawnBeforeXmax targetXmax: UInt64) -> Bool {
        if cursor >= target { return true }
        return readToEnd && snapshotXmin >= targetXmax && !gaps.contains { $0.lowerBound <= target }
    }

    /// The lowest id not yet final, minus one.
    public var cursor: Int64 { gaps.first.map { $0.lowerBound - 1 } ?? maxSeen }
}

/// Outside rows the feed summed instead of reading them (`FeedEvent.summary`).
public struct ExecutionSummary: Sendable, Equatable {
    /// Their sums per agent, task type and UTC day, as the aggregates keep them.
    public var cells: [AggregateCell]
    /// Their ids, ascending.
    public var ids: [Int64]

    public init(cells: [AggregateCell], ids: [Int64]) {
        self.cells = cells
        self.ids = ids
    }

    /// True when `id` is one of the summed rows.
    public func contains(_ id: Int64) -> Bool {
        guard let first = ids.first, let last = ids.last, first <= id, id <= last else { return false }
        var lo = 0, hi = ids.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ids[mid] < id { lo = mid + 1 } else { hi = mid }
        }
        return lo < ids.count && ids[lo] == id
    }
}
