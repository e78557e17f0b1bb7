import Dispatch
import MatrixModule

/// Summary statistics of a filled tensor, accumulated in `Double` (in parallel, with a fixed
/// split so the result does not depend on timing), and a checksum of its bytes.
public struct TensorStatistics: Sendable, Equatable, Codable {
    public var count: Int
    public var mean: Double
    /// Population standard deviation `√(Σ(x − mean)²/n)`.
    public var std: Double
    public var min: Double
    public var max: Double
    /// Number of NaN or infinite elements.
    public var nonFinite: Int

    /// Statistics of `buffer` (all zeros for an empty buffer). Float and Double are read in
    /// place; other types are first converted to Double.
    public init<S: BinaryFloatingPoint>(_ buffer: UnsafeBufferPointer<S>) {
        if S.self == Float.self {
            self.init(summarizing: UnsafeBufferPointer(start: UnsafeRawPointer(buffer.baseAddress)?.assumingMemoryBound(to: Float.self), count: buffer.count))
        } else if S.self == Double.self {
            self.init(summarizing: UnsafeBufferPointer(start: UnsafeRawPointer(buffer.baseAddress)?.assumingMemoryBound(to: Double.self), count: buffer.count))
        } else {
            let converted = buffer.map { Double($0) }
            self = converted.withUnsafeBufferPointer { TensorStatistics(summarizing: $0) }
        }
    }

    /// The statistics of a Float or Double buffer. The element type's metatype is Sendable
    /// (`StatisticsScalar`), so the parallel passes may read the buffer from worker threads.
    init<S: StatisticsScalar>(summarizing buffer: UnsafeBufferPointer<S>) {
        let n = buffer.count
        count = n
        guard n > 0, let base = buffer.baseAddress else { mean = 0; std = 0; min = 0; max = 0; nonFinite = 0; return }
        let chunks = Swift.min(64, Swift.max(1, n / 65_536))
        let size = (n + chunks - 1) / chunks
        let p = UnsafeSendable(base)
        // Sums are taken relative to the first finite element, so a constant tensor has mean exactly
        // that constant and std exactly 0.
        let shift = buffer.first(where: { Double($0).isFinite }).map { Double($0) } ?? 0
        // Three passes with a fixed split: min/max/non-finite; then sums and squares of values
        // divided by a power of two near the largest magnitude, so huge values (1e308) can neither
        // overflow a sum nor a difference.
        var partials = [StatisticsPartial](repeating: StatisticsPartial(), count: chunks)
        partials.withUnsafeMutableBufferPointer { out in
            let o = UnsafeSendable(out.baseAddress!)
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                var q = StatisticsPartial()
                let s = c * size, e = Swift.min(n, s + size)
                if s < e { for i in s..<e { let x = Double(p.value[i]); if x.isFinite { q.lo = Swift.min(q.lo, x); q.hi = Swift.max(q.hi, x) } else { q.bad += 1 } } }
                o.value[c] = q
            }
        }
        let finite = n - partials.reduce(0) { $0 + $1.bad }
        let lo0 = partials.map { $0.lo }.min() ?? 0, hi0 = partials.map { $0.hi }.max() ?? 0
        let largest = Swift.max(Swift.max(abs(lo0), abs(hi0)), Double.leastNormalMagnitude)
        let scale = Double(sign: .plus, exponent: largest.exponent, significand: 1)
        func sum(_ term: @escaping @Sendable (Double) -> Double) -> Double {
            var parts = [Double](repeating: 0, count: chunks)
            parts.withUnsafeMutableBufferPointer { out in
                let o = UnsafeSendable(out.baseAddress!)
                DispatchQueue.concurrentPerform(iterations: chunks) { c in
                    var acc = 0.0
                    let s = c * size, e = Swift.min(n, s + size)
                    if s < e { for i in s..<e { let x = Double(p.value[i]); if x.isFinite { acc += term(x / scale) } } }
                    o.value[c] = acc
                }
            }
            return parts.reduce(0, +)
        }
        let shifted = shift / scale
        let m = finite > 0 ? shift + sum { $0 - shifted } / Double(finite) * scale : .nan
        let mScaled = m / scale
        let squares = finite > 0 ? sum { let d = $0 - mScaled; return d * d } : 0
        mean = m
        std = finite > 0 ? (squares / Double(finite)).squareRoot() * scale : .nan
        // + 0 turns a −0 extreme into +0 (a tensor of zeros reports min 0, max 0).
        min = (partials.map { $0.lo }.min() ?? .nan) + 0
        max = (partials.map { $0.hi }.max() ?? .nan) + 0
        nonFinite = n - finite
        _ = base
    }

    /// FNV-1a (64-bit) of the bytes, as 16 hex digits: equal bytes ⇔ (almost surely) equal digests.
    public static func checksum<S>(_ buffer: UnsafeBufferPointer<S>) -> String {
        let raw = UnsafeRawBufferPointer(buffer)
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in raw { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

extension TensorStatistics {
    /// `max |G − I|` of the Gram matrix of a `rows × columns` row-major matrix `W` divided by
    /// `scale`: `G = W·Wᵀ / scale²` (`rows × rows`) when `rows ≤ columns` (orthonormal rows) and
    /// `G = Wᵀ·W / scale²` (`columns × columns`) otherwise (orthonormal columns) — the deviation
    /// from orthogonality of an `orthogonal(gain: scale)` fill (Saxe et al. 2014; PyTorch's
    /// `orthogonal_` promises the same rows-or-columns property).
    ///
    /// Computed in `Double` with a fixed order: every entry `G[i][j]` (`j ≥ i`) is the plain
    /// left-to-right sum `Σ_k Double(w[i,k])·Double(w[j,k])` (`k` ascending; the products of two
    /// Floats are exact in Double), then divided by `scale²`; entries are split over `threads`
    /// by rows of `G`, and the maximum of absolute values is exact, so the result is identical
    /// for any `threads` and equals a naive Double loop. No BLAS call (OpenBLAS's sgemm rounds
    /// differently for 1 and more threads). 0 for an empty matrix.
    /// - Complexity: `n²·m/2` multiply-adds (`n` the smaller side, `m` the larger), no allocation
    ///   proportional to the matrix.
    /// - Precondition: `buffer.count == rows·columns`, `rows, columns ≥ 0`, `scale` finite and ≠ 0.
    public static func orthogonalityError(_ buffer: UnsafeBufferPointer<Float>, rows: Int, columns: Int, scale: Double = 1,
                                          threads: Int? = nil) -> Double {
        gramDeviation(buffer, rows: rows, columns: columns, scale: scale, threads: threads)
    }

    /// `orthogonalityError` of a Double matrix (the same order of operations).
    public static func orthogonalityError(_ buffer: UnsafeBufferPointer<Double>, rows: Int, columns: Int, scale: Double = 1,
                                          threads: Int? = nil) -> Double {
        gramDeviation(buffer, rows: rows, columns: columns, scale: scale, threads: threads)
    }

    static func gramDeviation<S: StatisticsScalar>(_ buffer: UnsafeBufferPointer<S>, rows: Int, columns: Int, scale: Double,
                                                   threads: Int?) -> Double {
        precondition(rows >= 0 && columns >= 0 && buffer.count == rows * columns, "orthogonalityError: \(buffer.count) elements for \(rows)×\(columns)")
        precondition(scale.isFinite && scale != 0, "orthogonalityError: scale must be finite and ≠ 0, got \(scale)")
        guard rows > 0, columns > 0, let base = buffer.baseAddress else { return 0 }
        // Vectors v of length m: row v (stride along k 1) or column v (stride along k `columns`).
        let wide = rows <= columns
        let n = wide ? rows : columns, m = wide ? columns : rows
        let sv = wide ? columns : 1, sk = wide ? 1 : columns
        let s2 = scale * scale
        let p = UnsafeSendable(base)
        let workers = Swift.max(1, Swift.min(threads ?? FillThreads.defaultCount, (n + 3) / 4))
        // Row blocks of 4 handed out round-robin (block b to worker b % workers): balances the triangle.
        let blocks = (n + 3) / 4
        var partial = [Double](repeating: 0, count: workers)
        partial.withUnsafeMutableBufferPointer { out in
            let o = UnsafeSendable(out.baseAddress!)
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                let x = p.value
                var worst = 0.0
                var b = w
                while b < blocks {
                    let i0 = b * 4, ni = Swift.min(4, n - i0)
                    var j0 = i0
                    while j0 < n {
                        let nj = Swift.min(4, n - j0)
                        // 4×4 accumulators, each summed over k in ascending order (naive order per entry).
                        func note(_ di: Int, _ dj: Int, _ a: Double) {
                            guard j0 + dj >= i0 + di else { return }
                            worst = Swift.max(worst, abs(a / s2 - (i0 + di == j0 + dj ? 1 : 0)))
                        }
                        if ni == 4 && nj == 4 {
                            var a00 = 0.0, a01 = 0.0, a02 = 0.0, a03 = 0.0, a10 = 0.0, a11 = 0.0, a12 = 0.0, a13 = 0.0
                            var a20 = 0.0, a21 = 0.0, a22 = 0.0, a23 = 0.0, a30 = 0.0, a31 = 0.0, a32 = 0.0, a33 = 0.0
                            let r0 = x + i0 * sv, r1 = r0 + sv, r2 = r1 + sv, r3 = r2 + sv
                            let c0 = x + j0 * sv, c1 = c0 + sv, c2 = c1 + sv, c3 = c2 + sv
                            var off = 0
                            for _ in 0..<m {
                                let u0 = Double(r0[off]), u1 = Double(r1[off]), u2 = Double(r2[off]), u3 = Double(r3[off])
                                let v0 = Double(c0[off]), v1 = Double(c1[off]), v2 = Double(c2[off]), v3 = Double(c3[off])
                                a00 += u0 * v0; a01 += u0 * v1; a02 += u0 * v2; a03 += u0 * v3
                                a10 += u1 * v0; a11 += u1 * v1; a12 += u1 * v2; a13 += u1 * v3
                                a20 += u2 * v0; a21 += u2 * v1; a22 += u2 * v2; a23 += u2 * v3
                                a30 += u3 * v0; a31 += u3 * v1; a32 += u3 * v2; a33 += u3 * v3
                                off += sk
                            }
                            note(0, 0, a00); note(0, 1, a01); note(0, 2, a02); note(0, 3, a03)
                            note(1, 0, a10); note(1, 1, a11); note(1, 2, a12); note(1, 3, a13)
                            note(2, 0, a20); note(2, 1, a21); note(2, 2, a22); note(2, 3, a23)
                            note(3, 0, a30); note(3, 1, a31); note(3, 2, a32); note(3, 3, a33)
                        } else {
                            for di in 0..<ni {
                                for dj in 0..<nj {
                                    let r = x + (i0 + di) * sv, c = x + (j0 + dj) * sv
                                    var a = 0.0, off = 0
                                    for _ in 0..<m { a += Double(r[off]) * Double(c[off]); off += sk }
                                    note(di, dj, a)
                                }
                            }
                        }
                        j0 += 4
                    }
                    b += workers
                }
                o.value[w] = worst
            }
        }
        return partial.max() ?? 0
    }
}

/// The element types `TensorStatistics` reads in parallel: their metatypes may cross threads.
protocol StatisticsScalar: BinaryFloatingPoint, SendableMetatype {}
extension Float: StatisticsScalar {}
extension Double: StatisticsScalar {}

struct StatisticsPartial { var lo = Double.infinity, hi = -Double.infinity, bad = 0 }

struct UnsafeSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

extension Initializer {
    /// What the scheme promises for `shape`: the mean and standard deviation of the
    /// distribution each element is drawn from (for orthogonal, identity, dirac and sparse: of the
    /// whole tensor's elements), and the bound `max|w|` when the scheme has one (else `nil`).
    /// - Throws: as filling would (invalid parameters or shape).
    public func expectedStatistics(shape: [Int], layout: KernelLayout = .outInSpatial, groups: Int = 1) throws(InitializationError)
        -> (mean: Double, std: Double, bound: Double?)
    {
        try validate()
        try validateGroups(groups, shape: shape, layout: layout)
        let count: Int
        do { count = try CheckedSize.elementCount(shape, what: "shape \(shape)") } catch { throw .size(error) }
        try validateMinimumRank(shape, layout: layout, groups: groups)    // as fill: before the empty-tensor shortcut
        if count == 0 { return (0, 0, nil) }
        switch try plan(shape: shape, layout: layout, groups: groups) {
        case let .constant(v): return (v, 0, abs(v))
        case let .uniform(lo, hi): return ((lo + hi) / 2, (hi - lo) / 12.0.squareRoot(), Swift.max(abs(lo), abs(hi)))
        case let .normal(m, s): return (m, s, nil)
        case let .truncated(m, s, a, b):
            let mo = TruncatedNormal.moments(mean: m, std: s, a: a, b: b)
            return (mo.mean, mo.std, Swift.max(abs(a), abs(b)))
        case let .orthogonal(gain):
            let rows = shape[0], cols = count / rows
            return (0, abs(gain) / Double(Swift.max(rows, cols)).squareRoot(), abs(gain))
        case let .identity(gain):
            let ones = Double(Swift.min(shape[0], shape[1])), n = Double(count)
            let mean = gain * ones / n
            return (mean, (gain * gain * ones / n - mean * mean).squareRoot(), abs(gain))
        case let .dirac(g):
            let ones = Double(g * Swift.min(shape[0] / g, shape[1])), n = Double(count)
            let mean = ones / n
            return (mean, (ones / n - mean * mean).squareRoot(), 1)
        case let .deltaOrthogonal(gain):
            let r = Double(shape[2...].reduce(1, *))
            return (0, abs(gain) / Double(shape[0]).squareRoot() / r.squareRoot(), abs(gain))
        case let .sparse(sparsity, std):
            let zeros = (sparsity * Double(shape[0])).rounded(.up)
            return (0, std * (1 - zeros / Double(shape[0])).squareRoot(), nil)
        }
    }
}
