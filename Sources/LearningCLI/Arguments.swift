import Foundation

// Hand-rolled argument parsing: global options anywhere on the line, `--name value` or
// `--name=value`, `--` ends options, and every mistake is a usage error (exit code 2).

/// A usage mistake: printed with the command's help hint, exit code 2.
struct UsageError: Error, CustomStringConvertible {
    var description: String
}

/// The parsed command line.
struct ParsedArguments: Equatable {
    /// Words that are not options, in order (the command path and its operands).
    var positional: [String] = []
    /// Options with values, by name without dashes (last one wins).
    var options: [String: String] = [:]
    /// Flags given (`--json`, `--success`, ...).
    var flags: Set<String> = []

    /// The options that take a value; everything else starting with `--` is a flag.
    static let valued: Set = ["server", "api-key", "agent", "task-type", "time", "error", "task-id", "description",
                              "model", "tools", "limit", "speed-weight", "batch-size", "kinds", "kind", "status",
                              "event-id", "format", "window-hours", "threshold", "metadata", "database-url"]
    static let knownFlags: Set = ["json", "help", "success", "failure", "no-progress", "verbose"]

    init(_ arguments: [String]) throws {
        var index = 0
        var onlyPositional = false
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if onlyPositional || !argument.hasPrefix("-") || argument == "-" {
                positional.append(argument)
                continue
            }
            if argument == "--" { onlyPositional = true; continue }
            if argument == "-h" { flags.insert("help"); continue }
            guard argument.hasPrefix("--") else { throw UsageError(description: "unknown option \(argument)") }
            var name = String(argument.dropFirst(2))
            var inlineValue: String?
            if let equals = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            if Self.valued.contains(name) {
                if let inlineValue {
                    options[name] = inlineValue
                } else {
                    guard index < arguments.count else { throw UsageError(description: "--\(name) needs a value") }
                    options[name] = arguments[index]
                    index += 1
                }
            } else if Self.knownFlags.contains(name) {
                guard inlineValue == nil else { throw UsageError(description: "--\(name) takes no value") }
                flags.insert(name)
            } else {
                throw UsageError(description: "unknown option --\(name)")
            }
        }
    }

    /// A required option.
    func required(_ name: String) throws -> String {
        guard let value = options[name], !value.isEmpty else { throw UsageError(description: "--\(name) is required") }
        return value
    }

    /// An optional number option; a usage error when it is not a finite number.
    func number(_ name: String) throws -> Double? {
        guard let text = options[name] else { return nil }
        guard let value = Double(text), value.isFinite else { throw UsageError(description: "--\(name) must be a number, got \(text)") }
        return value
    }

    /// An optional integer option.
    func integer(_ name: String) throws -> Int? {
        guard let text = options[name] else { return nil }
        guard let value = Int(text) else { throw UsageError(description: "--\(name) must be a whole number, got \(text)") }
        return value
    }

    /// Rejects options this command does not accept.
    func allow(_ names: Set<String>) throws {
        let global: Set = ["server", "api-key", "json", "help"]
        for name in Set(options.keys).union(flags) where !global.contains(name) && !names.contains(name) {
            throw UsageError(description: "--\(name) does not apply to this command")
        }
    }
}

/// Where to connect and how: `--server` / `LEARNING_SERVER`, `--api-key` / `LEARNING_API_KEY`.
struct ConnectionSettings: Equatable {
    var host: String
    var port: Int
    var apiKey: String?

    static let defaultServer = "127.0.0.1:8080"

    init(arguments: ParsedArguments, environment: [String: String]) throws {
        let server = arguments.options["server"] ?? environment["LEARNING_SERVER"] ?? Self.defaultServer
        (host, port) = try Self.split(server)
        let key = arguments.options["api-key"] ?? environment["LEARNING_API_KEY"]
        apiKey = (key?.isEmpty ?? true) ? nil : key
    }

    /// Splits `host:port`, `[v6]:port` or `host` (port 8080); strips an `http://` prefix.
    static func split(_ text: String) throws -> (String, Int) {
        var server = text
        for scheme in ["http://", "https://"] where server.hasPrefix(scheme) { server.removeFirst(scheme.count) }
        while server.hasSuffix("/") { server.removeLast() }
        var host = server
        var port = 8080
        if server.hasPrefix("[") {
            guard let close = server.firstIndex(of: "]") else { throw UsageError(description: "bad server address \(text)") }
            host = String(server[server.index(after: server.startIndex)..<close])
            let rest = server[server.index(after: close)...]
            if rest.hasPrefix(":") {
                guard let value = Int(rest.dropFirst()) else { throw UsageError(description: "bad port in \(text)") }
                port = value
            } else if !rest.isEmpty {
                throw UsageError(description: "bad server address \(text)")
            }
        } else if let colon = server.lastIndex(of: ":") {
            host = String(server[..<colon])
            guard let value = Int(server[server.index(after: colon)...]) else { throw UsageError(description: "bad port in \(text)") }
            port = value
        }
        guard !host.isEmpty, (1...65535).contains(port) else { throw UsageError(description: "bad server address \(text)") }
        return (host, port)
    }
}
