import Dispatch
import CGemmKernels

/// The Q factor of a thin QR decomposition, computed so that its bytes do not depend on any thread
/// count: a blocked Householder QR (compact WY, Schreiber & Van Loan 1989) with a fixed blocking,
/// whose panels are factored by our own sequential code and whose heavy work — the block-reflector
/// updates and the formation of Q — runs on `InvariantGEMM`, the package's own packed gemm whose
/// every element is the same fma chain however the work is split over threads (OpenBLAS's sgemm
/// is not: its bytes change with its thread count; see `InvariantGEMM`).
///
/// The same decomposition as LAPACK's `?geqrf` + `?orgqr` (Householder reflectors
/// `H = I − τ·v·vᵀ` with `v₀ = 1` and `R_kk = −sign(α)·‖x‖`, as `?larfg`), so Q agrees with
/// LAPACK's up to rounding; the bytes differ from LAPACK's (different blocking and summation
/// order). LAPACK's own bytes change with the OpenBLAS thread count: its panel (`?geqr2`,
/// `?larft`) runs on threaded level-2 BLAS whose reductions split with the thread count.
public enum HouseholderQR {
    /// Columns per block of the compact-WY updates (fixed; never derived from a thread count).
    public static let blockSize = 128
    /// Columns per unblocked leaf inside a block's panel (fixed).
    public static let leafSize = 32

    /// Replaces the column-major `m × n` matrix `a` (`m ≥ n`, leading dimension `m`) by the
    /// `m × n` factor Q of its thin QR decomposition `A = Q·R` (orthonormal columns) and returns
    /// the diagonal of R (`n` values; multiply Q's column j by `sign(R_jj)` for the Q with a
    /// positive R diagonal — the Haar convention of Mezzadri 2007).
    ///
    /// Algorithm: blocks of `blockSize` columns left to right. A block's panel is factored in
    /// leaves of `leafSize` columns by unblocked Householder (sequential, fixed summation order:
    /// `wi_sgeqr2`/`wi_dgeqr2` in CGemmKernels, AVX2 or portable C with identical bytes); the
    /// block's triangular factor T (`H₁⋯H_b = I − V·T·Vᵀ`, LAPACK `?larft` forward columnwise) is
    /// built from `VᵀV` (gemm) and τ; the trailing columns get `C ← (I − V·Tᵀ·Vᵀ)·C` as three
    /// products per task of at most 96 columns (`InvariantGEMM.reflectorTasks`). Look-ahead: the
    /// task for the next block's columns goes on to factor that block's panel while the other
    /// tasks update the rest. Q is then accumulated backward over the blocks (`?orgqr`): the
    /// block's own columns are set to the identity columns E and updated with the columns already
    /// formed, `C ← (I − V·T·Vᵀ)·C`, while a job beside the update prepares the next block. The
    /// products leave out exact-zero terms only (V's and T's zero triangles, the formed columns'
    /// zero rows), which changes no bit. About `4mn² − 4n³/3` flops, like `?geqrf` + `?orgqr`.
    ///
    /// Thread invariance: the sequential parts run in one thread in a fixed order; every product
    /// goes through `InvariantGEMM` (the split over threads never changes an element's
    /// arithmetic). No BLAS or LAPACK routine is called, so nothing here depends on, reads or
    /// changes OpenBLAS's thread count or kernel; the AVX2 and portable code paths give the same
    /// bytes (fused multiply-adds everywhere), so the result is designed not to change between
    /// machines either (tested on one machine and on both code paths of its kernel).
    ///
    /// Entries must be finite. Works for `Float` and `Double`.
    /// - Throws: `MatrixError.invalidArgument` when `m < n`, the buffer is shorter than `m·n`, or
    ///   the element type is not `Float`/`Double`; `MatrixError.dimensionTooLarge` when `m`
    ///   exceeds `Int32.max` (BLAS's index type).
    public static func thinQ<S: BLASScalar>(_ a: UnsafeMutableBufferPointer<S>, rows m: Int, columns n: Int) throws(MatrixError) -> [S] {
        try thinQ(a, rows: m, columns: n, signFixGain: nil, fillingColumns: nil)
    }

    /// `thinQ(_:rows:columns:)` with the two steps around it that orthogonal initialization needs,
    /// overlapped with the factorization; the bytes are those of doing the steps separately.
    ///
    /// - `fillingColumns`: when given, `a` is filled by this closure instead of on entry: it is
    ///   called for disjoint column ranges covering `0..<columns` and must write columns `range`
    ///   (rows `0..<rows`, column j at `a[j·rows ..< (j+1)·rows]`) as a fill of the whole matrix
    ///   would. The first range (the first panel) is filled first; the others beside the first
    ///   panel's factorization, possibly several at once on different threads.
    /// - `signFixGain`: when given, Q's column j is multiplied by `S(R_jj < 0 ? −gain : gain)` in
    ///   the last update of that column (one multiplication, as a separate pass would), so the Q
    ///   returned is the Haar one times `gain`. The returned diagonal of R is the unmodified one.
    /// - Throws: as `thinQ(_:rows:columns:)`.
    public static func thinQ<S: BLASScalar>(_ a: UnsafeMutableBufferPointer<S>, rows m: Int, columns n: Int, signFixGain: Double?,
                                            fillingColumns fill: (@Sendable (Range<Int>) -> Void)?) throws(MatrixError) -> [S] {
        guard m >= n, n >= 0 else { throw .invalidArgument(operation: "HouseholderQR.thinQ", detail: "needs rows ≥ columns, got \(m)×\(n)") }
        let (needed, overflow) = m.multipliedReportingOverflow(by: n)
        guard !overflow, a.count >= needed else {
            throw .invalidArgument(operation: "HouseholderQR.thinQ", detail: "buffer has \(a.count) elements, needs \(overflow ? "more than Int.max" : "\(needed)")")
        }
        if n == 0 { return [] }
        _ = try blasInt(m, "HouseholderQR.thinQ")
        guard let base = a.baseAddress else { return [] }
        // Run a concrete instantiation (the generic entry point is called across modules, unspecialized).
        if S.self == Float.self {
            let p = UnsafeMutableRawPointer(base).assumingMemoryBound(to: Float.self)
            return BlockedHouseholderQR<Float>(a: p, m: m, n: n).run(signFixGain: signFixGain, fill: fill).map { S($0) }
        }
        if S.self == Double.self {
            let p = UnsafeMutableRawPointer(base).assumingMemoryBound(to: Double.self)
            return BlockedHouseholderQR<Double>(a: p, m: m, n: n).run(signFixGain: signFixGain, fill: fill).map { S($0) }
        }
        throw .invalidArgument(operation: "HouseholderQR.thinQ", detail: "element type \(S.self) is not Float or Double")
    }
}

/// The factorization and Q formation of `HouseholderQR.thinQ` on a column-major `m × n` buffer
/// (leading dimension `m`).
struct BlockedHouseholderQR<T: BLASScalar>: @unchecked Sendable {
    let a: UnsafeMutablePointer<T>
    let m: Int
    let n: Int
    /// Packed operands and per-task buffers, reused by every product of this factorization.
    let ws = GEMMWorkspace()
    /// The products of the panel job that runs beside the trailing update (look-ahead).
    let panelWorkspace = GEMMWorkspace()

    func run(signFixGain: Double? = nil, fill: (@Sendable (Range<Int>) -> Void)? = nil) -> [T] {
        let nbMax = min(HouseholderQR.blockSize, n)
        let blocks = (n + nbMax - 1) / nbMax
        let tau = UnsafeMutablePointer<T>.allocate(capacity: n)
        let tAll = UnsafeMutablePointer<T>.allocate(capacity: blocks * nbMax * nbMax)   // T of block J at J·nbMax², ld nbMax
        let v = UnsafeMutablePointer<T>.allocate(capacity: m * nbMax)                  // explicit V of one block, ld m
        let w = UnsafeMutablePointer<T>.allocate(capacity: nbMax * nbMax)              // scratch of the panel's leaf updates
        let w2 = UnsafeMutablePointer<T>.allocate(capacity: nbMax * nbMax)
        let diagonal = UnsafeMutablePointer<T>.allocate(capacity: n)
        let factors = UnsafeMutablePointer<T>.allocate(capacity: n)
        defer { tau.deallocate(); tAll.deallocate(); v.deallocate(); w.deallocate(); w2.deallocate(); diagonal.deallocate(); factors.deallocate() }
        let scratch = PanelScratch(tau: tau, tAll: tAll, v: v, w: w, w2: w2, diagonal: diagonal, nbMax: nbMax)

        // Factorization. Panel 0 first (beside the fill of the other columns when the caller fills,
        // else with its products on every thread); then for each block the trailing update, whose
        // job for the next panel's columns goes on to factor that panel while the other columns are
        // updated beside it (look-ahead). Every element gets the same operations in the same order
        // as without the overlap.
        if let fill {
            let first = min(nbMax, n)
            let columnsPerFill = max(1, (1 << 16) / m)
            // The first panel's columns, in parallel pieces when they are many elements.
            let firstFills = (first + columnsPerFill - 1) / columnsPerFill
            if firstFills > 1 {
                DispatchQueue.concurrentPerform(iterations: firstFills) { j in fill((j * columnsPerFill)..<min(first, (j + 1) * columnsPerFill)) }
            } else {
                fill(0..<first)
            }
            let fills = (n - first + columnsPerFill - 1) / columnsPerFill
            let job: @Sendable (Int) -> Void = { j in
                if j == 0 { self.factorPanel(block: 0, scratch: scratch, threads: false); return }
                let c0 = first + (j - 1) * columnsPerFill
                fill(c0..<min(n, c0 + columnsPerFill))
            }
            if fills == 0 { factorPanel(block: 0, scratch: scratch, threads: true) }
            else { DispatchQueue.concurrentPerform(iterations: fills + 1, execute: job) }
        } else {
            factorPanel(block: 0, scratch: scratch, threads: true)
        }
        for block in 0..<blocks {
            let j0 = block * nbMax, nb = min(nbMax, n - j0), mj = m - j0
            let trailing = n - j0 - nb
            if trailing <= 0 { break }
            let t = tAll + block * nbMax * nbMax
            InvariantGEMM.reflectorTasks(rows: mj, k: nb, v: v, ldv: m, t: t, ldt: nbMax, transposeT: true,
                                         c: a + j0 + (j0 + nb) * m, ldc: m, columns: trailing,
                                         split: min(nbMax, trailing), innerFirst: 0..<mj, innerSecond: 0..<mj, structured: true,
                                         workspace: ws, lead: { self.factorPanel(block: block + 1, scratch: scratch, threads: false) })
        }
        if let gain = signFixGain {
            for j in 0..<n { factors[j] = T(diagonal[j] < 0 ? -gain : gain) }
        }
        let scale = Pointer(p: factors)

        // Q = H₁⋯H_n·[I; 0], accumulated backward over the blocks: the block's own columns are set to
        // the identity columns E and updated together with the columns formed so far,
        // C ← (I − V·T·Vᵀ)·C. The formed columns are zero in the block's top nb rows, E below them.
        // The next block's V is copied (and its columns set to E) by a job beside the update.
        prepareQ(block: blocks - 1, nbMax: nbMax, v: v)
        for block in (0..<blocks).reversed() {
            let j0 = block * nbMax, nb = min(nbMax, n - j0), mj = m - j0
            let t = tAll + block * nbMax * nbMax
            // The sign fix in the last update (block 0 covers every row and column).
            let epilogue = block > 0 || signFixGain == nil ? nil : signFix(scale)
            var lead: (@Sendable () -> Void)? = nil
            if block > 0 { lead = { self.prepareQ(block: block - 1, nbMax: nbMax, v: scratch.v) } }
            InvariantGEMM.reflectorTasks(rows: mj, k: nb, v: v, ldv: m, t: t, ldt: nbMax, transposeT: false,
                                         c: a + j0 + j0 * m, ldc: m, columns: n - j0,
                                         split: nb, innerFirst: 0..<nb, innerSecond: nb..<mj, structured: true, workspace: ws,
                                         lead: lead, epilogue: epilogue)
        }
        return Array(UnsafeBufferPointer(start: diagonal, count: n))
    }

    struct Pointer: @unchecked Sendable { let p: UnsafeMutablePointer<T> }

    /// Multiplies Q's columns `c0..<c0+count` by their factors (one rounding each).
    func signFix(_ factors: Pointer) -> @Sendable (Int, Int) -> Void {
        { c0, count in
            for j in c0..<(c0 + count) {
                let f = factors.p[j], col = self.a + j * self.m
                for i in 0..<self.m { col[i] = col[i] * f }
            }
        }
    }

    /// Copies block `block`'s reflectors into `v` and sets its columns of `a` to the identity columns.
    func prepareQ(block: Int, nbMax: Int, v: UnsafeMutablePointer<T>) {
        let j0 = block * nbMax, nb = min(nbMax, n - j0), mj = m - j0
        copyReflectors(from: a + j0 + j0 * m, rows: mj, columns: 0..<nb, to: v)
        for c in 0..<nb {
            let col = a + (j0 + c) * m
            col.update(repeating: 0, count: m)
            col[j0 + c] = 1
        }
    }

    /// Buffers of the factorization shared by the panel jobs.
    struct PanelScratch: @unchecked Sendable {
        let tau: UnsafeMutablePointer<T>, tAll: UnsafeMutablePointer<T>, v: UnsafeMutablePointer<T>
        let w: UnsafeMutablePointer<T>, w2: UnsafeMutablePointer<T>, diagonal: UnsafeMutablePointer<T>
        let nbMax: Int
    }

    /// Factors block `block`'s panel (its trailing updates by earlier blocks done): leaves of
    /// `leafSize` columns by unblocked Householder, each leaf's reflectors applied to the rest of
    /// the panel; the block's T built leaf by leaf; R's diagonal recorded; the explicit V left in
    /// `scratch.v`. `threads: false` keeps its products on the calling thread (look-ahead job).
    func factorPanel(block: Int, scratch: PanelScratch, threads: Bool) {
        let nbMax = scratch.nbMax
        let j0 = block * nbMax, nb = min(nbMax, n - j0), mj = m - j0
        let panel = a + j0 + j0 * m
        let t = scratch.tAll + block * nbMax * nbMax, v = scratch.v, tau = scratch.tau
        let wsp = threads ? ws : panelWorkspace
        var i0 = 0
        while i0 < nb {
            let ib = min(HouseholderQR.leafSize, nb - i0)
            factorLeaf(panel + i0 + i0 * m, rows: mj - i0, columns: ib, tau: tau + j0 + i0)
            for c in i0..<(i0 + ib) { scratch.diagonal[j0 + c] = panel[c + c * m] }
            copyReflectors(from: panel, rows: mj, columns: i0..<(i0 + ib), to: v)
            extendT(t, ldt: nbMax, v: v, rows: mj, columns: i0..<(i0 + ib), tau: tau + j0, workspace: wsp, threads: threads)
            let rest = nb - i0 - ib
            if rest > 0 {
                // The leaf's reflectors on the rest of the block's panel: C ← (I − V·Tᵀ·Vᵀ)·C.
                InvariantGEMM.applyBlockReflector(rows: mj - i0, k: ib, v: v + i0 + i0 * m, ldv: m, t: t + i0 + i0 * nbMax, ldt: nbMax,
                                                  transposeT: true, c: panel + i0 + (i0 + ib) * m, ldc: m, columns: rest,
                                                  w: scratch.w, w2: scratch.w2, workspace: wsp, threads: threads)
            }
            i0 += ib
        }
    }

    /// Unblocked Householder QR of the `rows × columns` panel at `p` (leading dimension `m`), as
    /// LAPACK `?geqr2`: R on and above the diagonal, the reflectors' v (v₀ = 1 implied) below it,
    /// τ in `tau`. Sequential, fixed summation order: `wi_sgeqr2`/`wi_dgeqr2` in CGemmKernels
    /// (eight lane partial sums per dot product, AVX2 or portable with identical bytes).
    func factorLeaf(_ p: UnsafeMutablePointer<T>, rows: Int, columns: Int, tau: UnsafeMutablePointer<T>) {
        if T.self == Float.self {
            wi_sgeqr2(rows, columns, UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self), m,
                      UnsafeMutableRawPointer(tau).assumingMemoryBound(to: Float.self))
        } else if T.self == Double.self {
            wi_dgeqr2(rows, columns, UnsafeMutableRawPointer(p).assumingMemoryBound(to: Double.self), m,
                      UnsafeMutableRawPointer(tau).assumingMemoryBound(to: Double.self))
        }
    }

    /// Copies the reflectors of panel columns `columns` (rows 0..<rows of the block, leading
    /// dimension `m`) into the explicit V (`v`, leading dimension `m`): 0 above the diagonal, 1 on it.
    func copyReflectors(from panel: UnsafeMutablePointer<T>, rows: Int, columns: Range<Int>, to v: UnsafeMutablePointer<T>) {
        for c in columns {
            let src = panel + c * m, dst = v + c * m
            dst.update(repeating: 0, count: c)
            dst[c] = 1
            if rows > c + 1 { (dst + c + 1).update(from: src + c + 1, count: rows - c - 1) }
        }
    }

    /// Extends the block's triangular factor T (ld `ldt`) by `columns` (LAPACK `?larft`, forward,
    /// columnwise): `T[0:i, i] = −τᵢ·T[0:i, 0:i]·(V[:, 0:i]ᵀ·vᵢ)`, `T[i, i] = τᵢ`, 0 below.
    func extendT(_ t: UnsafeMutablePointer<T>, ldt: Int, v: UnsafeMutablePointer<T>, rows: Int, columns: Range<Int>, tau: UnsafeMutablePointer<T>,
                 workspace: GEMMWorkspace, threads: Bool) {
        let i0 = columns.lowerBound, ib = columns.count, top = columns.upperBound
        // S = V[:, 0:top]ᵀ·V[:, i0:top] over rows i0… (the leaf's columns are zero above row i0), into T's columns i0…
        InvariantGEMM.gemm(transA: true, transB: false, m: top, n: ib, k: rows - i0, alpha: 1, a: v + i0, lda: m,
                           b: v + i0 + i0 * m, ldb: m, beta: 0, c: t + i0 * ldt, ldc: ldt, workspace: workspace, threads: threads)
        let sums = UnsafeMutablePointer<T>.allocate(capacity: max(top, 1))
        defer { sums.deallocate() }
        for i in columns {
            let col = t + i * ldt
            let ti = tau[i]
            // col[r] = −τᵢ·Σ_{c=r}^{i−1} T[r, c]·S[c, i] for r < i, each sum from 0 in ascending c (sequential
            // order), accumulated for all r at once so that T is read by contiguous columns.
            sums.update(repeating: 0, count: i)
            for c in 0..<i {
                let sc = col[c], tc = t + c * ldt
                for r in 0...c { sums[r] += tc[r] * sc }
            }
            for r in 0..<i { col[r] = -ti * sums[r] }
            col[i] = ti
            if i + 1 < ldt { (col + i + 1).update(repeating: 0, count: ldt - i - 1) }
        }
    }
}
