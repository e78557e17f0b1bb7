import Foundation
import Testing
@testable import MatrixModule

/// `DenseProducts` against naive triple loops that spell out the documented arithmetic: each
/// element one fused-multiply-add chain over the inner dimension in index order from 0
/// (`Float.addingProduct` is IEEE fma), then `+ b` — so the comparison is bitwise.
struct DenseProductsTests {
    struct Shape: Sendable, CustomTestStringConvertible {
        let rows: Int, inputs: Int, outputs: Int
        var testDescription: String { "batch \(rows), \(inputs)→\(outputs)" }
    }
    /// Odd sizes: partial 16-row panels, partial 6-column tiles, 1s, an empty inner dimension.
    static let shapes: [Shape] = [
        .init(rows: 1, inputs: 1, outputs: 1), .init(rows: 7, inputs: 5, outputs: 13), .init(rows: 3, inputs: 17, outputs: 16),
        .init(rows: 64, inputs: 33, outputs: 6), .init(rows: 37, inputs: 40, outputs: 100), .init(rows: 13, inputs: 32, outputs: 31),
        .init(rows: 5, inputs: 0, outputs: 9),
    ]

    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var s = seed &* 0x9E37_79B9_7F4A_7C15 &+ 1
        return (0..<count).map { _ in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: s >> 11) % 2001 - 1000) / 997
        }
    }

    static func matrix(_ r: Int, _ c: Int, seed: UInt64) -> Matrix<Float> {
        try! Matrix(rows: r, columns: c, elements: values(r * c, seed: seed))
    }

    static func bits(_ m: Matrix<Float>) -> [UInt32] { m.elements.map(\.bitPattern) }

    // The naive loops.
    static func naiveForward(_ x: Matrix<Float>, _ w: Matrix<Float>, _ b: [Float]) -> [Float] {
        var z = [Float](repeating: 0, count: x.rows * w.rows)
        for j in 0..<x.rows { for i in 0..<w.rows {
            var acc: Float = 0
            for p in 0..<w.columns { acc = acc.addingProduct(w[i, p], x[j, p]) }
            z[j * w.rows + i] = acc + b[i]
        } }
        return z
    }
    static func naiveInputGradient(_ dz: Matrix<Float>, _ w: Matrix<Float>) -> [Float] {
        var dx = [Float](repeating: 0, count: dz.rows * w.columns)
        for j in 0..<dz.rows { for i in 0..<w.columns {
            var acc: Float = 0
            for p in 0..<w.rows { acc = acc.addingProduct(w[p, i], dz[j, p]) }
            dx[j * w.columns + i] = acc
        } }
        return dx
    }
    static func naiveWeightGradient(_ dz: Matrix<Float>, _ x: Matrix<Float>) -> [Float] {
        var dw = [Float](repeating: 0, count: dz.columns * x.columns)
        for o in 0..<dz.columns { for i in 0..<x.columns {
            var acc: Float = 0
            for p in 0..<x.rows { acc = acc.addingProduct(x[p, i], dz[p, o]) }
            dw[o * x.columns + i] = acc
        } }
        return dw
    }

    /// Runs the three products (forward with ReLU, input gradient plain and gated, weight gradient).
    static func run(_ s: Shape, threads: Int) throws -> (z: Matrix<Float>, y: Matrix<Float>, dx: Matrix<Float>, gated: Matrix<Float>, dw: Matrix<Float>) {
        let x = matrix(s.rows, s.inputs, seed: 1), w = matrix(s.outputs, s.inputs, seed: 2), dz = matrix(s.rows, s.outputs, seed: 3)
        let gate = matrix(s.rows, s.inputs, seed: 4), b = values(s.outputs, seed: 5)
        let packed = PackedWeight(w, threads: threads)
        var z = Matrix<Float>(rows: s.rows, columns: s.outputs), y = z
        try DenseProducts.forward(x, packed, bias: b, into: &z, relu: &y, threads: threads)
        var dx = Matrix<Float>(rows: s.rows, columns: s.inputs), gated = dx
        try DenseProducts.inputGradient(dz, packed, into: &dx, threads: threads)
        try DenseProducts.inputGradient(dz, packed, reluGate: gate, into: &gated, threads: threads)
        var dw = Matrix<Float>(rows: s.outputs, columns: s.inputs)
        var scratch: [Float] = []
        try DenseProducts.weightGradient(dz, x, into: &dw, scratch: &scratch, threads: threads)
        return (z, y, dx, gated, dw)
    }

    @Test("forward, input gradient (plain and ReLU-gated) and weight gradient equal the naive fma loops bit for bit", arguments: shapes)
    func naive(_ s: Shape) throws {
        let x = Self.matrix(s.rows, s.inputs, seed: 1), w = Self.matrix(s.outputs, s.inputs, seed: 2), dz = Self.matrix(s.rows, s.outputs, seed: 3)
        let gate = Self.matrix(s.rows, s.inputs, seed: 4), b = Self.values(s.outputs, seed: 5)
        let r = try Self.run(s, threads: 1)
        let z = Self.naiveForward(x, w, b)
        #expect(r.z.elements.map(\.bitPattern) == z.map(\.bitPattern))
        #expect(r.y.elements.map(\.bitPattern) == z.map { ($0 > 0 ? $0 : 0).bitPattern })
        let dx = Self.naiveInputGradient(dz, w)
        #expect(r.dx.elements.map(\.bitPattern) == dx.map(\.bitPattern))
        #expect(r.gated.elements.map(\.bitPattern) == zip(dx, gate.elements).map { ($1 > 0 ? $0 : 0).bitPattern })
        #expect(r.dw.elements.map(\.bitPattern) == Self.naiveWeightGradient(dz, x).map(\.bitPattern))
        // and against cblas_sgemm within the rounding bound of two summation orders, 2γ_k·Σ|a||b|
        var ref = Matrix<Float>(rows: s.rows, columns: s.outputs)
        try Matrix.gemm(x, w, transposeB: true, into: &ref)
        var worst = 0.0
        for j in 0..<s.rows { for i in 0..<s.outputs {
            var mag = Double(abs(b[i]))
            for p in 0..<s.inputs { mag += Double(abs(x[j, p] * w[i, p])) }
            let bound = 2 * Double(s.inputs + 1) * Double(Float.ulpOfOne) / 2 * mag + 1e-30
            worst = max(worst, abs(Double(ref[j, i] + b[i]) - Double(r.z[j, i])) / bound)
        } }
        print("DenseProducts \(s.testDescription): |Z − cblas Z| at most \(worst) of the bound")
        #expect(worst <= 1)
    }

    @Test("the bytes do not depend on the thread count (1, 2, 3, 8)")
    func threads() throws {
        let s = Shape(rows: 128, inputs: 200, outputs: 150)
        let one = try Self.run(s, threads: 1)
        for t in [2, 3, 8] {
            let r = try Self.run(s, threads: t)
            #expect(Self.bits(r.z) == Self.bits(one.z) && Self.bits(r.y) == Self.bits(one.y), "threads \(t)")
            #expect(Self.bits(r.dx) == Self.bits(one.dx) && Self.bits(r.gated) == Self.bits(one.gated), "threads \(t)")
            #expect(Self.bits(r.dw) == Self.bits(one.dw), "threads \(t)")
        }
    }

    @Test("the AVX2+FMA and the portable kernels give identical bytes", .flipsKernelPath)
    func kernelPaths() throws {
        let s = Shape(rows: 37, inputs: 50, outputs: 70)
        let fast = try Self.run(s, threads: 1)
        let avx2 = InvariantGEMM.usesAVX2
        InvariantGEMM.forcePortable(true)
        defer { InvariantGEMM.forcePortable(false) }
        let portable = try Self.run(s, threads: 1)
        print("DenseProducts: first run on the \(avx2 ? "AVX2+FMA" : "portable") kernel, second on the portable kernel")
        #expect(Self.bits(fast.z) == Self.bits(portable.z) && Self.bits(fast.y) == Self.bits(portable.y))
        #expect(Self.bits(fast.dx) == Self.bits(portable.dx) && Self.bits(fast.gated) == Self.bits(portable.gated))
        #expect(Self.bits(fast.dw) == Self.bits(portable.dw))
    }

    @Test("packing keeps the values: repacking another shape, and an empty weight")
    func packing() throws {
        var p = PackedWeight(Self.matrix(20, 30, seed: 9))
        #expect(p.rows == 20 && p.columns == 30)
        let w = Self.matrix(33, 7, seed: 10), x = Self.matrix(4, 7, seed: 11), b = Self.values(33, seed: 12)
        p.pack(w, threads: 3)
        var z = Matrix<Float>(rows: 4, columns: 33)
        try DenseProducts.forward(x, p, bias: b, into: &z)
        #expect(z.elements.map(\.bitPattern) == Self.naiveForward(x, w, b).map(\.bitPattern))
        p.pack(Matrix(rows: 0, columns: 5))
        var e = Matrix<Float>(rows: 3, columns: 0)
        try DenseProducts.forward(Self.matrix(3, 5, seed: 1), p, bias: [], into: &e)
        #expect(p.rows == 0 && p.columns == 5)
    }

    @Test("shape mismatches throw MatrixError.shapeMismatch")
    func errors() {
        let p = PackedWeight(Self.matrix(4, 3, seed: 1))
        var z = Matrix<Float>(rows: 2, columns: 4), dx = Matrix<Float>(rows: 2, columns: 3), dw = Matrix<Float>(rows: 4, columns: 3)
        var scratch: [Float] = []
        #expect(throws: MatrixError.self) { try DenseProducts.forward(Self.matrix(2, 5, seed: 1), p, bias: [0, 0, 0, 0], into: &z) }
        #expect(throws: MatrixError.self) { try DenseProducts.forward(Self.matrix(2, 3, seed: 1), p, bias: [0], into: &z) }
        var wrong = Matrix<Float>(rows: 3, columns: 4)
        #expect(throws: MatrixError.self) { try DenseProducts.forward(Self.matrix(2, 3, seed: 1), p, bias: [0, 0, 0, 0], into: &wrong) }
        #expect(throws: MatrixError.self) { try DenseProducts.inputGradient(Self.matrix(2, 5, seed: 1), p, into: &dx) }
        #expect(throws: MatrixError.self) { try DenseProducts.inputGradient(Self.matrix(2, 4, seed: 1), p, reluGate: Self.matrix(2, 2, seed: 1), into: &dx) }
        #expect(throws: MatrixError.self) { try DenseProducts.weightGradient(Self.matrix(2, 4, seed: 1), Self.matrix(3, 3, seed: 1), into: &dw, scratch: &scratch) }
        #expect(throws: MatrixError.self) { try DenseProducts.weightGradient(Self.matrix(2, 4, seed: 1), Self.matrix(2, 3, seed: 1), into: &z, scratch: &scratch) }
    }
}
