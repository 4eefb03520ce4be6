import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Measures this process: resident memory from `/proc/self/statm` and CPU use from
/// `/proc/self/stat` (user + system time) over a recent window of samples.
public final class ProcessMetrics: Sendable {
    private struct Sample {
        var time: ContinuousClock.Instant
        var cpuSeconds: Double
    }

    private let samples = Mutex<[Sample]>([])
    private let window: Duration
    private let clockTicks: Double
    private let pageSize: Double

    /// Creates a sampler whose CPU figure covers about `window`.
    public init(window: Duration = .seconds(10)) {
        self.window = window
        let ticks = sysconf(Int32(_SC_CLK_TCK))
        clockTicks = ticks > 0 ? Double(ticks) : 100
        let page = sysconf(Int32(_SC_PAGESIZE))
        pageSize = page > 0 ? Double(page) : 4096
    }

    /// Resident set size in MiB, read now.
    public func residentMemoryMB() -> Double {
        guard let text = Self.read("/proc/self/statm") else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Double(fields[1]) else { return 0 }
        return pages * pageSize / (1024 * 1024)
    }

    /// The process's total CPU time so far, seconds.
    public func cpuSeconds() -> Double {
        guard let text = Self.read("/proc/self/stat"), let close = text.lastIndex(of: ")") else { return 0 }
        // Fields after the command name: state is field 3; utime and stime are fields 14 and 15.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / clockTicks
    }

    /// Records a sample; call it about once a second (the service's housekeeping does).
    public func sample() {
        let now = ContinuousClock.now
        let cpu = cpuSeconds()
        samples.withLock { samples in
            samples.append(Sample(time: now, cpuSeconds: cpu))
            let horizon = now - window * 3
            if let keep = samples.firstIndex(where: { $0.time >= horizon }), keep > 0 {
                samples.removeFirst(keep)
            }
        }
    }

    /// Process CPU use in percent of one core over the recent window (from the oldest sample within
    /// the window to now); 0 before two samples exist.
    public func cpuUsagePercent() -> Double {
        let now = ContinuousClock.now
        let cpu = cpuSeconds()
        let reference = samples.withLock { samples -> Sample? in
            samples.first(where: { now - $0.time <= window }) ?? samples.last
        }
        guard let reference else { return 0 }
        let elapsed = now - reference.time
        let seconds = elapsed / .seconds(1)
        guard seconds > 0.05 else { return 0 }
        return max(0, (cpu - reference.cpuSeconds) / seconds * 100)
    }

    private static func read(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 1024)
        let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count], as: UTF8.self)
    }
}
