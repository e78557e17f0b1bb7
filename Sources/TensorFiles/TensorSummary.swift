// Streaming summary statistics of a tensor's bytes (for `weightinit inspect` and checks after
// loading): count, NaN/Inf counts, mean, population std, min, max, all-zero flag.
//
// Method: the bytes are cut into fixed chunks of 65 536 elements (independent of the thread
// count, so results are identical for any `threads`); each chunk is summarised with two passes
// over cache-resident data (sum, min, max; then Σ(x − chunk mean)²) in Double, and chunks are
// merged in index order with the pairwise update of Chan, Golub & LeVeque (1979, "Updating
// formulae and a pairwise algorithm for computing sample variances"). Non-finite elements are
// counted and excluded from mean/std/min/max.

import Dispatch

/// Summary statistics of one tensor, over its finite elements.
public struct TensorSummary: Sendable, Equatable, Codable {
    /// Number of elements.
    public var count: Int
    /// Number of NaN elements.
    public var nanCount: Int
    /// Number of ±infinite elements.
    public var infCount: Int
    /// Mean of the finite elements (NaN when there are none).
    public var mean: Double
    /// Population standard deviation √(Σ(x − mean)²/n) of the finite elements (NaN when none).
    public var std: Double
    /// Smallest finite element (NaN when none).
    public var min: Double
    /// Largest finite element (NaN when none).
    public var max: Double
    /// Whether every element is ±0 (false for an empty tensor).
    public var allZero: Bool

    /// Finite element count.
    public var finiteCount: Int { count - nanCount - infCount }

    /// Elements per chunk (the unit of parallel work and of the merge order).
    public static let chunkElements = 65_536

    /// Summarises `bytes`, a C-order tensor of floating-point `dtype` (little-endian), reading
    /// it once in chunks (a mapped 10 GB tensor needs no 10 GB of memory) on `threads` threads.
    /// The result does not depend on `threads`.
    /// Precondition: `dtype.isFloatingPoint`; `bytes.count` is a multiple of `dtype.size`.
    ///
    /// - Parameter consumed: called (from worker threads, concurrently) with byte ranges of
    ///   `bytes` already summarised, every 256 chunks per thread; a caller reading a mapped file
    ///   can release those pages (`SafetensorsFile.releasePages(_:)`) to keep the resident set
    ///   small.
    public static func of(_ bytes: UnsafeRawBufferPointer, dtype: DType, threads: Int = 1,
                          consumed: (@Sendable (Range<Int>) -> Void)? = nil) -> TensorSummary {
        of(bytes, dtype: dtype, threads: threads, blockChunks: 256, consumed: consumed)
    }

    /// `of(_:dtype:threads:consumed:)` reporting consumed bytes every `blockChunks` chunks.
    static func of(_ bytes: UnsafeRawBufferPointer, dtype: DType, threads: Int, blockChunks: Int,
                   consumed: (@Sendable (Range<Int>) -> Void)?) -> TensorSummary {
        precondition(dtype.isFloatingPoint, "TensorSummary: \(dtype) is not floating point")
        let n = bytes.count / dtype.size
        guard n > 0, let base = bytes.baseAddress else {
            return TensorSummary(count: 0, nanCount: 0, infCount: 0, mean: .nan, std: .nan, min: .nan, max: .nan, allZero: false)
        }
        let chunks = (n + chunkElements - 1) / chunkElements
        var parts = [Part](repeating: Part(), count: chunks)
        let t = Swift.max(1, Swift.min(threads, chunks))
        let addr = UInt(bitPattern: base)
        parts.withUnsafeMutableBufferPointer { out in
            let outAddr = UInt(bitPattern: out.baseAddress!)
            DispatchQueue.concurrentPerform(iterations: t) { worker in
                let p = UnsafeRawPointer(bitPattern: addr)!
                let o = UnsafeMutablePointer<Part>(bitPattern: outAddr)!
                // Contiguous ranges of chunks per worker: sequential reads per thread.
                let lo = chunks * worker / t, hi = chunks * (worker + 1) / t
                var from = lo
                for c in lo..<hi {
                    let s = c * chunkElements, e = Swift.min(n, s + chunkElements)
                    o[c] = summarise(p, s, e, dtype)
                    if let consumed, c + 1 - from == blockChunks || c + 1 == hi {
                        consumed((from * chunkElements * dtype.size)..<(Swift.min(n, (c + 1) * chunkElements) * dtype.size))
                        from = c + 1
                    }
                }
            }
        }
        var acc = Part()
        for p in parts { acc.merge(p) }
        let finite = acc.n
        return TensorSummary(count: n, nanCount: acc.nan, infCount: acc.inf,
                             mean: finite > 0 ? acc.mean : .nan,
                             std: finite > 0 ? (acc.m2 / Double(finite)).squareRoot() : .nan,
                             min: finite > 0 ? acc.lo : .nan, max: finite > 0 ? acc.hi : .nan,
                             allZero: acc.nan == 0 && acc.inf == 0 && finite > 0 && acc.lo == 0 && acc.hi == 0)
    }

    /// Partial statistics of a run of elements.
    struct Part {
        var n = 0, nan = 0, inf = 0
        var mean = 0.0, m2 = 0.0
        var lo = Double.infinity, hi = -Double.infinity

        mutating func merge(_ b: Part) {
            nan += b.nan; inf += b.inf
            lo = Swift.min(lo, b.lo); hi = Swift.max(hi, b.hi)
            guard b.n > 0 else { return }
            if n == 0 { n = b.n; mean = b.mean; m2 = b.m2; return }
            let total = n + b.n
            let delta = b.mean - mean
            let wb = Double(b.n) / Double(total)
            mean += delta * wb
            m2 += b.m2 + delta * delta * Double(n) * wb
            n = total
        }
    }

    /// Lane-wise minimum, written out so that it inlines into `minps` (the generic
    /// `pointwiseMin` is an out-of-line call here).
    @inline(__always)
    static func lanewiseMin(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
        var r = a
        for k in 0..<8 where b[k] < a[k] { r[k] = b[k] }
        return r
    }

    /// Lane-wise maximum (see `lanewiseMin`).
    @inline(__always)
    static func lanewiseMax(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
        var r = a
        for k in 0..<8 where b[k] > a[k] { r[k] = b[k] }
        return r
    }

    @inline(__always)
    static func load(_ p: UnsafeRawPointer, _ i: Int, _ dtype: DType) -> Double {
        TensorConvert.double(p, i, dtype)
    }

    /// Two passes over elements [s, e): fast path without non-finite values; a careful path
    /// (per-element checks, values scaled by a power of two) otherwise. F32 runs on SIMD
    /// vectors (8 floats, widened to two 4-lane Double accumulators).
    static func summarise(_ p: UnsafeRawPointer, _ s: Int, _ e: Int, _ dtype: DType) -> Part {
        var sum0 = 0.0, sum1 = 0.0, sum2 = 0.0, sum3 = 0.0
        var lo = Double.infinity, hi = -Double.infinity
        var i = s
        if dtype == .F32 {
            var a0 = SIMD4<Double>(), a1 = SIMD4<Double>()
            var mn = SIMD8<Float>(repeating: .infinity), mx = SIMD8<Float>(repeating: -.infinity)
            while i + 8 <= e {
                let v = p.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
                a0 += SIMD4<Double>(v.lowHalf); a1 += SIMD4<Double>(v.highHalf)
                mn = lanewiseMin(mn, v); mx = lanewiseMax(mx, v)
                i += 8
            }
            let a = a0 + a1
            sum0 = a[0]; sum1 = a[1]; sum2 = a[2]; sum3 = a[3]
            if i > s { lo = Double(mn.min()); hi = Double(mx.max()) }
        }
        while i < e {
            let x = load(p, i, dtype)
            sum0 += x
            lo = Swift.min(lo, x); hi = Swift.max(hi, x)
            i += 1
        }
        let sum = (sum0 + sum1) + (sum2 + sum3)
        let n = e - s
        if sum.isFinite && lo.isFinite && hi.isFinite {
            let mean = sum / Double(n)
            var q0 = 0.0, q1 = 0.0
            var j = s
            if dtype == .F32 {
                let m = SIMD4<Double>(repeating: mean)
                var b0 = SIMD4<Double>(), b1 = SIMD4<Double>()
                while j + 8 <= e {
                    let v = p.loadUnaligned(fromByteOffset: 4 * j, as: SIMD8<Float>.self)
                    let d0 = SIMD4<Double>(v.lowHalf) - m, d1 = SIMD4<Double>(v.highHalf) - m
                    b0 += d0 * d0; b1 += d1 * d1
                    j += 8
                }
                q0 = (b0 + b1).sum()
            }
            while j < e { let a = load(p, j, dtype) - mean; q0 += a * a; j += 1 }
            let m2 = q0 + q1
            if m2.isFinite { return Part(n: n, nan: 0, inf: 0, mean: mean, m2: m2, lo: lo, hi: hi) }
        }
        // Careful path: NaN/Inf present, or sums that overflow (F64 values near 1e308).
        var part = Part()
        var big = 0.0
        for k in s..<e {
            let x = load(p, k, dtype)
            if x.isNaN { part.nan += 1 } else if x.isInfinite { part.inf += 1 } else {
                part.lo = Swift.min(part.lo, x); part.hi = Swift.max(part.hi, x)
                big = Swift.max(big, abs(x))
            }
        }
        let finite = n - part.nan - part.inf
        guard finite > 0 else { return part }
        let scale = big > 0 ? Double(sign: .plus, exponent: big.exponent, significand: 1) : 1
        var total = 0.0
        for k in s..<e { let x = load(p, k, dtype); if x.isFinite { total += x / scale } }
        let meanScaled = total / Double(finite)
        var q = 0.0
        for k in s..<e { let x = load(p, k, dtype); if x.isFinite { let d = x / scale - meanScaled; q += d * d } }
        part.n = finite
        part.mean = meanScaled * scale
        // m2 in unscaled units may overflow to inf for data near 1e308; that is the true value.
        part.m2 = q * scale * scale
        return part
    }
}
