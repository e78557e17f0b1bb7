import CFillKernels
import Dispatch
import Foundation
import MatrixModule

/// An element type the fill kernels support: `Float` and `Double`. The underscored
/// requirements call the C kernels (Philox4x32-10 with run-time SIMD dispatch) and are public
/// only because protocol requirements must be; use `Initializer` and `RandomFill`.
public protocol InitializerScalar: BLASScalar {
    static func _fillUniform(_ p: UnsafeMutablePointer<Self>, start: UInt64, count: UInt64, key: RandomKey, low: Double, high: Double)
    static func _fillNormal(_ p: UnsafeMutablePointer<Self>, start: UInt64, count: UInt64, key: RandomKey, mean: Double, std: Double)
    static func _fillTruncatedNormal(_ p: UnsafeMutablePointer<Self>, start: UInt64, count: UInt64, key: RandomKey, mean: Double, std: Double, a: Double, b: Double)
    /// Sets `count` elements to `value` (a specialized, vectorizable store loop).
    static func _fillConstant(_ p: UnsafeMutablePointer<Self>, count: Int, value: Self)
}

extension InitializerScalar {
    /// The smallest value of this type ≥ `x` (the nearest one rounded up).
    static func atLeast(_ x: Double) -> Self { let v = Self(x); return Double(v) < x ? v.nextUp : v }
    /// The largest value of this type ≤ `x` (the nearest one rounded down).
    static func atMost(_ x: Double) -> Self { let v = Self(x); return Double(v) > x ? v.nextDown : v }

    /// Parallel constant fill of a whole buffer.
    static func fillConstant(_ buffer: UnsafeMutableBufferPointer<Self>, _ value: Self, threads: Int?) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        let p = SendablePointer(base: base)
        FillThreads.run(count: buffer.count, threads: threads, minimumChunk: 1 << 18) { s, n in Self._fillConstant(p.base + s, count: n, value: value) }
    }
}

extension Float: InitializerScalar {
    public static func _fillUniform(_ p: UnsafeMutablePointer<Float>, start: UInt64, count: UInt64, key: RandomKey, low: Double, high: Double) {
        // The smallest Floats ≥ low and ≥ high: the kernel's [lo, hi) then holds exactly the
        // Floats of [low, high).
        wi_fill_uniform_f32(p, start, count, key.k0, key.k1, atLeast(low), atLeast(high))
    }
    public static func _fillNormal(_ p: UnsafeMutablePointer<Float>, start: UInt64, count: UInt64, key: RandomKey, mean: Double, std: Double) {
        wi_fill_normal_f32(p, start, count, key.k0, key.k1, Float(mean), Float(std))
    }
    public static func _fillTruncatedNormal(_ p: UnsafeMutablePointer<Float>, start: UInt64, count: UInt64, key: RandomKey, mean: Double, std: Double, a: Double, b: Double) {
        wi_fill_truncated_normal_f32(p, start, count, key.k0, key.k1, mean, std, a, b)
    }
    public static func _fillConstant(_ p: UnsafeMutablePointer<Float>, count: Int, value: Float) {
        p.update(repeating: value, count: count)
    }
}

extension Double: InitializerScalar {
    public static func _fillUniform(_ p: UnsafeMutablePointer<Double>, start: UInt64, count: UInt64, key: RandomKey, low: Double, high: Double) {
        wi_fill_uniform_f64(p, start, count, key.k0, key.k1, low, high)
    }
    public static func _fillNormal(_ p: UnsafeMutablePointer<Double>, start: UInt64, count: UInt64, key: RandomKey, mean: Double, std: Double) {
        wi_fill_normal_f64(p, start, count, key.k0, key.k1, mean, std)
    }
    public static func _fillTruncatedNormal(_ p: UnsafeMutablePointer<Double>, start: UInt64, count: UInt64, key: RandomKey, mean: Double, std: Double, a: Double, b: Double) {
        wi_fill_truncated_normal_f64(p, start, count, key.k0, key.k1, mean, std, a, b)
    }
    public static func _fillConstant(_ p: UnsafeMutablePointer<Double>, count: Int, value: Double) {
        p.update(repeating: value, count: count)
    }
}

/// A pointer that may cross into Dispatch workers; every worker writes a disjoint range.
struct SendablePointer<T>: @unchecked Sendable {
    let base: UnsafeMutablePointer<T>
}

/// Work splitting for fills: a range of `count` elements is cut into at most `threads`
/// contiguous chunks (at least 131 072 elements each — below that, waking a worker costs more
/// than it saves — and multiples of 1536) run with `DispatchQueue.concurrentPerform`.
/// Because every element is a pure function of `(key, index)`, the split never changes the bytes.
public enum FillThreads {
    /// The default thread count: the number of active processors.
    public static var defaultCount: Int { ProcessInfo.processInfo.activeProcessorCount }

    static func run(count: Int, threads: Int?, minimumChunk: Int = 1 << 17, _ body: @Sendable (Int, Int) -> Void) {
        guard count > 0 else { return }
        let t = max(1, min(threads ?? defaultCount, (count + minimumChunk - 1) / minimumChunk))
        if t == 1 { body(0, count); return }
        // Multiples of 1536 elements: whole kernel chunks (64 / 96 / 32 elements) and whole
        // truncated-normal groups (1536 / 512), so no chunk is computed by two threads.
        let chunk = ((count + t - 1) / t + 1535) / 1536 * 1536
        DispatchQueue.concurrentPerform(iterations: t) { i in
            let s = i * chunk, e = min(count, s + chunk)
            if s < e { body(s, e - s) }
        }
    }
}

/// The kernel level the fills use, for diagnostics and tests: 0 portable, 1 AVX2, 2 AVX-512.
/// Every level gives identical bytes.
public enum FillKernel {
    /// The level in use.
    public static var level: Int { Int(wi_kernel_level()) }
    /// The best level this CPU supports.
    public static var maximumLevel: Int { Int(wi_kernel_max_level()) }
    /// Forces a level (−1 = automatic); clamped to what the CPU supports. Process-wide.
    public static func setLevel(_ level: Int) { wi_set_kernel_level(Int32(level)) }
    /// A readable name of `level`.
    public static var levelName: String { ["portable", "avx2", "avx512"][max(0, min(2, level))] }
}
