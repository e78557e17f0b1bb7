// SerialGEMM (single-threaded products on the package's packed kernel, used by Conv2D's im2col
// path) against two independent references: a naive Double triple loop (error within the
// first-order bound k·2⁻²⁴·Σ|a·b| plus the β term), and InvariantGEMM, whose documented
// per-element arithmetic SerialGEMM must reproduce bit for bit (the same fma chains in chunks of
// 256, added into C chunk by chunk). Shapes cover ragged 16×6 tile edges, inner dimensions
// across the 256 chunks, leading dimensions larger than the rows, both transpositions and β.
import Foundation
import Testing
@testable import MatrixModule

@Suite("SerialGEMM (single-threaded packed products)", .sharedBLAS)
struct SerialGEMMTests {
    struct Case: Sendable, CustomStringConvertible {
        var m: Int, n: Int, k: Int, ta: Bool, tb: Bool, beta: Float, pad: Int
        var description: String { "m\(m) n\(n) k\(k) ta\(ta) tb\(tb) β\(beta) ld+\(pad)" }
    }

    static let cases: [Case] = [
        Case(m: 1, n: 1, k: 1, ta: false, tb: false, beta: 0, pad: 0),
        Case(m: 17, n: 7, k: 300, ta: false, tb: false, beta: 0, pad: 1),
        Case(m: 64, n: 196, k: 288, ta: false, tb: false, beta: 0, pad: 0),      // conv forward, 1 sample of 14×14
        Case(m: 64, n: 288, k: 196, ta: false, tb: true, beta: 0, pad: 0),       // conv dW
        Case(m: 288, n: 196, k: 64, ta: true, tb: false, beta: 0, pad: 0),       // conv dcol
        Case(m: 33, n: 45, k: 513, ta: true, tb: true, beta: 1, pad: 3),
        Case(m: 130, n: 13, k: 9, ta: true, tb: false, beta: 0.5, pad: 2),
        Case(m: 5, n: 200, k: 257, ta: false, tb: true, beta: -2, pad: 0),
    ]

    @Test("equals the naive Double product within k·2⁻²⁴·Σ|a·b| and InvariantGEMM bit for bit", arguments: cases)
    func products(_ c: Case) throws {
        let lda = (c.ta ? c.m : c.k) + c.pad, ldb = (c.tb ? c.k : c.n) + c.pad, ldc = c.n + c.pad
        let a: [Float] = randomArray(count: (c.ta ? c.k : c.m) * lda, seed: UInt64(c.m * 7 + c.k))
        let b: [Float] = randomArray(count: (c.tb ? c.n : c.k) * ldb, seed: UInt64(c.n * 11 + c.k))
        let c0: [Float] = randomArray(count: c.m * ldc, seed: 99)
        var got = c0, inv = c0
        var work = [Float](repeating: 0, count: SerialGEMM.workspaceCount(m: c.m, n: c.n, k: c.k))
        try a.withUnsafeBufferPointer { pa in
            try b.withUnsafeBufferPointer { pb in
                try got.withUnsafeMutableBufferPointer { pc in
                    try work.withUnsafeMutableBufferPointer { pw in
                        try SerialGEMM.sgemm(transposeA: c.ta, transposeB: c.tb, m: c.m, n: c.n, k: c.k, a: pa, lda: lda, b: pb, ldb: ldb,
                                             beta: c.beta, c: pc, ldc: ldc, workspace: pw)
                    }
                }
                // The same row-major product as column-major Cᵀ = op(B)ᵀ·op(A)ᵀ through InvariantGEMM.
                inv.withUnsafeMutableBufferPointer { pc in
                    InvariantGEMM.gemm(transA: c.tb, transB: c.ta, m: c.n, n: c.m, k: c.k, alpha: Float(1), a: pb.baseAddress!, lda: ldb,
                                       b: pa.baseAddress!, ldb: lda, beta: c.beta, c: pc.baseAddress!, ldc: ldc)
                }
            }
        }
        #expect(got == inv, "\(c): SerialGEMM and InvariantGEMM bytes differ")
        var worst = 0.0
        for i in 0..<c.m {
            for j in 0..<c.n {
                var s = 0.0, mag = 0.0
                for p in 0..<c.k {
                    let av = Double(c.ta ? a[p * lda + i] : a[i * lda + p]), bv = Double(c.tb ? b[j * ldb + p] : b[p * ldb + j])
                    s += av * bv; mag += abs(av * bv)
                }
                let base = Double(c.beta) * Double(c0[i * ldc + j])
                let want = s + base, tol = 2 * Double(c.k + 2) * 0x1.0p-24 * (mag + abs(base)) + 1e-30
                let err = abs(Double(got[i * ldc + j]) - want)
                worst = max(worst, err / tol)
                #expect(err <= tol, "\(c) C[\(i), \(j)]: \(got[i * ldc + j]) vs \(want)")
            }
            // Padding columns of C are never written.
            for j in c.n..<ldc { #expect(got[i * ldc + j] == c0[i * ldc + j], "\(c): padding C[\(i), \(j)] changed") }
        }
        print("SerialGEMM \(c): worst error / bound \(worst)")
    }

    @Test("β = 0 never reads C (NaN in C does not reach the result); k = 0 scales C by β")
    func betaZero() throws {
        let a: [Float] = randomArray(count: 20 * 30, seed: 1), b: [Float] = randomArray(count: 30 * 10, seed: 2)
        var c = [Float](repeating: .nan, count: 20 * 10), work = [Float](repeating: 0, count: SerialGEMM.workspaceCount(m: 20, n: 10, k: 30))
        try a.withUnsafeBufferPointer { pa in try b.withUnsafeBufferPointer { pb in try c.withUnsafeMutableBufferPointer { pc in
            try work.withUnsafeMutableBufferPointer { pw in
                try SerialGEMM.sgemm(m: 20, n: 10, k: 30, a: pa, lda: 30, b: pb, ldb: 10, c: pc, ldc: 10, workspace: pw)
            } } } }
        #expect(c.allSatisfy { $0.isFinite })
        var d = [Float](repeating: 3, count: 4)
        try d.withUnsafeMutableBufferPointer { pd in
            try SerialGEMM.sgemm(m: 2, n: 2, k: 0, a: UnsafeBufferPointer(start: nil, count: 0), lda: 1, b: UnsafeBufferPointer(start: nil, count: 0),
                                 ldb: 2, beta: 0.5, c: pd, ldc: 2, workspace: UnsafeMutableBufferPointer(start: nil, count: 0))
        }
        #expect(d == [1.5, 1.5, 1.5, 1.5])
    }

    @Test("a short workspace, leading dimension or buffer is a typed invalidArgument naming it")
    func errors() throws {
        let a = [Float](repeating: 1, count: 16), b = [Float](repeating: 1, count: 16)
        var c = [Float](repeating: 0, count: 16), work = [Float](repeating: 0, count: 8)
        func run(lda: Int, workCount: Int) throws(MatrixError) {
            try a.withUnsafeBufferPointer { (pa) throws(MatrixError) in try b.withUnsafeBufferPointer { (pb) throws(MatrixError) in
                try c.withUnsafeMutableBufferPointer { (pc) throws(MatrixError) in try work.withUnsafeMutableBufferPointer { (pw) throws(MatrixError) in
                    try SerialGEMM.sgemm(m: 4, n: 4, k: 4, a: pa, lda: lda, b: pb, ldb: 4, c: pc, ldc: 4,
                                         workspace: UnsafeMutableBufferPointer(rebasing: pw[0..<workCount]))
                } } } }
        }
        #expect(SerialGEMM.workspaceCount(m: 4, n: 4, k: 4) > 8)
        do { try run(lda: 4, workCount: 8); Issue.record("short workspace accepted") } catch {
            guard case let .invalidArgument(_, detail) = error else { Issue.record("\(error)"); return }
            #expect(detail.contains("workspace"))
        }
        do { try run(lda: 3, workCount: 0); Issue.record("lda 3 accepted") } catch {
            guard case let .invalidArgument(_, detail) = error else { Issue.record("\(error)"); return }
            #expect(detail.contains("lda"))
        }
    }
}
