import Foundation

/// Groups repeated anomalies of one kind, agent and task type: the first of a run is stored (and
/// streamed) as an insight; later ones within `window` seconds of the previous add their
/// execution ids to that insight instead of becoming insights of their own. A pure value, driven
/// by the service; no I/O.
///
/// Without it a pair whose new normal differs from its learned baseline (a deploy that made an
/// agent slower, say) raises one alert, one database write and one stream event per execution
/// until the baseline catches up: an alert storm that drowns the first, useful alert.
struct AnomalyGroups {
    struct Key: Hashable {
        var kind: String
        var agent: String
        var taskType: String?
    }

    struct Group {
        /// The stored insight, once its save returned.
        var insightID: Int64?
        var lastAt: Date
        /// Execution ids merged since the last flush.
        var pending: [Int64] = []
        /// Anomalies merged into this group in all.
        var merged = 0
    }

    /// Ids to add to a stored insight.
    struct Flush: Equatable {
        var insightID: Int64
        var executionIDs: [Int64]
    }

    enum Decision: Equatable {
        /// Store as a new insight and stream it.
        case store
        /// Merged into the open group of its key.
        case merged
    }

    let window: TimeInterval
    /// Most ids held before a flush is due anyway (bounded memory during a storm).
    let maxPending: Int
    private(set) var groups: [Key: Group] = [:]

    init(window: TimeInterval = 10, maxPending: Int = 10_000) {
        self.window = window
        self.maxPending = maxPending
    }

    /// Decides what to do with an anomaly seen at `now`.
    mutating func admit(_ key: Key, executionIDs: [Int64], at now: Date) -> Decision {
        if var group = groups[key], now.timeIntervalSince(group.lastAt) < window {
            group.lastAt = now
            group.merged += 1
            if group.pending.count < maxPending { group.pending += executionIDs }
            groups[key] = group
            return .merged
        }
        groups[key] = Group(lastAt: now)
        return .store
    }

    /// Records the id of the insight stored for `key`'s group (nil: it could not be stored).
    mutating func stored(_ key: Key, insightID: Int64?) {
        groups[key]?.insightID = insightID
    }

    /// Takes the ids waiting to be added to stored insights, and forgets groups idle for longer
    /// than the window (their pending ids are taken first; a group whose insight could not be
    /// stored loses them).
    mutating func flush(at now: Date) -> [Flush] {
        var out: [Flush] = []
        for (key, var group) in groups {
            if let id = group.insightID, !group.pending.isEmpty {
                out.append(Flush(insightID: id, executionIDs: group.pending))
                group.pending = []
            }
            if now.timeIntervalSince(group.lastAt) >= window && (group.pending.isEmpty || group.insightID == nil) {
                groups[key] = nil
            } else {
                groups[key] = group
            }
        }
        return out.sorted { $0.insightID < $1.insightID }
    }
}
