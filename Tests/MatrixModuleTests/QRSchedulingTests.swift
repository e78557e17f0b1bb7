// The faster blocked QR of orthogonal init (issue 14, fourth pass) must give main's bytes: the band
// kernel (zero triangles of V and T left out), B read in place, the block reflector with a look-ahead
// job and skipped zero rows, and the reorganized driver (look-ahead, the block's own columns of Q
// formed inside the reflector update). Oracles written independently of the C and driver code: a
// plain Swift fma chain per element (the kernel contract), the three separate products, and the
// plain blocked QR (transcribed from the previous driver: one block after the other, three products
// per reflector, Q's own columns as E − V·(T·V_topᵀ)).
import CGemmKernels
import Foundation
import Testing
@testable import MatrixModule

/// Kernel contract in plain Swift: C[i, j] = base + α·acc, acc = fma chain over p in order from +0,
/// base = first ? (β == 0 ? 0 : β·C) : C. op(A) given unpacked, column-major m × kc (lda = m).
private func referenceProduct(m: Int, n: Int, kc: Int, a: [Float], b: [Float], ldb: Int, alpha: Float, beta: Float, first: Bool, c: inout [Float], ldc: Int) {
    for j in 0..<n {
        for i in 0..<m {
            var acc: Float = 0
            for p in 0..<kc { acc = acc.addingProduct(a[i + p * m], b[p + j * ldb]) }
            let base: Float = first ? (beta == 0 ? 0 : beta * c[i + j * ldc]) : c[i + j * ldc]
            let t = alpha * acc
            c[i + j * ldc] = base + t
        }
    }
}

private struct Ptr: @unchecked Sendable { let p: UnsafeMutablePointer<Float> }

private struct FillSource<T>: @unchecked Sendable { let dst: UnsafeMutablePointer<T>; let src: UnsafePointer<T> }
private final class FillCalls: @unchecked Sendable {
    let lock = NSLock()
    var ranges: [Range<Int>] = []
    func add(_ r: Range<Int>) { lock.lock(); ranges.append(r); lock.unlock() }
}

private func bits<T>(_ a: [T]) -> [UInt8] { a.withUnsafeBytes { Array($0) } }

/// The plain blocked QR the driver had before the look-ahead (a transcription: every block's panel,
/// then its trailing update as three separate products, then Q backward with the block's own columns
/// as E − V·(T·V_topᵀ)), on the same leaf, reflector copy and T construction.
private func plainBlockedQR<T: BLASScalar>(_ a: inout [T], m: Int, n: Int) -> [T] {
    let nbMax = min(HouseholderQR.blockSize, n), blocks = (n + nbMax - 1) / nbMax
    var tau = [T](repeating: 0, count: n), tAll = [T](repeating: 0, count: blocks * nbMax * nbMax)
    var v = [T](repeating: 0, count: m * nbMax), w = [T](repeating: 0, count: nbMax * n), w2 = w
    var diagonal = [T](repeating: 0, count: n)
    a.withUnsafeMutableBufferPointer { ap in tau.withUnsafeMutableBufferPointer { tp in tAll.withUnsafeMutableBufferPointer { tAllp in
    v.withUnsafeMutableBufferPointer { vp in w.withUnsafeMutableBufferPointer { wp in w2.withUnsafeMutableBufferPointer { w2p in
        let a = ap.baseAddress!, tau = tp.baseAddress!, tAll = tAllp.baseAddress!, v = vp.baseAddress!, w = wp.baseAddress!, w2 = w2p.baseAddress!
        let qr = BlockedHouseholderQR<T>(a: a, m: m, n: n)
        let ws = GEMMWorkspace()
        func reflector(_ v: UnsafeMutablePointer<T>, rows: Int, k: Int, _ t: UnsafeMutablePointer<T>, transposeT: Bool, _ c: UnsafeMutablePointer<T>, columns: Int) {
            InvariantGEMM.gemm(transA: true, transB: false, m: k, n: columns, k: rows, alpha: 1, a: v, lda: m, b: c, ldb: m, beta: 0, c: w, ldc: k, workspace: ws)
            InvariantGEMM.gemm(transA: transposeT, transB: false, m: k, n: columns, k: k, alpha: 1, a: t, lda: nbMax, b: w, ldb: k, beta: 0, c: w2, ldc: k, workspace: ws)
            InvariantGEMM.gemm(transA: false, transB: false, m: rows, n: columns, k: k, alpha: -1, a: v, lda: m, b: w2, ldb: k, beta: 1, c: c, ldc: m, workspace: ws)
        }
        for block in 0..<blocks {
            let j0 = block * nbMax, nb = min(nbMax, n - j0), mj = m - j0
            let panel = a + j0 + j0 * m, t = tAll + block * nbMax * nbMax
            var i0 = 0
            while i0 < nb {
                let ib = min(HouseholderQR.leafSize, nb - i0)
                qr.factorLeaf(panel + i0 + i0 * m, rows: mj - i0, columns: ib, tau: tau + j0 + i0)
                for c in i0..<(i0 + ib) { diagonal[j0 + c] = panel[c + c * m] }
                qr.copyReflectors(from: panel, rows: mj, columns: i0..<(i0 + ib), to: v)
                qr.extendT(t, ldt: nbMax, v: v, rows: mj, columns: i0..<(i0 + ib), tau: tau + j0, workspace: ws, threads: true)
                if nb - i0 - ib > 0 { reflector(v + i0 + i0 * m, rows: mj - i0, k: ib, t + i0 + i0 * nbMax, transposeT: true, panel + i0 + (i0 + ib) * m, columns: nb - i0 - ib) }
                i0 += ib
            }
            if n - j0 - nb > 0 { reflector(v, rows: mj, k: nb, t, transposeT: true, a + j0 + (j0 + nb) * m, columns: n - j0 - nb) }
        }
        for block in (0..<blocks).reversed() {
            let j0 = block * nbMax, nb = min(nbMax, n - j0), mj = m - j0, t = tAll + block * nbMax * nbMax
            qr.copyReflectors(from: a + j0 + j0 * m, rows: mj, columns: 0..<nb, to: v)
            if n - j0 - nb > 0 { reflector(v, rows: mj, k: nb, t, transposeT: false, a + j0 + (j0 + nb) * m, columns: n - j0 - nb) }
            InvariantGEMM.gemm(transA: false, transB: true, m: nb, n: nb, k: nb, alpha: 1, a: t, lda: nbMax, b: v, ldb: m, beta: 0, c: w2, ldc: nb, workspace: ws)
            for c in 0..<nb { let col = a + (j0 + c) * m; col.update(repeating: 0, count: m); col[j0 + c] = 1 }
            InvariantGEMM.gemm(transA: false, transB: false, m: mj, n: nb, k: nb, alpha: -1, a: v, lda: m, b: w2, ldb: nb, beta: 1, c: a + j0 + j0 * m, ldc: m, workspace: ws)
        }
    } } } } } }
    return diagonal
}

@Suite("Blocked QR scheduling: band kernel, in-place B, look-ahead — main's bytes", .sharedBLAS)
struct QRSchedulingTests {
    @Test("band kernel (triangular op(A), per-panel ranges) and the in-place B path equal the plain fma-chain contract bit for bit, AVX2 and portable", .flipsKernelPath)
    func bandKernel() {
        var mismatches = 0, runs = 0
        for portable in [false, true] {
            InvariantGEMM.forcePortable(portable)
            defer { InvariantGEMM.forcePortable(false) }
            // (m, n, kc, lower): lower = op(A) row i zero for p > i (band hi = (ip+1)·16); else zero for p < i (lo = ip·16).
            for (m, n, kc, lower) in [(128, 96, 128, true), (128, 90, 128, false), (48, 13, 200, true), (100, 7, 64, false), (128, 6, 37, true)] {
                var a = randomArray(Float.self, count: m * kc, seed: UInt64(m * 7 + n)).map { $0 - 0.5 }
                for i in 0..<m { for p in 0..<kc where lower ? p > i : p < i { a[i + p * m] = 0 } }
                let ldb = kc + 3
                let b = randomArray(Float.self, count: ldb * n, seed: UInt64(kc)).map { $0 - 0.5 }
                let c0 = randomArray(Float.self, count: (m + 2) * n, seed: 99)
                for (alpha, beta, first) in [(Float(1), Float(0), true), (-1, 1, true), (1, 0.5, false)] {
                    var expected = c0
                    referenceProduct(m: m, n: n, kc: kc, a: a, b: b, ldb: ldb, alpha: alpha, beta: beta, first: first, c: &expected, ldc: m + 2)
                    var packed = [Float](repeating: 0, count: (m + 15) / 16 * 16 * kc)
                    var work = [Float](repeating: 0, count: (n + 5) / 6 * 6 * kc)
                    var got = c0
                    a.withUnsafeBufferPointer { ap in packed.withUnsafeMutableBufferPointer { pp in
                        wi_spack_a(0, m, kc, ap.baseAddress!, m, pp.baseAddress!)
                        b.withUnsafeBufferPointer { bp in got.withUnsafeMutableBufferPointer { cp in work.withUnsafeMutableBufferPointer { wp in
                            wi_sgemm_packed_band(0, m, n, kc, pp.baseAddress!, 16 * kc, bp.baseAddress!, ldb, alpha, beta, first ? 1 : 0,
                                                 cp.baseAddress!, m + 2, wp.baseAddress!, 0, lower ? 0 : 16, lower ? 16 : 1 << 40, lower ? 16 : 0)
                        } } }
                    } }
                    runs += 1
                    if bits(got) != bits(expected) { mismatches += 1; print("band \(m)×\(n)×\(kc) lower \(lower) α \(alpha) β \(beta) first \(first) portable \(portable): differs") }
                }
            }
        }
        print("band kernel: \(runs) products against the plain fma chain, \(mismatches) differ")
        #expect(mismatches == 0)
    }

    /// V (rows × k, unit lower trapezoidal, exact zeros above), T (k × k upper triangular) and C.
    func structured(rows: Int, k: Int, columns: Int, ld: Int, ldt: Int, seed: UInt64) -> (v: [Float], t: [Float], c: [Float]) {
        var v = randomArray(Float.self, count: ld * k, seed: seed).map { $0 - 0.5 }
        var t = randomArray(Float.self, count: ldt * k, seed: seed + 1).map { $0 - 0.5 }
        for j in 0..<k { for i in 0..<j { v[i + j * ld] = 0 }; v[j + j * ld] = 1; for i in (j + 1)..<ldt { t[i + j * ldt] = 0 } }
        return (v, t, randomArray(Float.self, count: ld * columns, seed: seed + 2).map { $0 - 0.5 })
    }

    @Test("reflectorTasks (structured bands, zero rows skipped, a look-ahead job) equals the three separate products bit for bit, and the job sees its columns finished")
    func reflectorTasks() {
        let rows = 300, k = 48, columns = 260, ld = 310, ldt = 56, split = 50
        for transposeT in [false, true] {
            var (v, t, c0) = structured(rows: rows, k: k, columns: columns, ld: ld, ldt: ldt, seed: transposeT ? 10 : 20)
            // Columns < split: nonzero only in rows < k (the E columns of Q); columns ≥ split: zero in rows < k (Q so far).
            for j in 0..<columns { for i in 0..<rows where j < split ? i >= k : i < k { c0[i + j * ld] = 0 } }
            var plain = c0, tasks = c0
            var w = [Float](repeating: 0, count: k * columns), w2 = w
            final class Seen: @unchecked Sendable { var columns: [Float] = []; var calls = 0 }
            let seen = Seen()
            v.withUnsafeMutableBufferPointer { vp in t.withUnsafeMutableBufferPointer { tp in
                plain.withUnsafeMutableBufferPointer { cp in w.withUnsafeMutableBufferPointer { wp in w2.withUnsafeMutableBufferPointer { w2p in
                    InvariantGEMM.gemm(transA: true, transB: false, m: k, n: columns, k: rows, alpha: 1, a: vp.baseAddress!, lda: ld, b: cp.baseAddress!, ldb: ld, beta: 0, c: wp.baseAddress!, ldc: k)
                    InvariantGEMM.gemm(transA: transposeT, transB: false, m: k, n: columns, k: k, alpha: 1, a: tp.baseAddress!, lda: ldt, b: wp.baseAddress!, ldb: k, beta: 0, c: w2p.baseAddress!, ldc: k)
                    InvariantGEMM.gemm(transA: false, transB: false, m: rows, n: columns, k: k, alpha: -1, a: vp.baseAddress!, lda: ld, b: w2p.baseAddress!, ldb: k, beta: 1, c: cp.baseAddress!, ldc: ld)
                } } }
                tasks.withUnsafeMutableBufferPointer { cp in
                    let cBase = Ptr(p: cp.baseAddress!)
                    InvariantGEMM.reflectorTasks(rows: rows, k: k, v: vp.baseAddress!, ldv: ld, t: tp.baseAddress!, ldt: ldt, transposeT: transposeT,
                                                 c: cp.baseAddress!, ldc: ld, columns: columns, split: split, innerFirst: 0..<k, innerSecond: k..<rows,
                                                 structured: true, workspace: GEMMWorkspace(), lead: {
                        let p = cBase.p
                        seen.columns = Array(UnsafeBufferPointer(start: p, count: ld * split)); seen.calls += 1
                    })
                }
            } }
            let same = bits(plain) == bits(tasks)
            let leadSaw = seen.calls == 1 && bits(seen.columns) == bits(Array(plain[0..<(ld * split)]))
            print("reflectorTasks 300×260, k 48, \(transposeT ? "Tᵀ" : "T"), split 50: equals three products: \(same); look-ahead job ran \(seen.calls)× and saw its columns final: \(leadSaw)")
            #expect(same)
            #expect(leadSaw)
        }
    }

    @Test("HouseholderQR.thinQ equals the plain blocked QR bit for bit (Float and Double; square, tall, ragged blocks and leaves)",
          arguments: [(520, 520), (300, 260), (700, 129), (257, 256), (130, 7)])
    func driverMatchesPlainBlocked(_ shape: (Int, Int)) throws {
        let (m, n) = shape
        let af = randomArray(Float.self, count: m * n, seed: UInt64(m + 31 * n)).map { $0 - 0.5 }
        var fastF = af, plainF = af
        let dFast = try fastF.withUnsafeMutableBufferPointer { try HouseholderQR.thinQ($0, rows: m, columns: n) }
        let dPlain = plainBlockedQR(&plainF, m: m, n: n)
        let ad = randomArray(Double.self, count: m * n, seed: UInt64(m + 17 * n)).map { $0 - 0.5 }
        var fastD = ad, plainD = ad
        let eFast = try fastD.withUnsafeMutableBufferPointer { try HouseholderQR.thinQ($0, rows: m, columns: n) }
        let ePlain = plainBlockedQR(&plainD, m: m, n: n)
        let sameF = bits(fastF) == bits(plainF) && bits(dFast) == bits(dPlain)
        let sameD = bits(fastD) == bits(plainD) && bits(eFast) == bits(ePlain)
        print("thinQ \(m)×\(n) vs the plain blocked QR: Float identical \(sameF), Double identical \(sameD)")
        #expect(sameF)
        #expect(sameD)
    }

    @Test("thinQ with the column fill beside the first panel and the sign fix in Q's last update equals fill, thinQ, separate sign-fix pass (Float, Double; gains 1, 1.5, −0.7)",
          arguments: [(300, 260), (700, 129), (130, 7), (1, 1)])
    func fillAndSignFix(_ shape: (Int, Int)) throws {
        let (m, n) = shape
        func check<T: BLASScalar>(_: T.Type, gain: Double) throws -> Bool {
            let g = randomArray(T.self, count: m * n, seed: UInt64(3 * m + n)).map { $0 - T(0.5) }
            var separate = g
            let d1 = try separate.withUnsafeMutableBufferPointer { try HouseholderQR.thinQ($0, rows: m, columns: n) }
            for j in 0..<n { let f = T(d1[j] < 0 ? -gain : gain); for i in 0..<m { separate[i + j * m] = separate[i + j * m] * f } }
            let calls = FillCalls()
            var fused = [T](repeating: .nan, count: m * n)
            let d2 = try g.withUnsafeBufferPointer { src in try fused.withUnsafeMutableBufferPointer { p in
                let s = FillSource(dst: p.baseAddress!, src: src.baseAddress!)
                let fill: @Sendable (Range<Int>) -> Void = { r in
                    calls.add(r)
                    (s.dst + r.lowerBound * m).update(from: s.src + r.lowerBound * m, count: r.count * m)
                }
                return try HouseholderQR.thinQ(p, rows: m, columns: n, signFixGain: gain, fillingColumns: fill)
            } }
            var end = 0
            for r in calls.ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) { end = end == r.lowerBound ? r.upperBound : -1 }
            let covered = end == n
            return covered && bits(separate) == bits(fused) && bits(d1) == bits(d2)
        }
        for gain in [1.0, 1.5, -0.7] {
            let f = try check(Float.self, gain: gain), d = try check(Double.self, gain: gain)
            print("thinQ \(m)×\(n) gain \(gain): fill beside the panel + sign fix in the last update == separate steps, columns filled once each: Float \(f), Double \(d)")
            #expect(f)
            #expect(d)
        }
    }
}
