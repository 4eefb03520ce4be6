// The replicas of one database (docs/SCALING.md): one leads and runs the once-per-database work
// (checkpoints, retention, roll-ups, collaboration sums, stored anomalies, scheduled training);
// the others follow. A repository without leader election (a single server, the in-memory one)
// always leads.

/// What /status and /metrics say about the replicas and the read replica.
public struct ReplicationState: Sendable, Equatable {
    /// True while this replica holds the leader lock (or when leader election is off).
    public var isLeader: Bool
    /// Leader election is on (the server binary); off, every store acts as the only replica.
    public var electionEnabled: Bool
    /// Replicas taking part in the election on this database now (their lease sessions), 0 when
    /// unknown or off.
    public var replicas: Int
    /// Runs of each leader-only job on this replica since it started.
    public var leaderJobRuns: [String: Int64]
    /// A read replica is configured (`database.read_url`).
    public var readReplica: Bool
    /// Its last sampled lag: seconds since the last transaction it replayed while WAL waits
    /// (0 when it replayed everything the primary wrote), and WAL bytes behind the primary.
    /// nil: not sampled yet, or the last sample failed.
    public var lagSeconds: Double?
    public var lagBytes: Int64?

    public init(isLeader: Bool, electionEnabled: Bool, replicas: Int, leaderJobRuns: [String: Int64], readReplica: Bool,
                lagSeconds: Double?, lagBytes: Int64?) {
        self.isLeader = isLeader
        self.electionEnabled = electionEnabled
        self.replicas = replicas
        self.leaderJobRuns = leaderJobRuns
        self.readReplica = readReplica
        self.lagSeconds = lagSeconds
        self.lagBytes = lagBytes
    }
}

/// This replica's part in the once-per-database work.
public protocol ReplicaRole: AnyObject, Sendable {
    /// True while this replica leads (always without leader election).
    var isLeader: Bool { get }
    /// The leadership epoch this replica leads in (0 without leader election), nil when it does
    /// not lead. Figures loaded under one epoch may be checkpointed only in that epoch.
    var leaderEpoch: Int64? { get }
    /// True when this replica runs the leader-only `job` now; counts the run (reported in
    /// /status and /metrics).
    func claimLeaderJob(_ job: String) -> Bool
    /// Leadership and read-replica figures, for /status and /metrics.
    var replication: ReplicationState { get }
}
