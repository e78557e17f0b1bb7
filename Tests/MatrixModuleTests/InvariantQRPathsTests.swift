// The pieces of the thread-invariant QR that must not change bytes: the C leaf (wi_sgeqr2 /
// wi_dgeqr2) against an independent Swift transcription of LAPACK ?geqr2 with the documented
// summation order (eight lane partial sums, product and sum rounded separately) on the AVX2 and the
// portable path; the fused block reflector against the three separate products; a product whose
// rows are split over tasks against the same product computed in unsplit row pieces.
import Foundation
import Testing
@testable import MatrixModule

/// Reference unblocked Householder QR in plain Swift (the leaf's contract, written independently of
/// the C code): column-major `rows × columns` at `p`, leading dimension `ld`.
private func referenceLeaf<T: BinaryFloatingPoint>(_ p: UnsafeMutablePointer<T>, rows: Int, columns: Int, ld: Int, tau: UnsafeMutablePointer<T>) {
    func dot(_ x: UnsafePointer<T>, _ y: UnsafePointer<T>, _ n: Int) -> T {
        var s = [T](repeating: 0, count: 8)
        var i = 0
        while i + 8 <= n { for l in 0..<8 { let prod = x[i + l] * y[i + l]; s[l] = s[l] + prod }; i += 8 }
        while i < n { let prod = x[i] * y[i]; s[0] = s[0] + prod; i += 1 }
        return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]))
    }
    func norm(_ x: UnsafePointer<T>, _ n: Int) -> T {
        let ss = dot(x, x, n)
        if ss.isFinite && ss >= T.leastNormalMagnitude { return ss.squareRoot() }
        var big: T = 0
        for i in 0..<n { big = Swift.max(big, abs(x[i])) }
        if big == 0 || !big.isFinite { return big }
        var s: T = 0
        for i in 0..<n { let y = x[i] / big; let sq = y * y; s = s + sq }
        return big * s.squareRoot()
    }
    for k in 0..<columns {
        let col = p + k + k * ld, len = rows - k
        let alpha = col[0]
        let xnorm = len > 1 ? norm(col + 1, len - 1) : 0
        var tk: T = 0
        if xnorm != 0 {
            let big = Swift.max(abs(alpha), xnorm), small = Swift.min(abs(alpha), xnorm)
            let r = small / big
            let nrm = big * (1 + r * r).squareRoot()
            let beta = alpha >= 0 ? -nrm : nrm
            tk = (beta - alpha) / beta
            let scale = 1 / (alpha - beta)
            for i in 1..<len { col[i] = col[i] * scale }
            col[0] = beta
        }
        tau[k] = tk
        if tk == 0 { continue }
        for j in (k + 1)..<columns {
            let cj = p + k + j * ld
            let s = tk * (cj[0] + dot(col + 1, cj + 1, len - 1))
            cj[0] = cj[0] - s
            for i in 1..<len { let prod = s * col[i]; cj[i] = cj[i] - prod }
        }
    }
}

/// The raw bytes of an array (bitwise comparison, NaN and signed zero included).
private func bytes<T>(_ a: [T]) -> [UInt8] { a.withUnsafeBytes { Array($0) } }

@Suite("Thread-invariant QR pieces: identical bytes on every path", .sharedBLAS)
struct InvariantQRPathsTests {
    /// Panels: (rows, columns, leading dimension, scale). Scales 1e-25 / 1e20 (Float) take the
    /// norm's rescaled path (the plain sum of squares under- / overflows).
    static let panels: [(Int, Int, Int, Double)] = [(1, 1, 1, 1), (2, 2, 3, 1), (7, 5, 9, 1), (33, 32, 40, 1), (300, 32, 301, 1),
                                                   (129, 17, 129, 1e-25), (64, 9, 70, 1e20)]

    func leafCase<T: BLASScalar & BinaryFloatingPoint>(_: T.Type) -> (checked: Int, mismatches: Int) {
        var mismatches = 0, checked = 0
        for (index, (rows, columns, ld, scale)) in Self.panels.enumerated() {
            var input = randomArray(T.self, count: ld * columns, seed: UInt64(100 + index)).map { $0 - T(0.5) }
            for i in input.indices { input[i] = input[i] * T(scale) }
            if index == 2 { for i in 1..<rows { input[i] = 0 } }   // a column already reduced: τ = 0
            var expected = input, expectedTau = [T](repeating: 0, count: columns)
            expected.withUnsafeMutableBufferPointer { e in expectedTau.withUnsafeMutableBufferPointer { t in
                referenceLeaf(e.baseAddress!, rows: rows, columns: columns, ld: ld, tau: t.baseAddress!) } }
            for portable in [false, true] {
                InvariantGEMM.forcePortable(portable)
                defer { InvariantGEMM.forcePortable(false) }
                var got = input, tau = [T](repeating: 0, count: columns)
                got.withUnsafeMutableBufferPointer { g in tau.withUnsafeMutableBufferPointer { t in
                    BlockedHouseholderQR<T>(a: g.baseAddress!, m: ld, n: columns).factorLeaf(g.baseAddress!, rows: rows, columns: columns, tau: t.baseAddress!) } }
                checked += 1
                if bytes(got) != bytes(expected) || bytes(tau) != bytes(expectedTau) {
                    mismatches += 1
                    print("leaf \(T.self) \(rows)×\(columns) ld \(ld) scale \(scale) \(portable ? "portable" : "AVX2/native"): bytes differ from the reference")
                }
            }
        }
        return (checked, mismatches)
    }

    @Test("the C Householder leaf equals a plain Swift ?geqr2 with the documented summation order, bit for bit (Float, Double; AVX2 and portable)", .flipsKernelPath)
    func leafMatchesReference() {
        let f = leafCase(Float.self), d = leafCase(Double.self)
        print("leaf: \(f.checked + d.checked) panel runs compared (kernel \(InvariantGEMM.usesAVX2 ? "AVX2 available" : "portable only")), \(f.mismatches + d.mismatches) differ")
        #expect(f.mismatches == 0)
        #expect(d.mismatches == 0)
    }

    func reflectorCase<T: BLASScalar & BinaryFloatingPoint>(_: T.Type, transposeT: Bool) -> (fused: [T], plain: [T]) {
        let rows = 300, k = 40, columns = 400, ld = 310, ldt = 48
        let v = randomArray(T.self, count: ld * k, seed: 1), t = randomArray(T.self, count: ldt * k, seed: 2)
        let c0 = randomArray(T.self, count: ld * columns, seed: 3)
        var fused = c0, plain = c0
        var w = [T](repeating: 0, count: k * columns), w2 = w
        v.withUnsafeBufferPointer { vp in t.withUnsafeBufferPointer { tp in
            fused.withUnsafeMutableBufferPointer { cp in w.withUnsafeMutableBufferPointer { wp in w2.withUnsafeMutableBufferPointer { w2p in
                InvariantGEMM.applyBlockReflector(rows: rows, k: k, v: vp.baseAddress!, ldv: ld, t: tp.baseAddress!, ldt: ldt, transposeT: transposeT,
                                                  c: cp.baseAddress!, ldc: ld, columns: columns, w: wp.baseAddress!, w2: w2p.baseAddress!,
                                                  workspace: GEMMWorkspace())
            } } }
            plain.withUnsafeMutableBufferPointer { cp in w.withUnsafeMutableBufferPointer { wp in w2.withUnsafeMutableBufferPointer { w2p in
                let c = cp.baseAddress!, wq = wp.baseAddress!, w2q = w2p.baseAddress!
                InvariantGEMM.gemm(transA: true, transB: false, m: k, n: columns, k: rows, alpha: 1, a: vp.baseAddress!, lda: ld, b: c, ldb: ld,
                                   beta: 0, c: wq, ldc: k)
                InvariantGEMM.gemm(transA: transposeT, transB: false, m: k, n: columns, k: k, alpha: 1, a: tp.baseAddress!, lda: ldt, b: wq, ldb: k,
                                   beta: 0, c: w2q, ldc: k)
                InvariantGEMM.gemm(transA: false, transB: false, m: rows, n: columns, k: k, alpha: -1, a: vp.baseAddress!, lda: ld, b: w2q, ldb: k,
                                   beta: 1, c: c, ldc: ld)
            } } }
        } }
        return (fused, plain)
    }

    @Test("the fused block reflector (one task per 96-column block) gives the bytes of its three separate products (Float, Double, T and Tᵀ, AVX2 and portable)", .flipsKernelPath)
    func fusedReflector() {
        #expect(InvariantGEMM.reflectorMinTasks * InvariantGEMM.reflectorColumnsPerTask <= 400 + InvariantGEMM.reflectorColumnsPerTask - 1,
                "400 columns must take the fused path")
        for portable in [false, true] {
            InvariantGEMM.forcePortable(portable)
            defer { InvariantGEMM.forcePortable(false) }
            for transposeT in [false, true] {
                let f = reflectorCase(Float.self, transposeT: transposeT), d = reflectorCase(Double.self, transposeT: transposeT)
                let same = bytes(f.fused) == bytes(f.plain) && bytes(d.fused) == bytes(d.plain)
                print("block reflector 300×400, k 40, \(transposeT ? "Tᵀ" : "T"), \(portable ? "portable" : "native") kernel: fused == three products: \(same)")
                #expect(same)
            }
        }
    }

    @Test("a product split over row tasks (few, narrow columns; inner dimension packed whole) equals the same product computed in separate unsplit row pieces (op(A) plain and transposed)")
    func rowSplit() {
        let m = 2000, n = 10, k = 300
        for transA in [false, true] {
            let lda = transA ? k : m
            let a = randomArray(Float.self, count: m * k, seed: 5), b = randomArray(Float.self, count: k * n, seed: 6)
            let c0 = randomArray(Float.self, count: m * n, seed: 7)
            var split = c0, pieces = c0
            a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in
                split.withUnsafeMutableBufferPointer { cp in
                    InvariantGEMM.gemm(transA: transA, transB: false, m: m, n: n, k: k, alpha: -1.5, a: ap.baseAddress!, lda: lda, b: bp.baseAddress!, ldb: k,
                                       beta: 0.5, c: cp.baseAddress!, ldc: m)
                }
                pieces.withUnsafeMutableBufferPointer { cp in
                    // 100-row pieces: 100·10·300 = 3e5 multiply-adds, below the parallel threshold, so each runs unsplit.
                    for r0 in stride(from: 0, to: m, by: 100) {
                        InvariantGEMM.gemm(transA: transA, transB: false, m: 100, n: n, k: k, alpha: -1.5, a: ap.baseAddress! + (transA ? r0 * lda : r0),
                                           lda: lda, b: bp.baseAddress!, ldb: k, beta: 0.5, c: cp.baseAddress! + r0, ldc: m)
                    }
                }
            } }
            let same = bytes(split) == bytes(pieces)
            print("gemm 2000×10×300 (op(A) \(transA ? "transposed" : "plain")) split over row tasks == 100-row pieces: \(same)")
            #expect(same)
        }
    }
}
