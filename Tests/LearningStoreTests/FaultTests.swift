import Foundation
import LearningTestDatabase
import Testing
@testable import LearningStore
import LearningCore
#if canImport(Glibc)
import Glibc
import LearningRepository
#endif

/// Runs `/bin/sh -c command` with output discarded and waits for the shell (posix_spawn +
/// waitpid: a daemon the command starts may keep inherited descriptors, and must not be waited for).
func sh(_ command: String) -> Int32 {
    var pid: pid_t = 0
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    let strings: [String] = ["/bin/sh", "-c", command]
    let argv: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    guard posix_spawn(&pid, "/bin/sh", &actions, nil, argv, environ) == 0 else { return -1 }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
    return (status >> 8) & 0xff
}

/// The repository root (for scripts/pg-cluster.sh).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

@Suite("Faults", .serialized)
struct FaultTests {
    @Test func killedConnectionsAreReplacedWithoutFailingCallers() async throws {
        try await TestDatabase.withStore { store, url in
            _ = try await store.logExecutions([record()])
            _ = try await store.listAgents()
            let admin = try PGConnection(url: url)
            let killed = try admin.query("""
                SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                WHERE datname = current_database() AND application_name LIKE 'learning-system-%'
                """).int64(0, 0) ?? 0
            #expect(killed >= 2)
            try await Task.sleep(for: .milliseconds(200))
            // The dead connections are noticed before use and replaced: these calls just work.
            #expect(try await store.logExecutions((0..<5).map { _ in record() }).count == 5)
            #expect(try await store.counts().executions == 6)
            #expect(store.databaseState == "connected")
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func writerRidesOutAnImmediateShutdownAndStoresEveryAcknowledgedEventOnce() async throws {
        _ = try TestDatabase.baseURL() // the suite runs where the test database is configured
        let dir = "/tmp/learning-store-fault-\(UUID().uuidString.prefix(8))"
        let cluster = "cd \(repositoryRoot) && scripts/pg-cluster.sh"
        // A free port below the kernel's ephemeral range (32768 and up): a port in that range may
        // be held by an outgoing connection, and the cluster then cannot bind it (CI saw that).
        let portFile = "\(dir).port"
        #expect(sh("\(cluster) free-port \(20_000 + Int.random(in: 0..<12_000)) > \(portFile)") == 0)
        let port = Int((try? String(contentsOfFile: portFile, encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
        try? FileManager.default.removeItem(atPath: portFile)
        let pgctl = "PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1); "
            + (getuid() == 0 ? "runuser -u postgres -- " : "") + "$PGBIN/pg_ctl -D \(dir)/pgdata -m immediate -w stop"
        #expect(sh("\(cluster) start \(dir) \(port)") == 0)
        defer { _ = sh("\(cluster) stop \(dir); rm -rf \(dir)") }
        let url = "postgresql://claude_user@127.0.0.1:\(port)/claude_auth"
        let store = try await LearningStore.open(config: TestDatabase.config(url, maxConnections: 4))

        let total = 3_000
        let next = Mutex2(0)
        let acked = Mutex2<[String]>([])
        let unavailable = Mutex2(0)
        let writers = Task {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<32 {
                    group.addTask {
                        while true {
                            var n = 0
                            next.mutate { n = $0; $0 += 1 }
                            if n >= total { return }
                            let event = "fault-\(n)"
                            while true {
                                do {
                                    _ = try await store.logExecution(record("agent-\(n % 5)", event: event))
                                    acked.mutate { $0.append(event) }
                                    break
                                } catch let e as StoreError where e.isRetryable {
                                    if case .unavailable = e { unavailable.mutate { $0 += 1 } }
                                    try? await Task.sleep(for: .milliseconds(50))
                                } catch {
                                    Issue.record("unexpected error \(error)")
                                    return
                                }
                            }
                        }
                    }
                }
            }
        }
        #expect(await eventually(60) { acked.value.count >= total / 3 })
        #expect(sh(pgctl) == 0, "immediate shutdown")
        // While it is down: callers get `unavailable` (retryable) and /health says disconnected.
        #expect(await eventually(10) { store.databaseState == "disconnected" })
        do {
            _ = try await store.logExecution(record(event: "while-down"))
            Issue.record("a write was acknowledged while the server was down")
        } catch let e as StoreError {
            guard case .unavailable = e else { Issue.record("expected unavailable, got \(e)"); return }
        }
        try await Task.sleep(for: .seconds(1))
        #expect(sh("\(cluster) start \(dir) \(port)") == 0)
        await writers.value
        #expect(store.databaseState == "connected")
        let ids = acked.value
        var counts: [String: Int] = [:]
        #expect(await eventually(10) { (try? await store.eventIDCounts(prefix: "fault-")).map { counts = $0; return true } ?? false })
        let lost = ids.filter { counts[$0] == nil }.count
        let duplicated = counts.values.filter { $0 > 1 }.count
        print("fault test: acknowledged=\(ids.count) found=\(ids.count - lost) lost=\(lost) duplicated=\(duplicated) unavailable_errors=\(unavailable.value)")
        #expect(ids.count == total && Set(ids).count == total)
        #expect(lost == 0 && duplicated == 0)
        #expect(counts.count == total, "nothing stored that was not acknowledged eventually")
        #expect(unavailable.value > 0, "callers saw the outage")
        await store.shutdown()
    }
}
