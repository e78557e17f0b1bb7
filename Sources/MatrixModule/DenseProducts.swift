/// A dense layer's weight `W` `[out, in]` (row-major, PyTorch's `nn.Linear` layout) packed for
/// `DenseProducts`: two copies laid out for the forward product `X·Wᵀ` (panels of 16 rows of `W`)
/// and for the input gradient `dZ·W` (panels of 16 columns of `W`), each over the whole inner
/// dimension. Pack once per optimizer step and use it for every product of the step (and from
/// every batch-split thread: it is only read).
///
/// Memory: about `2·out·in` Floats (each dimension rounded up to a multiple of 16). `pack` reuses
/// the storage when the shape does not change, so steady-state training allocates nothing.
public struct PackedWeight: Sendable {
    /// `out`, the rows of the packed `W`.
    public private(set) var rows = 0
    /// `in`, the columns of the packed `W`.
    public private(set) var columns = 0
    /// op(A) = `W` (`out × in`) in panels of 16 rows.
    var forward: [Float] = [0]
    /// op(A) = `Wᵀ` (`in × out`) in panels of 16 columns of `W`.
    var backward: [Float] = [0]

    /// An empty packing (`0 × 0`); call `pack(_:threads:)`.
    public init() {}

    /// `w` packed (see `pack(_:threads:)`).
    public init(_ w: Matrix<Float>, threads: Int = 1) { pack(w, threads: threads) }

    /// Packs `w` `[out, in]`, replacing the previous contents; the panels are split over
    /// `threads` (default 1, values below 1 count as 1) with `DispatchQueue.concurrentPerform`.
    /// The packed values are copies of `w`'s (no arithmetic), whatever the thread count.
    public mutating func pack(_ w: Matrix<Float>, threads: Int = 1) {
        let out = w.rows, inn = w.columns
        let nf = DenseGEMM.packedCount(m: out, k: inn), nb = DenseGEMM.packedCount(m: inn, k: out)
        if forward.count != max(1, nf) { forward = [Float](repeating: 0, count: max(1, nf)) }
        if backward.count != max(1, nb) { backward = [Float](repeating: 0, count: max(1, nb)) }
        rows = out; columns = inn
        guard out > 0, inn > 0 else { return }
        let mr = DenseGEMM.panelRows
        let pf = (out + mr - 1) / mr, pb = (inn + mr - 1) / mr, total = pf + pb
        let tasks = max(1, min(threads, total, out * inn >= 32_768 ? threads : 1))
        w.withUnsafeBufferPointer { src in
            forward.withUnsafeMutableBufferPointer { f in
                backward.withUnsafeMutableBufferPointer { b in
                    let s = Pointers(src: src.baseAddress!, f: f.baseAddress!, b: b.baseAddress!)
                    DenseGEMM.run(tasks: tasks) { t in
                        let r = (total * t / tasks)..<(total * (t + 1) / tasks)
                        let rf = r.clamped(to: 0..<pf), rb = r.clamped(to: pf..<total)
                        if !rf.isEmpty { DenseGEMM.pack(transA: true, m: out, k: inn, a: s.src, lda: inn, panels: rf, into: s.f) }
                        if !rb.isEmpty {
                            DenseGEMM.pack(transA: false, m: inn, k: out, a: s.src, lda: inn,
                                           panels: (rb.lowerBound - pf)..<(rb.upperBound - pf), into: s.b)
                        }
                    }
                }
            }
        }
    }

    private struct Pointers: @unchecked Sendable {
        let src: UnsafePointer<Float>, f: UnsafeMutablePointer<Float>, b: UnsafeMutablePointer<Float>
    }
}

/// The three matrix products of a dense layer's training step, on the package's own packed
/// AVX2+FMA micro-kernel (`CGemmKernels`, 16×6 Float tiles; a portable `fmaf` path on other CPUs
/// gives the same bytes), for row-major batches:
///
/// - `forward`: `Z = X·Wᵀ + 1·bᵀ` (`X` `[batch, in]`, `Z` `[batch, out]`), optionally also
///   `Y = max(Z, 0)` (ReLU, `z > 0 ? z : +0`) in the same pass;
/// - `inputGradient`: `dX = dZ·W` (`[batch, in]`), optionally gated by a ReLU below:
///   `dX ⊙ [G > 0]` with `G` the lower layer's pre-activation — then the result is that layer's `dZ`;
/// - `weightGradient`: `dW = dZᵀ·X` (`[out, in]`).
///
/// **Arithmetic.** Each element is one fused-multiply-add chain over the whole inner dimension in
/// index order starting from 0 (`in` for the forward, `out` for `dX`, the batch rows for `dW`),
/// then `+ b` rounded once (forward). Which thread and which tile computes an element never changes
/// it: the bytes depend only on the inputs — not on `threads`, not on the CPU's ISA path, not on
/// OpenBLAS's thread count (which these products never read). They differ from `cblas_sgemm`'s
/// by rounding (a different summation order), like any two BLAS implementations.
///
/// **Why not `cblas_sgemm`.** At batch 128 (or a batch-split slice of 64 rows) a 256×256
/// product is small: OpenBLAS packs both operands and zeroes C (`β = 0`) on every call, and its
/// threading does not pay. Here the weight is packed once per step (`PackedWeight`) and shared by
/// the forward, the backward and every batch-split thread; the other operand is read in place;
/// C is written once with the bias (and ReLU) applied.
///
/// `threads` (default 1; below 1 counts as 1) splits the columns of the result over
/// `DispatchQueue.concurrentPerform` workers when the product is large enough to pay for waking
/// them (about 10⁶ multiply-adds).
public enum DenseProducts {
    /// Below this many multiply-adds a product runs in the calling thread.
    static let parallelThreshold = 1 << 20

    /// `Z = X·Wᵀ + 1·bᵀ` into `z` `[x.rows, w.rows]`.
    /// - Throws: `MatrixError.shapeMismatch` when `x.columns != w.columns`, `bias.count != w.rows`,
    ///   or `z` is not `[x.rows, w.rows]`.
    public static func forward(_ x: Matrix<Float>, _ w: PackedWeight, bias: [Float], into z: inout Matrix<Float>, threads: Int = 1) throws(MatrixError) {
        try forward(x, w, bias: bias, into: &z, relu: nil, threads: threads)
    }

    /// `Z = X·Wᵀ + 1·bᵀ` into `z` and `Y = max(Z, 0)` (ReLU: `z > 0 ? z : +0`, NaN gives +0) into
    /// `y`, both `[x.rows, w.rows]`, in one pass.
    /// - Throws: `MatrixError.shapeMismatch` as `forward(_:_:bias:into:threads:)`, or when `y`
    ///   is not `[x.rows, w.rows]`.
    public static func forward(_ x: Matrix<Float>, _ w: PackedWeight, bias: [Float], into z: inout Matrix<Float>,
                               relu y: inout Matrix<Float>, threads: Int = 1) throws(MatrixError) {
        try withUnsafeMutablePointer(to: &y) { (p) throws(MatrixError) in try forward(x, w, bias: bias, into: &z, relu: p, threads: threads) }
    }

    private static func forward(_ x: Matrix<Float>, _ w: PackedWeight, bias: [Float], into z: inout Matrix<Float>,
                                relu: UnsafeMutablePointer<Matrix<Float>>?, threads: Int) throws(MatrixError) {
        let n = x.rows, k = w.columns, m = w.rows
        guard x.columns == k, bias.count == m else {
            throw .shapeMismatch(operation: "DenseProducts.forward", lhs: "X \(x.shapeDescription), b \(bias.count)", rhs: "W \(m)×\(k)")
        }
        guard z.rows == n, z.columns == m, relu.map({ $0.pointee.rows == n && $0.pointee.columns == m }) ?? true else {
            throw .shapeMismatch(operation: "DenseProducts.forward (result)", lhs: "Z \(z.shapeDescription)", rhs: "X·Wᵀ \(n)×\(m)")
        }
        guard m > 0, n > 0 else { return }
        var dummy: Float = 0
        x.withUnsafeBufferPointer { xb in
            bias.withUnsafeBufferPointer { bb in
                w.forward.withUnsafeBufferPointer { a in
                    z.withUnsafeMutableBufferPointer { zb in
                        let run = { (y: UnsafeMutablePointer<Float>?) in
                            let s = Args(a: a.baseAddress!, b: xb.baseAddress ?? withUnsafeMutablePointer(to: &dummy) { UnsafePointer($0) },
                                         c: zb.baseAddress!, bias: bb.baseAddress, y: y, gate: nil)
                            split(m: m, n: n, k: k, threads: threads) { cols in
                                DenseGEMM.product(m: m, columns: cols, k: k, packedA: s.a, b: s.b, bsp: 1, bsj: k, c: s.c, ldc: m,
                                                  mode: .bias, bias: s.bias, y: s.y, ldy: m, gate: nil)
                            }
                        }
                        if let relu { relu.pointee.withUnsafeMutableBufferPointer { yb in run(yb.baseAddress!) } } else { run(nil) }
                    }
                }
            }
        }
    }

    /// `dX = dZ·W` into `dx` `[dz.rows, w.columns]`; with `reluGate` `G` (same shape as `dx`),
    /// `dX[r, i] = G[r, i] > 0 ? (dZ·W)[r, i] : +0` — the `dZ` of a ReLU layer below whose
    /// pre-activation is `G`.
    /// - Throws: `MatrixError.shapeMismatch` when `dz.columns != w.rows` or `dx` (`reluGate`) is
    ///   not `[dz.rows, w.columns]`.
    public static func inputGradient(_ dz: Matrix<Float>, _ w: PackedWeight, reluGate: Matrix<Float>? = nil,
                                     into dx: inout Matrix<Float>, threads: Int = 1) throws(MatrixError) {
        let n = dz.rows, k = w.rows, m = w.columns
        guard dz.columns == k else {
            throw .shapeMismatch(operation: "DenseProducts.inputGradient", lhs: "dZ \(dz.shapeDescription)", rhs: "W \(k)×\(m)")
        }
        guard dx.rows == n, dx.columns == m, reluGate.map({ $0.rows == n && $0.columns == m }) ?? true else {
            throw .shapeMismatch(operation: "DenseProducts.inputGradient (result)", lhs: "dX \(dx.shapeDescription)", rhs: "dZ·W \(n)×\(m)")
        }
        guard m > 0, n > 0 else { return }
        var dummy: Float = 0
        let gate = reluGate ?? Matrix(rows: 0, columns: 0)
        dz.withUnsafeBufferPointer { db in
            gate.withUnsafeBufferPointer { gb in
                w.backward.withUnsafeBufferPointer { a in
                    dx.withUnsafeMutableBufferPointer { xb in
                        let s = Args(a: a.baseAddress!, b: db.baseAddress ?? withUnsafeMutablePointer(to: &dummy) { UnsafePointer($0) },
                                     c: xb.baseAddress!, bias: nil, y: nil, gate: reluGate == nil ? nil : gb.baseAddress)
                        split(m: m, n: n, k: k, threads: threads) { cols in
                            DenseGEMM.product(m: m, columns: cols, k: k, packedA: s.a, b: s.b, bsp: 1, bsj: k, c: s.c, ldc: m,
                                              mode: s.gate == nil ? .store : .reluGate, bias: nil, y: nil, ldy: 0, gate: s.gate)
                        }
                    }
                }
            }
        }
    }

    /// `dW = dZᵀ·X` into `dw` `[dz.columns, x.columns]` (the batch rows summed in order). `scratch`
    /// holds `X` packed (resized when needed; keep it between calls to avoid allocating).
    /// - Throws: `MatrixError.shapeMismatch` when `dz.rows != x.rows` or `dw` is not `[out, in]`.
    public static func weightGradient(_ dz: Matrix<Float>, _ x: Matrix<Float>, into dw: inout Matrix<Float>, scratch: inout [Float],
                                      threads: Int = 1) throws(MatrixError) {
        let k = dz.rows, n = dz.columns, m = x.columns
        guard x.rows == k else {
            throw .shapeMismatch(operation: "DenseProducts.weightGradient", lhs: "dZᵀ \(n)×\(k)", rhs: "X \(x.shapeDescription)")
        }
        guard dw.rows == n, dw.columns == m else {
            throw .shapeMismatch(operation: "DenseProducts.weightGradient (result)", lhs: "dW \(dw.shapeDescription)", rhs: "dZᵀ·X \(n)×\(m)")
        }
        guard m > 0, n > 0 else { return }
        let count = max(1, DenseGEMM.packedCount(m: m, k: k))
        if scratch.count < count { scratch = [Float](repeating: 0, count: count) }
        var dummy: Float = 0
        x.withUnsafeBufferPointer { xb in
            dz.withUnsafeBufferPointer { db in
                scratch.withUnsafeMutableBufferPointer { pa in
                    dw.withUnsafeMutableBufferPointer { wb in
                        if k > 0 { DenseGEMM.pack(transA: false, m: m, k: k, a: xb.baseAddress!, lda: m, panels: 0..<((m + 15) / 16), into: pa.baseAddress!) }
                        let s = Args(a: UnsafePointer(pa.baseAddress!), b: db.baseAddress ?? withUnsafeMutablePointer(to: &dummy) { UnsafePointer($0) },
                                     c: wb.baseAddress!, bias: nil, y: nil, gate: nil)
                        split(m: m, n: n, k: k, threads: threads) { cols in
                            DenseGEMM.product(m: m, columns: cols, k: k, packedA: s.a, b: s.b, bsp: n, bsj: 1, c: s.c, ldc: m,
                                              mode: .store, bias: nil, y: nil, ldy: 0, gate: nil)
                        }
                    }
                }
            }
        }
    }

    private struct Args: @unchecked Sendable {
        let a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>
        let bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>?, gate: UnsafePointer<Float>?
    }

    /// Splits the `n` columns of C into contiguous chunks (multiples of the 6-column tile) over
    /// at most `threads` tasks; one task when the product is small.
    private static func split(m: Int, n: Int, k: Int, threads: Int, _ body: (Range<Int>) -> Void) {
        let tiles = (n + 5) / 6
        let work = m.multipliedReportingOverflow(by: n).partialValue.multipliedReportingOverflow(by: max(k, 1)).partialValue
        let tasks = threads > 1 && work >= parallelThreshold ? min(threads, tiles) : 1
        DenseGEMM.run(tasks: tasks) { t in
            let lo = min(n, tiles * t / tasks * 6), hi = min(n, tiles * (t + 1) / tasks * 6)
            body(lo..<hi)
        }
    }
}
