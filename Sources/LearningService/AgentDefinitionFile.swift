public import Foundation
public import LearningCore

/// Agent definition files: Markdown with a YAML front matter block, the format Claude Code uses for
/// subagents:
///
/// ```markdown
/// ---
/// name: code-reviewer
/// description: Reviews code for quality and security.
/// tools: Read, Grep, Glob        # or a YAML list
/// model: sonnet
/// ---
/// You are a senior code reviewer...
/// ```
///
/// Only the YAML subset such files use is read: `key: value` scalars (plain, 'single' or
/// "double" quoted), block scalars (`|`, `>`), flow lists (`[a, b]`) and block lists (`- a`),
/// and `#` comments. The name falls back to the file name without `.md`.
public enum AgentDefinitionFile {
    /// A definition file that could not be read; `path` names it.
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public var path: String
        public var message: String
        public var description: String { "\(path): \(message)" }
    }

    /// Parses one file's text into an agent definition with source `definition_file`.
    public static func parse(_ text: String, path: String, now: Date = Date()) throws -> AgentDefinition {
        let lines = text.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let first = lines.first, first.trimmingCharacters(in: .whitespaces) == "---" else {
            throw ParseError(path: path, message: "no YAML front matter (the file must start with ---)")
        }
        guard let end = lines.dropFirst().firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == "---" }) else {
            throw ParseError(path: path, message: "the YAML front matter is not closed with ---")
        }
        let fields = try parseFrontMatter(Array(lines[1..<end]), path: path)
        var name = fields["name"]?.scalar ?? ""
        if name.isEmpty {
            name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        }
        do {
            try Validation.agentName(name, field: "name")
        } catch let error as ServiceError {
            throw ParseError(path: path, message: error.detail)
        }
        let tools: [String]
        switch fields["tools"] {
        case .list(let items): tools = items
        case .scalar(let value): tools = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        case nil: tools = []
        }
        var metadata: [String: String] = ["file": path]
        for (key, value) in fields where !["name", "description", "tools", "model"].contains(key) {
            switch value {
            case .scalar(let text): metadata[key] = text
            case .list(let items): metadata[key] = items.joined(separator: ", ")
            }
        }
        return AgentDefinition(name: name, description: fields["description"]?.scalar ?? "", tools: tools,
                               model: fields["model"]?.scalar ?? "", source: "definition_file",
                               metadata: metadata, registeredAt: now)
    }

    enum Value: Equatable {
        case scalar(String)
        case list([String])

        var scalar: String? {
            if case .scalar(let value) = self { return value }
            return nil
        }
    }

    static func parseFrontMatter(_ lines: [String], path: String) throws -> [String: Value] {
        var fields: [String: Value] = [:]
        var index = 0
        while index < lines.count {
            let line = lines[index]
            index += 1
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            guard !line.hasPrefix(" "), !line.hasPrefix("\t"), let colon = line.firstIndex(of: ":") else {
                throw ParseError(path: path, message: "cannot read front matter line \(index + 1): \(trimmed.prefix(60))")
            }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces)
            let rest = stripComment(String(line[line.index(after: colon)...])).trimmingCharacters(in: .whitespaces)
            if rest == "|" || rest == ">" || rest.hasPrefix("|") || rest.hasPrefix(">") {
                // A block scalar: the following more-indented lines.
                var block: [String] = []
                while index < lines.count, lines[index].isEmpty || lines[index].hasPrefix(" ") || lines[index].hasPrefix("\t") {
                    block.append(lines[index].trimmingCharacters(in: .whitespaces))
                    index += 1
                }
                while block.last?.isEmpty == true { block.removeLast() }
                fields[key] = .scalar(rest.hasPrefix("|") ? block.joined(separator: "\n") : fold(block))
            } else if rest.isEmpty {
                // A block list, or an empty value.
                var items: [String] = []
                while index < lines.count {
                    let item = lines[index].trimmingCharacters(in: .whitespaces)
                    if item.isEmpty || item.hasPrefix("#") { index += 1; continue }
                    guard item.hasPrefix("-") else { break }
                    items.append(unquote(stripComment(String(item.dropFirst())).trimmingCharacters(in: .whitespaces)))
                    index += 1
                }
                fields[key] = items.isEmpty ? .scalar("") : .list(items)
            } else if rest.hasPrefix("[") {
                guard rest.hasSuffix("]") else {
                    throw ParseError(path: path, message: "the list of \(key) is not closed with ]")
                }
                let inner = rest.dropFirst().dropLast()
                fields[key] = .list(splitFlow(String(inner)).map { unquote($0.trimmingCharacters(in: .whitespaces)) }.filter { !$0.isEmpty })
            } else {
                fields[key] = .scalar(unquote(rest))
            }
        }
        return fields
    }

    /// Removes a trailing ` # comment` outside quotes.
    static func stripComment(_ text: String) -> String {
        var quote: Character?
        var previous: Character = " "
        for (offset, character) in text.enumerated() {
            if let open = quote {
                if character == open { quote = nil }
            } else if character == "\"" || character == "'" {
                quote = character
            } else if character == "#" && (previous == " " || previous == "\t") {
                return String(text.prefix(offset))
            }
            previous = character
        }
        return text
    }

    static func unquote(_ text: String) -> String {
        if text.count >= 2, text.hasPrefix("'"), text.hasSuffix("'") {
            return String(text.dropFirst().dropLast()).replacingOccurrences(of: "''", with: "'")
        }
        if text.count >= 2, text.hasPrefix("\""), text.hasSuffix("\"") {
            var result = ""
            var escaping = false
            for character in text.dropFirst().dropLast() {
                if escaping {
                    switch character {
                    case "n": result.append("\n")
                    case "t": result.append("\t")
                    default: result.append(character)
                    }
                    escaping = false
                } else if character == "\\" {
                    escaping = true
                } else {
                    result.append(character)
                }
            }
            return result
        }
        return text
    }

    static func splitFlow(_ text: String) -> [String] {
        var items: [String] = []
        var current = ""
        var quote: Character?
        for character in text {
            if let open = quote {
                if character == open { quote = nil }
                current.append(character)
            } else if character == "\"" || character == "'" {
                quote = character
                current.append(character)
            } else if character == "," {
                items.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        items.append(current)
        return items
    }

    static func fold(_ lines: [String]) -> String {
        var result = ""
        for line in lines {
            if line.isEmpty { result.append("\n"); continue }
            if !result.isEmpty && !result.hasSuffix("\n") { result.append(" ") }
            result.append(line)
        }
        return result
    }
}

/// Watches a folder of agent definition files and reports what changed since the last scan
/// (by modification time and size), so the registry re-reads only new and changed files.
public final class AgentDirectoryScanner: @unchecked Sendable {
    /// One scan's result.
    public struct Changes: Sendable {
        /// Definitions of new or changed files.
        public var updated: [AgentDefinition]
        /// Files that could not be parsed, with the reason.
        public var errors: [String]
        /// Paths of files that disappeared.
        public var removed: [String]
    }

    private struct Stamp: Equatable {
        var modified: Date
        var size: Int
    }

    /// The folder watched.
    public let directory: String
    private var stamps: [String: Stamp] = [:]

    /// Watches `directory` (its `*.md` files, including those in sub-folders).
    public init(directory: String) {
        self.directory = directory
    }

    /// Scans the folder; the first scan reports every file. Not thread-safe: one caller at a time.
    public func scan(now: Date = Date()) -> Changes {
        var changes = Changes(updated: [], errors: [], removed: [])
        let fileManager = FileManager.default
        var current: [String: Stamp] = [:]
        let root = URL(fileURLWithPath: directory)
        guard let enumerator = fileManager.enumerator(at: root, includingPropertiesForKeys: [.contentModificationDateKey, .fileSizeKey, .isRegularFileKey]) else {
            changes.errors.append("\(directory): cannot list the folder")
            return changes
        }
        for case let url as URL in enumerator where url.pathExtension.lowercased() == "md" {
            guard let values = try? url.resourceValues(forKeys: [.contentModificationDateKey, .fileSizeKey, .isRegularFileKey]),
                  values.isRegularFile == true else { continue }
            let stamp = Stamp(modified: values.contentModificationDate ?? .distantPast, size: values.fileSize ?? 0)
            let path = url.path
            current[path] = stamp
            if stamps[path] == stamp { continue }
            do {
                let text = try String(contentsOf: url, encoding: .utf8)
                changes.updated.append(try AgentDefinitionFile.parse(text, path: path, now: now))
            } catch let error as AgentDefinitionFile.ParseError {
                changes.errors.append(error.description)
            } catch {
                changes.errors.append("\(path): cannot read the file as UTF-8")
            }
        }
        changes.removed = stamps.keys.filter { current[$0] == nil }.sorted()
        stamps = current
        return changes
    }
}
