import Foundation

/// Interns names (agents, task types) to dense integer ids so the hot paths index flat arrays.
struct NameTable: Sendable, Codable, Equatable {
    private(set) var names: [String] = []
    private var ids: [String: Int32] = [:]

    var count: Int { names.count }

    /// The id of `name`, assigning the next one when it is new.
    mutating func intern(_ name: String) -> Int32 {
        if let id = ids[name] { return id }
        let id = Int32(names.count)
        names.append(name)
        ids[name] = id
        return id
    }

    /// The id of `name`, or nil when it was never seen.
    func id(_ name: String) -> Int32? { ids[name] }

    subscript(id: Int32) -> String { names[Int(id)] }
}

/// Weighted running mean and variance (West's incremental algorithm).
struct Moments: Sendable, Codable, Equatable {
    var weight = 0.0
    var mean = 0.0
    var m2 = 0.0

    mutating func add(_ x: Double, weight w: Double = 1) {
        guard w > 0, x.isFinite else { return }
        weight += w
        let d = x - mean
        mean += d * w / weight
        m2 += w * d * (x - mean)
    }

    /// Adds `x` winsorised to `mean ± clip·sd` once there are `minCount` observations, so rare
    /// spikes do not inflate the baseline they are judged against.
    mutating func addClipped(_ x: Double, clip: Double, minCount: Double = 8) {
        if weight >= minCount {
            let sd = max(variance.squareRoot(), 1e-6)
            add(min(max(x, mean - clip * sd), mean + clip * sd))
        } else {
            add(x)
        }
    }

    /// Adds another set of moments (Chan et al.'s parallel formula).
    mutating func merge(_ o: Moments) {
        guard o.weight > 0, o.mean.isFinite, o.m2.isFinite else { return }
        guard weight > 0 else { self = o; return }
        let w = weight + o.weight
        let d = o.mean - mean
        mean += d * o.weight / w
        m2 += o.m2 + d * d * weight * o.weight / w
        weight = w
    }

    var variance: Double { weight > 1 ? m2 / (weight - 1) : 0 }
    var sd: Double { variance.squareRoot() }

    mutating func decay(_ f: Double) {
        weight *= f
        m2 *= f
    }
}

extension Optional where Wrapped == Moments {
    /// Adds `x`, starting the moments when there are none yet (moments kept optional so that
    /// models saved before them still load).
    mutating func add(_ x: Double) {
        var m = self ?? Moments()
        m.add(x)
        self = m
    }
}

/// Running least squares of a pair's log execution time `y` on its log token count `x` and its
/// outcome's usual time offset `o` (0 for a success, ``ErrorSignatures/timeOffset(cluster:)``
/// for a failure of that kind): `y ≈ my + β·(x − mx) + γ·(o − mo)`. Where the work an execution
/// did (its tokens) explains much of its time, a run that took long for the tokens it used stands
/// out far more clearly than against the pair's whole spread (docs/ML.md, "Latency for the work
/// done"). Welford co-moments, O(1) per update, numerically stable for any count.
struct TimeOnTokens: Sendable, Codable, Equatable {
    var n = 0.0
    var mx = 0.0, mo = 0.0, my = 0.0
    var cxx = 0.0, cxo = 0.0, coo = 0.0, cxy = 0.0, coy = 0.0, cyy = 0.0

    /// Ridge weight pulling `β` towards 0 and `γ` towards 1 (the pace's own reading of an
    /// outcome's offset), in co-moment units: it decides only when a regressor hardly varies
    /// (a pair that never failed, or tokens that are always the same).
    static let ridge = 1.0

    mutating func add(x: Double, o: Double, y: Double) {
        guard x.isFinite, o.isFinite, y.isFinite else { return }
        n += 1
        let dx = x - mx, dd = o - mo, dy = y - my
        mx += dx / n; mo += dd / n; my += dy / n
        let ex = x - mx, eo = o - mo, ey = y - my
        cxx += dx * ex; cxo += dx * eo; coo += dd * eo
        cxy += dx * ey; coy += dd * ey; cyy += dy * ey
    }

    /// The fitted slopes and the residual sd (n − 3 degrees of freedom); nil below 5 runs.
    func fit() -> (beta: Double, gamma: Double, sd: Double)? {
        regress(cuu: cxx, cuo: cxo, cut: cxy, cot: coy, ctt: cyy, gammaPrior: 1)
    }

    /// The other way round: expected log tokens of a run that took log time `y` with outcome offset
    /// `o`, with its predictive sd and degrees of freedom (ridge towards no dependence on either).
    /// A run that used far more tokens than its time explains blew up its tokens, though its time
    /// was ordinary; nil below 5 runs.
    func predictTokens(y: Double, o: Double) -> (mu: Double, sd: Double, df: Double)? {
        guard let f = regress(cuu: cyy, cuo: coy, cut: cxy, cot: cxo, ctt: cxx, gammaPrior: 0) else { return nil }
        let mu = mx + f.beta * (y - my) + f.gamma * (o - mo)
        let ly = cyy > 1e-12 ? (y - my) * (y - my) / cyy : 0
        guard mu.isFinite else { return nil }
        return (mu, f.sd * (1 + 1 / n + ly).squareRoot(), n - 3)
    }

    /// Ridge least squares of a target on one regressor `u` and the outcome offset `o`, from their
    /// co-moments (`cuu`, `cuo`, `coo`; with the target `cut`, `cot`; the target's own `ctt`): the
    /// slopes (pulled by ``ridge`` towards 0 for `u` and `gammaPrior` for `o`) and the residual sd
    /// on n − 3 degrees of freedom; nil below 5 runs or when the system is singular.
    private func regress(cuu: Double, cuo: Double, cut: Double, cot: Double, ctt: Double,
                         gammaPrior: Double) -> (beta: Double, gamma: Double, sd: Double)? {
        guard n >= 5 else { return nil }
        let l = Self.ridge
        let a = cuu + l, b = cuo, d = coo + l
        let det = a * d - b * b
        guard det > 1e-12 else { return nil }
        let r1 = cut, r2 = cot + l * gammaPrior
        let beta = (d * r1 - b * r2) / det
        let gamma = (a * r2 - b * r1) / det
        let rss = ctt - 2 * beta * cut - 2 * gamma * cot + beta * beta * cuu + 2 * beta * gamma * cuo
            + gamma * gamma * coo
        let sd = (max(rss, 0) / (n - 3)).squareRoot()
        guard beta.isFinite, gamma.isFinite, sd.isFinite else { return nil }
        return (beta, gamma, sd)
    }

    /// Expected log time of a run with log tokens `x` and outcome offset `o`, with its predictive
    /// sd (the residual sd widened for the uncertainty of the fitted line).
    func predict(x: Double, o: Double) -> (mu: Double, sd: Double, df: Double)? {
        guard let f = fit() else { return nil }
        let mu = my + f.beta * (x - mx) + f.gamma * (o - mo)
        let lx = cxx > 1e-12 ? (x - mx) * (x - mx) / cxx : 0
        return (mu, f.sd * (1 + 1 / n + lx).squareRoot(), n - 3)
    }
}

/// Exponentially decayed weighted least squares of `y` on time (days): a local linear trend whose
/// old observations fade with half-life `halfLife` days. Bounded memory, O(1) per update.
struct DecayedTrend: Sendable, Codable, Equatable {
    var halfLife: Double
    var origin = Double.nan
    var last = -Double.infinity
    var sw = 0.0, sww = 0.0, swt = 0.0, swtt = 0.0, swy = 0.0, swty = 0.0, swyy = 0.0

    init(halfLife: Double) { self.halfLife = halfLife }

    mutating func add(t: Double, y: Double, weight: Double = 1) {
        guard y.isFinite, t.isFinite else { return }
        if origin.isNaN { origin = t; last = t }
        var w = weight
        if t > last {
            let f = exp(-0.6931471805599453 * (t - last) / halfLife)
            sw *= f; sww *= f * f; swt *= f; swtt *= f; swy *= f; swty *= f; swyy *= f
            last = t
        } else if t < last {
            w *= exp(-0.6931471805599453 * (last - t) / halfLife)
        }
        let u = t - origin
        sw += w; sww += w * w; swt += w * u; swtt += w * u * u
        swy += w * y; swty += w * u * y; swyy += w * y * y
    }

    /// The recency-weighted mean of y.
    var mean: Double { sw > 0 ? swy / sw : 0 }
    /// Effective number of observations (Kish).
    var effectiveCount: Double { sww > 0 ? sw * sw / sww : 0 }

    /// The fitted line evaluated at `t`: value, its standard error, slope per day and the slope's z.
    func fit(at t: Double) -> (value: Double, se: Double, slope: Double, slopeZ: Double) {
        guard sw > 0 else { return (0, .infinity, 0, 0) }
        let nEff = max(effectiveCount, 1)
        let mt = swt / sw, my = swy / sw
        let stt = swtt / sw - mt * mt
        let sty = swty / sw - mt * my
        let syy = max(swyy / sw - my * my, 0)
        let slope = stt > 1e-9 ? sty / stt : 0
        let resid = max(syy - slope * sty, 1e-12)
        let u = t - origin
        let seSlope = stt > 1e-9 ? (resid / (stt * nEff)).squareRoot() : .infinity
        let seMean = (resid / nEff).squareRoot()
        let dt = u - mt
        let se = (seMean * seMean + dt * dt * seSlope * seSlope).squareRoot()
        return (my + slope * dt, se, slope, seSlope.isFinite && seSlope > 0 ? slope / seSlope : 0)
    }
}

/// A fixed-size log-binned histogram: a quantile sketch of positive values (times, memory,
/// tokens) with 96 bins over [1e-3, 1e7] (about 27% per bin, linear interpolation inside a bin).
/// 96 `UInt32` = 384 bytes per sketch, whatever the number of observations.
struct LogSketch: Sendable, Codable, Equatable {
    static let bins = 96
    static let lo = log(1e-3)
    static let hi = log(1e7)
    static let width = (hi - lo) / Double(bins)
    var counts: [UInt32] = Array(repeating: 0, count: LogSketch.bins)
    var total: UInt32 = 0

    mutating func add(_ x: Double, count: UInt32 = 1) {
        guard x > 0, x.isFinite else { return }
        let b = Int(((log(x) - Self.lo) / Self.width).rounded(.down))
        counts[min(max(b, 0), Self.bins - 1)] &+= count
        total &+= count
    }

    /// The `q`-quantile (0...1), or nil when empty.
    func quantile(_ q: Double) -> Double? {
        guard total > 0 else { return nil }
        let target = q * Double(total)
        var acc = 0.0
        for (i, c) in counts.enumerated() where c > 0 {
            let next = acc + Double(c)
            if next >= target {
                let frac = (target - acc) / Double(c)
                return exp(Self.lo + (Double(i) + frac) * Self.width)
            }
            acc = next
        }
        return exp(Self.hi)
    }

    static var byteSize: Int { bins * MemoryLayout<UInt32>.size + MemoryLayout<UInt32>.size }
}

@inline(__always) func logistic(_ x: Double) -> Double { 1 / (1 + exp(-x)) }
/// log(1 + eˣ) without overflow.
@inline(__always) func softplus(_ x: Double) -> Double { x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)) }
@inline(__always) func logit(_ p: Double) -> Double {
    let q = min(max(p, 1e-4), 1 - 1e-4)
    return log(q / (1 - q))
}

/// Days since 1970 as a Double: the engine's time axis.
@inline(__always) func days(_ d: Date) -> Double { d.timeIntervalSince1970 / 86_400 }

/// The standard normal upper-tail quantile for a tail probability (Acklam-style rational
/// approximation, good to ~1e-4 which is plenty for a detection score).
func normalQuantileUpper(_ p: Double) -> Double {
    let q = min(max(p, 1e-300), 0.5)
    let t = (-2 * log(q)).squareRoot()
    return t - (2.515517 + 0.802853 * t + 0.010328 * t * t) / (1 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t)
}

/// `normalQuantileUpper` of a tail probability given by its logarithm (no underflow for the
/// tiny probabilities of long failure streaks).
func normalQuantileUpper(logTail: Double) -> Double {
    guard logTail < log(0.5) else { return 0 }
    let t = (-2 * logTail).squareRoot()
    return t - (2.515517 + 0.802853 * t + 0.010328 * t * t) / (1 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t)
}

/// Upper tail P(X >= k) of a Poisson(lambda).
func poissonUpperTail(_ k: Int, lambda: Double) -> Double {
    guard k > 0 else { return 1 }
    var term = exp(-lambda)
    var cdf = term
    for i in 1..<k {
        term *= lambda / Double(i)
        cdf += term
    }
    return max(1 - cdf, term * lambda / Double(k))
}

/// The normal deviate with the same upper tail probability as Student's t value `t` with `df`
/// degrees of freedom (Wallace's approximation, accurate to about 0.01 for df ≥ 3). A deviation
/// judged against a baseline estimated from few executions is less surprising than the same
/// number of standard deviations against a well-known one; for large df this returns ≈ t.
func studentTAsNormal(_ t: Double, df: Double) -> Double {
    guard df.isFinite, df > 0, t.isFinite else { return t }
    let z = (df * log1p(t * t / df)).squareRoot() * (8 * df + 1) / (8 * df + 3)
    return t < 0 ? -z : z
}
