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
        /// How much longer (log seconds) this kind of failure takes than its pair's usual pace:
        /// residuals of its failures against their pairs' outcome-adjusted log time. Nil in models
        /// saved before it was kept.
        var timeOffset: Moments? = nil
        /// Its failures per UTC hour of day (nil in older models, and before one with an hour).
        var hours: [Int]? = nil
        var template: String { tokens.joined(separator: " ") }
    }

    var minSimilarity = 0.6
    var clusters: [Cluster] = []
    /// (token count, first token) -> cluster indices.
    var buckets: [String: [Int]] = [:]
    /// Masked message -> cluster: most failures repeat a masked form exactly, so the Drain
    /// search runs once per distinct masked form.
    var known: [String: Int] = [:]
    /// The same residuals over every failure (clusters' prior) and over failures without a
    /// message. Nil in models saved before they were kept.
    var failureTimeOffset: Moments? = nil
    var unlabelledTimeOffset: Moments? = nil
    /// Failures with a message added so far (the clusters' counts summed; nil in older models,
    /// then summed once read: ``labelledCount``).
    var labelled: Int? = nil

    /// Failures with a message added so far.
    var labelledCount: Int { labelled ?? clusters.reduce(0) { $0 + $1.count } }

    /// The share of all labelled failures that fell in `cluster`.
    func share(of cluster: Int) -> Double {
        guard cluster >= 0, cluster < clusters.count else { return 0 }
        let total = labelledCount
        return total > 0 ? Double(clusters[cluster].count) / Double(total) : 0
    }

    /// Adds a failure's message (at UTC hour `hour`, when known); returns its cluster index.
    @discardableResult
    mutating func add(_ message: String, agent: Int32, taskType: Int32?, hour: Int? = nil) -> Int {
        labelled = labelledCount + 1
        let i = addMessage(message, agent: agent, taskType: taskType)
        if let h = hour, (0..<24).contains(h) {
            if clusters[i].hours == nil { clusters[i].hours = [Int](repeating: 0, count: 24) }
            clusters[i].hours![h] += 1
            if hourFailures == nil { hourFailures = [Int](repeating: 0, count: 24) }
            hourFailures![h] += 1
        }
        return i
    }

    /// Labelled failures per UTC hour of day (nil in older models).
    var hourFailures: [Int]? = nil

    /// Per UTC hour, how much more often failures of `cluster` happen then than failures in
    /// general (Laplace-smoothed ratio of the two hour profiles; nil without them). A kind that
    /// belongs to a maintenance window is expected there.
    func hourFactors(of cluster: Int) -> [Double]? {
        guard cluster >= 0, cluster < clusters.count, let own = clusters[cluster].hours, let all = hourFailures,
              own.count == 24, all.count == 24 else { return nil }
        let nOwn = Double(own.reduce(0, +)), nAll = Double(all.reduce(0, +))
        return (0..<24).map { ((Double(own[$0]) + 1) / (nOwn + 24)) / ((Double(all[$0]) + 1) / (nAll + 24)) }
    }

    private mutating func addMessage(_ message: String, agent: Int32, taskType: Int32?) -> Int {
        let masked = Self.mask(message)
        if let i = known[masked] {
            clusters[i].count += 1
            clusters[i].agents.insert(agent)
            if let t = taskType { clusters[i].taskTypes.insert(t) }
            return i
        }
        let i = addNew(masked, message: message, agent: agent, taskType: taskType)
        if known.count < 100_000 { known[masked] = i }
        return i
    }

    private mutating func addNew(_ masked: String, message: String, agent: Int32, taskType: Int32?) -> Int {
        let tokens = Self.split(masked)
        let key = Self.bucketKey(tokens)
        if let i = bestMatch(tokens, key: key) {
            for j in clusters[i].tokens.indices where clusters[i].tokens[j] != tokens[j] { clusters[i].tokens[j] = "<*>" }
            clusters[i].count += 1
            clusters[i].agents.insert(agent)
            if let t = taskType { clusters[i].taskTypes.insert(t) }
            return i
        }
        clusters.append(Cluster(tokens: tokens, count: 1, agents: [agent],
                                taskTypes: taskType.map { [$0] } ?? [], example: message))
        buckets[key, default: []].append(clusters.count - 1)
        return clusters.count - 1
    }

    /// The cluster `message` belongs to now, without adding it (nil when it matches none).
    func cluster(of message: String) -> Int? {
        let masked = Self.mask(message)
        if let i = known[masked] { return i }
        let tokens = Self.split(masked)
        return bestMatch(tokens, key: Self.bucketKey(tokens))
    }

    /// Pseudo-failures of prior weight in ``timeOffset(cluster:)``: a kind of failure seen a few
    /// times is taken at the all-failures offset, one seen often at its own.
    static let offsetPriorWeight = 5.0

    /// The usual log-time offset of a failure of `cluster` (nil: a failure without a message),
    /// shrunk towards the offset of all failures, itself shrunk towards 0.
    func timeOffset(cluster: Int?) -> Double {
        let k = Self.offsetPriorWeight
        let all = failureTimeOffset ?? Moments()
        let overall = all.mean * all.weight / (all.weight + k)
        let own = cluster.flatMap { $0 < clusters.count ? clusters[$0].timeOffset : nil } ?? (cluster == nil ? unlabelledTimeOffset : nil)
        guard let own, own.weight > 0 else { return overall }
        return (own.mean * own.weight + overall * k) / (own.weight + k)
    }

    /// Learns from one failure of `cluster` (nil: without a message) that took `residual` log
    /// seconds more than its pair's outcome-adjusted pace.
    mutating func addTimeResidual(_ residual: Double, cluster: Int?) {
        guard residual.isFinite else { return }
        let x = min(max(residual, -4), 4)
        failureTimeOffset.add(x)
        if let c = cluster, c < clusters.count {
            clusters[c].timeOffset.add(x)
        } else if cluster == nil {
            unlabelledTimeOffset.add(x)
        }
    }

    /// The signature `message` has now (its cluster's template, or its masked form if it matches none).
    func signature(of message: String) -> String {
        let masked = Self.mask(message)
        if let i = known[masked] { return clusters[i].template }
        let tokens = Self.split(masked)
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

    static func tokens(of message: String) -> [String] { split(mask(message)) }

    static func split(_ masked: String) -> [String] {
        masked.utf8.split(whereSeparator: { $0 == 32 || $0 == 9 || $0 == 10 }).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Replaces the variable parts of an error message by placeholders.
    static func mask(_ message: String) -> String {
        var s = Array(message.utf8)
        s.append(0)  // sentinel
        let n = s.count - 1
        var out: [UInt8] = []
        out.reserveCapacity(n)
        @inline(__always) func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }
        @inline(__always) func isHex(_ c: UInt8) -> Bool { isDigit(c) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70) }
        @inline(__always) func isWord(_ c: UInt8) -> Bool {
            isDigit(c) || (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c == 95 || c >= 128
        }
        func put(_ t: StaticString) { out.append(contentsOf: UnsafeBufferPointer(start: t.utf8Start, count: t.utf8CodeUnitCount)) }
        var i = 0
        while i < n {
            let c = s[i]
            // Quoted strings.
            if c == 39 || c == 34 || c == 96 {
                var j = i + 1
                while j < n && s[j] != c && j - i <= 200 { j += 1 }
                if j < n && s[j] == c { put("<str>"); i = j + 1; continue }
            }
            let atWordStart = i == 0 || !isWord(s[i - 1])
            // Paths: '/' at a word start followed by a run without spaces.
            if c == 47 && atWordStart {
                var j = i
                while j < n && s[j] != 32 && s[j] != 44 && s[j] != 59 && s[j] != 41 { j += 1 }
                var end = j
                if end > i + 1 && s[end - 1] == 58 { end -= 1 }
                if end - i > 1 { put("<path>"); i = end; continue }
            }
            if c == 48 && (s[i + 1] == 120 || s[i + 1] == 88) && atWordStart {
                var j = i + 2
                while j < n && isHex(s[j]) { j += 1 }
                if j > i + 2 { put("<hex>"); i = j; continue }
            }
            if atWordStart && isHex(c) {
                var j = i, dashes = 0, digits = 0, alpha = 0
                while j < n && (isHex(s[j]) || s[j] == 45) {
                    if s[j] == 45 { dashes += 1 } else if isDigit(s[j]) { digits += 1 } else { alpha += 1 }
                    j += 1
                }
                if j - i == 36 && dashes == 4 { put("<uuid>"); i = j; continue }
                if dashes == 0 && j - i >= 6 && digits > 0 && alpha > 0 && !isWord(s[j]) { put("<hex>"); i = j; continue }
            }
            if isDigit(c) {
                var j = i, dots = 0
                while j < n && (isDigit(s[j]) || (s[j] == 46 && isDigit(s[j + 1]))) {
                    if s[j] == 46 { dots += 1 }
                    j += 1
                }
                if dots == 3 { put("<ip>") } else { put("<num>") }
                i = j
                continue
            }
            out.append(c)
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}
