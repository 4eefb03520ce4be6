import Foundation
import Synchronization
import Testing
import LearningAPI

/// Both doors' health encodings come from one cache: re-made only when the report changes.
@Test func healthEncodingIsReusedUntilTheReportOrItsSecondChanges() {
    let encodes = Mutex(0)
    let cache = HealthEncodingCache { report in
        encodes.withLock { $0 += 1 }
        return Array("\(report.status) \(report.totalExecutions)".utf8)
    }
    let start = Date(timeIntervalSince1970: 1_000_000)
    func report(_ status: String = "healthy", executions: Int64 = 5, at offset: Double = 0) -> HealthReport {
        HealthReport(status: status, service: "learning-system", database: "connected", agentsRegistered: 2,
                     timestamp: start.addingTimeInterval(offset), mlModels: [], version: "1", uptimeSeconds: 9,
                     totalExecutions: executions)
    }
    #expect(cache.bytes(for: report()) == Array("healthy 5".utf8))
    #expect(cache.bytes(for: report(at: 0.4)) == Array("healthy 5".utf8))
    #expect(encodes.withLock { $0 } == 1, "same content in the same second: reused")
    #expect(cache.bytes(for: report(executions: 6, at: 0.5)) == Array("healthy 6".utf8))
    #expect(cache.bytes(for: report("unhealthy", executions: 6, at: 0.6)) == Array("unhealthy 6".utf8))
    #expect(encodes.withLock { $0 } == 3, "a changed field is encoded again")
    _ = cache.bytes(for: report("unhealthy", executions: 6, at: 1.0))
    #expect(encodes.withLock { $0 } == 4, "a new second is encoded again (the timestamp shows seconds)")
}
