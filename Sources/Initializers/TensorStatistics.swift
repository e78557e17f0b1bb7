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
