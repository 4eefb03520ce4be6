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
        /// For an episode (a failure burst or streak): the time of its latest anomaly's execution.
        var episodeEnd: Date? = nil
        /// The latest totals of a growing episode, not yet written to its insight.
        var update: Update? = nil
    }

    /// A growing episode's totals, to write over its stored insight's.
    struct Update: Equatable {
        var detail: String
        var score: Double
        var observed: Double
        var expected: Double
        var severity: String
    }

    /// Ids to add to a stored insight, and the totals to write over its own.
    struct Flush: Equatable {
        var insightID: Int64
        var executionIDs: [Int64]
        var update: Update? = nil
    }

    /// How long an episode's group waits for the episode to grow (a streak of failures an hour apart).
    static let episodeWindow: TimeInterval = 86_400

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
    ///
    /// An anomaly that continues an episode (`episodeStart`, the episode's first execution, is not
    /// after the previous anomaly's execution `episodeEnd`) joins it however long ago that was
    /// (within `episodeWindow`), and its `update` (the episode's grown totals) replaces the
    /// insight's at the next flush.
    mutating func admit(_ key: Key, executionIDs: [Int64], at now: Date, episodeStart: Date? = nil, eventAt: Date? = nil,
                        update: Update? = nil) -> Decision {
        if var group = groups[key] {
            let continues = episodeStart.map { start in group.episodeEnd.map { start <= $0 } ?? false } ?? false
            if now.timeIntervalSince(group.lastAt) < window || continues {
                group.lastAt = now
                group.merged += 1
                if group.pending.count < maxPending { group.pending += executionIDs }
                if let update { group.update = update }
                if let eventAt, episodeStart != nil { group.episodeEnd = max(group.episodeEnd ?? eventAt, eventAt) }
                groups[key] = group
                return .merged
            }
        }
        groups[key] = Group(lastAt: now, episodeEnd: episodeStart == nil ? nil : eventAt)
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
            if let id = group.insightID, !group.pending.isEmpty || group.update != nil {
                out.append(Flush(insightID: id, executionIDs: group.pending, update: group.update))
                group.pending = []
                group.update = nil
            }
            let keep = group.episodeEnd == nil ? window : Self.episodeWindow
            if now.timeIntervalSince(group.lastAt) >= keep && (group.pending.isEmpty || group.insightID == nil) {
                groups[key] = nil
            } else {
                groups[key] = group
            }
        }
        return out.sorted { $0.insightID < $1.insightID }
    }
}
