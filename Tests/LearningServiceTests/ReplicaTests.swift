import Foundation
import LearningTestDatabase
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Several `learning-server` processes over one PostgreSQL database, and one reading from a
/// streaming standby (docs/SCALING.md). Real processes, real clients (curl, the `learning` CLI
/// over gRPC, psql), real replication.
@Suite("replicas and read replicas", .serialized)
struct ReplicaTests {
    /// How long a replica may take to show a write made through another replica or by psql: the
    /// change feed polls every 0.25 s; 5 s leaves room for a loaded 2-core machine.
    static let agreeWithin = 5.0
    /// How long a replica may take to serve a model another one trained: the model store is
    /// looked at every 2 s (`ModelKeeper.syncInterval`).
    static let modelWithin = 8.0
    /// How long the follower may take to lead once the leader stopped: the lease is tried every
    /// second, then the figures are reloaded from the stored aggregates.
    static let failoverWithin = 10.0

    @Test func twoReplicasAgreeAndOnlyTheLeaderRunsTheOncePerDatabaseWork() async throws {
        try await onOwnThread {
            let configPath = NSTemporaryDirectory() + "learning-replicas-\(UUID().uuidString).json"
            try #"{"performance": {"performance_tracking_interval": 1}}"#.write(toFile: configPath, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: configPath) }
            let environment = ["LEARNING_CONFIG_FILE": configPath]
            let a = try ServerProcess.start(environment: environment)
            var aStopped = false
            defer { if !aStopped { a.stop() } }
            let b = try ServerProcess.start(environment: environment, databaseURL: a.databaseURL)
            defer { b.stop() }
            let db = a.databaseURL

            // One leader, one follower.
            try wait("one leader and one follower, each counting two replicas", within: Self.agreeWithin) {
                try Self.role(a) == "leader" && Self.role(b) == "follower"
                    && Self.replication(a)?["replicas"] as? Int == 2 && Self.replication(b)?["replicas"] as? Int == 2
            }

            // Writes through A: REST (a batch), gRPC (the CLI's import: LogExecutions), and a
            // direct INSERT as the guide's asyncpg example does.
            let rest = (0..<40).map { i in
                #"{"agent_name":"rest-agent","task_type":"review","execution_time":\#(2.0 + Double(i % 5) * 0.25),"success":\#(i % 7 != 0)}"#
            }
            let (_, restStatus) = try Self.http("POST", a.port, "/executions/batch", body: #"{"executions":[\#(rest.joined(separator: ","))]}"#)
            #expect(restStatus == 200)
            let jsonl = NSTemporaryDirectory() + "learning-replicas-\(UUID().uuidString).jsonl"
            try (0..<40).map { i in
                #"{"agent_name":"grpc-agent","task_type":"review","execution_time":\#(3.0 + Double(i % 3)),"success":\#(i % 5 != 0),"task_id":"\#(UUID().uuidString.lowercased())"}"#
            }.joined(separator: "\n").write(toFile: jsonl, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: jsonl) }
            try TestEnvironment.run(try Self.cli(), ["--server", "127.0.0.1:\(a.port)", "import", jsonl, "--no-progress"])
            try TestEnvironment.psql(db, """
                INSERT INTO agents.execution_log (agent_name, task_type, execution_time, success)
                SELECT 'sql-agent', 'review', 1.5 + (g % 4) * 0.5, g % 6 <> 0 FROM generate_series(1, 40) g
                """)

            // B's figures are A's (and the table's) within the stated delay.
            for agent in ["rest-agent", "grpc-agent", "sql-agent"] {
                try wait("\(agent)'s performance agrees on both replicas", within: Self.agreeWithin) {
                    let (fromA, _) = try Self.http("GET", a.port, "/agents/\(agent)/performance")
                    let (fromB, _) = try Self.http("GET", b.port, "/agents/\(agent)/performance")
                    return Self.object(fromA)?["executions"] as? Int == 40 && fromA == fromB
                }
            }
            try wait("total executions agree with the table", within: Self.agreeWithin) {
                let count = try Self.sql(db, "SELECT count(*) FROM agents.execution_log")
                return try Self.total(a) == Int(count) && Self.total(b) == Int(count)
            }
            // Only the leader checkpoints: the stored aggregates count each row once (two
            // checkpointing replicas would add every row twice).
            try wait("the stored aggregates describe the table once", within: Self.agreeWithin) {
                try Self.sql(db, "SELECT (SELECT coalesce(sum(executions), 0) FROM agents.execution_aggregates) = (SELECT count(*) FROM agents.execution_log)") == "t"
            }

            // A retrain on A is picked up by B through the model store; both then predict and
            // recommend the same.
            let (_, retrainStatus) = try Self.http("POST", a.port, "/ml/retrain", body: "{}")
            #expect(retrainStatus == 200)
            let version = try #require(Self.lastSavedModel(a.log), "A saved no model:\n\(a.log.suffix(2000))")
            try wait("B serves A's model \(version)", within: Self.modelWithin) {
                b.log.contains("loaded model \(version) trained by another replica")
            }
            let predict = #"{"agent_name":"rest-agent","task_type":"review"}"#
            #expect(try Self.http("POST", a.port, "/predict", body: predict).0 == Self.http("POST", b.port, "/predict", body: predict).0)
            #expect(try Self.http("GET", a.port, "/recommendations?task_type=review").0
                    == Self.http("GET", b.port, "/recommendations?task_type=review").0)

            // An anomaly (a latency spike) written through the follower is stored once, by the
            // leader, and both list it; so are the insights.
            // A client watching the follower's live stream (the CLI over WatchInsights) gets it too.
            let watch = Process()
            watch.executableURL = URL(fileURLWithPath: try Self.cli())
            watch.arguments = ["watch", "--server", "127.0.0.1:\(b.port)", "--json"]
            let watched = ServerProcess.OutputBuffer()
            let watchOutput = Pipe()
            watchOutput.fileHandleForReading.readabilityHandler = { handle in watched.append(handle.availableData) }
            watch.standardOutput = watchOutput
            watch.standardError = Pipe()
            try watch.run()
            defer {
                if watch.isRunning { watch.interrupt() }
                watch.waitUntilExit()
                watchOutput.fileHandleForReading.readabilityHandler = nil
            }
            usleep(1_000_000)
            let spike = #"{"agent_name":"rest-agent","task_type":"review","execution_time":900,"success":true}"#
            let (spikeBody, spikeStatus) = try Self.http("POST", b.port, "/executions", body: spike)
            #expect((200...201).contains(spikeStatus), "\(String(decoding: spikeBody, as: UTF8.self))")
            let spikeID = try #require(Self.object(spikeBody)?["id"] as? Int)
            try wait("both list the latency spike of execution \(spikeID)", within: Self.agreeWithin) {
                let (fromA, _) = try Self.http("GET", a.port, "/analytics/anomalies?agent_name=rest-agent")
                let (fromB, _) = try Self.http("GET", b.port, "/analytics/anomalies?agent_name=rest-agent")
                let spikes = (Self.object(fromA)?["anomalies"] as? [[String: Any]] ?? []).filter {
                    ($0["execution_ids"] as? [Int] ?? []).contains(spikeID) || $0["execution_id"] as? Int == spikeID
                }
                return spikes.count == 1 && fromA == fromB
            }
            try wait("the follower streams the leader's anomaly to its watcher", within: Self.agreeWithin) {
                watched.value.split(separator: "\n").contains { $0.contains("\"anomaly\"") && $0.contains("rest-agent") }
            }
            let stored = try Self.sql(db, "SELECT count(*) FROM agents.insights WHERE execution_id = \(spikeID) OR \(spikeID) = ANY(execution_ids)")
            #expect(stored == "1", "the spike stored once, by the leader (got \(stored))")
            try wait("insights agree", within: Self.agreeWithin) {
                try Self.http("GET", a.port, "/analytics/insights").0 == Self.http("GET", b.port, "/analytics/insights").0
            }

            // Roll-ups, retention and the collaboration sums ran on A only.
            let runsA = try Self.leaderJobRuns(a), runsB = try Self.leaderJobRuns(b)
            #expect(runsB.isEmpty, "the follower ran leader jobs: \(runsB)")
            #expect((runsA["performance_rollup"] ?? 0) >= 2 && (runsA["retention"] ?? 0) >= 1 && (runsA["collaboration_sums"] ?? 0) >= 1,
                    "the leader's runs: \(runsA)")
            let rollUps = Int(try Self.sql(db, "SELECT count(DISTINCT last_updated) FROM agents.performance_metrics WHERE source = 'rollup'")) ?? -1
            let leaderRollUps = try Self.leaderJobRuns(a)["performance_rollup"] ?? 0
            #expect(rollUps >= 1 && rollUps <= leaderRollUps, "roll-up snapshots in the table (\(rollUps)) are the leader's (\(leaderRollUps))")

            // The leader stops: B leads, reloads its figures from the stored aggregates, runs
            // the roll-ups, and checkpoints what is written through it.
            #expect(a.stop() == 0)
            aStopped = true
            // Alone again, B's /status has the guide's keys only; /metrics/prometheus says it leads.
            try wait("B leads and runs the roll-ups", within: Self.failoverWithin) {
                let metrics = try Self.prometheus(b)
                return metrics["learning_replica_leader"] == 1 && metrics["learning_replicas"] == 1
                    && (metrics[#"learning_leader_job_runs_total{job="performance_rollup"}"#] ?? 0) >= 1
                    && b.log.contains("replica role changed (now leader)")
            }
            #expect(try Self.replication(b) == nil)
            let more = (0..<10).map { _ in #"{"agent_name":"sql-agent","task_type":"review","execution_time":2.0,"success":true}"# }
            #expect(try Self.http("POST", b.port, "/executions/batch", body: #"{"executions":[\#(more.joined(separator: ","))]}"#).1 == 200)
            try wait("B's figures and the stored aggregates match the table after the failover", within: Self.agreeWithin) {
                let count = Int(try Self.sql(db, "SELECT count(*) FROM agents.execution_log")) ?? -1
                return try Self.total(b) == count
                    && Self.sql(db, "SELECT coalesce(sum(executions), 0) FROM agents.execution_aggregates") == String(count)
            }
        }
    }

    @Test func aReadReplicaServesTheFeedWhileClientsReadTheirOwnWritesAtOnce() async throws {
        try await onOwnThread {
            guard let standby = ProcessInfo.processInfo.environment["LEARNING_TEST_STANDBY_URL"], !standby.isEmpty else {
                throw TestEnvironment.Missing(description: "LEARNING_TEST_STANDBY_URL is not set: run the tests with scripts/test.sh, which starts a standby of the test cluster (scripts/pg-cluster.sh standby)")
            }
            let primary = try TestEnvironment.freshDatabase()
            let name = String(URLComponents(string: primary)!.path.dropFirst())
            let replica = TestDatabase.url(standby, database: name)
            try wait("the standby has replayed CREATE DATABASE", within: 15) {
                (try? Self.sql(replica, "SELECT pg_is_in_recovery()")) == "t"
            }
            let server = try ServerProcess.start(environment: ["LEARNING_DATABASE_READ_URL": replica], databaseURL: primary)
            defer { server.stop() }
            let status = try Self.replication(server)
            #expect(status?["read_replica"] as? Bool == true)
            #expect(try Self.sql(replica, "SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name LIKE 'learning-system-read%'") == "t",
                    "the service reads from the standby")
            try wait("the lag is measured", within: Self.agreeWithin) {
                try Self.replication(server)?["replication_lag_bytes"] is Int
            }

            // The standby stops replaying: the feed (which reads there) sees nothing new ...
            try TestEnvironment.psql(replica, "SELECT pg_wal_replay_pause()")
            var resumed = false
            defer { if !resumed { try? TestEnvironment.psql(replica, "SELECT pg_wal_replay_resume()") } }
            // ... but a client reads its own writes at once (the service applies them itself).
            let own = (0..<5).map { _ in #"{"agent_name":"own-agent","task_type":"review","execution_time":2.5,"success":true}"# }
            #expect(try Self.http("POST", server.port, "/executions/batch", body: #"{"executions":[\#(own.joined(separator: ","))]}"#).1 == 200)
            #expect(Self.object(try Self.http("GET", server.port, "/agents/own-agent/performance").0)?["executions"] as? Int == 5)
            try TestEnvironment.psql(primary, """
                INSERT INTO agents.execution_log (agent_name, task_type, execution_time, success)
                SELECT 'outside-agent', 'review', 1.0 + g, true FROM generate_series(1, 7) g
                """)
            try wait("the lag shows in /status and /metrics/prometheus", within: Self.agreeWithin) {
                let bytes = try Self.replication(server)?["replication_lag_bytes"] as? Int ?? 0
                let gauge = try Self.prometheus(server)["learning_database_replication_lag_bytes"] ?? 0
                return bytes > 0 && gauge > 0
            }
            #expect(try Self.total(server) == 5, "rows the standby has not replayed are not in the figures yet")

            // Replay resumes: the outside rows arrive, the own writes are not counted again.
            try TestEnvironment.psql(replica, "SELECT pg_wal_replay_resume()")
            resumed = true
            try wait("the outside rows arrive through the standby", within: Self.agreeWithin) {
                Self.object(try Self.http("GET", server.port, "/agents/outside-agent/performance").0)?["executions"] as? Int == 7
            }
            #expect(Self.object(try Self.http("GET", server.port, "/agents/own-agent/performance").0)?["executions"] as? Int == 5)
            #expect(try Self.total(server) == 12)
            // Caught up: nothing waits, or (other tests write to this cluster too) the last
            // replayed transaction is recent.
            try wait("the lag is back under 2 s", within: Self.agreeWithin) {
                let lag = try Self.replication(server)
                return (lag?["replication_lag_seconds"] as? Double).map { $0 < 2 } == true && lag?["replication_lag_bytes"] is Int
            }
            try wait("the leader's checkpoint describes the table", within: Self.agreeWithin) {
                try Self.sql(primary, "SELECT coalesce(sum(executions), 0) FROM agents.execution_aggregates") == "12"
            }
        }
    }

    @Test func aReadURLThatIsNotAStandbyOfTheDatabaseStopsStartUpNamingTheKey() async throws {
        try await onOwnThread {
            let primary = try TestEnvironment.freshDatabase()
            let other = try TestEnvironment.freshDatabase()
            let error = #expect(throws: TestEnvironment.Missing.self) {
                try ServerProcess.start(environment: ["LEARNING_DATABASE_READ_URL": other], databaseURL: primary)
            }
            #expect(error?.description.contains("database.read_url") == true, "\(error?.description ?? "")")
            let garbage = #expect(throws: TestEnvironment.Missing.self) {
                try ServerProcess.start(environment: ["LEARNING_DATABASE_READ_URL": "standby-please"], databaseURL: primary)
            }
            #expect(garbage?.description.contains("database.read_url") == true, "\(garbage?.description ?? "")")
        }
    }

    // MARK: Helpers

    /// Polls `condition` every 100 ms until it holds; fails the test (throws) after `within` seconds.
    func wait(_ what: String, within seconds: Double, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        var lastError: (any Error)?
        while Date() < deadline {
            do {
                if try condition() { return }
            } catch {
                lastError = error
            }
            usleep(100_000)
        }
        throw TestEnvironment.Missing(description: "not within \(seconds) s: \(what)\(lastError.map { " (last error: \($0))" } ?? "")")
    }

    /// A request with curl; the body and the status.
    static func http(_ method: String, _ port: Int, _ path: String, body: String? = nil) throws -> (Data, Int) {
        var arguments = ["curl", "-s", "-X", method, "-w", "\n%{http_code}", "http://127.0.0.1:\(port)\(path)"]
        if let body { arguments += ["-H", "content-type: application/json", "--data-binary", body] }
        let text = try TestEnvironment.run("/usr/bin/env", arguments)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        return (Data(lines.dropLast().joined(separator: "\n").utf8), Int(lines.last ?? "") ?? 0)
    }

    static func object(_ data: Data) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    /// One value from psql.
    static func sql(_ url: String, _ query: String) throws -> String {
        try TestEnvironment.run("/usr/bin/env", ["psql", url, "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", query])
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func replication(_ server: ServerProcess) throws -> [String: Any]? {
        object(try http("GET", server.port, "/status").0)?["replication"] as? [String: Any]
    }

    static func role(_ server: ServerProcess) throws -> String? { try replication(server)?["role"] as? String }

    /// The samples of /metrics/prometheus by series (name and labels).
    static func prometheus(_ server: ServerProcess) throws -> [String: Double] {
        var samples: [String: Double] = [:]
        for line in String(decoding: try http("GET", server.port, "/metrics/prometheus").0, as: UTF8.self).split(separator: "\n")
        where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            samples[String(line[..<space])] = value
        }
        return samples
    }

    static func leaderJobRuns(_ server: ServerProcess) throws -> [String: Int] {
        try replication(server)?["leader_job_runs"] as? [String: Int] ?? [:]
    }

    /// `total_executions` of /analytics/performance (every execution of the retention window).
    static func total(_ server: ServerProcess) throws -> Int? {
        object(try http("GET", server.port, "/analytics/performance").0).flatMap { $0["total_executions"] as? Int }
    }

    /// The version of the last model the server saved, from its log.
    static func lastSavedModel(_ log: String) -> String? {
        log.split(separator: "\n").last { $0.contains(" saved in agents.ml_models") }
            .flatMap { line in line.range(of: #"model (\S+) saved"#, options: .regularExpression).map { line[$0] } }
            .map { $0.split(separator: " ")[1] }.map(String.init)
    }

    /// The `learning` CLI, built next to the server.
    static func cli() throws -> String {
        let path = URL(fileURLWithPath: try ServerProcess.binary()).deletingLastPathComponent().appendingPathComponent("learning").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw TestEnvironment.Missing(description: "the learning CLI is not built: run `swift build --build-tests`")
        }
        return path
    }

    /// See `ServerTests.onOwnThread`: subprocess waits stay off Swift's cooperative threads.
    func onOwnThread(_ body: @escaping @Sendable () throws -> Void) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let thread = Thread { continuation.resume(with: Result { try body() }) }
            thread.start()
        }
    }
}
