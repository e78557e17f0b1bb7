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
    /// in blocks of 8 × 4 (SIMD lanes, each lane one entry summed in that order), and the maximum
    /// of absolute values is exact, so the result is identical for any `threads` and equals a
    /// naive Double loop bit for bit. No BLAS call (OpenBLAS's sgemm rounds differently for 1 and
    /// more threads). 0 for an empty matrix.
    /// - Complexity: about `n²·m/2` multiply-adds (`n` the smaller side, `m` the larger); one
    ///   Double copy of the matrix, `8·⌈n/4⌉·4·m` bytes (`gramScratchBytes`).
    /// - Precondition: `buffer.count == rows·columns`, `rows, columns ≥ 0`, `scale` finite and ≠ 0.
    public static func orthogonalityError(_ buffer: UnsafeBufferPointer<Float>, rows: Int, columns: Int, scale: Double = 1,
                                          threads: Int? = nil) -> Double {
        gramDeviation(buffer, rows: rows, columns: columns, scale: scale, threads: threads)
    }

    /// Bytes `orthogonalityError` allocates for a `rows × columns` matrix (its Double copy in
    /// panels of 4 vectors). - Throws: `SizeError.overflow`.
    public static func gramScratchBytes(rows: Int, columns: Int) throws(SizeError) -> Int {
        let n = Swift.min(rows, columns), m = Swift.max(rows, columns)
        return try CheckedSize.elementCount([(Swift.max(n, 0) + 3) / 4, 4, Swift.max(m, 0), MemoryLayout<Double>.stride], what: "orthogonality check of \(rows)×\(columns)")
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
        // The vectors converted to Double once, in panels of 4: panel q holds vectors 4q…4q+3 as
        // [k][4] (lanes past n are 0), so the products below read whole SIMD4 rows.
        let panels = (n + 3) / 4
        let workers = Swift.max(1, Swift.min(threads ?? FillThreads.defaultCount, panels))
        var packed = [SIMD4<Double>](repeating: .zero, count: panels * m)
        packed.withUnsafeMutableBufferPointer { pk in
            let P = UnsafeSendable(pk.baseAddress!), x = UnsafeSendable(base)
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                var q = w
                while q < panels {
                    let dst = P.value + q * m, lanes = Swift.min(4, n - 4 * q)
                    for k in 0..<m {
                        var v = SIMD4<Double>.zero
                        for lane in 0..<lanes { v[lane] = Double(x.value[(4 * q + lane) * sv + k * sk]) }
                        dst[k] = v
                    }
                    q += workers
                }
            }
        }
        // Blocks of 8 vectors i (two panels) against panels of 4 vectors j ≥ the block's first
        // panel; every lane of every accumulator is one entry G[i][j] summed over k in ascending
        // order (the naive order), so the result does not depend on the blocking or the threads.
        // Blocks are handed out round-robin (block b to worker b % workers) to balance the triangle.
        let blocks = (panels + 1) / 2
        let pairWorkers = Swift.max(1, Swift.min(workers, blocks))
        var partial = [Double](repeating: 0, count: pairWorkers)
        packed.withUnsafeBufferPointer { pk in
            partial.withUnsafeMutableBufferPointer { out in
                let P = UnsafeSendable(pk.baseAddress!), o = UnsafeSendable(out.baseAddress!)
                DispatchQueue.concurrentPerform(iterations: pairWorkers) { w in
                    var worst = 0.0
                    var b = w
                    while b < blocks {
                        let u0 = P.value + 2 * b * m, u1 = 2 * b + 1 < panels ? u0 + m : u0
                        for q in (2 * b)..<panels {
                            let v = P.value + q * m
                            var a0 = SIMD4<Double>.zero, a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0
                            for k in 0..<m {
                                let vk = v[k], x0 = u0[k], x1 = u1[k]
                                a0 += SIMD4(repeating: x0[0]) * vk; a1 += SIMD4(repeating: x0[1]) * vk
                                a2 += SIMD4(repeating: x0[2]) * vk; a3 += SIMD4(repeating: x0[3]) * vk
                                a4 += SIMD4(repeating: x1[0]) * vk; a5 += SIMD4(repeating: x1[1]) * vk
                                a6 += SIMD4(repeating: x1[2]) * vk; a7 += SIMD4(repeating: x1[3]) * vk
                            }
                            for (r, a) in [a0, a1, a2, a3, a4, a5, a6, a7].enumerated() {
                                let i = 8 * b + r
                                guard i < n else { break }
                                for lane in 0..<4 {
                                    let j = 4 * q + lane
                                    guard j < n, j >= i else { continue }
                                    worst = Swift.max(worst, abs(a[lane] / s2 - (i == j ? 1 : 0)))
                                }
                            }
                        }
                        b += pairWorkers
                    }
                    o.value[w] = worst
                }
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
