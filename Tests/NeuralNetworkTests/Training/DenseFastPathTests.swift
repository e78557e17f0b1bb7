// The dense training path on DenseProducts: bytes independent of the product thread count, the
// fused ReLU backward equal to the layer-by-layer one, repacking after a weight change, and the
// batch split's one-pass gradient sum + update equal to the sum followed by the optimizer step.
import Foundation
import Testing
import Initializers
import MatrixModule
@testable import NeuralNetwork

private func batch(_ rows: Int, _ columns: Int, seed: UInt64) -> Matrix<Float> {
    var g = SplitMix64(seed: seed)
    return try! Matrix(rows: rows, columns: columns, elements: (0..<(rows * columns)).map { _ in Float(g.uniform()) })
}

private func bits(_ m: Matrix<Float>) -> [UInt32] { m.elements.map(\.bitPattern) }

@Suite("Dense fast path")
struct DenseFastPathTests {
    /// Forward + backward of a ReLU MLP with odd widths; every layer's Z, Y, dW, db and the input gradient.
    func pass(threads: Int?, fused: Bool) throws -> [[UInt32]] {
        let model = try Sequential(sizes: [37, 40, 33, 17, 10], activation: .relu, seed: 3)
        for l in model.layers { l.productThreads = threads }
        let x = batch(29, 37, seed: 1), dy = batch(29, 10, seed: 2)
        _ = try model.forward(x)
        var g = dy
        if fused { g = try model.backward(dy) } else { for l in model.layers.reversed() { g = try l.backward(g) } }
        var out = [bits(g)]
        for l in model.layers {
            out += [bits(l.preactivation), bits(l.output), bits(l.weightGradient), l.biasGradient.map(\.bitPattern), bits(l.preactivationGradient)]
        }
        return out
    }

    @Test("a ReLU MLP's forward and backward bytes do not depend on the product thread count (1, 2, 3)")
    func threadCount() throws {
        let one = try pass(threads: 1, fused: true)
        for t in [2, 3] { #expect(try pass(threads: t, fused: true) == one, "threads \(t)") }
    }

    @Test("Sequential's fused ReLU backward (dX gated into the layer below) equals layer-by-layer backward bit for bit")
    func fusedReLU() throws {
        #expect(try pass(threads: 1, fused: true) == pass(threads: 1, fused: false))
    }

    @Test("a weight changed after a pass (assignment, subscript, withParameter) is repacked: the next forward equals a fresh layer's")
    func repack() throws {
        let layer = Dense(inputSize: 21, outputSize: 18, activation: .relu)
        try layer.initialize(with: .heNormal(), key: RandomKey(seed: 5))
        let x = batch(7, 21, seed: 6)
        _ = try layer.forward(x)
        func check(_ what: String) throws {
            let fresh = Dense(inputSize: 21, outputSize: 18, activation: .relu)
            fresh.weight = layer.weight; fresh.bias = layer.bias
            #expect(bits(try layer.forward(x)) == bits(try fresh.forward(x)), "\(what)")
        }
        layer.weight[3, 4] += 1; try check("subscript")
        layer.weight = batch(18, 21, seed: 7); try check("assignment")
        layer.withParameter(0) { w, _ in w[0] = -2 }; try check("withParameter")
        layer.bias[2] = 0.5; try check("bias")
    }

    @Test("batch split: the one-pass gradient sum + update equals the sum followed by Optimizer.step, bitwise (T = 2, 3; SGD Nesterov and Adam)")
    func fusedUpdate() throws {
        let data = try LabeledData(features: 23, inputs: batch(90, 23, seed: 8).elements, labels: (0..<90).map { Int32($0 % 7) })
        for kind in [Optimizer.Kind.sgd(momentum: 0.9, nesterov: true), .adamW()] {
            for t in [2, 3] {
                func run(diagnostics: Bool) throws -> [[UInt32]] {
                    let model = try Sequential(sizes: [23, 19, 13, 7], activation: .relu, seed: 4)
                    var cfg = TrainingConfiguration()
                    cfg.epochs = 2; cfg.batchSize = 16; cfg.batchThreads = t; cfg.optimizer = kind; cfg.weightDecay = 0.01
                    cfg.diagnostics = diagnostics      // diagnostics take the separate sum + Optimizer.step path
                    _ = try Trainer(model: model, configuration: cfg).fit(train: data, test: data)
                    return model.layers.flatMap { [bits($0.weight), $0.bias.map(\.bitPattern)] }
                }
                #expect(try run(diagnostics: false) == run(diagnostics: true), "\(kind), T = \(t)")
            }
        }
    }
}
