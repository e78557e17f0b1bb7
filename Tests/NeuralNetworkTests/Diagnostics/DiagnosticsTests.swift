// Diagnostics and C26 (init scale over depth): dead ReLUs with a large negative bias, the
// active fraction under He init, exploding (std 1) and vanishing (std 0.01) activations over 50
// layers computed layer by layer with Dense.forward, saturation of sigmoid/tanh, and the
// summary statistics against naive computations.
import Foundation
import Testing
import Initializers
import MatrixModule
import NeuralNetwork

/// `rows × columns` of N(0, 1) from the package's normal fill (seeded).
private func normalInput(rows: Int, columns: Int, seed: UInt64) throws -> Matrix<Float> {
    var x = Matrix<Float>(rows: rows, columns: columns)
    try Initializer.normal(mean: 0, std: 1).fill(&x, key: RandomKey(seed: seed).folding(in: 1_000_003))
    return x
}

/// Root mean square in Double.
private func rms(_ m: Matrix<Float>) -> Double {
    m.withUnsafeBufferPointer { p in (p.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(p.count, 1))).squareRoot() }
}

/// Columns (units) whose output is 0 for every row.
private func deadUnits(_ y: Matrix<Float>) -> Int {
    (0..<y.columns).filter { c in (0..<y.rows).allSatisfy { y[$0, c] == 0 } }.count
}

/// Runs `depth` layers 256→256 ReLU without bias, weights from `scheme` with per-layer keys,
/// and returns the RMS after each layer and whether the output has a non-finite value.
private func deepReLU(scheme: Initializer, depth: Int = 50, batch: Int = 512, width: Int = 256, seed: UInt64 = 0) throws -> [(rms: Double, finite: Bool, allZero: Bool)] {
    var h = try normalInput(rows: batch, columns: width, seed: 0)
    let root = RandomKey(seed: seed)
    var out: [(Double, Bool, Bool)] = []
    let layer = Dense(inputSize: width, outputSize: width, activation: .relu)
    for i in 0..<depth {
        try scheme.fill(&layer.weight, key: root.folding(in: UInt64(i)))
        h = try layer.forward(h)
        let finite = layer.preactivation.isFinite && h.isFinite
        let allZero = h.withUnsafeBufferPointer { $0.allSatisfy { $0 == 0 } }
        out.append((finite ? rms(h) : .infinity, finite, allZero))
    }
    return out
}

@Suite("Diagnostics")
struct DiagnosticsTests {
    @Test("C26(a): He-normal 256→256 ReLU has no dead units and an active fraction of 0.50 ± 0.02")
    func c26HeNoDeadUnits() throws {
        let x = try normalInput(rows: 1024, columns: 256, seed: 0)
        let layer = Dense(inputSize: 256, outputSize: 256, activation: .relu)
        try layer.initialize(with: .heNormal(), key: RandomKey(seed: 0))
        #expect(layer.bias.allSatisfy { $0 == 0 })
        let y = try layer.forward(x)
        let active = y.withUnsafeBufferPointer { p in Double(p.filter { $0 > 0 }.count) / Double(p.count) }
        #expect(abs(active - 0.5) <= 0.02, "mean active fraction \(active)")
        #expect(deadUnits(y) == 0)
        let s = Diagnostics.summarize(layer, index: 0)
        #expect(s.deadUnits == 0 && s.deadFraction == 0)
        #expect(s.saturatedFraction == nil)
        #expect(s.fanIn == 256 && s.fanOut == 256 && s.activation == "relu" && s.layer == 0)

        // Bias −10: every unit is dead, and the diagnostic says so.
        layer.bias = [Float](repeating: -10, count: 256)
        let y2 = try layer.forward(x)
        #expect(deadUnits(y2) == 256)
        #expect(y2.withUnsafeBufferPointer { $0.allSatisfy { $0 == 0 } })
        let s2 = Diagnostics.summarize(layer, index: 3)
        #expect(s2.deadUnits == 256 && s2.deadFraction == 1 && s2.layer == 3)
        #expect(s2.activationMean == 0 && s2.activationStd == 0)
    }

    @Test("dead units counts exactly the all-zero columns")
    func deadUnitCount() throws {
        let layer = Dense(inputSize: 2, outputSize: 4, activation: .relu)
        layer.weight = matrix([[1, 0], [-1, 0], [0, 0], [0, 1]])
        layer.bias = [0, 0, 0, -5]
        try layer.forward(matrix([[1, 2], [3, -1], [0.5, 4]]))
        // Unit 0 active, unit 1 (−x₀ < 0) dead, unit 2 (0) dead, unit 3 (x₁ − 5 < 0) dead.
        let s = Diagnostics.summarize(layer, index: 0)
        #expect(s.deadUnits == 3 && s.deadFraction == 0.75)
        // Non-ReLU activations report nil.
        let t = Dense(inputSize: 2, outputSize: 3, activation: .leakyReLU(slope: 0.1))
        try t.forward(matrix([[1, 2]]))
        #expect(Diagnostics.summarize(t, index: 0).deadUnits == nil)
    }

    @Test("C26(b): 50 ReLU layers — He keeps the RMS, std 1 explodes by layer 40, std 0.01 vanishes to exact 0")
    func c26Depth() throws {
        let inputRMS = rms(try normalInput(rows: 512, columns: 256, seed: 0))
        #expect(abs(inputRMS - 1) < 0.01)

        // He: E[RMS²] is preserved exactly, but one network's ratio after 50 layers is log-normal with
        // σ(log ratio) ≈ 0.5 (each layer multiplies RMS² by (2/n)·χ²-like factors, n = 256), so a single
        // seed lands outside [0.5, 2] about one time in six. The geometric mean over 8 networks has
        // σ ≈ 0.18, putting [0.5, 2] at ±3.9σ.
        var logSum = 0.0
        var ratios: [Double] = []
        for seed: UInt64 in 0..<8 {
            let he = try deepReLU(scheme: .heNormal(), seed: seed)
            #expect(he.allSatisfy { $0.finite })
            let r = he[49].rms / inputRMS
            ratios.append(r); logSum += Foundation.log(r)
        }
        let ratio = Foundation.exp(logSum / 8)
        print("C26(b) He RMS ratios at layer 50 by seed: \(ratios.map { String(format: "%.2f", $0) }), geometric mean \(ratio)")
        #expect(ratio >= 0.5 && ratio <= 2, "He: geometric-mean RMS ratio at layer 50 = \(ratio) (reference run 0.93)")

        let big = try deepReLU(scheme: .normal(mean: 0, std: 1))
        let firstNonFinite = big.firstIndex { !$0.finite }.map { $0 + 1 }
        #expect(firstNonFinite != nil, "std 1: activations stayed finite over 50 layers; last RMS \(big[49].rms)")
        #expect((firstNonFinite ?? 99) <= 40, "std 1: first non-finite layer \(String(describing: firstNonFinite)) (reference 36)")
        #expect((firstNonFinite ?? 0) >= 30, "std 1: RMS grows ≈ 11.3× per layer, overflow expected in the 30s")

        let small = try deepReLU(scheme: .normal(mean: 0, std: 0.01))
        #expect(small.allSatisfy { $0.finite })
        #expect(small[49].allZero, "std 0.01: layer 50 RMS \(small[49].rms)")
        #expect(!small[0].allZero && small[0].rms < 0.2)
        // Decay is geometric (≈ 0.113× per layer while values are normal numbers).
        #expect(small[9].rms < 1e-8 && small[9].rms > 0)
    }

    @Test("saturatedFraction: sigmoid and tanh with large weights saturate, small weights do not",
          arguments: [Activation.sigmoid, .tanh])
    func saturation(_ act: Activation) throws {
        let x = try normalInput(rows: 256, columns: 64, seed: 1)
        let layer = Dense(inputSize: 64, outputSize: 64, activation: act)
        func fraction(_ std: Double) throws -> (reported: Double, own: Double) {
            try Initializer.normal(mean: 0, std: std).fill(&layer.weight, key: RandomKey(seed: 5))
            let y = try layer.forward(x)
            let own = y.withUnsafeBufferPointer { p in
                Double(p.filter { act == .sigmoid ? ($0 < 0.01 || $0 > 0.99) : abs($0) > 0.99 }.count) / Double(p.count)
            }
            let s = try #require(Diagnostics.summarize(layer, index: 0).saturatedFraction)
            return (s, own)
        }
        let large = try fraction(10)
        #expect(large.reported > 0.5 && abs(large.reported - large.own) < 1e-12, "std 10: \(large)")
        let small = try fraction(0.001)
        #expect(small.reported == 0 && small.own == 0, "std 0.001: \(small)")
        // Non-saturating activations report nil.
        let r = Dense(inputSize: 64, outputSize: 8, activation: .gelu)
        try r.forward(x)
        #expect(Diagnostics.summarize(r, index: 0).saturatedFraction == nil)
    }

    @Test("meanStd is the population mean and standard deviation in Double")
    func meanStd() {
        let (m, s) = Diagnostics.meanStd(matrix([[1, 2], [3, 4]]))
        #expect(m == 2.5 && abs(s - 1.25.squareRoot()) < 1e-15)
        let e = Diagnostics.meanStd(Matrix(rows: 0, columns: 3))
        #expect(e.0 == 0 && e.1 == 0)
        // Large offset: two-pass computation keeps the small spread.
        let (m2, s2) = Diagnostics.meanStd(matrix([[1e6 + 1, 1e6 - 1]]))
        #expect(m2 == 1e6 && s2 == 1)
    }

    @Test("measure: statistics of every layer against naive computations; weights unchanged")
    func measureAgainstNaive() throws {
        let model = try Sequential(sizes: [5, 7, 3], activation: .tanh, seed: 4)
        let x = randomMatrix(rows: 9, columns: 5, seed: 3, -2, 2)
        let labels: [Int32] = [0, 1, 2, 0, 1, 2, 0, 1, 2]
        let before = model.layers.map(\.weight)
        let stats = try Diagnostics.measure(model, inputs: x, labels: labels[...])
        #expect(stats.count == 2)
        #expect(model.layers.map(\.weight) == before)

        // Naive forward, softmax CE gradient and backward in Double.
        var inputs = [doubles(x)], zs: [[Double]] = []
        for l in model.layers {
            let r = naiveDense(x: inputs.last!, w: doubles(l.weight), b: l.bias.map(Double.init), batch: 9,
                               inSize: l.inputSize, outSize: l.outputSize, activation: l.activation)
            zs.append(r.z); inputs.append(r.y)
        }
        var g = [Double](repeating: 0, count: 27)
        for r in 0..<9 {
            let z = Array(inputs[2][(r * 3)..<(r * 3 + 3)]), m = z.max()!, s = z.reduce(0) { $0 + exp($1 - m) }
            for j in 0..<3 { g[r * 3 + j] = (exp(z[j] - m) / s - (j == Int(labels[r]) ? 1 : 0)) / 9 }
        }
        var norms = [Double](repeating: 0, count: 2)
        for i in [1, 0] {
            let l = model.layers[i]
            let r = naiveDenseBackward(x: inputs[i], w: doubles(l.weight), z: zs[i], dy: g, batch: 9, inSize: l.inputSize, outSize: l.outputSize, activation: l.activation)
            norms[i] = r.dw.reduce(0) { $0 + $1 * $1 }.squareRoot()
            g = r.dx
        }
        func moments(_ v: [Double]) -> (Double, Double) {
            let m = v.reduce(0, +) / Double(v.count)
            return (m, (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count)).squareRoot())
        }
        for (i, s) in stats.enumerated() {
            let l = model.layers[i]
            #expect(s.layer == i && s.fanIn == l.inputSize && s.fanOut == l.outputSize && s.activation == l.activation.name)
            let (zm, zsd) = moments(zs[i]), (ym, ysd) = moments(inputs[i + 1]), (_, wsd) = moments(doubles(l.weight))
            #expect(close(s.preactivationMean, zm, abs: 1e-5) && close(s.preactivationStd, zsd, abs: 1e-5))
            #expect(close(s.activationMean, ym, abs: 1e-5) && close(s.activationStd, ysd, abs: 1e-5))
            #expect(close(s.weightStd, wsd, abs: 1e-7))
            #expect(close(s.gradientNorm, norms[i], abs: 1e-6, rel: 1e-4), "layer \(i): ‖dW‖ \(s.gradientNorm) vs \(norms[i])")
        }
        #expect(stats[0].saturatedFraction != nil && stats[1].saturatedFraction == nil)   // tanh hidden, identity output
        #expect(throws: TrainingError.self) { _ = try Diagnostics.measure(model, inputs: x, labels: [0, 1][...]) }
        #expect(throws: MatrixError.self) { _ = try Diagnostics.measure(model, inputs: Matrix(rows: 2, columns: 4), labels: [0, 1][...]) }
    }
}
