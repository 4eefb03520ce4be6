// The server's swift-log backend: one line per event on standard error,
// `2026-12-06T19:42:20.123Z INFO learning-server: message key=value`. The line format is the one
// scripts and the container test read (`listening on HOST:PORT`, `start-up complete`, `stopped`).
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging

/// Writes each log event as one line to standard error, in a single `write` so lines from
/// several threads never interleave.
struct StandardErrorLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    init(label: String, level: Logger.Level) {
        self.label = label
        self.logLevel = level
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let stamp = ISO8601DateFormatter.string(from: Date(), timeZone: .gmt,
                                                formatOptions: [.withInternetDateTime, .withFractionalSeconds])
        var line = "\(stamp) \(Self.name(of: event.level)) \(label): \(event.message)"
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) { line += " \(key)=\(value)" }
        writeStandardError(line + "\n")
    }

    /// The level as `LEARNING_LOG_LEVEL` spells it.
    static func name(of level: Logger.Level) -> String {
        switch level {
        case .trace: "TRACE"
        case .debug: "DEBUG"
        case .info: "INFO"
        case .notice: "NOTICE"
        case .warning: "WARNING"
        case .error: "ERROR"
        case .critical: "CRITICAL"
        }
    }

    /// The level `LEARNING_LOG_LEVEL` / `log_level` names (validated by the configuration loader).
    static func level(named name: String) -> Logger.Level {
        switch name.uppercased() {
        case "TRACE": .trace
        case "DEBUG": .debug
        case "NOTICE": .notice
        case "WARNING", "WARN": .warning
        case "ERROR": .error
        case "CRITICAL": .critical
        default: .info
        }
    }
}

/// Writes text to standard error in one call (lines from several threads do not interleave).
func writeStandardError(_ text: String) {
    var bytes = Array(text.utf8)
    bytes.withUnsafeMutableBytes { buffer in
        var offset = 0
        while offset < buffer.count {
            let written = write(2, buffer.baseAddress! + offset, buffer.count - offset)
            if written <= 0 { break }
            offset += written
        }
    }
}
