/// What a replica says about the replicas of its database and its read replica (docs/SCALING.md):
/// `replication` in REST `/status`, and gauges in `/metrics`.
public struct ReplicationReport: Sendable, Equatable, Codable {
    /// `leader` (runs the once-per-database work) or `follower`.
    public var role: String
    /// Replicas of the service on this database now (0: unknown).
    public var replicas: Int
    /// Runs of each leader-only job on this replica since it started (`performance_rollup`,
    /// `retention`, `collaboration_sums`, `scheduled_retrain`).
    public var leaderJobRuns: [String: Int64]
    /// A read replica (`database.read_url`) serves the change feed and the start-up's reads.
    public var readReplica: Bool
    /// Its lag behind the primary: seconds since the last transaction it replayed while WAL waits
    /// to be replayed (0 when caught up), and WAL bytes not replayed yet. nil: not measured.
    public var lagSeconds: Double?
    public var lagBytes: Int64?

    public init(role: String, replicas: Int, leaderJobRuns: [String: Int64], readReplica: Bool, lagSeconds: Double?, lagBytes: Int64?) {
        self.role = role
        self.replicas = replicas
        self.leaderJobRuns = leaderJobRuns
        self.readReplica = readReplica
        self.lagSeconds = lagSeconds
        self.lagBytes = lagBytes
    }

    enum CodingKeys: String, CodingKey {
        case role, replicas
        case leaderJobRuns = "leader_job_runs"
        case readReplica = "read_replica"
        case lagSeconds = "replication_lag_seconds"
        case lagBytes = "replication_lag_bytes"
    }
}
