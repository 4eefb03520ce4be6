// Several service replicas over one database, and reads from a hot standby (docs/SCALING.md).
//
// Leadership: the work that must happen once per database, not once per replica (checkpoints of
// the aggregates, retention, roll-ups, the collaboration sums, scheduled training, storing
// anomalies) is done by the replica holding a session advisory lock, taken on a connection of
// its own (`LeaderLease`). Each acquisition bumps `agents.feed_state.leader_epoch`; a checkpoint
// of the aggregates names the epoch its figures were loaded under, so a replica that lost the
// lock (its lease connection died) cannot add cells after another replica took over.
//
// Read replica: with `database.read_url`, the change feed and the start-up's reads of the
// aggregates and the recent sample go to that server (a streaming standby of `database.url`),
// writes and the reads a client expects to see its writes in (registry, models) go to the
// primary. The replication lag is sampled every second (`ReplicaLag`).
public import Foundation
public import LearningCore
public import LearningRepository
import Synchronization

/// Leadership among the replicas of one database through a session advisory lock.
final class LeaderLease: Sendable {
    /// Key of the session-level advisory lock of the leader (the migrations use ...01).
    static let lockKey: Int64 = 0x4C45_4152_4E02 // "LEARN" 2

    private let url: String
    private let interval: Double
    private let state = Mutex<(leader: Bool, epoch: Int64, runs: [String: Int64], replicas: Int)>((false, 0, [:], 0))
    private let stopped = Atomic<Bool>(false)
    private let wake = NSCondition()

    init(url: String, interval: Double = 1.0) {
        self.url = url
        self.interval = interval
    }

    var isLeader: Bool { state.withLock { $0.leader } }

    /// The epoch of the current leadership, nil while not leader.
    var epoch: Int64? { state.withLock { $0.leader ? $0.epoch : nil } }

    var runs: [String: Int64] { state.withLock { $0.runs } }

    /// Lease sessions on this database (one per replica), as last counted.
    var replicas: Int { state.withLock { $0.replicas } }

    /// True (and counted) when this replica is the leader and so runs `job` now.
    func claim(_ job: String) -> Bool {
        state.withLock { s in
            guard s.leader else { return false }
            s.runs[job, default: 0] += 1
            return true
        }
    }

    /// Tries once before it returns (so the first replica leads from its start), then keeps
    /// the lock, or keeps trying to take it, on a thread of its own every `interval` seconds.
    func start() {
        let first = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in
            var held: PGConnection? = nil
            attempt(&held)
            first.signal()
            while !stopped.load(ordering: .relaxed) {
                wake.lock()
                _ = wake.wait(until: Date(timeIntervalSinceNow: interval))
                wake.unlock()
                if stopped.load(ordering: .relaxed) { break }
                attempt(&held)
            }
            held = nil  // closing the session releases the lock
            state.withLock { $0.leader = false }
        }
        thread.name = "pg-leader-lease"
        thread.start()
        _ = first.wait(timeout: .now() + 5)
    }

    /// Stops trying and releases the lock (the session ends).
    func stop() {
        stopped.store(true, ordering: .relaxed)
        wake.lock()
        wake.broadcast()
        wake.unlock()
    }

    private func attempt(_ connection: inout PGConnection?) {
        do {
            if connection == nil || connection?.probe() != true {
                // A new session holds no lock: whatever this replica held is gone.
                state.withLock { $0.leader = false }
                connection = try PGConnection(url: url, applicationName: "learning-system-lease")
            }
            guard let c = connection else { return }
            let replicas = Int(try c.query("""
                SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'learning-system-lease'
                """).int64(0, 0) ?? 0)
            state.withLock { $0.replicas = replicas }
            if isLeader { return }
            guard try c.query("SELECT pg_try_advisory_lock($1)", [.int(Self.lockKey)]).bool(0, 0) == true else { return }
            let epoch = try c.query("UPDATE agents.feed_state SET leader_epoch = leader_epoch + 1 WHERE id = 1 RETURNING leader_epoch")
                .int64(0, 0) ?? 0
            state.withLock { $0.leader = true; $0.epoch = epoch }
        } catch {
            state.withLock { $0.leader = false }
            connection = nil
        }
    }
}

/// Samples the read replica's lag behind the primary every second.
final class ReplicaLag: Sendable {
    private let sample = Mutex<(seconds: Double, bytes: Int64)?>(nil)
    private let task = Mutex<Task<Void, Never>?>(nil)

    var last: (seconds: Double, bytes: Int64)? { sample.withLock { $0 } }

    func start(primary: ConnectionPool, replica: ConnectionPool, every interval: Double = 1.0) {
        let running = Task.detached { [self] in
            while !Task.isCancelled {
                do {
                    let lsn = try await primary.withConnection { c in try c.query("SELECT pg_current_wal_lsn()::text") }[0, 0] ?? "0/0"
                    let rows = try await replica.withConnection { c in
                        try c.query("""
                            SELECT CASE WHEN pg_is_in_recovery()
                                        THEN greatest(0, pg_wal_lsn_diff($1::pg_lsn, pg_last_wal_replay_lsn()))::int8 ELSE 0 END,
                                   coalesce(extract(epoch from now() - pg_last_xact_replay_timestamp())::float8, 0)
                            """, [.text(lsn)])
                    }
                    let bytes = rows.int64(0, 0) ?? 0
                    let seconds = bytes > 0 ? max(0, rows.double(0, 1) ?? 0) : 0
                    sample.withLock { $0 = (seconds, bytes) }
                } catch {
                    sample.withLock { $0 = nil }
                }
                try? await Task.sleep(for: .seconds(interval))
            }
        }
        task.withLock { $0 = running }
    }

    func stop() { task.withLock { $0?.cancel() } }
}

extension LearningStore {
    /// Leadership and read-replica figures, for /status and /metrics.
    public var replication: ReplicationState {
        let lag = replicaLag?.last
        return ReplicationState(isLeader: lease?.isLeader ?? true, electionEnabled: lease != nil, replicas: lease?.replicas ?? 0,
                                leaderJobRuns: lease?.runs ?? [:], readReplica: readPool !== pool,
                                lagSeconds: lag?.seconds, lagBytes: lag?.bytes)
    }

    /// True while this replica leads (always without leader election).
    public var isLeader: Bool { lease?.isLeader ?? true }

    /// The id of the model saved last (without its data), or nil.
    public func latestModelID(named name: String) async throws -> Int64? {
        let rows = try await pool.withConnection { c in
            try c.query("SELECT max(id) FROM agents.ml_models WHERE model_name = $1", [.text(name)])
        }
        return rows.count == 1 ? rows.int64(0, 0) : nil
    }

    /// True when this replica runs the leader-only work now (always without leader election);
    /// counts the run of `job` (reported in /status and /metrics).
    public func claimLeaderJob(_ job: String) -> Bool {
        guard let lease else { return true }
        return lease.claim(job)
    }

    /// The leadership epoch this replica leads in (0 without leader election), nil when it does
    /// not lead. Figures loaded under one epoch may be checkpointed only in that epoch.
    public var leaderEpoch: Int64? {
        guard let lease else { return 0 }
        return lease.epoch
    }

    /// Checks that `database.read_url` reaches a copy of `database.url`'s database: the same
    /// cluster (system identifier) and database name. Throws `invalidInput` naming the key.
    static func checkReadReplica(primary: ConnectionPool, replica: ConnectionPool) async throws {
        let query = "SELECT (SELECT system_identifier FROM pg_control_system())::text, current_database()"
        let p = try await primary.withConnection { c in try c.query(query) }
        let r: PGRows
        do {
            r = try await replica.withConnection { c in try c.query(query) }
        } catch {
            throw StoreError.unavailable("database.read_url: cannot connect to the read replica: \(error)")
        }
        guard p[0, 0] == r[0, 0], p[0, 1] == r[0, 1] else {
            throw StoreError.invalidInput("database.read_url (LEARNING_DATABASE_READ_URL) must be a streaming standby of database.url "
                + "(same cluster and database); it reaches cluster \(r[0, 0] ?? "?") database \(r[0, 1] ?? "?"), "
                + "the primary is cluster \(p[0, 0] ?? "?") database \(p[0, 1] ?? "?")")
        }
    }

    /// The stored aggregates and the checkpoint they describe, read in one snapshot (on the read
    /// replica when there is one): another replica may checkpoint meanwhile, and cells read after
    /// it with a position read before would count its rows twice. `body` gets the cells in pages.
    public func loadAggregateSnapshot(page: Int = 20_000, _ body: @escaping @Sendable ([AggregateCell]) -> Void) async throws -> AggregateCheckpoint {
        try await readPool.transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") { c in
            let checkpoint = try Self.checkpoint(on: c)
            if checkpoint.isCurrent { try Self.pageAggregates(on: c, page: page, body) }
            return checkpoint
        }
    }
}
