// Dense: forward against naive loops `Y = f(X·Wᵀ + b)` (W `[out, in]`), backward against the
// naive formulas and against finite differences of a scalar loss `L = Σ c ⊙ Y` computed in
// Double, the C19 example in out-in layout (exact), C13 zero-size cases, shape errors.
import Foundation
import Testing
import Initializers
import MatrixModule
import NeuralNetwork

/// A layer with seeded weights/bias; returns it and the Double copies.
private func seededLayer(in inSize: Int, out outSize: Int, activation: Activation, seed: UInt64) -> Dense {
    let layer = Dense(inputSize: inSize, outputSize: outSize, activation: activation)
    setParameters(layer, weight: randomMatrix(rows: outSize, columns: inSize, seed: seed),
                  bias: randomArray(count: outSize, seed: seed &+ 1, -0.5, 0.5))
    return layer
}

/// Shapes (batch, in, out), including batch 1 and odd sizes.
private let shapes: [(Int, Int, Int)] = [(1, 1, 1), (1, 5, 3), (7, 3, 5), (13, 17, 11), (2, 64, 33), (33, 9, 1), (5, 1, 7)]
private let denseActivations: [Activation] = [.identity, .relu, .tanh, .sigmoid, .gelu, .leakyReLU(slope: 0.1)]

@Suite("Dense")
struct DenseTests {
    @Test("forward equals naive f(X·Wᵀ + b) for several shapes", arguments: denseActivations)
    func forwardMatchesNaive(_ act: Activation) throws {
        for (k, (batch, inSize, outSize)) in shapes.enumerated() {
            let layer = seededLayer(in: inSize, out: outSize, activation: act, seed: UInt64(100 + k))
            let x = randomMatrix(rows: batch, columns: inSize, seed: UInt64(200 + k), -2, 2)
            let y = try layer.forward(x)
            #expect(y.rows == batch && y.columns == outSize)
            let ref = naiveDense(x: doubles(x), w: doubles(layer.weight), b: layer.bias.map(Double.init),
                                 batch: batch, inSize: inSize, outSize: outSize, activation: act)
            let tol = 1e-6 * Double(inSize + 1) * 4
            #expect(worstRatio(doubles(y), ref.y, abs: tol, rel: 1e-5) <= 1, "\(act.name) \(batch)×\(inSize)→\(outSize)")
            #expect(worstRatio(doubles(layer.preactivation), ref.z, abs: tol, rel: 1e-5) <= 1)
            #expect(layer.output == y)
        }
    }

    @Test("backward dW, db, dX equal the naive formulas", arguments: denseActivations)
    func backwardMatchesNaive(_ act: Activation) throws {
        for (k, (batch, inSize, outSize)) in shapes.enumerated() {
            let layer = seededLayer(in: inSize, out: outSize, activation: act, seed: UInt64(300 + k))
            let x = randomMatrix(rows: batch, columns: inSize, seed: UInt64(400 + k), -2, 2)
            let dy = randomMatrix(rows: batch, columns: outSize, seed: UInt64(500 + k))
            try layer.forward(x)
            let dx = try layer.backward(dy)
            let fwd = naiveDense(x: doubles(x), w: doubles(layer.weight), b: layer.bias.map(Double.init),
                                 batch: batch, inSize: inSize, outSize: outSize, activation: act)
            let ref = naiveDenseBackward(x: doubles(x), w: doubles(layer.weight), z: fwd.z, dy: doubles(dy),
                                         batch: batch, inSize: inSize, outSize: outSize, activation: act)
            let tol = 1e-5 * Double(max(batch, outSize) + 1)
            #expect(dx.rows == batch && dx.columns == inSize)
            #expect(layer.weightGradient.rows == outSize && layer.weightGradient.columns == inSize)
            #expect(worstRatio(doubles(layer.weightGradient), ref.dw, abs: tol, rel: 1e-4) <= 1, "dW \(act.name) \(batch)×\(inSize)→\(outSize)")
            #expect(worstRatio(layer.biasGradient.map(Double.init), ref.db, abs: tol, rel: 1e-4) <= 1, "db \(act.name)")
            #expect(worstRatio(doubles(dx), ref.dx, abs: tol, rel: 1e-4) <= 1, "dX \(act.name)")
        }
    }

    /// `L = Σ c ⊙ f(X·Wᵀ + b)` in Double.
    private static func scalarLoss(x: [Double], w: [Double], b: [Double], c: [Double], batch: Int, inSize: Int, outSize: Int,
                                   activation: Activation) -> Double {
        let y = naiveDense(x: x, w: w, b: b, batch: batch, inSize: inSize, outSize: outSize, activation: activation).y
        return zip(c, y).reduce(0) { $0 + $1.0 * $1.1 }
    }

    @Test("backward equals finite differences of L = Σ c⊙Y (Double), away from kinks",
          arguments: [Activation.tanh, .relu])
    func backwardMatchesFiniteDifferences(_ act: Activation) throws {
        let batch = 3, inSize = 4, outSize = 5
        let layer = seededLayer(in: inSize, out: outSize, activation: act, seed: 11)
        let x = randomMatrix(rows: batch, columns: inSize, seed: 12, -1.5, 1.5)
        let cM = randomMatrix(rows: batch, columns: outSize, seed: 13, -1, 1)
        let xd = doubles(x), wd = doubles(layer.weight), bd = layer.bias.map(Double.init), c = doubles(cM)
        let z = naiveDense(x: xd, w: wd, b: bd, batch: batch, inSize: inSize, outSize: outSize, activation: act).z
        // Finite differences with step 1e-6 are exact away from the ReLU kink; require a margin.
        try #require(z.allSatisfy { abs($0) > 1e-3 }, "pre-activations too close to 0: \(z)")

        try layer.forward(x)
        let dx = try layer.backward(cM)    // dL/dY = c
        let h = 1e-6
        func fd(_ perturb: (inout [Double], inout [Double], inout [Double], Double) -> Void) -> Double {
            var x1 = xd, w1 = wd, b1 = bd, x2 = xd, w2 = wd, b2 = bd
            perturb(&x1, &w1, &b1, h); perturb(&x2, &w2, &b2, -h)
            let l1 = Self.scalarLoss(x: x1, w: w1, b: b1, c: c, batch: batch, inSize: inSize, outSize: outSize, activation: act)
            let l2 = Self.scalarLoss(x: x2, w: w2, b: b2, c: c, batch: batch, inSize: inSize, outSize: outSize, activation: act)
            return (l1 - l2) / (2 * h)
        }
        for o in 0..<outSize {
            for i in 0..<inSize {
                let ref = fd { _, w, _, d in w[o * inSize + i] += d }
                #expect(close(Double(layer.weightGradient[o, i]), ref, abs: 1e-5, rel: 1e-4), "dW[\(o),\(i)] \(layer.weightGradient[o, i]) vs \(ref)")
            }
            let ref = fd { _, _, b, d in b[o] += d }
            #expect(close(Double(layer.biasGradient[o]), ref, abs: 1e-5, rel: 1e-4), "db[\(o)] \(layer.biasGradient[o]) vs \(ref)")
        }
        for r in 0..<batch {
            for i in 0..<inSize {
                let ref = fd { x, _, _, d in x[r * inSize + i] += d }
                #expect(close(Double(dx[r, i]), ref, abs: 1e-5, rel: 1e-4), "dX[\(r),\(i)] \(dx[r, i]) vs \(ref)")
            }
        }
    }

    @Test("C19 dense example in out-in layout, exact")
    func c19Example() throws {
        let x = matrix([[1, 2, 3], [4, 5, 6]])
        let wInOut = matrix([[1, 0, -1, 2], [0, 1, 1, -1], [2, -1, 0, 1]])   // the case's [in, out] W
        let layer = Dense(inputSize: 3, outputSize: 4)
        layer.weight = wInOut.transposed()                                    // [out, in]
        layer.bias = [0.5, -0.5, 0, 1]
        #expect(layer.weight == matrix([[1, 0, 2], [0, 1, -1], [-1, 1, 0], [2, -1, 1]]))
        let y = try layer.forward(x)
        #expect(y == matrix([[7.5, -1.5, 1, 4], [16.5, -1.5, 1, 10]]))
        let dx = try layer.backward(matrix([[1, 0, 0, 1], [0, 1, 0, 1]]))
        #expect(layer.weightGradient == matrix([[1, 4, 0, 5], [2, 5, 0, 7], [3, 6, 0, 9]]).transposed())
        #expect(layer.weightGradient == matrix([[1, 2, 3], [4, 5, 6], [0, 0, 0], [5, 7, 9]]))
        #expect(dx == matrix([[3, -1, 3], [2, 0, 0]]))
        #expect(layer.biasGradient == [1, 1, 0, 2])
        #expect(layer.preactivationGradient == matrix([[1, 0, 0, 1], [0, 1, 0, 1]]))
    }

    @Test("C13: Dense(in 0, out 8): he-normal init is a no-op, forward gives the bias broadcast")
    func c13ZeroInputFeatures() throws {
        let layer = Dense(inputSize: 0, outputSize: 8, activation: .identity)
        try layer.initialize(with: .heNormal(), key: RandomKey(seed: 0))
        #expect(layer.weight.rows == 8 && layer.weight.columns == 0)
        #expect(layer.bias.count == 8 && layer.bias.allSatisfy(\.isFinite))
        let y0 = try layer.forward(Matrix(rows: 4, columns: 0))
        #expect(y0.rows == 4 && y0.columns == 8)
        for r in 0..<4 { #expect(y0.row(r) == layer.bias) }

        // A non-zero bias (and a non-trivial activation) is broadcast through f.
        let relu = Dense(inputSize: 0, outputSize: 8, activation: .relu)
        try relu.initialize(with: .heNormal(), bias: .uniform(low: -1, high: 1), key: RandomKey(seed: 3))
        #expect(relu.bias.allSatisfy { $0.isFinite && $0 >= -1 && $0 < 1 } && relu.bias.contains { $0 != 0 })
        let y = try relu.forward(Matrix(rows: 4, columns: 0))
        #expect(y.rows == 4 && y.columns == 8)
        for r in 0..<4 { #expect(y.row(r) == relu.bias.map { max($0, 0) }) }
        let dy = randomMatrix(rows: 4, columns: 8, seed: 5)
        let dx = try relu.backward(dy)
        #expect(dx.rows == 4 && dx.columns == 0)
        #expect(relu.weightGradient.rows == 8 && relu.weightGradient.columns == 0)
        let ref = (0..<8).map { c in (0..<4).reduce(0.0) { $0 + (relu.bias[c] > 0 ? Double(dy[$1, c]) : 0) } }
        #expect(worstRatio(relu.biasGradient.map(Double.init), ref) <= 1)
    }

    @Test("C13: a batch of 0 rows gives empty outputs and zero gradients", arguments: [Activation.identity, .relu, .tanh])
    func c13EmptyBatch(_ act: Activation) throws {
        let layer = seededLayer(in: 3, out: 4, activation: act, seed: 21)
        // Dirty the gradient buffers first with a real batch.
        try layer.forward(randomMatrix(rows: 2, columns: 3, seed: 22))
        try layer.backward(randomMatrix(rows: 2, columns: 4, seed: 23))
        try #require(layer.biasGradient.contains { $0 != 0 })
        let y = try layer.forward(Matrix(rows: 0, columns: 3))
        #expect(y.rows == 0 && y.columns == 4)
        let dx = try layer.backward(Matrix(rows: 0, columns: 4))
        #expect(dx.rows == 0 && dx.columns == 3)
        #expect(layer.weightGradient == Matrix(rows: 4, columns: 3, repeating: 0))
        #expect(layer.biasGradient == [0, 0, 0, 0])
        // And the layer still works afterwards.
        let x = randomMatrix(rows: 3, columns: 3, seed: 24)
        let y2 = try layer.forward(x)
        let ref = naiveDense(x: doubles(x), w: doubles(layer.weight), b: layer.bias.map(Double.init), batch: 3, inSize: 3, outSize: 4, activation: act)
        #expect(worstRatio(doubles(y2), ref.y) <= 1)
    }

    @Test("C13: Dense(0 → 0) and Dense(3 → 0) are harmless")
    func degenerateSizes() throws {
        let empty = Dense(inputSize: 3, outputSize: 0, activation: .relu)
        try empty.initialize(with: .heNormal(), key: RandomKey(seed: 1))
        let y = try empty.forward(randomMatrix(rows: 5, columns: 3, seed: 1))
        #expect(y.rows == 5 && y.columns == 0)
        let dx = try empty.backward(Matrix(rows: 5, columns: 0))
        #expect(dx == Matrix(rows: 5, columns: 3, repeating: 0))
        #expect(empty.parameterCount == 0)
        let none = Dense(inputSize: 0, outputSize: 0)
        #expect(try none.forward(Matrix(rows: 2, columns: 0)).count == 0)
    }

    @Test("shape mismatches throw MatrixError.shapeMismatch")
    func shapeErrors() throws {
        let layer = seededLayer(in: 3, out: 4, activation: .tanh, seed: 31)
        #expect(throws: MatrixError.self) { try layer.forward(Matrix(rows: 2, columns: 4)) }
        #expect(throws: MatrixError.self) { try layer.forward(Matrix(rows: 2, columns: 0)) }
        try layer.forward(Matrix(rows: 2, columns: 3))
        #expect(throws: MatrixError.self) { try layer.backward(Matrix(rows: 2, columns: 3)) }
        #expect(throws: MatrixError.self) { try layer.backward(Matrix(rows: 3, columns: 4)) }
        #expect {
            try layer.forward(Matrix(rows: 1, columns: 5))
        } throws: { error in
            guard case .shapeMismatch = error as? MatrixError else { return false }
            return true
        }
    }

    @Test("changing batch sizes reuses buffers correctly; returned outputs are not overwritten")
    func batchSizeChanges() throws {
        let layer = seededLayer(in: 6, out: 5, activation: .tanh, seed: 41)
        var previous: [(Matrix<Float>, [Double])] = []
        for (k, batch) in [2, 5, 2, 2, 1, 5].enumerated() {
            let x = randomMatrix(rows: batch, columns: 6, seed: UInt64(50 + k))
            let y = try layer.forward(x)
            let ref = naiveDense(x: doubles(x), w: doubles(layer.weight), b: layer.bias.map(Double.init), batch: batch, inSize: 6, outSize: 5, activation: .tanh)
            #expect(worstRatio(doubles(y), ref.y) <= 1, "batch \(batch)")
            let dy = randomMatrix(rows: batch, columns: 5, seed: UInt64(60 + k))
            let dx = try layer.backward(dy)
            let back = naiveDenseBackward(x: doubles(x), w: doubles(layer.weight), z: ref.z, dy: doubles(dy), batch: batch, inSize: 6, outSize: 5, activation: .tanh)
            #expect(worstRatio(doubles(dx), back.dx, abs: 1e-5, rel: 1e-4) <= 1)
            #expect(worstRatio(doubles(layer.weightGradient), back.dw, abs: 1e-5, rel: 1e-4) <= 1)
            previous.append((y, ref.y))
        }
        for (y, ref) in previous { #expect(worstRatio(doubles(y), ref) <= 1, "an earlier output changed") }
    }

    @Test("initialize uses key for the weight and key.folding(in: 1) for the bias")
    func initializeKeys() throws {
        let layer = Dense(inputSize: 7, outputSize: 5, activation: .relu)
        let key = RandomKey(seed: 99)
        try layer.initialize(with: .heNormal(), bias: .normal(mean: 0, std: 1), key: key)
        var w = Matrix<Float>(rows: 5, columns: 7)
        try Initializer.heNormal().fill(&w, key: key)
        #expect(layer.weight == w)
        var b = [Float](repeating: 0, count: 5)
        try Initializer.normal(mean: 0, std: 1).fill(&b, shape: [5], key: key.folding(in: 1))
        #expect(layer.bias == b)
        #expect(layer.parameterCount == 40 && layer.inputSize == 7 && layer.outputSize == 5)
        // A fan-based scheme on the 1-D bias is rejected.
        #expect(throws: InitializationError.self) { try layer.initialize(with: .heNormal(), bias: .heNormal(), key: key) }
    }
}
