import CGemmKernels

/// A fixed team of `size` threads that run one task together and can wait for each other inside
/// it (`barrier()`): the calling thread is member 0, members `1..<size` are threads started once
/// by `init` and kept until the team is released.
///
/// Unlike `DispatchQueue.concurrentPerform`, whose iterations may run one after another on fewer
/// threads, every member of a `run` is a distinct thread running at the same time, so a barrier
/// inside the task cannot deadlock. Waiting members spin (`pause`), then yield the CPU
/// (`sched_yield`) at a barrier or sleep on a condition variable between tasks.
public final class ThreadTeam: @unchecked Sendable {
    private let team: OpaquePointer
    /// Members, the calling thread included (`≥ 1`).
    public let size: Int

    /// Starts `size − 1` threads; nil when `size < 1` or a thread cannot be started.
    public init?(size: Int) {
        guard size >= 1, let t = wi_team_create(size) else { return nil }
        team = t
        self.size = size
    }

    deinit { wi_team_destroy(team) }

    /// Calls `body(member)` on every member `0..<size` at the same time (member 0 on the calling
    /// thread) and returns when all calls have returned. One `run` at a time per team; `body`
    /// must not throw or trap, and every member must call `barrier()` the same number of times.
    public func run(_ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { b in
            var box = Box(f: b)
            withUnsafeMutablePointer(to: &box) { p in
                wi_team_run(team, { ctx, member in ctx!.assumingMemoryBound(to: Box.self).pointee.f(member) }, p)
            }
        }
    }

    /// Returns once every member of the running task has called it (a full memory barrier: what a
    /// member wrote before is visible to all after). Only inside `run`.
    public func barrier() { wi_team_barrier(team) }

    private struct Box { let f: (Int) -> Void }
}

/// The dense-layer products and packing of `DenseProducts` on raw row-major buffers, for training
/// loops that manage their own buffers and threads (the layer-synchronous training step).
///
/// Each element of a product is one fused-multiply-add chain over the whole inner dimension in
/// index order from 0, then the epilogue — the arithmetic of `DenseProducts`, so the bytes do not
/// depend on which call, tile or thread computes an element. Preconditions are the caller's: no
/// checks beyond the sizes being non-negative.
public enum DenseKernels {
    /// Asks the CPU to bring `count` Floats at `p` into its caches (a hint: no effect on any value).
    public static func prefetch(_ p: UnsafePointer<Float>, count: Int) { wi_prefetch_range(p, count * MemoryLayout<Float>.stride) }

    /// Stochastic gradient descent on `count` elements, each operation rounded separately in this
    /// order (AVX2 when available, the same bytes either way): `g' = g + λ·w`; with `μ = 0`
    /// `w = w − η·g'`; otherwise `v = μ·m + g'`, `m = v`, `w = w − η·(nesterov ? g' + μ·v : v)`
    /// (PyTorch `torch.optim.SGD`'s update with dampening 0). `m` is not touched when `μ = 0`.
    public static func sgdUpdate(_ w: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ m: UnsafeMutablePointer<Float>, count: Int,
                                 learningRate eta: Float, decay lambda: Float, momentum mu: Float, nesterov: Bool) {
        wi_sgd_update(count, w, g, m, eta, lambda, mu, nesterov ? 1 : 0)
    }

    /// Rows per packed panel (16).
    public static var panelRows: Int { DenseGEMM.panelRows }

    /// What a product writes: `store` `C = acc`; `bias` `C = acc + bias[i]` (one rounding, and with
    /// `y` also `y = C > 0 ? C : +0`); `biasReLU` only `C = v > 0 ? v : +0` with `v = acc + bias[i]`
    /// (NaN and −0 give +0); `reluGate` `C = gate > 0 ? acc : +0` (`gate` laid out like C).
    public enum Epilogue: Sendable { case store, bias, biasReLU, reluGate }

    /// Elements of a packed `m × k` operand: `⌈m/16⌉·16·k`.
    public static func packedCount(m: Int, k: Int) -> Int { DenseGEMM.packedCount(m: m, k: k) }

    /// Packs rows `[16·p0, min(m, 16·p1))` (panels `p0..<p1`) and inner positions `positions` of
    /// op(A) (`m × total`) into `packed`, the layout of a whole packed `m × total` operand (panel `q`
    /// at `packed + 16·total·q`, element `(i, p)` at `16·p + i mod 16`; rows ≥ m of the last panel
    /// zero). `transposed`: op(A)(i, p) = `a[i·lda + p]` (A stored `m × total`, a layer's weight for
    /// the forward product); otherwise op(A)(i, p) = `a[i + p·lda]` (A stored `total × m` row-major:
    /// a batch `[total, m]` for `dW`, or a weight `[total, m]` for `dX`). Copies only.
    public static func pack(transposed: Bool, m: Int, panels: Range<Int>, positions: Range<Int>, total: Int,
                            a: UnsafePointer<Float>, lda: Int, into packed: UnsafeMutablePointer<Float>) {
        let mr = panelRows
        guard !positions.isEmpty, m > 0 else { return }
        for q in panels {
            let i0 = q * mr, mv = min(mr, m - i0)
            guard mv > 0 else { break }
            let src = transposed ? a + i0 * lda + positions.lowerBound : a + i0 + positions.lowerBound * lda
            wi_spack_a(transposed ? 1 : 0, mv, positions.count, src, lda, packed + q * mr * total + positions.lowerBound * mr)
        }
    }

    /// `C[j·ldc + i]` for `i < m`, `j < n`: the fma chain over `p < k` of `A(i, p)·B(p, j)` with `A`
    /// packed (`pack`, `m × k`: panels of stride `16·k`; or, with `lda > 0`, read in place,
    /// `A(i, p) = packedA[i + p·lda]`, and `packInto` not allowed) and `B(p, j) = b[p·bsp + j·bsj]` read in
    /// place, then `epilogue` (`bias`: `bias[i]`; `y`/`ldy`: ReLU output, `bias` only; `gate`:
    /// `reluGate` only). With `packInto`, each result row `j` (`y`'s when given, else `C`'s) is
    /// also copied, panel by panel while it is in cache, to the packed layout of the result read as
    /// an `m × total` operand at positions `j`: element `i` at `packInto[(i/16)·16·total + 16·j + i mod 16]`
    /// (pass `packed + 16·firstPosition`; lanes `≥ m` of the last panel are left as they are).
    public static func product(m: Int, n: Int, k: Int, packedA: UnsafePointer<Float>, lda: Int = 0, b: UnsafePointer<Float>, bsp: Int, bsj: Int,
                               c: UnsafeMutablePointer<Float>, ldc: Int, epilogue: Epilogue, bias: UnsafePointer<Float>? = nil,
                               y: UnsafeMutablePointer<Float>? = nil, ldy: Int = 0, gate: UnsafePointer<Float>? = nil,
                               packInto: UnsafeMutablePointer<Float>? = nil, total: Int = 0) {
        guard m > 0, n > 0 else { return }
        let mode: Int32
        switch epilogue {
        case .store: mode = DenseGEMM.Mode.store.rawValue
        case .bias: mode = DenseGEMM.Mode.bias.rawValue
        case .biasReLU: mode = DenseGEMM.Mode.biasReLU.rawValue
        case .reluGate: mode = DenseGEMM.Mode.reluGate.rawValue
        }
        precondition(packInto == nil || lda == 0, "DenseKernels.product: packInto needs a packed A (lda 0)")
        if let packInto {
            wi_dense_sgemm_pack(m, n, k, packedA, b, bsp, bsj, c, ldc, mode, bias, y, ldy, gate, packInto, panelRows * total)
        } else {
            wi_dense_sgemm(m, n, k, packedA, lda, b, bsp, bsj, c, ldc, mode, bias, y, ldy, gate)
        }
    }
}
