import Foundation
import Synchronization

/// The encoded form of the latest health report, made again only when the report shows
/// something new: health is asked far more often than its answer changes (load balancers,
/// h2load), so both doors (REST's JSON body, GetHealth's protobuf message) reuse their last
/// encoding while the report is the same, its timestamp compared by whole second.
public final class HealthEncodingCache: Sendable {
    private struct Entry {
        var report: HealthReport
        var second: Int64
        var bytes: [UInt8]
    }

    private let encode: @Sendable (HealthReport) -> [UInt8]
    private let entry = Mutex<Entry?>(nil)

    /// A cache of `encode`'s output.
    public init(encode: @escaping @Sendable (HealthReport) -> [UInt8]) {
        self.encode = encode
    }

    /// The encoding of `report`: the cached one when `report` equals the cached report in every
    /// field and its timestamp falls in the same second.
    public func bytes(for report: HealthReport) -> [UInt8] {
        let second = Int64(report.timestamp.timeIntervalSince1970.rounded(.down))
        if let cached = entry.withLock({ entry -> [UInt8]? in
            guard let entry, entry.second == second else { return nil }
            var same = report
            same.timestamp = entry.report.timestamp
            return same == entry.report ? entry.bytes : nil
        }) {
            return cached
        }
        let bytes = encode(report)
        entry.withLock { $0 = Entry(report: report, second: second, bytes: bytes) }
        return bytes
    }
}
