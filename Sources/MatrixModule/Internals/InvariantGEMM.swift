import CGemmKernels
import Dispatch
import Foundation

/// Column-major matrix products whose bytes depend only on their inputs — not on OpenBLAS's
/// thread count, not on how many threads compute them.
///
/// Why not `cblas_sgemm`: measured with OpenBLAS 0.3.21 (Zen kernel), the same product gives
/// different bytes for 1 and 2 OpenBLAS threads, even with an inner dimension of 8 (about 3–6% of
/// the elements of a 1024×1024 result differ in the last bit): the threaded driver partitions M
/// and N differently from the single-threaded one and the micro-kernel's edge paths round
/// differently. Splitting K (below GEMM_Q) does not help. Pinning OpenBLAS to one thread would
/// change process-wide state that other callers see.
///
/// So these products run our own kernel (`CGemmKernels`: packed panels, a 16×6 Float / 8×6 Double
/// AVX2+FMA micro-kernel, a portable fallback with `fmaf`/`fma`). Each element of C is
/// `base + α·acc` with `acc` a fused-multiply-add chain over the inner dimension in order, in
/// chunks of `kc` (256, fixed) accumulated into C one after another: the same operations for
/// every element whichever thread computes it and however the columns are split, on either code
/// path. The columns are split into tasks of `columnsPerTask` run by `DispatchQueue.concurrentPerform`.
/// Never reads or changes OpenBLAS's thread count.
enum InvariantGEMM {
    /// Inner-dimension chunk: each element's fma chain restarts (and is added into C) every `kc` terms.
    static let kc = 256
    /// Columns of C per task.
    static let columnsPerTask = 192

    /// Column-major `C ← α·op(A)·op(B) + β·C` with C `m × n`, `op(A)` `m × k`, `op(B)` `k × n`
    /// (leading dimensions `lda`, `ldb`, `ldc`). No checks: callers pass valid shapes. Float and
    /// Double only (other element types are ignored).
    static func gemm<S: BLASScalar>(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: S,
                                    a: UnsafePointer<S>, lda: Int, b: UnsafePointer<S>, ldb: Int,
                                    beta: S, c: UnsafeMutablePointer<S>, ldc: Int) {
        if m <= 0 || n <= 0 { return }
        if k == 0 {
            if beta == 1 { return }
            for j in 0..<n { for i in 0..<m { c[i + j * ldc] = beta == 0 ? 0 : beta * c[i + j * ldc] } }
            return
        }
        if S.self == Float.self {
            run(Float.self, mr: Int(wi_gemm_mr_f32()), transA: transA, transB: transB, m: m, n: n, k: k, alpha: Float(alpha),
                a: UnsafeRawPointer(a).assumingMemoryBound(to: Float.self), lda: lda,
                b: UnsafeRawPointer(b).assumingMemoryBound(to: Float.self), ldb: ldb, beta: Float(beta),
                c: UnsafeMutableRawPointer(c).assumingMemoryBound(to: Float.self), ldc: ldc,
                pack: { wi_spack_a($0, $1, $2, $3, $4, $5) },
                kernel: { wi_sgemm_packed($0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) })
        } else if S.self == Double.self {
            run(Double.self, mr: Int(wi_gemm_mr_f64()), transA: transA, transB: transB, m: m, n: n, k: k, alpha: Double(alpha),
                a: UnsafeRawPointer(a).assumingMemoryBound(to: Double.self), lda: lda,
                b: UnsafeRawPointer(b).assumingMemoryBound(to: Double.self), ldb: ldb, beta: Double(beta),
                c: UnsafeMutableRawPointer(c).assumingMemoryBound(to: Double.self), ldc: ldc,
                pack: { wi_dpack_a($0, $1, $2, $3, $4, $5) },
                kernel: { wi_dgemm_packed($0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) })
        }
    }

    /// Floats of workspace `serialFloat` needs for a column-major `m × n × k` product.
    static func serialWorkspace(m: Int, n: Int, k: Int) -> Int { Int(wi_sgemm_serial_workspace(m, n, k)) }

    /// Column-major Float `C ← α·op(A)·op(B) + β·C` on the calling thread, no allocation (the
    /// caller's `work`, `serialWorkspace(m:n:k:)` floats): per element the same arithmetic as
    /// `gemm` (fma chains over `k` in chunks of `kc`, each added into C). No checks.
    static func serialFloat(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                            a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                            beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, work: UnsafeMutablePointer<Float>) {
        wi_sgemm_serial(transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, work)
    }

    /// Whether the AVX2+FMA kernel runs (same bytes as the portable one).
    static var usesAVX2: Bool { wi_gemm_uses_avx2() != 0 }

    /// Test hook: forces the portable kernel (process-wide). The bytes are the same on both paths,
    /// which is what the tests that flip it check.
    static func forcePortable(_ on: Bool) { wi_gemm_force_portable(on ? 1 : 0) }

    private struct Shared<T>: @unchecked Sendable {
        let packed: UnsafeMutablePointer<T>, work: UnsafeMutablePointer<T>, b: UnsafePointer<T>, c: UnsafeMutablePointer<T>
    }

    private static func run<T: Sendable>(_: T.Type, mr: Int, transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: T,
                               a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, ldb: Int, beta: T,
                               c: UnsafeMutablePointer<T>, ldc: Int,
                               pack: (Int32, Int, Int, UnsafePointer<T>, Int, UnsafeMutablePointer<T>) -> Void,
                               kernel: @escaping @Sendable (Int32, Int, Int, Int, UnsafePointer<T>, UnsafePointer<T>, Int, T, T, Int32,
                                                  UnsafeMutablePointer<T>, Int, UnsafeMutablePointer<T>) -> Void) {
        let kcMax = min(kc, k)
        let packed = UnsafeMutablePointer<T>.allocate(capacity: (m + mr - 1) / mr * mr * kcMax)
        let tasks = (n + columnsPerTask - 1) / columnsPerTask
        // Small products run in the calling thread (waking workers costs more); the bytes are the same.
        let parallel = tasks > 1 && Double(m) * Double(n) * Double(k) >= 4e6 && ProcessInfo.processInfo.activeProcessorCount > 1
        let workCount = (min(n, columnsPerTask) + 5) / 6 * 6 * kcMax
        let work = UnsafeMutablePointer<T>.allocate(capacity: workCount * (parallel ? tasks : 1))
        defer { packed.deallocate(); work.deallocate() }
        var k0 = 0
        while k0 < k {
            let kcur = min(kc, k - k0)
            pack(transA ? 1 : 0, m, kcur, transA ? a + k0 : a + k0 * lda, lda, packed)
            let shared = Shared(packed: packed, work: work, b: transB ? b + k0 * ldb : b + k0, c: c)
            let first: Int32 = k0 == 0 ? 1 : 0
            let tb: Int32 = transB ? 1 : 0
            let body: @Sendable (Int) -> Void = { t in
                let j0 = t * columnsPerTask, nt = min(columnsPerTask, n - j0)
                kernel(tb, m, nt, kcur, shared.packed, transB ? shared.b + j0 : shared.b + j0 * ldb, ldb, alpha, beta, first,
                       shared.c + j0 * ldc, ldc, shared.work + (parallel ? t * workCount : 0))
            }
            if parallel { DispatchQueue.concurrentPerform(iterations: tasks, execute: body) } else { for t in 0..<tasks { body(t) } }
            k0 += kcur
        }
    }
}
