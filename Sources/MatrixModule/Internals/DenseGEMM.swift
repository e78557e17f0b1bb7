import CGemmKernels
import Dispatch

/// Thin Swift access to the dense-layer training products of `CGemmKernels` (`dense_kernels.c`):
/// packing and the tile loop, with the columns of C split over threads. Internal; the public
/// API is `PackedWeight` and `DenseProducts`.
///
/// Every element of C is one fused-multiply-add chain over the whole inner dimension in order
/// (then the epilogue), whichever tile and thread computes it, on the AVX2+FMA and the portable
/// path alike, so the split over threads never changes the bytes.
enum DenseGEMM {
    /// Rows per packed panel (the micro-kernel's 16-row tile).
    static var panelRows: Int { Int(wi_gemm_mr_f32()) }

    /// Epilogue modes (see `CGemmKernels.h`).
    enum Mode: Int32 { case store = 0, bias = 1, accumulate = 2, reluGate = 3, biasReLU = 4 }

    /// Elements of a packed `m × k` A: `⌈m/16⌉·16·k`.
    static func packedCount(m: Int, k: Int) -> Int { (m + panelRows - 1) / panelRows * panelRows * k }

    /// Packs panels `[p0, p1)` of op(A) `m × k` (`transA`: A stored `k × m`, i.e. row `i` of op(A)
    /// at `a + i·lda`; otherwise column-major with element `(i, p)` at `a + i + p·lda`).
    static func pack(transA: Bool, m: Int, k: Int, a: UnsafePointer<Float>, lda: Int, panels: Range<Int>, into packed: UnsafeMutablePointer<Float>) {
        let mr = panelRows
        let i0 = panels.lowerBound * mr, i1 = min(m, panels.upperBound * mr)
        guard i1 > i0, k > 0 else { return }
        wi_spack_a(transA ? 1 : 0, i1 - i0, k, transA ? a + i0 * lda : a + i0, lda, packed + i0 * k)
    }

    /// Columns `[j0, j1)` of C (see `wi_dense_sgemm`).
    static func product(m: Int, columns: Range<Int>, k: Int, packedA: UnsafePointer<Float>, b: UnsafePointer<Float>, bsp: Int, bsj: Int,
                        c: UnsafeMutablePointer<Float>, ldc: Int, mode: Mode, bias: UnsafePointer<Float>?,
                        y: UnsafeMutablePointer<Float>?, ldy: Int, gate: UnsafePointer<Float>?) {
        guard !columns.isEmpty, m > 0 else { return }
        let j0 = columns.lowerBound
        wi_dense_sgemm(m, columns.count, k, packedA, 0, b + j0 * bsj, bsp, bsj, c + j0 * ldc, ldc, mode.rawValue, bias,
                       y.map { $0 + j0 * ldy }, ldy, gate.map { $0 + j0 * ldc })
    }

    /// Runs `body(t)` for `t` in `0..<tasks`: in the calling thread when `tasks == 1`, else with
    /// `DispatchQueue.concurrentPerform`.
    static func run(tasks: Int, _ body: (Int) -> Void) {
        if tasks <= 1 { body(0); return }
        withoutActuallyEscaping(body) { b in
            let box = Box(f: b)     // the tasks write disjoint ranges; the caller waits for all of them
            DispatchQueue.concurrentPerform(iterations: tasks) { box.f($0) }
        }
    }

    private struct Box: @unchecked Sendable { let f: (Int) -> Void }
}
