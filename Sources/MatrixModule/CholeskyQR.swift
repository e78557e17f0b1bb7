import Foundation

extension LAPACK {
    /// What `orthonormalize` did (for diagnostics, benchmarks and tests).
    public struct OrthonormalizationReport: Sendable, Equatable {
        /// CholeskyQR passes run: 1 (Float output, well-conditioned input), 2 (Double output,
        /// or Float output when the condition estimate asks for it), 3 (shifted fallback).
        public var passes: Int
        /// Whether the first Cholesky factorization failed and the shifted CholeskyQR3
        /// fallback (Fukaya et al. 2020) ran.
        public var shifted: Bool
        /// Estimate of the 2-norm condition number κ₂(A) of the input, from a few power and
        /// inverse-power iterations on the first Cholesky factor R (`κ(A) = κ(R)`); 0 when
        /// the matrix is empty, `.infinity` when the first Cholesky factorization broke down.
        public var conditionEstimate: Double
    }

    /// Replaces the column-major `m × n` matrix `a` (`m ≥ n`, leading dimension `m` — the same
    /// buffer read row-major is the `n × m` matrix Aᵀ) by `scale · Q`, where `A = Q·R` is the thin
    /// QR decomposition whose R has a **positive diagonal** (the unique such Q: LAPACK's Q with its
    /// columns multiplied by `sign(diag R)`, the Haar-measure convention of Mezzadri 2007).
    ///
    /// Method: CholeskyQR in Double (Yamamoto et al. 2015, "Roundoff error analysis of the
    /// CholeskyQR2 algorithm"): `G = AᵀA`, `G = RᵀR` (Cholesky, R upper with positive
    /// diagonal), `Q = A·R⁻¹`; its loss of orthogonality is about `u·κ(A)²` with
    /// `u = 2⁻⁵³`. A second pass on Q (CholeskyQR2) runs for Double output always, and for
    /// Float output when `u·κ̂² > 10⁻⁹` (κ̂ estimated from R by power / inverse-power
    /// iteration), so a Float result is orthonormal to Float rounding. When the Cholesky
    /// factorization of G breaks down, or κ̂ > about 10⁷, the shifted CholeskyQR3 of Fukaya,
    /// Kannan, Nakatsukasa, Yamamoto & Yanagisawa (2020) runs instead: `G + s·I` with
    /// `s = 11·(m·n + n·(n+1))·u·‖A‖_F²`, then two plain passes.
    ///
    /// **Identical bytes for any thread count.** The work is cut into a fixed grid of tiles
    /// (256×256 blocks of G, 256-column blocks of Aᵀ) that depends only on `m` and `n`; each tile
    /// is one BLAS/LAPACK call (`dgemm`, `dtrsm`, `dpotrf`) made while OpenBLAS is pinned to
    /// one thread, so its arithmetic is OpenBLAS's single-threaded code path on fixed operands.
    /// Tiles are distributed over `workers` of our own threads; a tile's bytes do not depend on
    /// which thread runs it or how many run, and tiles that accumulate into the same block run
    /// in a fixed order (a blocked right-looking Cholesky step by step). Neither the worker
    /// count nor the OpenBLAS thread count setting therefore changes the result. Bytes are
    /// per machine and OpenBLAS kernel (the Haswell/Zen and SkylakeX kernels round differently).
    ///
    /// Concurrency: pinning OpenBLAS to one thread is process-wide. Calls to `orthonormalize`
    /// are serialized by a lock; BLAS calls made by *other* threads while one runs execute
    /// single-threaded (correct, possibly slower; an `sgemm` may round differently than with
    /// several OpenBLAS threads). The previous thread count is restored on return.
    ///
    /// - Parameters:
    ///   - a: the matrix, column-major `m × n`, overwritten by `scale·Q`.
    ///   - scale: multiplies Q (the orthogonal-initialization gain). Default 1.
    ///   - workers: threads that run the tiles (default: active processors); never changes the bytes.
    /// - Throws: `MatrixError.invalidArgument` when `m < n` or the buffer is short,
    ///   `MatrixError.dimensionTooLarge` beyond 32-bit BLAS integers,
    ///   `MatrixError.lapackFailure` when even the shifted Cholesky fails (A rank-deficient or
    ///   non-finite).
    /// - Calls `cblas_dgemm`, `cblas_dtrsm` and `LAPACKE_dpotrf` (single-threaded, on tiles).
    public static func orthonormalize<S: BLASScalar>(_ a: UnsafeMutableBufferPointer<S>, rows m: Int, columns n: Int,
                                                     scale: S = 1, workers: Int? = nil) throws(MatrixError) -> OrthonormalizationReport {
        let name = "orthonormalize"
        guard m >= n, n >= 0 else { throw .invalidArgument(operation: name, detail: "needs rows ≥ columns ≥ 0, got \(m)×\(n)") }
        let (count, overflow) = m.multipliedReportingOverflow(by: n)
        guard !overflow, a.count >= count else {
            throw .invalidArgument(operation: name, detail: "buffer has \(a.count) elements, needs \(overflow ? "more than Int.max" : "\(count)")")
        }
        if n == 0 { return OrthonormalizationReport(passes: 0, shifted: false, conditionEstimate: 0) }
        _ = try blasInt(m, name)
        _ = try blasInt(n, name)
        let w = max(1, workers ?? ProcessInfo.processInfo.activeProcessorCount)
        let at = UnsafeMutablePointer<Double>.allocate(capacity: count)
        defer { at.deallocate() }
        let g = UnsafeMutablePointer<Double>.allocate(capacity: n * n)   // n ≤ m: no overflow
        defer { g.deallocate() }
        g.initialize(repeating: 0, count: n * n)
        CholeskyQRKernels.load(a, into: at, count: count)
        let isDouble = S.self == Double.self
        let report: OrthonormalizationReport = try OpenBLASRuntime.singleThreaded { () throws(MatrixError) -> OrthonormalizationReport in
            let k = CholeskyQRKernels(at: at, g: g, m: m, n: n, workers: w)
            let trace = k.gram()
            var info = k.cholesky()
            // κ̂ > ~10⁷ (u·κ̂² > 10⁻²): plain CholeskyQR2 is not reliable; treat like a breakdown.
            let kappa = info == 0 ? k.conditionEstimate() : .infinity
            if info != 0 || !(0x1p-53 * kappa * kappa < 1e-2) {
                // Shifted CholeskyQR3: G + s·I, then two plain passes on the (now moderately conditioned) Q.
                guard trace.isFinite else { throw .lapackFailure(routine: "LAPACKE_dpotrf (A has non-finite entries)", info: Int(info)) }
                _ = k.gram()
                let u = 0x1p-53
                let s = 11 * (Double(m) * Double(n) + Double(n) * Double(n + 1)) * u * trace
                for i in 0..<n { g[i * n + i] += s }
                info = k.cholesky()
                guard info == 0 else { throw .lapackFailure(routine: "LAPACKE_dpotrf (shifted CholeskyQR)", info: Int(info)) }
                k.solve()
                for pass in 0..<2 {
                    _ = k.gram()
                    let info2 = k.cholesky()
                    guard info2 == 0 else { throw .lapackFailure(routine: "LAPACKE_dpotrf (CholeskyQR pass \(pass + 2))", info: Int(info2)) }
                    k.solve()
                }
                return OrthonormalizationReport(passes: 3, shifted: true, conditionEstimate: kappa)
            }
            k.solve()
            var passes = 1
            if isDouble || !(0x1p-53 * kappa * kappa <= 1e-9) {
                _ = k.gram()
                let info2 = k.cholesky()
                guard info2 == 0 else { throw .lapackFailure(routine: "LAPACKE_dpotrf (CholeskyQR pass 2)", info: Int(info2)) }
                k.solve()
                passes = 2
            }
            return OrthonormalizationReport(passes: passes, shifted: false, conditionEstimate: kappa)
        }
        CholeskyQRKernels.store(at, into: a, count: count, scale: scale)
        return report
    }
}

/// The tiled Double kernels of `LAPACK.orthonormalize`. `at` is Aᵀ (`n × m` row-major), `g` the
/// `n × n` row-major Gram matrix whose upper triangle becomes R. Every tile is one BLAS call;
/// the tile grid depends only on `m`, `n` and the fixed block sizes.
struct CholeskyQRKernels: @unchecked Sendable {
    let at: UnsafeMutablePointer<Double>
    let g: UnsafeMutablePointer<Double>
    let m: Int, n: Int, workers: Int
    /// Block size of G's tiles (Gram, Cholesky).
    static let block = 256
    /// Column-block width of the triangular solve on Aᵀ.
    static let solveBlock = 256

    /// Runs tiles `0..<count` on up to `workers` threads (tile t on worker t mod workers).
    func run(_ count: Int, _ body: @Sendable (Int) -> Void) {
        let w = min(workers, count)
        if w <= 1 { for t in 0..<count { body(t) }; return }
        DispatchQueue.concurrentPerform(iterations: w) { k in
            var t = k
            while t < count { body(t); t += w }
        }
    }

    /// Upper block triangle of `G = Aᵀ·A` (full diagonal blocks); returns trace(G) = ‖A‖_F².
    func gram() -> Double {
        let nb = Self.block
        var tiles: [(Int, Int)] = []
        for i in stride(from: 0, to: n, by: nb) { for j in stride(from: i, to: n, by: nb) { tiles.append((i, j)) } }
        let tileList = tiles
        run(tileList.count) { t in
            let (i, j) = tileList[t]
            Double._gemm(transA: false, transB: true, m: Int32(min(nb, n - i)), n: Int32(min(nb, n - j)), k: Int32(m), alpha: 1,
                         a: at + i * m, lda: Int32(m), b: at + j * m, ldb: Int32(m), beta: 0, c: g + i * n + j, ldc: Int32(n))
        }
        var trace = 0.0
        for i in 0..<n { trace += g[i * n + i] }
        return trace
    }

    /// Blocked right-looking Cholesky `G = RᵀR` in place (R in the upper triangle). Returns 0,
    /// or the (1-based) order of the leading minor that is not positive definite.
    func cholesky() -> Int32 {
        let nb = Self.block
        var k = 0
        while k < n {
            let kb = min(nb, n - k), k0 = k
            let info = Double._potrfLower(n: Int32(kb), a: g + k * n + k, lda: Int32(n))
            if info != 0 { return info > 0 ? Int32(k) + info : info }
            let rest = Array(stride(from: k + kb, to: n, by: nb))
            if rest.isEmpty { break }
            run(rest.count) { t in
                let j = rest[t]
                Double._trsm(left: true, upper: true, transA: true, m: Int32(kb), n: Int32(min(nb, n - j)), alpha: 1,
                             a: g + k0 * n + k0, lda: Int32(n), b: g + k0 * n + j, ldb: Int32(n))
            }
            var pairs: [(Int, Int)] = []
            for x in 0..<rest.count { for y in x..<rest.count { pairs.append((rest[x], rest[y])) } }
            let pairList = pairs
            run(pairList.count) { t in
                let (i, j) = pairList[t]
                Double._gemm(transA: true, transB: false, m: Int32(min(nb, n - i)), n: Int32(min(nb, n - j)), k: Int32(kb), alpha: -1,
                             a: g + k0 * n + i, lda: Int32(n), b: g + k0 * n + j, ldb: Int32(n), beta: 1, c: g + i * n + j, ldc: Int32(n))
            }
            k += kb
        }
        return 0
    }

    /// `Aᵀ ← R⁻ᵀ·Aᵀ` (that is `A ← A·R⁻¹`) on fixed column blocks of Aᵀ.
    func solve() {
        let wb = Self.solveBlock
        let starts = Array(stride(from: 0, to: m, by: wb))
        run(starts.count) { t in
            let c = starts[t]
            Double._trsm(left: true, upper: true, transA: true, m: Int32(n), n: Int32(min(wb, m - c)), alpha: 1,
                         a: g, lda: Int32(n), b: at + c, ldb: Int32(m))
        }
    }

    /// κ₂(R) estimated by 4 power iterations on RᵀR (largest σ²) and 4 inverse iterations
    /// (smallest σ²) from the all-ones vector; plain loops, reading only R's upper triangle.
    func conditionEstimate() -> Double {
        let x = UnsafeMutablePointer<Double>.allocate(capacity: n), y = UnsafeMutablePointer<Double>.allocate(capacity: n)
        defer { x.deallocate(); y.deallocate() }
        func normalize(_ v: UnsafeMutablePointer<Double>) -> Double {
            var s = 0.0
            for i in 0..<n { s += v[i] * v[i] }
            let r = s.squareRoot()
            if r > 0 { for i in 0..<n { v[i] /= r } }
            return r
        }
        // Largest: x ← Rᵀ(R x).
        x.initialize(repeating: 1, count: n)
        _ = normalize(x)
        var sigmaMax2 = 0.0
        for _ in 0..<4 {
            for i in 0..<n {                                  // y = R x
                let row = g + i * n
                var s = 0.0
                for k in i..<n { s += row[k] * x[k] }
                y[i] = s
            }
            for k in 0..<n { x[k] = 0 }
            for i in 0..<n {                                  // x = Rᵀ y
                let row = g + i * n, yi = y[i]
                for k in i..<n { x[k] += row[k] * yi }
            }
            sigmaMax2 = normalize(x)
        }
        // Smallest: x ← R⁻¹(R⁻ᵀ x).
        x.initialize(repeating: 1, count: n)
        _ = normalize(x)
        var inverseSigmaMin2 = 0.0
        for _ in 0..<4 {
            for i in 0..<n { y[i] = x[i] }
            for k in 0..<n {                                  // Rᵀ y = x (forward)
                let row = g + k * n
                let yk = y[k] / row[k]
                y[k] = yk
                for j in (k + 1)..<max(k + 1, n) { y[j] -= yk * row[j] }
            }
            for i in stride(from: n - 1, through: 0, by: -1) {   // R x = y (backward)
                let row = g + i * n
                var s = y[i]
                for k in (i + 1)..<max(i + 1, n) { s -= row[k] * x[k] }
                x[i] = s / row[i]
            }
            inverseSigmaMin2 = normalize(x)
        }
        let kappa2 = sigmaMax2 * inverseSigmaMin2
        return kappa2.isFinite ? kappa2.squareRoot() : .infinity
    }

    /// Copies `count` elements of `a` into Double storage (a straight copy for Double).
    static func load<S: BLASScalar>(_ a: UnsafeMutableBufferPointer<S>, into d: UnsafeMutablePointer<Double>, count: Int) {
        let base = UnsafeMutableRawPointer(a.baseAddress!)
        if S.self == Float.self {
            let f = base.assumingMemoryBound(to: Float.self)
            for i in 0..<count { d[i] = Double(f[i]) }
        } else if S.self == Double.self {
            d.update(from: base.assumingMemoryBound(to: Double.self), count: count)
        } else {
            for i in 0..<count { d[i] = Double(a[i]) }
        }
    }

    /// Writes `scale · d` back into `a`, rounding to the element type.
    static func store<S: BLASScalar>(_ d: UnsafeMutablePointer<Double>, into a: UnsafeMutableBufferPointer<S>, count: Int, scale: S) {
        let base = UnsafeMutableRawPointer(a.baseAddress!)
        let s = Double(scale)
        if S.self == Float.self {
            let f = base.assumingMemoryBound(to: Float.self)
            for i in 0..<count { f[i] = Float(d[i] * s) }
        } else if S.self == Double.self {
            let f = base.assumingMemoryBound(to: Double.self)
            for i in 0..<count { f[i] = d[i] * s }
        } else {
            for i in 0..<count { a[i] = S(d[i] * s) }
        }
    }
}
