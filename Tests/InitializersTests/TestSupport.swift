// Shared helpers for the Initializers tests: an independent Philox4x32-10, a seeded input
// generator, exact CDFs and moments (libm erfc), a Kolmogorov–Smirnov distance, fills into
// arrays and byte comparison. Nothing here calls the code under test except `filled`.
import Foundation
import Testing
import Initializers

/// Philox4x32-10 written from the Random123 specification (Salmon et al. 2011), independent of
/// the package's C kernel. Validated against the published known-answer vectors.
func refPhilox(_ c: (UInt32, UInt32, UInt32, UInt32), _ k: (UInt32, UInt32)) -> [UInt32] {
    var (c0, c1, c2, c3) = c
    var (k0, k1) = k
    for round in 0..<10 {
        if round > 0 { k0 &+= 0x9E37_79B9; k1 &+= 0xBB67_AE85 }
        let p0 = UInt64(0xD251_1F53) &* UInt64(c0)
        let p1 = UInt64(0xCD9E_8D57) &* UInt64(c2)
        (c0, c1, c2, c3) = (UInt32(truncatingIfNeeded: p1 >> 32) ^ c1 ^ k0, UInt32(truncatingIfNeeded: p1),
                            UInt32(truncatingIfNeeded: p0 >> 32) ^ c3 ^ k1, UInt32(truncatingIfNeeded: p0))
    }
    return [c0, c1, c2, c3]
}

/// SplitMix64 (Steele, Lea, Flood 2014): seeded inputs for the tests (never the code under test).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform(_ lo: Double = -1, _ hi: Double = 1) -> Double {
        lo + (hi - lo) * Double(next() >> 11) * 0x1.0p-53
    }
}

// MARK: - Exact distributions (oracles)

/// Standard normal CDF from libm's erfc.
func stdNormalCDF(_ x: Double) -> Double { 0.5 * erfc(-x / 2.0.squareRoot()) }
/// Standard normal density.
func stdNormalPDF(_ x: Double) -> Double { exp(-x * x / 2) / (2 * Double.pi).squareRoot() }
/// Upper tail Q(x) = 1 − Φ(x), without cancellation.
func stdNormalSF(_ x: Double) -> Double { 0.5 * erfc(x / 2.0.squareRoot()) }

/// Mass of N(0,1) on [al, be], computed on the side without cancellation.
func normalMass(_ al: Double, _ be: Double) -> Double {
    if al >= 0 { return stdNormalSF(al) - stdNormalSF(be) }
    if be <= 0 { return stdNormalCDF(be) - stdNormalCDF(al) }
    return 1 - stdNormalCDF(al) - stdNormalSF(be)
}

/// CDF of N(mean, std²) conditioned on [a, b].
func truncatedCDF(mean: Double, std: Double, a: Double, b: Double) -> (Double) -> Double {
    let al = (a - mean) / std, be = (b - mean) / std
    let z = normalMass(al, be)
    return { x in
        let t = (x - mean) / std
        if t <= al { return 0 }
        if t >= be { return 1 }
        return normalMass(al, t) / z
    }
}

/// Mean and std of N(mean, std²) on [a, b] (closed form, Johnson–Kotz–Balakrishnan), own code.
func truncatedMoments(mean: Double, std: Double, a: Double, b: Double) -> (mean: Double, std: Double) {
    let al = (a - mean) / std, be = (b - mean) / std
    let z = normalMass(al, be)
    let pa = stdNormalPDF(al), pb = stdNormalPDF(be)
    let m = (pa - pb) / z
    let v = 1 + (al * pa - be * pb) / z - m * m
    return (mean + std * m, std * v.squareRoot())
}

/// Kolmogorov–Smirnov distance between a sample and a continuous CDF.
func ksDistance(_ xs: [Double], cdf: (Double) -> Double) -> Double {
    let s = xs.sorted()
    let n = Double(s.count)
    var d = 0.0
    for i in s.indices {
        let f = cdf(s[i])
        d = max(d, f - Double(i) / n, Double(i + 1) / n - f)
    }
    return d
}

/// KS critical value at significance 1e-6 (asymptotic: √(ln(2/α)/(2n)) ≈ 2.69/√n).
func ksBound(_ n: Int) -> Double { (log(2 / 1e-6) / (2 * Double(n))).squareRoot() }

struct SampleMoments {
    var n: Int, mean: Double, std: Double, kurtosis: Double, min: Double, max: Double
    init(_ xs: [Double]) {
        n = xs.count
        var s = 0.0, lo = Double.infinity, hi = -Double.infinity
        for x in xs { s += x; lo = Swift.min(lo, x); hi = Swift.max(hi, x) }
        let m = s / Double(n)
        var m2 = 0.0, m4 = 0.0
        for x in xs { let d = (x - m) * (x - m); m2 += d; m4 += d * d }
        m2 /= Double(n); m4 /= Double(n)
        mean = m; std = m2.squareRoot(); kurtosis = m2 > 0 ? m4 / (m2 * m2) : 3; min = lo; max = hi
    }
    /// 6-standard-error tolerance on the mean for a population std `sigma`.
    func meanTolerance(_ sigma: Double) -> Double { 6 * sigma / Double(n).squareRoot() }
    /// 6-standard-error relative tolerance on the std (delta method: √(κ−1)/(2√n)).
    var stdRelativeTolerance: Double { 6 * Swift.max(kurtosis - 1, 0.8).squareRoot() / (2 * Double(n).squareRoot()) }
}

// MARK: - Fills

/// Fills a new array of `shape` with `initializer` (through the buffer entry point).
func filled<S: InitializerScalar>(_ initializer: Initializer, _: S.Type = S.self, shape: [Int], layout: KernelLayout = .outInSpatial,
                                  groups: Int = 1, key: RandomKey, threads: Int? = nil) throws -> [S] {
    var a = [S](repeating: 0, count: shape.reduce(1, *))
    try a.withUnsafeMutableBufferPointer { p in
        try initializer.fill(p, shape: shape, layout: layout, groups: groups, key: key, threads: threads)
    }
    return a
}

/// Byte-for-byte equality.
func sameBytes<S>(_ x: [S], _ y: [S]) -> Bool {
    guard x.count == y.count else { return false }
    return x.withUnsafeBytes { p in y.withUnsafeBytes { q in p.count == 0 || memcmp(p.baseAddress!, q.baseAddress!, p.count) == 0 } }
}

/// Index of the first differing element (for messages).
func firstDifference<S: BinaryFloatingPoint>(_ x: [S], _ y: [S]) -> String {
    for i in 0..<min(x.count, y.count) where x[i] != y[i] || (x[i].isNaN != y[i].isNaN) { return "first difference at \(i): \(x[i]) vs \(y[i])" }
    return x.count == y.count ? "equal" : "counts \(x.count) vs \(y.count)"
}

func toDoubles<S: BinaryFloatingPoint>(_ x: [S]) -> [Double] { x.map { Double($0) } }

/// Runs `body` and returns the `InitializationError` it throws (nil when it does not throw).
func initError(_ body: () throws -> Void) -> InitializationError? {
    do { try body(); return nil } catch let e as InitializationError { return e } catch { return nil }
}

/// Row-major naive product Aᵀ·A or A·Aᵀ in Double: the Gram matrix of the rows (`rowsGram`)
/// or of the columns of an `r × c` matrix.
func gram(_ a: [Double], rows r: Int, columns c: Int, ofRows: Bool) -> [Double] {
    if ofRows {
        var g = [Double](repeating: 0, count: r * r)
        for i in 0..<r { for j in i..<r {
            var s = 0.0
            for k in 0..<c { s += a[i * c + k] * a[j * c + k] }
            g[i * r + j] = s; g[j * r + i] = s
        } }
        return g
    } else {
        var g = [Double](repeating: 0, count: c * c)
        for k in 0..<r { for i in 0..<c { let x = a[k * c + i]; if x == 0 { continue }; for j in 0..<c { g[i * c + j] += x * a[k * c + j] } } }
        return g
    }
}

/// max |G − s·I| of an n × n matrix.
func maxDeviationFromScaledIdentity(_ g: [Double], n: Int, scale: Double) -> Double {
    var m = 0.0
    for i in 0..<n { for j in 0..<n { m = max(m, abs(g[i * n + j] - (i == j ? scale : 0))) } }
    return m
}

/// Records an issue (with the first differing element, never the whole arrays) unless `x` and
/// `y` hold the same bytes.
func expectSameBytes<S: BinaryFloatingPoint>(_ x: [S], _ y: [S], _ label: String = "", sourceLocation: SourceLocation = #_sourceLocation) {
    if !sameBytes(x, y) { Issue.record("bytes differ \(label): \(firstDifference(x, y))", sourceLocation: sourceLocation) }
}
