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
/// path. The columns are split into tasks of `columnsPerTask`, and when that gives fewer than
/// `minTasks` tasks the rows too (in whole MR-row panels), run by `DispatchQueue.concurrentPerform`;
/// the A panels are packed in parallel pieces, all chunks up front when the inner dimension is long
/// (`wholePackLimit`), so a task runs its block of C through every chunk without a barrier. The
/// split never changes an element's arithmetic. Packed operands live in a `GEMMWorkspace`
/// (64-byte aligned, reused across the products of one QR).
/// Never reads or changes OpenBLAS's thread count.
enum InvariantGEMM {
    /// Inner-dimension chunk: each element's fma chain restarts (and is added into C) every `kc` terms.
    static let kc = 256
    /// Columns of C per task.
    static let columnsPerTask = 192
    /// When fewer column tasks than this, the rows are split too (fixed; never derived from a thread count).
    static let minTasks = 8
    /// A parallel product whose packed op(A) has at most this many elements is packed whole up front
    /// (8 Mi elements: 32 MiB in Float).
    static let wholePackLimit = 1 << 23

    /// Column-major `C ← α·op(A)·op(B) + β·C` with C `m × n`, `op(A)` `m × k`, `op(B)` `k × n`
    /// (leading dimensions `lda`, `ldb`, `ldc`). No checks: callers pass valid shapes. Float and
    /// Double only (other element types are ignored).
    static func gemm<S: BLASScalar>(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: S,
                                    a: UnsafePointer<S>, lda: Int, b: UnsafePointer<S>, ldb: Int,
                                    beta: S, c: UnsafeMutablePointer<S>, ldc: Int, workspace: GEMMWorkspace? = nil, threads: Bool = true) {
        if m <= 0 || n <= 0 { return }
        let ws = workspace ?? GEMMWorkspace()
        if k == 0 {
            if beta == 1 { return }
            for j in 0..<n { for i in 0..<m { c[i + j * ldc] = beta == 0 ? 0 : beta * c[i + j * ldc] } }
            return
        }
        if S.self == Float.self {
            run(Float.self, mr: Int(wi_gemm_mr_f32()), transA: transA, transB: transB, m: m, n: n, k: k, alpha: Float(alpha),
                a: UnsafeRawPointer(a).assumingMemoryBound(to: Float.self), lda: lda,
                b: UnsafeRawPointer(b).assumingMemoryBound(to: Float.self), ldb: ldb, beta: Float(beta),
                c: UnsafeMutableRawPointer(c).assumingMemoryBound(to: Float.self), ldc: ldc, workspace: ws, threads: threads,
                pack: { wi_spack_a($0, $1, $2, $3, $4, $5) },
                kernel: { wi_sgemm_packed($0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) })
        } else if S.self == Double.self {
            run(Double.self, mr: Int(wi_gemm_mr_f64()), transA: transA, transB: transB, m: m, n: n, k: k, alpha: Double(alpha),
                a: UnsafeRawPointer(a).assumingMemoryBound(to: Double.self), lda: lda,
                b: UnsafeRawPointer(b).assumingMemoryBound(to: Double.self), ldb: ldb, beta: Double(beta),
                c: UnsafeMutableRawPointer(c).assumingMemoryBound(to: Double.self), ldc: ldc, workspace: ws, threads: threads,
                pack: { wi_dpack_a($0, $1, $2, $3, $4, $5) },
                kernel: { wi_dgemm_packed($0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) })
        }
    }

    /// Columns of C per task of `applyBlockReflector`'s fused path.
    static let reflectorColumnsPerTask = 96
    /// `applyBlockReflector` fuses its three products when C has at least this many column tasks.
    static let reflectorMinTasks = 4

    /// `C ← (I − V·op(T)·Vᵀ)·C` (a compact-WY block reflector, LAPACK `?larfb` left/no-trans or
    /// trans, forward, columnwise) for the column-major `rows × columns` C (leading dimension
    /// `ldc`), V `rows × k` explicit (unit lower trapezoidal, leading dimension `ldv`), T `k × k`
    /// (leading dimension `ldt`), op = transpose when `transposeT`. Exactly the three products
    /// `W = 1·Vᵀ·C + 0`, `W₂ = 1·op(T)·W + 0`, `C ← 1·C + (−1)·V·W₂` of `gemm`, element for element
    /// the same arithmetic (so the same bytes as three `gemm` calls), but when C is wide enough
    /// (`reflectorMinTasks` tasks of `reflectorColumnsPerTask` columns) the operands V, Vᵀ and
    /// op(T) are packed once and each task runs all three products on its own column block: a
    /// block of C is read again while it is still in cache, and there is no barrier between the
    /// products. `w`, `w2` (at least `k·columns` elements each) are the scratch of the unfused path.
    /// `threads: false` keeps everything on the calling thread (same bytes).
    static func applyBlockReflector<S: BLASScalar>(rows: Int, k: Int, v: UnsafePointer<S>, ldv: Int, t: UnsafePointer<S>, ldt: Int,
                                                   transposeT: Bool, c: UnsafeMutablePointer<S>, ldc: Int, columns: Int,
                                                   w: UnsafeMutablePointer<S>, w2: UnsafeMutablePointer<S>, workspace: GEMMWorkspace,
                                                   threads: Bool = true) {
        if rows <= 0 || columns <= 0 || k <= 0 { return }
        let tasks = (columns + reflectorColumnsPerTask - 1) / reflectorColumnsPerTask
        if threads && k <= kc && tasks >= reflectorMinTasks && ProcessInfo.processInfo.activeProcessorCount > 1 {
            reflectorTasks(rows: rows, k: k, v: v, ldv: ldv, t: t, ldt: ldt, transposeT: transposeT, c: c, ldc: ldc, columns: columns,
                           split: 0, innerFirst: 0..<0, innerSecond: 0..<rows, structured: false, workspace: workspace, lead: nil)
            return
        }
        gemm(transA: true, transB: false, m: k, n: columns, k: rows, alpha: 1, a: v, lda: ldv, b: c, ldb: ldc, beta: 0, c: w, ldc: k,
             workspace: workspace, threads: threads)
        gemm(transA: transposeT, transB: false, m: k, n: columns, k: k, alpha: 1, a: t, lda: ldt, b: w, ldb: k, beta: 0, c: w2, ldc: k,
             workspace: workspace, threads: threads)
        gemm(transA: false, transB: false, m: rows, n: columns, k: k, alpha: -1, a: v, lda: ldv, b: w2, ldb: k, beta: 1, c: c, ldc: ldc,
             workspace: workspace, threads: threads)
    }

    /// The block reflector of `applyBlockReflector` (same three products, same bytes) with its
    /// operands packed once and the columns of C cut into tasks of at most `reflectorColumnsPerTask`
    /// columns, each running all three products on its column block; for the blocked QR's trailing
    /// updates and formation of Q. `k ≤ kc`.
    ///
    /// - Columns `0..<split` and `split..<columns` are cut into tasks separately. Rows of C outside
    ///   `innerFirst` (for columns `< split`) or `innerSecond` (columns `≥ split`) must be exact zeros:
    ///   `Vᵀ·C` leaves those terms out.
    /// - `structured`: V's top `k × k` block has exact zeros above its diagonal and T exact zeros
    ///   below its diagonal, so every product leaves out the zero triangles (`wi_sgemm_packed_band`).
    /// - `lead`: when given, the tasks of columns `0..<split` run first and in order in one job,
    ///   which then calls `lead` (the blocked QR factors the next panel there: look-ahead), while
    ///   the other tasks run beside it.
    /// - `epilogue(j0, count)`: called by each task after its products, for its columns
    ///   `j0..<j0+count` (still in cache: the QR's sign fix).
    ///
    /// Left-out terms are leading or trailing exact zeros of an fma chain that starts at +0, so the
    /// bytes are those of the three full products (finite inputs, no product underflowing to zero).
    static func reflectorTasks<S: BLASScalar>(rows: Int, k: Int, v: UnsafePointer<S>, ldv: Int, t: UnsafePointer<S>, ldt: Int,
                                              transposeT: Bool, c: UnsafeMutablePointer<S>, ldc: Int, columns: Int,
                                              split: Int, innerFirst: Range<Int>, innerSecond: Range<Int>, structured: Bool,
                                              workspace: GEMMWorkspace, lead: (@Sendable () -> Void)?,
                                              epilogue: (@Sendable (_ firstColumn: Int, _ count: Int) -> Void)? = nil) {
        if S.self == Float.self {
            fusedReflector(Float.self, mr: Int(wi_gemm_mr_f32()), rows: rows, k: k,
                           v: UnsafeRawPointer(v).assumingMemoryBound(to: Float.self), ldv: ldv,
                           t: UnsafeRawPointer(t).assumingMemoryBound(to: Float.self), ldt: ldt, transposeT: transposeT,
                           c: UnsafeMutableRawPointer(c).assumingMemoryBound(to: Float.self), ldc: ldc, columns: columns,
                           split: split, innerFirst: innerFirst, innerSecond: innerSecond, structured: structured, workspace: workspace, lead: lead, epilogue: epilogue,
                           pack: { wi_spack_a($0, $1, $2, $3, $4, $5) },
                           kernel: { wi_sgemm_packed_band($0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) })
        } else if S.self == Double.self {
            fusedReflector(Double.self, mr: Int(wi_gemm_mr_f64()), rows: rows, k: k,
                           v: UnsafeRawPointer(v).assumingMemoryBound(to: Double.self), ldv: ldv,
                           t: UnsafeRawPointer(t).assumingMemoryBound(to: Double.self), ldt: ldt, transposeT: transposeT,
                           c: UnsafeMutableRawPointer(c).assumingMemoryBound(to: Double.self), ldc: ldc, columns: columns,
                           split: split, innerFirst: innerFirst, innerSecond: innerSecond, structured: structured, workspace: workspace, lead: lead, epilogue: epilogue,
                           pack: { wi_dpack_a($0, $1, $2, $3, $4, $5) },
                           kernel: { wi_dgemm_packed_band($0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) })
        }
    }

    private struct ReflectorShared<T>: @unchecked Sendable {
        let v: UnsafePointer<T>, t: UnsafePointer<T>, c: UnsafeMutablePointer<T>
        let packedVt: UnsafeMutablePointer<T>, packedV: UnsafeMutablePointer<T>, packedT: UnsafeMutablePointer<T>
        let scratch: UnsafeMutablePointer<T>
    }

    /// The band kernel: (transB, m, n, kc, packedA, panelStride, b, ldb, alpha, beta, first, c, ldc, work, lo0, loStep, hi0, hiStep).
    typealias BandKernel<T> = @Sendable (Int32, Int, Int, Int, UnsafePointer<T>, Int, UnsafePointer<T>, Int, T, T, Int32,
                                         UnsafeMutablePointer<T>, Int, UnsafeMutablePointer<T>, Int, Int, Int, Int) -> Void

    private static func fusedReflector<T: Sendable>(_: T.Type, mr: Int, rows: Int, k: Int, v: UnsafePointer<T>, ldv: Int,
                                                    t: UnsafePointer<T>, ldt: Int, transposeT: Bool,
                                                    c: UnsafeMutablePointer<T>, ldc: Int, columns: Int,
                                                    split: Int, innerFirst: Range<Int>, innerSecond: Range<Int>, structured: Bool,
                                                    workspace: GEMMWorkspace, lead: (@Sendable () -> Void)?,
                                                    epilogue: (@Sendable (Int, Int) -> Void)?,
                                                    pack: @escaping @Sendable (Int32, Int, Int, UnsafePointer<T>, Int, UnsafeMutablePointer<T>) -> Void,
                                                    kernel: @escaping BandKernel<T>) where T: BinaryFloatingPoint {
        if rows <= 0 || k <= 0 || (columns <= 0 && lead == nil) { lead?(); return }
        let kPad = (k + mr - 1) / mr * mr
        let rowPanels = (rows + mr - 1) / mr
        let chunks = (rows + kc - 1) / kc
        // Each group of columns is cut into tasks of equal width (a multiple of the 6-column B panel), at most
        // `reflectorColumnsPerTask`: no short last task for one thread to run while the others wait.
        func cut(_ width: Int) -> (tasks: Int, width: Int) {
            if width <= 0 { return (0, 0) }
            let tasks = (width + reflectorColumnsPerTask - 1) / reflectorColumnsPerTask
            return (tasks, ((width + tasks - 1) / tasks + 5) / 6 * 6)
        }
        let (firstTasks, firstWidth) = cut(split), (secondTasks, secondWidth) = cut(columns - split)
        let tasks = firstTasks + secondTasks
        let nt = max(firstWidth, secondWidth)
        let wCount = (k * nt + 15) / 16 * 16
        let perTask = 2 * wCount + ((nt + 5) / 6 * 6 * kc + 15) / 16 * 16
        let packedVt = workspace.buffer(2, T.self, count: kPad * rows)
        let packedV = workspace.buffer(3, T.self, count: rowPanels * mr * k)
        let packedT = workspace.buffer(4, T.self, count: kPad * k)
        let scratch = workspace.buffer(5, T.self, count: perTask * max(tasks, 1))
        let sh = ReflectorShared(v: v, t: t, c: c, packedVt: packedVt, packedV: packedV, packedT: packedT, scratch: scratch)
        let parallel = ProcessInfo.processInfo.activeProcessorCount > 1
        // Packing: Vᵀ in inner-dimension chunks of kc (chunk q at kPad·q·kc), V in pieces of whole panels, op(T).
        let vPieces = min(rowPanels, 8)
        let panelsPerPiece = (rowPanels + vPieces - 1) / vPieces
        let packJob: @Sendable (Int) -> Void = { job in
            if job < chunks {
                let k0 = job * kc
                pack(1, k, min(kc, rows - k0), sh.v + k0, ldv, sh.packedVt + kPad * k0)
            } else if job < chunks + vPieces {
                let r0 = (job - chunks) * panelsPerPiece * mr
                if r0 < rows { pack(0, min(panelsPerPiece * mr, rows - r0), k, sh.v + r0, ldv, sh.packedV + r0 * k) }
            } else {
                pack(transposeT ? 1 : 0, k, k, sh.t, ldt, sh.packedT)
            }
        }
        if parallel { DispatchQueue.concurrentPerform(iterations: chunks + vPieces + 1, execute: packJob) }
        else { for job in 0..<(chunks + vPieces + 1) { packJob(job) } }
        // Bands (wi_sgemm_packed_band): no band (lo 0, hi ≥ kc) unless structured.
        let open = 1 << 40
        // op(T) = Tᵀ is lower triangular (panel ip: p < (ip+1)·MR), T upper (p ≥ ip·MR).
        let tBand = !structured ? (0, 0, open, 0) : transposeT ? (0, 0, mr, mr) : (0, mr, open, 0)
        // V: row r has zeros after column r (panel ip: p < (ip+1)·MR).
        let vBand = structured ? (mr, mr) : (open, 0)
        let body: @Sendable (Int) -> Void = { task in
            let inFirst = task < firstTasks
            let j0 = inFirst ? task * firstWidth : split + (task - firstTasks) * secondWidth
            let n = min(inFirst ? firstWidth : secondWidth, (inFirst ? split : columns) - j0)
            if n <= 0 { return }
            let inner = inFirst ? innerFirst : innerSecond
            let w = sh.scratch + task * perTask, w2 = w + wCount, work = w2 + wCount
            let cj = sh.c + j0 * ldc
            // W = Vᵀ·C over the rows `inner` (the others are zero), chunk by chunk of kc rows.
            for q in 0..<chunks {
                let k0 = q * kc, kcur = min(kc, rows - k0)
                let lo = max(k0, inner.lowerBound), hi = min(k0 + kcur, inner.upperBound)
                if hi <= lo {
                    if q == 0 { w.update(repeating: 0, count: k * n) }   // 0 + 1·(+0)
                    continue
                }
                // Vᵀ row i (column i of V) is zero in rows < i: panel ip starts at ip·MR − lo when structured.
                kernel(0, k, n, hi - lo, sh.packedVt + kPad * k0 + (lo - k0) * mr, mr * kcur, cj + lo, ldc, 1, 0, q == 0 ? 1 : 0, w, k, work,
                       structured ? -lo : 0, structured ? mr : 0, open, 0)
            }
            kernel(0, k, n, k, sh.packedT, mr * k, w, k, 1, 0, 1, w2, k, work, tBand.0, tBand.1, tBand.2, tBand.3)
            kernel(0, rows, n, k, sh.packedV, mr * k, w2, k, -1, 1, 1, cj, ldc, work, 0, 0, vBand.0, vBand.1)
            epilogue?(j0, n)
        }
        if let lead {
            let rest = tasks - firstTasks
            let job: @Sendable (Int) -> Void = { j in
                if j == 0 { for task in 0..<firstTasks { body(task) }; lead() } else { body(firstTasks + j - 1) }
            }
            if parallel { DispatchQueue.concurrentPerform(iterations: rest + 1, execute: job) } else { for j in 0...rest { job(j) } }
        } else if parallel && tasks > 1 {
            DispatchQueue.concurrentPerform(iterations: tasks, execute: body)
        } else {
            for task in 0..<tasks { body(task) }
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
        let packed: UnsafeMutablePointer<T>, work: UnsafeMutablePointer<T>, a: UnsafePointer<T>, b: UnsafePointer<T>, c: UnsafeMutablePointer<T>
    }

    private static func run<T: Sendable>(_: T.Type, mr: Int, transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: T,
                               a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, ldb: Int, beta: T,
                               c: UnsafeMutablePointer<T>, ldc: Int, workspace: GEMMWorkspace, threads: Bool,
                               pack: @escaping @Sendable (Int32, Int, Int, UnsafePointer<T>, Int, UnsafeMutablePointer<T>) -> Void,
                               kernel: @escaping @Sendable (Int32, Int, Int, Int, UnsafePointer<T>, UnsafePointer<T>, Int, T, T, Int32,
                                                  UnsafeMutablePointer<T>, Int, UnsafeMutablePointer<T>) -> Void) {
        let kcMax = min(kc, k)
        let panels = (m + mr - 1) / mr
        let packed = workspace.buffer(0, T.self, count: panels * mr * kcMax)
        let columnTasks = (n + columnsPerTask - 1) / columnsPerTask
        // Small products run in the calling thread (waking workers costs more); the bytes are the same.
        let parallel = threads && Double(m) * Double(n) * Double(k) >= 4e6 && ProcessInfo.processInfo.activeProcessorCount > 1
        // Few column tasks (narrow C: panel updates, a block's own columns of Q): split the rows too, in
        // chunks of whole MR-row panels, so both cores work. Each element's arithmetic is unchanged.
        let rowSplit = parallel && columnTasks < minTasks ? min(panels, (minTasks + columnTasks - 1) / columnTasks) : 1
        let rowChunk = (panels + rowSplit - 1) / rowSplit * mr
        let rowTasks = (m + rowChunk - 1) / rowChunk
        let tasks = rowTasks * columnTasks
        let workCount = ((min(n, columnsPerTask) + 5) / 6 * 6 * kcMax + 15) / 16 * 16
        let run = parallel && tasks > 1
        let work = workspace.buffer(1, T.self, count: workCount * (run ? tasks : 1))
        // The A panels are packed in `packChunks` pieces of whole panels (in parallel when the product is).
        let packChunks = run ? min(panels, 8) : 1
        let panelsPerPack = (panels + packChunks - 1) / packChunks
        let tb: Int32 = transB ? 1 : 0
        let chunks = (k + kc - 1) / kc
        if run && chunks > 1 && panels * mr * k <= wholePackLimit {
            // A long inner dimension (Vᵀ·C, VᵀV): all of op(A) packed up front (chunk q at panels·MR·q·kc), then
            // each task runs its block of C through every chunk in order — one barrier instead of one per chunk.
            let whole = workspace.buffer(6, T.self, count: panels * mr * k)
            let shared = Shared(packed: whole, work: work, a: a, b: b, c: c)
            DispatchQueue.concurrentPerform(iterations: chunks * packChunks) { job in
                let q = job / packChunks, piece = job % packChunks
                let k0 = q * kc, kcur = min(kc, k - k0)
                let r0 = piece * panelsPerPack * mr
                if r0 >= m { return }
                let rows = min(panelsPerPack * mr, m - r0)
                let aq = transA ? shared.a + k0 : shared.a + k0 * lda
                pack(transA ? 1 : 0, rows, kcur, transA ? aq + r0 * lda : aq + r0, lda, shared.packed + panels * mr * k0 + r0 * kcur)
            }
            DispatchQueue.concurrentPerform(iterations: tasks) { t in
                let r = t % rowTasks, col = t / rowTasks
                let i0 = r * rowChunk, mt = min(rowChunk, m - i0)
                let j0 = col * columnsPerTask, nt = min(columnsPerTask, n - j0)
                for q in 0..<chunks {
                    let k0 = q * kc, kcur = min(kc, k - k0)
                    let bq = transB ? shared.b + k0 * ldb : shared.b + k0
                    kernel(tb, mt, nt, kcur, shared.packed + panels * mr * k0 + i0 * kcur, transB ? bq + j0 : bq + j0 * ldb, ldb, alpha, beta,
                           q == 0 ? 1 : 0, shared.c + i0 + j0 * ldc, ldc, shared.work + t * workCount)
                }
            }
            return
        }
        var k0 = 0
        while k0 < k {
            let kcur = min(kc, k - k0)
            let shared = Shared(packed: packed, work: work, a: transA ? a + k0 : a + k0 * lda, b: transB ? b + k0 * ldb : b + k0, c: c)
            let packBody: @Sendable (Int) -> Void = { q in
                let r0 = q * panelsPerPack * mr
                if r0 >= m { return }
                let rows = min(panelsPerPack * mr, m - r0)
                pack(transA ? 1 : 0, rows, kcur, transA ? shared.a + r0 * lda : shared.a + r0, lda, shared.packed + r0 * kcur)
            }
            if packChunks > 1 { DispatchQueue.concurrentPerform(iterations: packChunks, execute: packBody) } else { packBody(0) }
            let first: Int32 = k0 == 0 ? 1 : 0
            let body: @Sendable (Int) -> Void = { t in
                let r = t % rowTasks, col = t / rowTasks
                let i0 = r * rowChunk, mt = min(rowChunk, m - i0)
                let j0 = col * columnsPerTask, nt = min(columnsPerTask, n - j0)
                kernel(tb, mt, nt, kcur, shared.packed + i0 * kcur, transB ? shared.b + j0 : shared.b + j0 * ldb, ldb, alpha, beta, first,
                       shared.c + i0 + j0 * ldc, ldc, shared.work + (run ? t * workCount : 0))
            }
            if run { DispatchQueue.concurrentPerform(iterations: tasks, execute: body) } else { for t in 0..<tasks { body(t) } }
            k0 += kcur
        }
    }
}

/// Scratch memory that `InvariantGEMM` reuses across the products of one caller (the packed
/// operands and per-task buffers): 64-byte aligned (a packed 16-float panel row is one cache line),
/// grown on demand, freed with the workspace. Not for concurrent use by two products at once.
final class GEMMWorkspace: @unchecked Sendable {
    private var slots = [UnsafeMutableRawPointer?](repeating: nil, count: 8)
    private var sizes = [Int](repeating: 0, count: 8)

    /// Slot `slot`'s buffer, at least `count` elements of `T` (contents unspecified).
    func buffer<T>(_ slot: Int, _: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        let bytes = max(count, 1) * MemoryLayout<T>.stride
        if sizes[slot] < bytes {
            slots[slot]?.deallocate()
            slots[slot] = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
            sizes[slot] = bytes
        }
        return slots[slot]!.bindMemory(to: T.self, capacity: max(count, 1))
    }

    deinit { for p in slots { p?.deallocate() } }
}
