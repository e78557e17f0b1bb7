// ResidualMLP: the forward pass against a naive Double loop h ← h + g·(W₂ f(W₁h + b₁) + b₂);
// every gradient (dense weights, biases, learned gates) against central finite differences of
// a Double loss on that naive forward; the Fixup / ReZero / standard structure at init; and the
// residual stream's scale with depth, measured with Double loops.
import Foundation
import Testing
import MatrixModule
import NeuralNetwork

// MARK: - Naive residual network in Double

private struct RNLayer {
    var w: [Double], b: [Double]
    let inSize: Int, outSize: Int
    let activation: Activation
    init(_ d: Dense) {
        w = doubles(d.weight); b = d.bias.map(Double.init)
        inSize = d.inputSize; outSize = d.outputSize; activation = d.activation
    }
    func callAsFunction(_ x: [Double], batch: Int) -> [Double] {
        naiveDense(x: x, w: w, b: b, batch: batch, inSize: inSize, outSize: outSize, activation: activation).y
    }
}

private struct RNBlock {
    var first: RNLayer, second: RNLayer, gate: Double
}

private struct RNNet {
    var input: RNLayer
    var blocks: [RNBlock]
    var output: RNLayer

    init(_ m: ResidualMLP) {
        input = RNLayer(m.inputLayer)
        blocks = m.blocks.map { RNBlock(first: RNLayer($0.first), second: RNLayer($0.second), gate: Double($0.gate.value)) }
        output = RNLayer(m.outputLayer)
    }

    /// Logits and the residual stream after every block.
    func forward(_ x: [Double], batch: Int) -> (logits: [Double], stream: [[Double]]) {
        var h = input(x, batch: batch)
        var stream: [[Double]] = []
        for blk in blocks {
            let f = blk.second(blk.first(h, batch: batch), batch: batch)
            for i in h.indices { h[i] += blk.gate * f[i] }
            stream.append(h)
        }
        return (output(h, batch: batch), stream)
    }
}

private func rnLoss(_ net: RNNet, _ x: [Double], _ c: [Double], batch: Int) -> Double {
    let l = net.forward(x, batch: batch).logits
    var s = 0.0
    for i in l.indices { s += c[i] * l[i] }
    return s
}

private func rnRandomize(_ m: ResidualMLP, seed: UInt64) {
    var k: UInt64 = seed
    for d in m.denseLayers {
        d.weight = randomMatrix(rows: d.outputSize, columns: d.inputSize, seed: k, -0.8, 0.8); k += 1
        d.bias = randomArray(count: d.outputSize, seed: k, -0.5, 0.5); k += 1
    }
}

private func rnStd(_ x: [Double]) -> Double {
    let mean = x.reduce(0, +) / Double(x.count)
    return (x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(x.count)).squareRoot()
}

private func rnStd(_ m: Matrix<Float>) -> Double { rnStd(doubles(m)) }

private let rnAllKinds: [ResidualInitialization] = [.standard, .fixup, .rezero]

@Suite("ResidualMLP")
struct ResidualMLPTests {
    @Test("forward equals the naive loop h ← h + g·(W₂ f(W₁h + b₁) + b₂) for every initialization", arguments: rnAllKinds)
    func forwardMatchesNaive(kind: ResidualInitialization) throws {
        let m = try ResidualMLP(inputSize: 6, width: 5, depth: 3, classes: 3, activation: .tanh, initialization: kind, seed: 4)
        rnRandomize(m, seed: 10)
        for (b, blk) in m.blocks.enumerated() { blk.gate.value = [0.7, -0.4, 1.3][b] }
        let x = randomMatrix(rows: 7, columns: 6, seed: 99)
        let got = try m.forward(x)
        let net = RNNet(m)
        let (want, stream) = net.forward(doubles(x), batch: 7)
        #expect(worstRatio(doubles(got), want, abs: 1e-5, rel: 1e-5) <= 1)
        for (b, blk) in m.blocks.enumerated() { #expect(worstRatio(doubles(blk.output), stream[b], abs: 1e-5, rel: 1e-5) <= 1) }
    }

    @Test("forward with ReLU (He init) also matches the naive loop")
    func forwardReLU() throws {
        let m = try ResidualMLP(inputSize: 10, width: 16, depth: 4, classes: 4, activation: .relu, initialization: .standard, seed: 1)
        let x = randomMatrix(rows: 9, columns: 10, seed: 5)
        let got = try m.forward(x)
        let want = RNNet(m).forward(doubles(x), batch: 9).logits
        let scale = want.map(abs).max()!
        #expect(worstRatio(doubles(got), want, abs: 1e-5 * scale, rel: 1e-5) <= 1)
    }

    @Test("backward: all weights, biases and learned gates vs central finite differences (Double loss)", arguments: rnAllKinds)
    func gradientsMatchFiniteDifferences(kind: ResidualInitialization) throws {
        let batch = 5, inputs = 3, classes = 2
        let m = try ResidualMLP(inputSize: inputs, width: 4, depth: 2, classes: classes, activation: .tanh, initialization: kind, seed: 2)
        rnRandomize(m, seed: 20)
        m.blocks[0].gate.value = 0.7; m.blocks[1].gate.value = -0.45
        let x = randomMatrix(rows: batch, columns: inputs, seed: 31)
        let c = randomMatrix(rows: batch, columns: classes, seed: 32)
        _ = try m.forward(x)
        _ = try m.backward(c)

        let xd = doubles(x), cd = doubles(c)
        let base = RNNet(m)
        let h = 1e-6
        func fd(_ mutate: (inout RNNet, Double) -> Void) -> Double {
            var p = base, q = base
            mutate(&p, h); mutate(&q, -h)
            return (rnLoss(p, xd, cd, batch: batch) - rnLoss(q, xd, cd, batch: batch)) / (2 * h)
        }
        // Map each Dense of the model to a writable path in RNNet.
        typealias Path = WritableKeyPath<RNNet, RNLayer>
        var paths: [Path] = [\RNNet.input]
        for b in 0..<2 { paths.append(\RNNet.blocks[b].first); paths.append(\RNNet.blocks[b].second) }
        paths.append(\RNNet.output)
        let layers = m.denseLayers
        #expect(layers.count == paths.count)
        var checked = 0
        for (layer, path) in zip(layers, paths) {
            let gw = doubles(layer.weightGradient), gb = layer.biasGradient.map(Double.init)
            for i in gw.indices {
                let want = fd { net, d in net[keyPath: path].w[i] += d }
                #expect(close(gw[i], want, abs: 1e-4, rel: 1e-3), "\(kind) weight \(i): \(gw[i]) vs \(want)")
                checked += 1
            }
            for i in gb.indices {
                let want = fd { net, d in net[keyPath: path].b[i] += d }
                #expect(close(gb[i], want, abs: 1e-4, rel: 1e-3), "\(kind) bias \(i): \(gb[i]) vs \(want)")
                checked += 1
            }
        }
        #expect(checked == m.parameterCount - m.scalarParameters.count)
        for b in 0..<2 {
            let want = fd { net, d in net.blocks[b].gate += d }
            let got = Double(m.blocks[b].gate.gradient)
            if case .standard = kind {
                #expect(got == 0, "standard gates are not learned")
                #expect(abs(want) > 1e-3)   // the gate does influence the loss, it is just fixed
            } else {
                #expect(close(got, want, abs: 1e-4, rel: 1e-3), "\(kind) gate \(b): \(got) vs \(want)")
            }
        }
        // ∂L/∂x too (the value backward returns), checked on the input layer's first input.
        let dx = try m.backward(c)
        var xp = xd, xm = xd
        xp[0] += h; xm[0] -= h
        let want = (rnLoss(base, xp, cd, batch: batch) - rnLoss(base, xm, cd, batch: batch)) / (2 * h)
        #expect(close(Double(dx[0, 0]), want, abs: 1e-4, rel: 1e-3))
    }

    @Test("Fixup: branch second layers and output layer exactly zero, first layers std ≈ He·L^(−1/2), gates 1 and learned")
    func fixupStructure() throws {
        let width = 128, depth = 4, inputs = 64
        let m = try ResidualMLP(inputSize: inputs, width: width, depth: depth, classes: 10, activation: .relu, initialization: .fixup, seed: 3)
        #expect(m.outputLayer.weight.elements.allSatisfy { $0 == 0 } && m.outputLayer.bias.allSatisfy { $0 == 0 })
        let expected = 2.0.squareRoot() / Double(width).squareRoot() / Double(depth).squareRoot()
        for blk in m.blocks {
            #expect(blk.second.weight.elements.allSatisfy { $0 == 0 } && blk.second.bias.allSatisfy { $0 == 0 })
            let s = rnStd(blk.first.weight)
            #expect(abs(s / expected - 1) < 0.03, "first-layer std \(s) vs \(expected)")
            #expect(blk.first.bias.allSatisfy { $0 == 0 })
            #expect(blk.gate.value == 1 && blk.gateIsLearned)
        }
        // The input layer is plain He (gain √2, fan_in = inputs).
        #expect(abs(rnStd(m.inputLayer.weight) / (2.0 / Double(inputs)).squareRoot() - 1) < 0.03)
        #expect(m.scalarParameters.count == depth)
        for (p, blk) in zip(m.scalarParameters, m.blocks) { #expect(p === blk.gate) }
    }

    @Test("ReZero: gates 0 and learned; at init the network is input layer → output layer")
    func rezeroIdentityAtInit() throws {
        let m = try ResidualMLP(inputSize: 12, width: 16, depth: 3, classes: 5, activation: .relu, initialization: .rezero, seed: 6)
        #expect(m.blocks.allSatisfy { $0.gate.value == 0 && $0.gateIsLearned })
        #expect(m.scalarParameters.count == 3)
        // The branch layers are initialized (not zero): the gate alone makes each block the identity.
        #expect(m.blocks.allSatisfy { $0.first.weight.frobeniusNorm() > 0 && $0.second.weight.frobeniusNorm() > 0 })
        let x = randomMatrix(rows: 8, columns: 12, seed: 7)
        let got = doubles(try m.forward(x))
        let input = RNLayer(m.inputLayer), output = RNLayer(m.outputLayer)
        let want = output(input(doubles(x), batch: 8), batch: 8)
        #expect(worstRatio(got, want, abs: 1e-5, rel: 1e-5) <= 1)
        // Exactly: h + 0·F(h) = h, so every block's output equals the input layer's output bitwise.
        for blk in m.blocks { #expect(blk.output.elements == m.inputLayer.output.elements) }
    }

    @Test("standard: gates fixed at 1, not in scalarParameters, gradient 0, unchanged by the optimizer")
    func standardGatesFixed() throws {
        let m = try ResidualMLP(inputSize: 6, width: 8, depth: 2, classes: 3, activation: .tanh, initialization: .standard, seed: 8)
        #expect(m.blocks.allSatisfy { $0.gate.value == 1 && !$0.gateIsLearned })
        #expect(m.scalarParameters.isEmpty)
        let x = randomMatrix(rows: 4, columns: 6, seed: 9)
        _ = try m.forward(x)
        _ = try m.backward(randomMatrix(rows: 4, columns: 3, seed: 10))
        #expect(m.blocks.allSatisfy { $0.gate.gradient == 0 })
        try Optimizer(.sgd(momentum: 0.9)).step(model: m, learningRate: 0.5)
        #expect(m.blocks.allSatisfy { $0.gate.value == 1 })
    }

    @Test("residual stream at init: standard He grows with depth (block 16 / block 1 std > 4); Fixup and ReZero stay constant",
          arguments: rnAllKinds)
    func streamScaleWithDepth(kind: ResidualInitialization) throws {
        let m = try ResidualMLP(inputSize: 32, width: 128, depth: 16, classes: 10, activation: .relu, initialization: kind, seed: 0)
        var g = SplitMix64(seed: 12)
        let x = try Matrix<Float>(rows: 64, columns: 32, elements: (0..<(64 * 32)).map { _ in Float(g.gaussian()) })
        _ = try m.forward(x)
        let s0 = rnStd(m.inputLayer.output)
        let stds = m.blocks.map { rnStd($0.output) }
        let ratio = stds[15] / stds[0]
        print("residual \(kind): input-layer std \(s0), block 1 \(stds[0]), block 16 \(stds[15]), ratio \(ratio)")
        #expect(stds.allSatisfy { $0.isFinite })
        switch kind {
        case .standard:
            #expect(ratio > 4, "ratio \(ratio)")
            for b in 1..<16 { #expect(stds[b] > stds[b - 1]) }
        default:
            for s in stds { #expect(abs(s / s0 - 1) < 1e-6, "std \(s) vs \(s0)") }
        }
    }

    @Test("invalid sizes throw invalidHyperparameter; depth 0 is input → output")
    func invalidAndDepthZero() throws {
        #expect(throws: TrainingError.self) { try ResidualMLP(inputSize: 0, width: 4, depth: 1, classes: 2, activation: .relu) }
        #expect(throws: TrainingError.self) { try ResidualMLP(inputSize: 3, width: 0, depth: 1, classes: 2, activation: .relu) }
        #expect(throws: TrainingError.self) { try ResidualMLP(inputSize: 3, width: 4, depth: -1, classes: 2, activation: .relu) }
        #expect(throws: TrainingError.self) { try ResidualMLP(inputSize: 3, width: 4, depth: 1, classes: 0, activation: .relu) }
        let m = try ResidualMLP(inputSize: 3, width: 4, depth: 0, classes: 2, activation: .tanh, initialization: .fixup)
        #expect(m.blocks.isEmpty && m.denseLayers.count == 2 && m.scalarParameters.isEmpty)
        #expect(m.denseLayers.allSatisfy { $0.weight.elements.allSatisfy { $0.isFinite } })
    }

    @Test("same seed gives the same network; .all(scheme) fixes gates at 1")
    func seedsAndAll() throws {
        let a = try ResidualMLP(inputSize: 5, width: 6, depth: 2, classes: 3, activation: .relu, initialization: .fixup, seed: 11)
        let b = try ResidualMLP(inputSize: 5, width: 6, depth: 2, classes: 3, activation: .relu, initialization: .fixup, seed: 11)
        for (x, y) in zip(a.denseLayers, b.denseLayers) { #expect(x.weight.elements == y.weight.elements) }
        let c = try ResidualMLP(inputSize: 5, width: 6, depth: 2, classes: 3, activation: .relu, initialization: .all(.zeros), seed: 1)
        #expect(c.blocks.allSatisfy { $0.gate.value == 1 && !$0.gateIsLearned } && c.scalarParameters.isEmpty)
        #expect(c.blocks.allSatisfy { $0.first.weight.elements.allSatisfy { $0 == 0 } })
    }
}
