// NetworkModel conformance of Sequential and ResidualMLP (parameter counts in closed form, layer
// order, summaries, input size), the optimizer's update of scalar parameters (residual gates)
// against the documented SGD rule written out here, and Diagnostics on a residual model
// (statistics recomputed with Double loops).
import Foundation
import Testing
import MatrixModule
import NeuralNetwork

private func nmStd(_ m: Matrix<Float>) -> (Double, Double) {
    let e = doubles(m)
    let mean = e.reduce(0, +) / Double(e.count)
    return (mean, (e.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(e.count)).squareRoot())
}

private func nmRandomize(_ m: any NetworkModel, seed: UInt64) {
    var k = seed
    for d in m.denseLayers {
        d.weight = randomMatrix(rows: d.outputSize, columns: d.inputSize, seed: k, -0.5, 0.5); k += 1
        d.bias = randomArray(count: d.outputSize, seed: k, -0.2, 0.2); k += 1
    }
}

@Suite("NetworkModel")
struct NetworkModelTests {
    @Test("Sequential: parameterCount Σ(out·in + out), inputSize, summary, no scalars, denseLayers are the layers")
    func sequentialConformance() throws {
        let s = try Sequential(sizes: [784, 256, 128, 10], activation: .relu, seed: 0)
        let model: any NetworkModel = s
        #expect(model.parameterCount == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10)
        #expect(model.parameterCount == s.parameterCount)
        #expect(model.inputSize == 784)
        #expect(model.summary == "784-256-128-10")
        #expect(model.scalarParameters.isEmpty)
        #expect(model.denseLayers.count == 3)
        for (a, b) in zip(model.denseLayers, s.layers) { #expect(a === b) }
    }

    @Test("ResidualMLP: parameterCount in closed form (gates counted only when learned), layer order, summary",
          arguments: [ResidualInitialization.standard, .fixup, .rezero])
    func residualConformance(kind: ResidualInitialization) throws {
        let (i, w, d, c) = (20, 16, 3, 5)
        let m = try ResidualMLP(inputSize: i, width: w, depth: d, classes: c, activation: .relu, initialization: kind, seed: 0)
        let gates: Int
        if case .standard = kind { gates = 0 } else { gates = d }
        #expect(m.parameterCount == (i * w + w) + d * 2 * (w * w + w) + (w * c + c) + gates)
        #expect(m.inputSize == i)
        #expect(m.summary == "20-16×3 residual blocks-5")
        let layers = m.denseLayers
        #expect(layers.count == 2 + 2 * d)
        #expect(layers.first === m.inputLayer && layers.last === m.outputLayer)
        for b in 0..<d { #expect(layers[1 + 2 * b] === m.blocks[b].first && layers[2 + 2 * b] === m.blocks[b].second) }
        #expect(m.blocks.allSatisfy { $0.first.activation == .relu && $0.second.activation == .identity })
        #expect(m.outputLayer.activation == .identity)
        let x = randomMatrix(rows: 3, columns: i, seed: 1)
        let y = try m.forward(x)
        #expect(y.rows == 3 && y.columns == c)
    }

    @Test("Optimizer SGD (no momentum) updates gates g ← g − η·s·∂L/∂g, without weight decay, with the gate's learningRateScale")
    func sgdUpdatesGates() throws {
        let m = try ResidualMLP(inputSize: 6, width: 8, depth: 3, classes: 3, activation: .tanh, initialization: .fixup, seed: 1)
        nmRandomize(m, seed: 40)
        m.scalarParameters[1].learningRateScale = 2.5
        let x = randomMatrix(rows: 5, columns: 6, seed: 2)
        _ = try m.forward(x)
        _ = try m.backward(randomMatrix(rows: 5, columns: 3, seed: 3))
        let g0 = m.scalarParameters.map(\.value), grads = m.scalarParameters.map(\.gradient)
        #expect(grads.allSatisfy { $0 != 0 })
        let w0 = doubles(m.outputLayer.weight), gw = doubles(m.outputLayer.weightGradient)
        try Optimizer(.sgd(momentum: 0), weightDecay: 0.3).step(model: m, learningRate: 0.05)
        for (k, p) in m.scalarParameters.enumerated() {
            let eta = 0.05 * (k == 1 ? 2.5 : 1)
            let want = Double(g0[k]) - eta * Double(grads[k])    // no decay on scalars
            #expect(abs(Double(p.value) - want) < 1e-6, "gate \(k): \(p.value) vs \(want)")
        }
        // Dense weights get the L2 decay: w ← w − η(∇ + λw).
        let wantW = zip(w0, gw).map { $0 - 0.05 * ($1 + 0.3 * $0) }
        #expect(worstRatio(doubles(m.outputLayer.weight), wantW, abs: 1e-6, rel: 1e-5) <= 1)
    }

    @Test("Optimizer SGD with momentum on gates: v ← μv + g, g ← g − ηv over two steps")
    func momentumOnGates() throws {
        let m = try ResidualMLP(inputSize: 4, width: 6, depth: 2, classes: 2, activation: .tanh, initialization: .rezero, seed: 3)
        nmRandomize(m, seed: 60)
        let opt = try Optimizer(.sgd(momentum: 0.9))
        let x = randomMatrix(rows: 6, columns: 4, seed: 4), dy = randomMatrix(rows: 6, columns: 2, seed: 5)
        var ref = m.scalarParameters.map { Double($0.value) }, vel = [Double](repeating: 0, count: 2)
        for _ in 0..<2 {
            _ = try m.forward(x)
            _ = try m.backward(dy)
            let grads = m.scalarParameters.map { Double($0.gradient) }
            for k in 0..<2 { vel[k] = 0.9 * vel[k] + grads[k]; ref[k] -= 0.1 * vel[k] }
            opt.step(model: m, learningRate: 0.1)
            for (k, p) in m.scalarParameters.enumerated() { #expect(abs(Double(p.value) - ref[k]) < 1e-6, "gate \(k)") }
        }
        // ReZero's gates moved away from 0: the blocks now contribute.
        #expect(m.scalarParameters.allSatisfy { $0.value != 0 })
    }

    @Test("Adam on gates: the first step moves each gate by ≈ η·sign(∂L/∂g)")
    func adamOnGates() throws {
        let m = try ResidualMLP(inputSize: 4, width: 6, depth: 2, classes: 2, activation: .tanh, initialization: .fixup, seed: 5)
        nmRandomize(m, seed: 80)
        _ = try m.forward(randomMatrix(rows: 6, columns: 4, seed: 6))
        _ = try m.backward(randomMatrix(rows: 6, columns: 2, seed: 7))
        let g0 = m.scalarParameters.map(\.value), grads = m.scalarParameters.map(\.gradient)
        try Optimizer(.adam()).step(model: m, learningRate: 0.01)
        for (k, p) in m.scalarParameters.enumerated() {
            let want = Double(g0[k]) - 0.01 * Double(grads[k]) / (abs(Double(grads[k])) + 1e-8)
            #expect(abs(Double(p.value) - want) < 1e-6, "gate \(k): \(p.value) vs \(want)")
        }
    }

    @Test("Diagnostics.measure on a ResidualMLP: depth + 2 entries; block entries are the residual stream (own loops)")
    func diagnosticsOnResidual() throws {
        let m = try ResidualMLP(inputSize: 10, width: 12, depth: 3, classes: 4, activation: .relu, initialization: .standard, seed: 2)
        let x = randomMatrix(rows: 16, columns: 10, seed: 9)
        let labels: [Int32] = (0..<16).map { Int32($0 % 4) }
        let stats = try Diagnostics.measure(m, inputs: x, labels: labels[...])
        #expect(stats.count == 3 + 2)
        for (b, blk) in m.blocks.enumerated() {
            let s = stats[b + 1]
            let (am, asd) = nmStd(blk.output), (zm, zsd) = nmStd(blk.first.preactivation)
            #expect(close(s.activationMean, am, abs: 1e-9, rel: 1e-6) && close(s.activationStd, asd, abs: 1e-9, rel: 1e-6))
            #expect(close(s.preactivationMean, zm, abs: 1e-9, rel: 1e-6) && close(s.preactivationStd, zsd, abs: 1e-9, rel: 1e-6))
            let g1 = blk.first.weightGradient.frobeniusNorm(), g2 = blk.second.weightGradient.frobeniusNorm()
            // Documented: the branch's combined norm √(‖∂L/∂W₁‖² + ‖∂L/∂W₂‖²).
            let combined = (g1 * g1 + g2 * g2).squareRoot()
            #expect(close(s.gradientNorm, combined, abs: 1e-9, rel: 1e-6), "block \(b): \(s.gradientNorm) vs \(combined)")
        }
        #expect(stats.first!.layer == 0 && stats.last!.layer == 4)
    }
}
