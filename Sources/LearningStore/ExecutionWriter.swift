// Group-commit ingest: callers enqueue execution records into one bounded queue; writer threads
// (each with its own connection) drain everything queued into one transaction (one multi-row
// INSERT, or COPY for large batches), commit, and only then resume the callers. Event ids are
// claimed in agents.execution_event_ids (its primary key makes a retry store nothing twice) in the
// same statement or transaction as the rows.
import Dispatch
import Foundation
import LearningCore
import Synchronization
import LearningRepository

/// Settings of the group-commit writer.
public struct IngestSettings: Sendable, Equatable {
    /// Records that may wait in the queue; beyond it callers get `overloaded` (memory stays bounded).
    public var queueCapacity = 50_000
    /// Most records written by one transaction.
    public var maxBatchRows = 5_000
    /// Writer threads, each with its own connection (at most `database.max_connections` - 1).
    /// While one writer commits, another starts only on a backlog of `parallelBatchRows` rows:
    /// every commit costs PostgreSQL ~290 µs of CPU besides ~9 µs per row (measured with
    /// pgbench on a 2-core machine), so an idle writer that took the first rows to arrive would
    /// split a stream of single records into twice as many, half as large transactions (64 unary
    /// callers: 15 rows per commit with two eager writers, 20-28 with one at a time, and ~30%
    /// less PostgreSQL CPU per call). Large batches do overlap, one writer's COPY with the
    /// other's WAL flush.
    public var writers = 2
    /// Rows that must be waiting before a second writer starts a transaction beside a busy one.
    public var parallelBatchRows = 256

    /// Defaults.
    public init() {}
}

/// The group-commit writer of `agents.execution_log`.
final class ExecutionWriter: Sendable {
    /// How a caller waiting for its records' commit is resumed: an async caller's continuation,
    /// or the function of a caller that is not async (the transport's task-free unary path).
    enum Completion: @unchecked Sendable {
        /// Unchecked: the checked variant costs an allocation per call on the ingest path.
        case continuation(UnsafeContinuation<ArraySlice<IngestAck>, any Error>)
        case callback(@Sendable (Result<ArraySlice<IngestAck>, any Error>) -> Void)

        func resume(returning acks: ArraySlice<IngestAck>) {
            switch self {
            case .continuation(let continuation): continuation.resume(returning: acks)
            case .callback(let callback): callback(.success(acks))
            }
        }

        func resume(throwing error: any Error) {
            switch self {
            case .continuation(let continuation): continuation.resume(throwing: error)
            case .callback(let callback): callback(.failure(error))
            }
        }
    }

    private struct Group: Sendable {
        let records: [ExecutionRecord]
        /// Resumed exactly once: with this group's part of the batch's acks after the commit (a
        /// slice: no copy per caller), or with the batch's error (every path of `writerLoop`,
        /// `failQueued` and `enqueue` ends a group it took).
        let completion: Completion
    }

    private struct Queue {
        var groups = FIFOQueue<Group>(compactAfter: 4096)
        var rows = 0
        var closed = false
        /// Writers between taking a batch and resuming its callers.
        var busyWriters = 0
        /// The most writers ever busy at once.
        var peakBusyWriters = 0
    }

    private let condition = NSCondition()
    private nonisolated(unsafe) var queue = Queue() // guarded by `condition`
    private let settings: IngestSettings
    private let health: DatabaseHealth
    private let connectedWriters = Atomic<Int>(0)
    private let stoppedWriters = Atomic<Int>(0)
    /// Recent rows per second, for the retry advice of `overloaded`.
    private let rate = Mutex<Double>(10_000)
    private let counters = Mutex<(batches: Int, rows: Int)>((0, 0))

    /// Where committed rows wait for the change feed.
    let ownWrites: OwnWrites

    init(url: String, settings: IngestSettings, health: DatabaseHealth, ownWrites: OwnWrites = OwnWrites()) {
        self.settings = settings
        self.health = health
        self.ownWrites = ownWrites
        for i in 0..<max(1, settings.writers) {
            let thread = Thread { [self] in
                self.writerLoop(ConnectionSlot(url: url, name: "learning-system-writer-\(i)", health: health))
            }
            thread.name = "pg-writer-\(i)"
            thread.start()
        }
    }

    /// (transactions, rows) written so far.
    var stats: (batches: Int, rows: Int) { counters.withLock { $0 } }

    /// True while at least one writer thread holds a connection.
    var isConnected: Bool { connectedWriters.load(ordering: .relaxed) > 0 }

    /// Rows callers have been admitted with and not yet released (see `admit`).
    private let admitted = Atomic<Int>(0)

    /// Admits `n` rows of a caller that will validate and then write them; throws `overloaded`
    /// when the rows admitted and not yet released would exceed the queue's capacity. Checked
    /// before any per-record work, so under overload a refusal costs next to nothing and the
    /// records held in memory on their way to the queue stay bounded. Pair with `release`.
    func admit(_ n: Int) throws {
        let after = admitted.add(n, ordering: .relaxed).newValue
        if after > settings.queueCapacity && after != n {
            admitted.subtract(n, ordering: .relaxed)
            throw StoreError.overloaded(retryAfter: retryAdvice(backlog: after - n))
        }
    }

    /// Releases rows admitted by `admit`.
    func release(_ n: Int) { admitted.subtract(n, ordering: .relaxed) }

    /// Rows admitted and not yet released.
    var admittedRows: Int { admitted.load(ordering: .relaxed) }

    /// The most transactions the writers ever had open at once.
    var peakConcurrentBatches: Int {
        condition.lock()
        defer { condition.unlock() }
        return queue.peakBusyWriters
    }

    /// Rows waiting in the queue.
    var queuedRows: Int {
        condition.lock()
        defer { condition.unlock() }
        return queue.rows
    }

    /// Enqueues records and returns once their transaction committed.
    func write(_ records: [ExecutionRecord]) async throws -> ArraySlice<IngestAck> {
        if records.isEmpty { return [] }
        return try await withUnsafeThrowingContinuation { continuation in
            enqueue(records, .continuation(continuation))
        }
    }

    /// Enqueues records; `completion` is called once, from a writer thread after their
    /// transaction committed, or at once from this call when they are refused. It must not block:
    /// the writer's next commit waits for it.
    func write(_ records: [ExecutionRecord], completion: @escaping @Sendable (Result<ArraySlice<IngestAck>, any Error>) -> Void) {
        if records.isEmpty { return completion(.success([])) }
        enqueue(records, .callback(completion))
    }

    private func enqueue(_ records: [ExecutionRecord], _ completion: Completion) {
        if records.count > settings.queueCapacity {
            return completion.resume(throwing: StoreError.invalidInput(
                "batch of \(records.count) records exceeds the ingest queue (\(settings.queueCapacity))"))
        }
        if connectedWriters.load(ordering: .relaxed) == 0 {
            return completion.resume(throwing: StoreError.unavailable(health.lastError ?? "database not connected"))
        }
        // Refuse before validating: a rejected caller must cost next to nothing.
        if let advice = overloadAdvice(adding: records.count) {
            return completion.resume(throwing: StoreError.overloaded(retryAfter: advice))
        }
        do {
            for r in records { try Self.validate(r) }
        } catch {
            return completion.resume(throwing: error)
        }
        condition.lock()
        if queue.closed {
            condition.unlock()
            return completion.resume(throwing: StoreError.closed)
        }
        if queue.rows + records.count > settings.queueCapacity {
            let backlog = queue.rows
            condition.unlock()
            return completion.resume(throwing: StoreError.overloaded(retryAfter: retryAdvice(backlog: backlog)))
        }
        queue.groups.append(Group(records: records, completion: completion))
        queue.rows += records.count
        // An idle writer takes these now if no other is committing, or on a backlog; else the
        // busy writer takes them when its commit is done (no wake-up per record).
        if queue.busyWriters == 0 || queue.rows >= settings.parallelBatchRows { condition.broadcast() }
        condition.unlock()
    }

    /// Retry advice when `adding` more rows would overflow the queue, else nil.
    private func overloadAdvice(adding n: Int) -> Double? {
        condition.lock()
        let backlog = queue.rows
        condition.unlock()
        return backlog + n > settings.queueCapacity ? retryAdvice(backlog: backlog) : nil
    }

    /// Seconds until the backlog should have drained at the recent write rate (0.05 ... 5).
    private func retryAdvice(backlog: Int) -> Double {
        let perSecond = rate.withLock { $0 }
        let wait = min(5.0, max(0.05, Double(backlog) / max(perSecond, 1)))
        return (wait * 100).rounded(.up) / 100
    }

    /// Stops accepting records; writers finish what is queued, then exit.
    func shutdown() {
        condition.lock()
        queue.closed = true
        condition.broadcast()
        condition.unlock()
    }

    /// Waits (blocking, off the cooperative pool) until every writer thread exited.
    func waitStopped(timeout: Double) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while stoppedWriters.load(ordering: .acquiring) < max(1, settings.writers) {
            if Date() > deadline { return false }
            usleep(10_000)
        }
        return true
    }

    /// Rejects what PostgreSQL would reject, before it can fail a whole shared batch: the one check
    /// of a storable execution (`ExecutionRecord.checkStorable`, which the API's validation runs too).
    static func validate(_ r: ExecutionRecord) throws(StoreError) {
        do {
            try r.checkStorable()
        } catch {
            throw StoreError.invalidInput(error.description)
        }
    }

    // MARK: - Writer thread

    private func writerLoop(_ slot: ConnectionSlot) {
        var connected = false
        func setConnected(_ up: Bool) {
            if up != connected {
                connected = up
                connectedWriters.add(up ? 1 : -1, ordering: .relaxed)
            }
        }
        defer {
            setConnected(false)
            slot.close()
            stoppedWriters.add(1, ordering: .releasing)
        }
        while true {
            // Keep a connection: reconnect with backoff by itself, failing queued callers meanwhile.
            if !connected {
                do {
                    _ = try slot.get()
                    setConnected(true)
                } catch {
                    // Queued callers wait for another writer that is connected; without one they
                    // get `unavailable` now rather than after the outage.
                    if connectedWriters.load(ordering: .relaxed) == 0 {
                        failQueued(with: StoreError.unavailable(health.lastError ?? "\(error)"))
                    }
                    if isClosedAndEmpty() { return }
                    let pause = max(0.01, slot.secondsUntilRetry)
                    condition.lock()
                    _ = condition.wait(until: Date(timeIntervalSinceNow: pause))
                    condition.unlock()
                    continue
                }
            }
            guard let batch = takeBatch() else { return }
            defer { finishedBatch(handingOver: !connected) }
            let started = DispatchTime.now()
            do {
                let records = batch.flatMap(\.records)
                let acks = try slot.run { c in try Self.insert(records, on: c) }
                noteCommitted(acks)
                // Counted before the callers resume, so a caller that reads the figures after its
                // acknowledgement sees its own batch in them.
                noteRate(rows: records.count, since: started)
                var offset = 0
                for g in batch {
                    g.completion.resume(returning: acks[offset..<offset + g.records.count])
                    offset += g.records.count
                }
            } catch let error as StoreError {
                if case .unavailable = error {
                    // This connection broke: its batch may or may not have committed, so its callers
                    // get `unavailable` (a retry with the same event id is answered as a duplicate).
                    // The queue waits for the reconnect; only if that fails is it failed too.
                    setConnected(false)
                    for g in batch { g.completion.resume(throwing: error) }
                } else if batch.count > 1 {
                    // One caller's bad record must not fail the others: retry each group alone.
                    for g in batch {
                        do {
                            let acks = try slot.run { c in try Self.insert(g.records, on: c) }
                            noteCommitted(acks)
                            g.completion.resume(returning: acks[...])
                        } catch {
                            g.completion.resume(throwing: error)
                            if case StoreError.unavailable = error { setConnected(false) }
                        }
                    }
                } else {
                    batch[0].completion.resume(throwing: error)
                }
            } catch {
                for g in batch { g.completion.resume(throwing: error) }
            }
        }
    }

    /// Tells the change feed which rows this commit stored (not the duplicates).
    private func noteCommitted(_ acks: [IngestAck]) {
        var ids: [Int64] = []
        ids.reserveCapacity(acks.count)
        for ack in acks where !ack.duplicate { ids.append(ack.id) }
        ownWrites.committed(ids)
    }

    private func isClosedAndEmpty() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        return queue.closed && queue.groups.isEmpty
    }

    /// Blocks until this writer should write: records are queued and no other writer is
    /// committing, or `parallelBatchRows` are waiting (or the writer is shutting down). Takes whole
    /// groups up to `maxBatchRows` (at least one); pair with `finishedBatch`.
    private func takeBatch() -> [Group]? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            let empty = queue.groups.isEmpty
            if empty && queue.closed { return nil }
            if !empty && (queue.busyWriters == 0 || queue.rows >= settings.parallelBatchRows || queue.closed) { break }
            condition.wait()
        }
        queue.busyWriters += 1
        queue.peakBusyWriters = max(queue.peakBusyWriters, queue.busyWriters)
        var batch: [Group] = []
        var rows = 0
        while let g = queue.groups.first {
            if !batch.isEmpty && rows + g.records.count > settings.maxBatchRows { break }
            batch.append(g)
            rows += g.records.count
            _ = queue.groups.popFirst()
        }
        queue.rows -= rows
        return batch
    }

    /// Ends a batch taken by `takeBatch` (committed or failed). A writer that goes on takes what
    /// queued meanwhile itself; one that lost its connection (`handingOver`) wakes an idle one.
    private func finishedBatch(handingOver: Bool) {
        condition.lock()
        queue.busyWriters -= 1
        if handingOver && !queue.groups.isEmpty { condition.broadcast() }
        condition.unlock()
    }

    private func failQueued(with error: StoreError) {
        condition.lock()
        let rest = queue.groups.removeAll()
        queue.rows = 0
        condition.unlock()
        for g in rest { g.completion.resume(throwing: error) }
    }

    private func noteRate(rows: Int, since start: DispatchTime) {
        counters.withLock { $0.batches += 1; $0.rows += rows }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        guard seconds > 0 else { return }
        let observed = Double(rows) / seconds * Double(max(1, settings.writers))
        rate.withLock { $0 = $0 * 0.9 + observed * 0.1 }
    }

    // MARK: - SQL

    /// One statement, one transaction (autocommit: the reply comes after the commit). Ids are drawn
    /// in input order; each event id is claimed in `execution_event_ids` (ON CONFLICT DO NOTHING:
    /// a claim held by a transaction in flight is waited for), and only the rows without event id
    /// or with a claim won are stored. They are inserted in input order (ORDER BY ord), so
    /// RETURNING lists them in input order too, minus the duplicates; `matchReturned` matches them
    /// up and checks it. Claims go in event-id order (the first record of an id in the batch wins),
    /// so two statements claiming the same ids wait for each other in one order, never in a cycle.
    static let insertSQL = """
        WITH t AS (
            SELECT nextval('agents.execution_log_id_seq'::regclass) AS id, t.*
            FROM unnest($1::varchar[], $2::uuid[], $3::varchar[], $4::float8[], $5::bool[], $6::text[],
                        $7::jsonb[], $8::timestamp[], $9::text[], $10::text[]) WITH ORDINALITY
                 AS t(agent_name, task_id, task_type, execution_time, success, error_message, resource_usage, ts, event_id, task_ref, ord)
        ), claimed AS (
            INSERT INTO agents.execution_event_ids AS k (event_id, execution_id, timestamp)
            SELECT event_id, id, ts FROM t WHERE event_id IS NOT NULL ORDER BY event_id, ord
            ON CONFLICT (event_id) DO NOTHING
            RETURNING k.execution_id
        )
        INSERT INTO agents.execution_log AS e
            (id, agent_name, task_id, task_type, execution_time, success, error_message, resource_usage, timestamp, event_id, task_ref)
        SELECT id, agent_name, task_id, task_type, execution_time, success, error_message, resource_usage, ts, event_id, task_ref
        FROM t WHERE event_id IS NULL OR id IN (SELECT execution_id FROM claimed)
        ORDER BY ord
        RETURNING e.id, e.event_id
        """

    /// The statement for batches in which no record has an event id (nothing to claim): a plain
    /// INSERT, ids from the column default.
    static let insertWithoutEventIDsSQL = """
        INSERT INTO agents.execution_log AS e
            (agent_name, task_id, task_type, execution_time, success, error_message, resource_usage, timestamp, event_id, task_ref)
        SELECT agent_name, task_id, task_type, execution_time, success, error_message, resource_usage, ts, event_id, task_ref
        FROM unnest($1::varchar[], $2::uuid[], $3::varchar[], $4::float8[], $5::bool[], $6::text[],
                    $7::jsonb[], $8::timestamp[], $9::text[], $10::text[]) WITH ORDINALITY
             AS t(agent_name, task_id, task_type, execution_time, success, error_message, resource_usage, ts, event_id, task_ref, ord)
        ORDER BY ord
        RETURNING e.id, e.event_id
        """

    /// The execution ids claimed for event ids (committed claims only).
    static let lookupSQL = "SELECT event_id, execution_id FROM agents.execution_event_ids WHERE event_id = ANY($1::text[])"

    /// Writes records in one transaction (one autocommit statement); acks in input order.
    static func insert(_ records: [ExecutionRecord], on c: PGConnection, attempt: Int = 0) throws -> [IngestAck] {
        if records.count >= copyThreshold, attempt == 0 {
            do {
                return try copyInsert(records, on: c)
            } catch StoreError.alreadyExists {
                // Another transaction stored one of these event ids after the look-up: nothing of
                // this COPY was committed; the INSERT ... ON CONFLICT path sorts it out.
            }
        }
        // Binary arrays: PostgreSQL reads them with the types' receive functions (no array,
        // number or timestamp parsing), and no String is built per field.
        let n = records.count
        var agent = PGBinaryArray(.varchar, count: n, bytesPerElement: 16)
        var task = PGBinaryArray(.uuid, count: n, bytesPerElement: 16)
        var type = PGBinaryArray(.varchar, count: n, bytesPerElement: 16)
        var time = PGBinaryArray(.float8, count: n, bytesPerElement: 8)
        var success = PGBinaryArray(.bool, count: n, bytesPerElement: 1)
        var error = PGBinaryArray(.text, count: n, bytesPerElement: 0)
        var usage = PGBinaryArray(.jsonb, count: n, bytesPerElement: 48)
        var ts = PGBinaryArray(.timestamp, count: n, bytesPerElement: 8)
        var event = PGBinaryArray(.text, count: n, bytesPerElement: 0)
        var reference = PGBinaryArray(.text, count: n, bytesPerElement: 0)
        var json: [UInt8] = []
        for r in records {
            agent.append(text: r.agentName)
            task.append(uuid: r.taskID)
            type.append(text: r.taskType)
            time.append(float8: r.executionTime)
            success.append(bool: r.success)
            error.append(text: r.errorMessage)
            json.removeAll(keepingCapacity: true)
            usage.append(jsonb: PGText.appendResourceUsageJSON(r.resourceUsage, to: &json) ? json : nil)
            ts.append(timestamp: r.timestamp)
            event.append(text: r.eventID)
            reference.append(text: r.taskRef)
        }
        let params: [PGParam] = [agent, task, type, time, success, error, usage, ts, event, reference].map { .bytes($0.bytes) }
        let anyEventID = records.contains { $0.eventID != nil }
        let rows = anyEventID
            ? try c.queryPrepared("ingest_executions", insertSQL, params)
            : try c.queryPrepared("ingest_executions_plain", insertWithoutEventIDsSQL, params)
        var acks = try matchReturned(records, ids: (0..<rows.count).map { rows.int64($0, 0) ?? 0 },
                                     eventIDs: (0..<rows.count).map { rows[$0, 1] })
        // Duplicates of event ids claimed by earlier transactions: those claims are committed (ON
        // CONFLICT waited for them), so a later statement finds them.
        let lookup = (0..<records.count).compactMap { acks[$0].id == 0 ? records[$0].eventID : nil }
        if !lookup.isEmpty {
            let found = try c.queryPrepared("ingest_lookup", lookupSQL, [.text(PGText.array(lookup))])
            var ids: [String: Int64] = [:]
            for r in 0..<found.count { if let e = found[r, 0], let id = found.int64(r, 1) { ids[e] = id } }
            var vanished: [Int] = []
            for i in 0..<acks.count where acks[i].id == 0 {
                if let e = records[i].eventID, let id = ids[e] { acks[i].id = id } else { vanished.append(i) }
            }
            if !vanished.isEmpty {
                // The conflicting claim was deleted meanwhile (retention): store these records now.
                // They all carry event ids, so this cannot store anything twice.
                guard attempt < 3 else {
                    throw StoreError.retryable("event ids conflicted with rows that keep disappearing")
                }
                let again = try insert(vanished.map { records[$0] }, on: c, attempt: attempt + 1)
                for (k, i) in vanished.enumerated() { acks[i] = again[k] }
            }
        }
        return acks
    }

    /// Batches at least this large go through COPY (PostgreSQL's multi-row insert path).
    static let copyThreshold = 256

    /// Writes a large batch with COPY inside one transaction: event ids stored before are answered
    /// from a look-up, the rest get ids from the table's sequence, their event ids are claimed, and
    /// they are copied. A claim that conflicts (another transaction stored the id after the
    /// look-up) fails the transaction with `alreadyExists`; `insert` then takes the INSERT path.
    static func copyInsert(_ records: [ExecutionRecord], on c: PGConnection) throws -> [IngestAck] {
        try c.transaction {
            // An xid before any id is drawn: the change feed then sees this transaction as in
            // flight for as long as its ids are missing from the table.
            try c.queryPrepared("ingest_xid", "SELECT pg_current_xact_id()", [])
            var existing: [String: Int64] = [:]
            let events = records.compactMap(\.eventID)
            if !events.isEmpty {
                let found = try c.queryPrepared("ingest_lookup", lookupSQL, [.text(PGText.array(events))])
                for r in 0..<found.count { if let e = found[r, 0], let id = found.int64(r, 1) { existing[e] = id } }
            }
            var acks = [IngestAck](repeating: IngestAck(id: 0, duplicate: true), count: records.count)
            var fresh: [Int] = []
            var firstInBatch: [String: Int] = [:]
            var sameAs: [(Int, Int)] = []
            for (i, r) in records.enumerated() {
                if let e = r.eventID {
                    if let id = existing[e] { acks[i].id = id; continue }
                    if let j = firstInBatch[e] { sameAs.append((i, j)); continue }
                    firstInBatch[e] = i
                }
                fresh.append(i)
            }
            if !fresh.isEmpty {
                let ids = try c.queryPrepared("ingest_ids",
                    "SELECT nextval('agents.execution_log_id_seq'::regclass) FROM generate_series(1, $1::int)",
                    [.int(fresh.count)])
                guard ids.count == fresh.count else { throw StoreError.database(sqlState: "", message: "ingest: id allocation") }
                var data: [UInt8] = []
                data.reserveCapacity(fresh.count * 200)
                var scratch: [UInt8] = []
                var claimIDs: [Int64] = []
                var claimEvents: [String] = []
                var claimTimes = PGBinaryArray(.timestamp, count: firstInBatch.count, bytesPerElement: 8)
                for (k, i) in fresh.enumerated() {
                    let id = ids.int64(k, 0) ?? 0
                    acks[i] = IngestAck(id: id, duplicate: false)
                    CopyText.appendRow(id: id, records[i], to: &data, scratch: &scratch)
                    if let e = records[i].eventID {
                        claimIDs.append(id)
                        claimEvents.append(e)
                        claimTimes.append(timestamp: records[i].timestamp)
                    }
                }
                if !claimIDs.isEmpty {
                    // In event-id order, like the INSERT path's claims (no lock cycle between them).
                    try c.queryPrepared("ingest_claims", """
                        INSERT INTO agents.execution_event_ids (event_id, execution_id, timestamp)
                        SELECT * FROM unnest($1::text[], $2::int8[], $3::timestamp[]) ORDER BY 1
                        """, [.text(PGText.array(claimEvents)), .text(PGText.array(claimIDs)), .bytes(claimTimes.bytes)])
                }
                let copied = try c.copyIn("""
                    COPY agents.execution_log (id, agent_name, task_id, task_type, execution_time, success, error_message,
                        resource_usage, timestamp, event_id, task_ref) FROM STDIN
                    """, data: data)
                guard copied == fresh.count else {
                    throw StoreError.database(sqlState: "", message: "ingest: COPY stored \(copied) of \(fresh.count) rows")
                }
            }
            for (i, j) in sameAs { acks[i] = IngestAck(id: acks[j].id, duplicate: true) }
            return acks
        }
    }

    /// Matches RETURNING rows (input order, conflicting rows absent) to the input records. Any
    /// inconsistency (ids not ascending, an event id out of place) is an error, never a wrong ack.
    static func matchReturned(_ records: [ExecutionRecord], ids: [Int64], eventIDs: [String?]) throws -> [IngestAck] {
        var acks: [IngestAck] = []
        acks.reserveCapacity(records.count)
        var next = 0
        var firstInBatch: [String: Int64] = [:]
        var lastID: Int64 = 0
        for r in records {
            let takesNext = next < ids.count && eventIDs[next] == r.eventID
                && (r.eventID == nil || firstInBatch[r.eventID!] == nil)
            if takesNext {
                guard ids[next] > lastID else {
                    throw StoreError.database(sqlState: "", message: "ingest: RETURNING rows out of input order")
                }
                lastID = ids[next]
                if let e = r.eventID { firstInBatch[e] = ids[next] }
                acks.append(IngestAck(id: ids[next], duplicate: false))
                next += 1
            } else if let e = r.eventID {
                acks.append(IngestAck(id: firstInBatch[e] ?? 0, duplicate: true)) // 0: look it up
            } else {
                throw StoreError.database(sqlState: "", message: "ingest: a record without event id was not returned")
            }
        }
        guard next == ids.count else {
            throw StoreError.database(sqlState: "", message: "ingest: \(ids.count - next) returned rows matched no record")
        }
        return acks
    }

}

/// COPY's text format: tab-separated, `\N` for NULL, backslash escapes.
enum CopyText {
    static func appendField(_ s: String?, to out: inout [UInt8]) {
        guard let s else { out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "N")); return }
        appendEscaped(s.utf8, to: &out)
    }

    /// Appends bytes with COPY's escapes (backslash, tab, newline, carriage return).
    static func appendEscaped<Bytes: Sequence<UInt8>>(_ bytes: Bytes, to out: inout [UInt8]) {
        for b in bytes {
            switch b {
            case UInt8(ascii: "\\"): out.append(b); out.append(b)
            case UInt8(ascii: "\t"): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "t"))
            case UInt8(ascii: "\n"): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "n"))
            case UInt8(ascii: "\r"): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "r"))
            default: out.append(b)
            }
        }
    }

    /// Appends one row; `scratch` is reused between rows for the resource usage JSON.
    static func appendRow(id: Int64, _ r: ExecutionRecord, to out: inout [UInt8], scratch: inout [UInt8]) {
        let tab = UInt8(ascii: "\t")
        if id < 0 { out.append(UInt8(ascii: "-")) }
        PGText.appendDecimal(id.magnitude, to: &out); out.append(tab)
        appendField(r.agentName, to: &out); out.append(tab)
        appendField(r.taskID, to: &out); out.append(tab)
        appendField(r.taskType, to: &out); out.append(tab)
        if let t = r.executionTime, t.isFinite {
            PGText.appendJSONNumber(t, to: &out)
        } else {
            appendField(r.executionTime.map(PGText.double), to: &out)
        }
        out.append(tab)
        out.append(r.success ? UInt8(ascii: "t") : UInt8(ascii: "f")); out.append(tab)
        appendField(r.errorMessage, to: &out); out.append(tab)
        scratch.removeAll(keepingCapacity: true)
        if PGText.appendResourceUsageJSON(r.resourceUsage, to: &scratch) {
            appendEscaped(scratch, to: &out)
        } else {
            out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "N"))
        }
        out.append(tab)
        appendTimestamp(r.timestamp, to: &out); out.append(tab)
        appendField(r.eventID, to: &out); out.append(tab)
        appendField(r.taskRef, to: &out)
        out.append(UInt8(ascii: "\n"))
    }

    /// `YYYY-MM-DD HH:MM:SS.ffffff` in UTC (years 1...9999, checked by `validate`).
    static func appendTimestamp(_ date: Date, to out: inout [UInt8]) {
        let micros = PGText.unixMicroseconds(date)
        var days = micros / 86_400_000_000
        var rest = micros % 86_400_000_000
        if rest < 0 { rest += 86_400_000_000; days -= 1 }
        let (y, m, d) = civilDate(daysSinceEpoch: days)
        func digits(_ v: Int64, _ width: Int) {
            var divisor: Int64 = 1
            for _ in 1..<width { divisor *= 10 }
            while divisor > 0 {
                out.append(UInt8(ascii: "0") + UInt8(v / divisor % 10))
                divisor /= 10
            }
        }
        digits(y, 4); out.append(UInt8(ascii: "-")); digits(m, 2); out.append(UInt8(ascii: "-")); digits(d, 2)
        out.append(UInt8(ascii: " "))
        let secs = rest / 1_000_000
        digits(secs / 3600, 2); out.append(UInt8(ascii: ":")); digits(secs / 60 % 60, 2); out.append(UInt8(ascii: ":"))
        digits(secs % 60, 2); out.append(UInt8(ascii: ".")); digits(rest % 1_000_000, 6)
    }
}
