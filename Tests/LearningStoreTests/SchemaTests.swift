import Foundation
import LearningTestDatabase
import Testing
@testable import LearningStore
import LearningCore
import LearningRepository

@Suite("Schema and errors", .serialized)
struct SchemaTests {
    @Test func migrationsApplyOnceWhenTwoInstancesStartTogetherAndAgain() async throws {
        let url = try TestDatabase.create()
        defer { TestDatabase.drop(url) }
        // Two "instances" migrate at the same moment on their own connections and threads.
        let results = Mutex2<[[Int]]>([])
        let errors = Mutex2<[String]>([])
        let threads = (0..<2).map { _ in
            Thread {
                do {
                    let c = try PGConnection(url: url)
                    let applied = try Migrations.apply(on: c)
                    results.mutate { $0.append(applied) }
                } catch { errors.mutate { $0.append("\(error)") } }
            }
        }
        threads.forEach { $0.start() }
        #expect(await eventually(30) { results.value.count + errors.value.count == 2 })
        #expect(errors.value.isEmpty)
        let all = results.value.flatMap { $0 }.sorted()
        #expect(all == Migrations.all.map(\.version), "each migration applied exactly once: \(results.value)")
        // A third run, later, has nothing to do.
        let c = try PGConnection(url: url)
        #expect(try Migrations.apply(on: c) == [])
        let recorded = try c.query("SELECT version FROM agents.schema_migrations ORDER BY version").rows.map { $0[0]! }
        #expect(recorded == Migrations.all.map { String($0.version) })
    }

    @Test func guideTablesHaveTheGuideColumnsExactly() async throws {
        try await TestDatabase.withStore { _, url in
            let c = try PGConnection(url: url)
            func columns(_ table: String) throws -> [String] {
                try c.query("""
                    SELECT column_name || ' ' || data_type FROM information_schema.columns
                    WHERE table_schema = 'agents' AND table_name = $1 ORDER BY ordinal_position
                    """, [.text(table)]).rows.map { $0[0]! }
            }
            let ts = "timestamp without time zone"
            #expect(Array(try columns("performance_metrics").prefix(9)) == [
                "id integer", "agent_name character varying", "task_type character varying",
                "avg_execution_time double precision", "success_rate double precision", "resource_cpu double precision",
                "resource_memory double precision", "coordination_score double precision", "last_updated \(ts)"])
            // Guide columns, but a bigint id (migration 4: 10-100 M rows over the retention window).
            #expect(Array(try columns("execution_log").prefix(9)) == [
                "id bigint", "agent_name character varying", "task_id uuid", "task_type character varying",
                "execution_time double precision", "success boolean", "error_message text", "resource_usage jsonb",
                "timestamp \(ts)"])
            #expect(try columns("execution_log").contains("event_id text"))
            #expect(try columns("ml_models") == [
                "id integer", "model_name character varying", "model_type character varying", "version character varying",
                "accuracy double precision", "trained_on \(ts)", "model_data bytea", "hyperparameters jsonb"])
            let emb = try columns("agent_embeddings")
            #expect(emb.count == 5)
            #expect(emb[0] == "id integer" && emb[1] == "agent_name character varying" && emb[4] == "created_at \(ts)")
            // The guide's own INSERT works unchanged; its monitoring query names pg_stat_user_tables'
            // column `tablename`, which PostgreSQL calls `relname`, so it is checked with that name.
            try c.query("""
                INSERT INTO agents.execution_log (agent_name, task_id, execution_time, success, timestamp)
                VALUES ($1, $2, $3, $4, NOW())
                """, [.text("guide"), .text(UUID().uuidString), .double(1.0), .bool(true)])
            let stats = try c.query("""
                SELECT schemaname,relname,n_tup_ins,n_tup_upd,n_tup_del FROM pg_stat_user_tables
                WHERE schemaname = 'agents' ORDER BY n_tup_ins DESC
                """)
            #expect(stats.count >= 4)
        }
    }

    @Test func sqlStatesMapToTypedErrors() async throws {
        #expect(StoreError(sqlState: "23505", message: "x") == .alreadyExists("x"))
        #expect(StoreError(sqlState: "08006", message: "x") == .unavailable("x"))
        #expect(StoreError(sqlState: "57P01", message: "x") == .unavailable("x"))
        #expect(StoreError(sqlState: "40001", message: "x") == .retryable("x"))
        #expect(StoreError(sqlState: "40P01", message: "x") == .retryable("x"))
        #expect(StoreError(sqlState: "22P02", message: "x") == .invalidInput("x"))
        #expect(StoreError(sqlState: "42601", message: "x") == .database(sqlState: "42601", message: "x"))
        try await TestDatabase.withStore { store, url in
            let c = try PGConnection(url: url)
            func raised(_ code: String) -> StoreError? {
                do {
                    try c.query("SELECT agents.raise_for_test($1)", [.text(code)])
                    return nil
                } catch { return error as? StoreError }
            }
            try c.execute("""
                CREATE FUNCTION agents.raise_for_test(code text) RETURNS void LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'raised %', code USING ERRCODE = code; END $$
                """)
            #expect(raised("40001") == .retryable("raised 40001"))
            #expect(raised("40P01") == .retryable("raised 40P01"))
            #expect(raised("57P01") == .unavailable("raised 57P01"))
            #expect(raised("08006") == .unavailable("raised 08006"))
            #expect(c.isHealthy)
            // Real violations through the repository API.
            let a = AgentDefinition(name: "dup", registeredAt: Date())
            _ = try await store.insertAgent(a)
            await #expect(throws: StoreError.self) { _ = try await store.insertAgent(a) }
            do { _ = try await store.insertAgent(a) } catch let e as StoreError {
                guard case .alreadyExists = e else { Issue.record("expected alreadyExists, got \(e)"); return }
            }
            do { try c.query("SELECT $1::uuid", [.text("not-a-uuid")]) } catch let e as StoreError {
                guard case .invalidInput = e else { Issue.record("expected invalidInput, got \(e)"); return }
            }
            do { try c.query("SELEC 1") } catch let e as StoreError {
                guard case .database(let state, _) = e, state == "42601" else { Issue.record("got \(e)"); return }
            }
        }
    }

    @Test func unreachableServerIsUnavailableAndHealthSaysDisconnected() async throws {
        var config = LearningConfig()
        config.database.url = "postgresql://claude_user@127.0.0.1:1/claude_auth"
        config.database.maxConnections = 2
        let started = Date()
        do {
            _ = try await LearningStore.open(config: config, waitForDatabase: 1)
            Issue.record("open succeeded against a closed port")
        } catch let e as StoreError {
            #expect(e.isRetryable)
            #expect(Date().timeIntervalSince(started) >= 1, "kept trying for the time it was given")
            guard case .unavailable = e else { Issue.record("expected unavailable, got \(e)"); return }
        }
    }

    @Test func healthTracksTheServer() async throws {
        try await TestDatabase.withStore { store, _ in
            #expect(store.health.isConnected)
            #expect(store.databaseState == "connected")
        }
    }
}

/// A tiny lock-protected box for test threads.
final class Mutex2<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var v: Value
    init(_ v: Value) { self.v = v }
    var value: Value { lock.lock(); defer { lock.unlock() }; return v }
    func mutate(_ f: (inout Value) -> Void) { lock.lock(); f(&v); lock.unlock() }
}
