/// Groups error messages into signatures, online.
///
/// Each message is first *masked*: UUIDs, hex ids, IP addresses, quoted strings, file paths and
/// numbers become `<uuid>`, `<hex>`, `<ip>`, `<str>`, `<path>` and `<num>`. Masked messages are then
/// clustered like Drain (He et al., 2017): messages with the same token count and first token are
/// compared position by position with the cluster templates; a message joins the most similar
/// template when at least `minSimilarity` of its tokens match, and positions that differ become
/// `<*>`. The signature of a message is its cluster's current template.
struct ErrorSignatures: Sendable, Codable, Equatable {
    struct Cluster: Sendable, Codable, Equatable {
        var tokens: [String]
        var count: Int
        var agents: Set<Int32>
        var taskTypes: Set<Int32>
        var example: String
        var template: String { tokens.joined(separator: " ") }
    }

    var minSimilarity = 0.6
    var clusters: [Cluster] = []
    /// (token count, first token) -> cluster indices.
    var buckets: [String: [Int]] = [:]

    /// Adds a failure's message; returns its cluster index.
    @discardableResult
    mutating func add(_ message: String, agent: Int32, taskType: Int32?) -> Int {
        let tokens = Self.tokens(of: message)
        let key = Self.bucketKey(tokens)
        if let i = bestMatch(tokens, key: key) {
            var c = clusters[i]
            for j in c.tokens.indices where c.tokens[j] != tokens[j] { c.tokens[j] = "<*>" }
            c.count += 1
            c.agents.insert(agent)
            if let t = taskType { c.taskTypes.insert(t) }
            clusters[i] = c
            return i
        }
        clusters.append(Cluster(tokens: tokens, count: 1, agents: [agent],
                                taskTypes: taskType.map { [$0] } ?? [], example: message))
        buckets[key, default: []].append(clusters.count - 1)
        return clusters.count - 1
    }

    /// The signature `message` has now (its cluster's template, or its masked form if it matches none).
    func signature(of message: String) -> String {
        let tokens = Self.tokens(of: message)
        if let i = bestMatch(tokens, key: Self.bucketKey(tokens)) { return clusters[i].template }
        return tokens.joined(separator: " ")
    }

    private func bestMatch(_ tokens: [String], key: String) -> Int? {
        guard let cands = buckets[key] else { return nil }
        var best: Int?
        var bestSim = -1.0
        for i in cands {
            let t = clusters[i].tokens
            var same = 0, wild = 0
            for j in t.indices {
                if t[j] == "<*>" { wild += 1 } else if t[j] == tokens[j] { same += 1 }
            }
            let sim = Double(same + wild) / Double(max(t.count, 1))
            if sim > bestSim { bestSim = sim; best = i }
        }
        return bestSim >= minSimilarity ? best : nil
    }

    static func bucketKey(_ tokens: [String]) -> String { "\(tokens.count)|\(tokens.first ?? "")" }

    static func tokens(of message: String) -> [String] {
        mask(message).split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init)
    }

    /// Replaces the variable parts of an error message by placeholders.
    static func mask(_ message: String) -> String {
        let s = Array(message.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        func isHex(_ c: Unicode.Scalar) -> Bool {
            ("0"..."9").contains(c) || ("a"..."f").contains(c) || ("A"..."F").contains(c)
        }
        func isDigit(_ c: Unicode.Scalar) -> Bool { ("0"..."9").contains(c) }
        func isWordChar(_ c: Unicode.Scalar) -> Bool {
            ("a"..."z").contains(c) || ("A"..."Z").contains(c) || isDigit(c) || c == "_"
        }
        func append(_ t: String) { out.append(contentsOf: t.unicodeScalars) }
        while i < s.count {
            let c = s[i]
            // Quoted strings.
            if c == "'" || c == "\"" || c == "`" {
                if let j = s[(i + 1)...].firstIndex(of: c), j - i <= 200 {
                    append("<str>"); i = j + 1; continue
                }
            }
            let atWordStart = i == 0 || !isWordChar(s[i - 1])
            // Paths: a '/' starting a run of non-space characters containing another '/' or a '.'.
            if c == "/" && atWordStart {
                var j = i
                while j < s.count, s[j] != " ", s[j] != ",", s[j] != ";", s[j] != ")" { j += 1 }
                var end = j
                if end > i + 1, s[end - 1] == ":" { end -= 1 }
                if end - i > 1 { append("<path>"); i = end; continue }
            }
            if atWordStart && isHex(c) {
                var j = i
                while j < s.count, isHex(s[j]) || s[j] == "-" { j += 1 }
                let run = s[i..<j]
                // UUID: 8-4-4-4-12.
                if run.count == 36, run.filter({ $0 == "-" }).count == 4 {
                    append("<uuid>"); i = j; continue
                }
                let hasDigit = run.contains(where: isDigit)
                let hasAlpha = run.contains(where: { !isDigit($0) && $0 != "-" })
                if !run.contains("-"), run.count >= 6, hasDigit, hasAlpha,
                   j == s.count || !isWordChar(s[j]) {
                    append("<hex>"); i = j; continue
                }
            }
            if c == "0", i + 1 < s.count, s[i + 1] == "x" || s[i + 1] == "X", atWordStart {
                var j = i + 2
                while j < s.count, isHex(s[j]) { j += 1 }
                if j > i + 2 { append("<hex>"); i = j; continue }
            }
            if isDigit(c) {
                // IPv4 (with optional port) or a number.
                var j = i
                var dots = 0
                while j < s.count, isDigit(s[j]) || (s[j] == "." && j + 1 < s.count && isDigit(s[j + 1])) {
                    if s[j] == "." { dots += 1 }
                    j += 1
                }
                append(dots == 3 ? "<ip>" : "<num>")
                i = j
                continue
            }
            out.append(c)
            i += 1
        }
        return String(out)
    }
}
