import Foundation

extension LearningEngine {
    /// Builds each agent's embedding: a profile of named features (per task type: share of the
    /// agent's executions, success and time interaction beyond the additive prior; overall
    /// success and speed effects; resource use), in natural units, then projected to
    /// `vectorSize` dimensions with fixed pseudo-random directions derived from each feature's
    /// name (so the same profile always gives the same vector) and normalised to unit length.
    mutating func computeEmbeddings() {
        let nA = agents.count
        guard nA > 0 else { model.embeddings = []; return }
        var feats = [[String: Double]](repeating: [:], count: nA)
        for p in pairs where p.n > 0 {
            let a = Int(p.agent)
            let tn = tasks[p.task]
            let share = Double(p.n) / Double(max(agentStates[a].n, 1))
            feats[a]["share:" + tn] = share.squareRoot()
            let prior = model.globalLogit + model.agentLogitEffect(p.agent) + model.taskLogitEffect(p.task)
            let rate = (Double(p.successes) + 5 * logistic(prior)) / (Double(p.n) + 5)
            feats[a]["succ:" + tn] = (logit(rate) - prior) * Double(p.n) / (Double(p.n) + 10)
            let tprior = model.globalLogTime + model.agentLogTimeEffect(p.agent) + model.taskLogTimeEffect(p.task)
            feats[a]["time:" + tn] = (p.logTime.mean - tprior) * p.logTime.weight / (p.logTime.weight + 10)
        }
        for a in 0..<nA {
            let s = agentStates[a]
            feats[a]["agent:succ"] = model.agentLogitEffect(Int32(a))
            feats[a]["agent:time"] = model.agentLogTimeEffect(Int32(a))
            if s.logMemory.weight > 0 { feats[a]["res:mem"] = s.logMemory.mean }
            if s.logTokens.weight > 0 { feats[a]["res:tok"] = s.logTokens.mean }
            if s.cpu.weight > 0 { feats[a]["res:cpu"] = s.cpu.mean / 100 }
        }
        // Features keep their natural units (shares, logit and log-time offsets), so noise in a
        // feature that barely varies is not blown up; resource features (log scale, large) are
        // centred across agents and halved.
        var keys = Set<String>()
        for f in feats { keys.formUnion(f.keys) }
        let dim = max(parameters.vectorSize, 1)
        var emb = [[Float]](repeating: [Float](repeating: 0, count: dim), count: nA)
        let perf = parameters.embeddingPerformanceWeight ?? Self.defaultEmbeddingPerformanceWeight
        for key in keys.sorted() {
            let vals = (0..<nA).map { feats[$0][key] ?? 0 }
            let centred = key.hasPrefix("res:")
            let m = centred ? vals.reduce(0, +) / Double(nA) : 0
            let scale = (centred ? 0.5 : 1.0) * (key.hasPrefix("share:") ? 1 : perf)
            let dir = Self.direction(for: key, dim: dim)
            for a in 0..<nA {
                let z = Float((vals[a] - m) * scale)
                if z == 0 { continue }
                for j in 0..<dim { emb[a][j] += z * dir[j] }
            }
        }
        for a in 0..<nA {
            let norm = emb[a].reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
            if norm > 0 { emb[a] = emb[a].map { $0 / norm } }
        }
        model.embeddings = emb
    }

    /// Default of ``EngineParameters/embeddingPerformanceWeight``.
    public static let defaultEmbeddingPerformanceWeight = 0.1

    /// A deterministic pseudo-random ±1/√dim direction from a name (FNV-1a seed, SplitMix64).
    static func direction(for name: String, dim: Int) -> [Float] {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in name.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        var out = [Float](repeating: 0, count: dim)
        let v = 1 / Float(dim).squareRoot()
        var bits: UInt64 = 0
        for j in 0..<dim {
            if j % 64 == 0 {
                h &+= 0x9e37_79b9_7f4a_7c15
                var z = h
                z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
                z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
                bits = z ^ (z >> 31)
            }
            out[j] = (bits >> UInt64(j % 64)) & 1 == 1 ? v : -v
        }
        return out
    }

    /// For each pair, the similarity-weighted interaction (beyond the additive prior) that the
    /// agent's nearest neighbours in embedding space show on the same task type; it enters the
    /// pair's prior, which matters most for sparse pairs.
    mutating func fitSimilarAgents(neighbours k: Int = 5) {
        model.similarLogit = []; model.similarLogTime = []; model.similarWeight = []
        let nA = agents.count
        guard nA > 1, k > 0, model.embeddings.count == nA else { return }
        var nbrs = [[(Int32, Double)]](repeating: [], count: nA)
        for a in 0..<nA {
            var sims: [(Int32, Double)] = []
            for b in 0..<nA where b != a {
                sims.append((Int32(b), Self.cosine(model.embeddings[a], model.embeddings[b])))
            }
            sims.sort { $0.1 > $1.1 }
            nbrs[a] = Array(sims.prefix(k).filter { $0.1 >= parameters.similarityThreshold })
        }
        var interL = [Double](repeating: 0, count: pairs.count), interT = interL
        for (i, p) in pairs.enumerated() {
            interL[i] = logit(pairRate(p.agent, p.task).p)
                - (model.globalLogit + model.agentLogitEffect(p.agent) + model.taskLogitEffect(p.task))
            interT[i] = pairLogTime(p.agent, p.task).mu
                - (model.globalLogTime + model.agentLogTimeEffect(p.agent) + model.taskLogTimeEffect(p.task))
        }
        var sl = [Double](repeating: 0, count: pairs.count), st = sl, sw = sl
        for (i, p) in pairs.enumerated() {
            var wl = 0.0, nl = 0.0, nt = 0.0
            for (b, w) in nbrs[Int(p.agent)] {
                guard let j = pairIndex[Self.pairKey(b, p.task)], pairs[Int(j)].n >= 10 else { continue }
                wl += w; nl += w * interL[Int(j)]; nt += w * interT[Int(j)]
            }
            if wl > 0 { sl[i] = nl / (wl + 1); st[i] = nt / (wl + 1); sw[i] = wl }
        }
        model.similarLogit = sl; model.similarLogTime = st; model.similarWeight = sw
    }

    static func cosine(_ x: [Float], _ y: [Float]) -> Double {
        var d: Float = 0, nx: Float = 0, ny: Float = 0
        for j in 0..<min(x.count, y.count) { d += x[j] * y[j]; nx += x[j] * x[j]; ny += y[j] * y[j] }
        return nx > 0 && ny > 0 ? Double(d / (nx.squareRoot() * ny.squareRoot())) : 0
    }

    /// The agent's embedding (`ml.vector_size` floats, unit length), once trained.
    public func embedding(agent: String) -> [Float]? {
        guard let a = agents.id(agent), Int(a) < model.embeddings.count else { return nil }
        return model.embeddings[Int(a)]
    }

    /// Agents most similar to `agent` by cosine similarity of embeddings, at least `threshold`
    /// (default `ml.similarity_threshold`), most similar first.
    public func similarAgents(to agent: String, limit: Int = 5, threshold: Double? = nil) -> [(agent: String, similarity: Double)] {
        guard let a = agents.id(agent), Int(a) < model.embeddings.count else { return [] }
        let thr = threshold ?? parameters.similarityThreshold
        var out: [(agent: String, similarity: Double)] = []
        for b in model.embeddings.indices where b != Int(a) {
            let s = Self.cosine(model.embeddings[Int(a)], model.embeddings[b])
            if s >= thr { out.append((agents[Int32(b)], s)) }
        }
        out.sort { $0.similarity != $1.similarity ? $0.similarity > $1.similarity : $0.agent < $1.agent }
        return Array(out.prefix(max(limit, 0)))
    }

    /// Agents whose embedding is closest to `vector` (e.g. the embedding of a new agent's
    /// declared profile, for cold start), at least `threshold` similar.
    public func nearestAgents(to vector: [Float], limit: Int = 5, threshold: Double? = nil) -> [(agent: String, similarity: Double)] {
        let thr = threshold ?? parameters.similarityThreshold
        var out: [(agent: String, similarity: Double)] = []
        for b in model.embeddings.indices {
            let s = Self.cosine(vector, model.embeddings[b])
            if s >= thr { out.append((agents[Int32(b)], s)) }
        }
        out.sort { $0.similarity != $1.similarity ? $0.similarity > $1.similarity : $0.agent < $1.agent }
        return Array(out.prefix(max(limit, 0)))
    }
}
