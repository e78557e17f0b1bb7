// Analytic variance propagation (AutoInit-style): the predicted activation moments against
// closed forms (ReLU, sigmoid, identity) and a trapezoid integration written here (tanh, GELU),
// and deep-network measurements (Double loops over the pre-activations and outputs of a forward
// pass on N(0, 1) inputs) against the predictions.
import Foundation
import Testing
import MatrixModule
import NeuralNetwork

private func anGaussianBatch(rows: Int, columns: Int, seed: UInt64) -> Matrix<Float> {
    var g = SplitMix64(seed: seed)
    let e = (0..<(rows * columns)).map { _ in Float(g.gaussian()) }
    return try! Matrix(rows: rows, columns: columns, elements: e)
}

private func anMoments(_ m: Matrix<Float>) -> (mean: Double, variance: Double) {
    m.withUnsafeBufferPointer { p in
        var s = 0.0
        for v in p { s += Double(v) }
        let mean = s / Double(p.count)
        var q = 0.0
        for v in p { let d = Double(v) - mean; q += d * d }
        return (mean, q / Double(p.count))
    }
}

/// `∫ f(z) φ(z) dz` over [−12, 12] by the composite trapezoid rule (48 001 points).
private func anTrapezoid(_ f: (Double) -> Double) -> Double {
    let n = 48_000, a = -12.0, b = 12.0, h = (b - a) / Double(n)
    var s = 0.0
    for i in 0...n {
        let z = a + Double(i) * h
        let w = (i == 0 || i == n) ? 0.5 : 1.0
        s += w * f(z) * Foundation.exp(-z * z / 2)
    }
    return s * h / (2 * Double.pi).squareRoot()
}

/// A Sendable label for the parameterized test.
struct AnalyticActivationCase: Sendable, CustomTestStringConvertible {
    let activation: Activation
    var testDescription: String { activation.name }
}

@Suite("AnalyticVarianceInitialization")
struct AnalyticInitializationTests {
    @Test("ReLU: E[f(Z)] = 1/√(2π), E[f²] = 1/2; the next layer's q and weight std follow")
    func reluClosedForm() throws {
        let model = try Sequential(sizes: [50, 40, 30, 5], activation: .relu, seed: 0)
        let p = try AnalyticVarianceInitialization().predict(model, inputSecondMoment: 2)
        #expect(p.count == 3)
        let mean = 1 / (2 * Double.pi).squareRoot()
        let secondMoment = p[0].activationVariance + p[0].activationMean * p[0].activationMean
        // Within 0.5% (what matters for a weight std) ...
        #expect(abs(p[0].activationMean - mean) < 2e-3, "\(p[0].activationMean)")
        #expect(abs(secondMoment - 0.5) < 2e-3, "\(secondMoment)")
        #expect(abs(p[0].activationVariance - (0.5 - 1 / (2 * Double.pi))) < 2e-3)
        // ... but not to quadrature accuracy: 96-point Gauss–Hermite on the kinked ReLU integrand.
        withKnownIssue("Gauss–Hermite (96 points) on ReLU's kink: E[relu(Z)] is off by ~1.7e-3 (0.43%) from 1/√(2π)") {
            #expect(abs(p[0].activationMean - mean) < 1e-5, "E[relu] \(p[0].activationMean) vs \(mean)")
            #expect(abs(p[0].activationVariance - (0.5 - 1 / (2 * Double.pi))) < 1e-5, "Var[relu] \(p[0].activationVariance)")
        }
        // Layer 0: q = 2 (given), σ = 1/√(50·2); layer 1: q = E[relu²] = 1/2, σ = 1/√(40·½).
        #expect(p[0].inputSecondMoment == 2)
        #expect(abs(p[0].weightStd - 1 / (50.0 * 2).squareRoot()) < 1e-12)
        #expect(abs(p[1].inputSecondMoment - 0.5) < 2e-3)
        #expect(abs(p[1].weightStd - 1 / (40.0 * 0.5).squareRoot()) < 2e-3 * p[1].weightStd)
        #expect(p.allSatisfy { $0.preactivationVariance == 1 })
        // The output layer is linear: mean 0, variance 1.
        #expect(abs(p[2].activationMean) < 1e-12 && abs(p[2].activationVariance - 1) < 1e-12)
    }

    @Test("tanh, GELU, SiLU, sigmoid: predicted moments match a trapezoid integration; sigmoid mean is 1/2")
    func smoothActivationsVsTrapezoid() throws {
        for act in [Activation.tanh, .gelu, .silu, .sigmoid, .selu, .leakyReLU(slope: 0.2)] {
            let model = try Sequential(sizes: [8, 8, 2], activation: act, seed: 0)
            let p = try AnalyticVarianceInitialization().predict(model)[0]
            let m1 = anTrapezoid { refActivation(act, $0) }
            let m2 = anTrapezoid { let v = refActivation(act, $0); return v * v }
            // Kinked activations (leaky ReLU, SELU) converge more slowly under Gauss–Hermite.
            let tol = (act == .selu || act == .leakyReLU(slope: 0.2)) ? 3e-3 : 1e-7
            #expect(abs(p.activationMean - m1) < tol, "\(act.name): mean \(p.activationMean) vs \(m1)")
            #expect(abs(p.activationVariance - (m2 - m1 * m1)) < tol, "\(act.name): var \(p.activationVariance) vs \(m2 - m1 * m1)")
        }
        let model = try Sequential(sizes: [8, 8, 2], activation: .sigmoid, seed: 0)
        #expect(abs(try AnalyticVarianceInitialization().predict(model)[0].activationMean - 0.5) < 1e-12)
        let tanhModel = try Sequential(sizes: [8, 8, 2], activation: .tanh, seed: 0)
        #expect(abs(try AnalyticVarianceInitialization().predict(tanhModel)[0].activationMean) < 1e-12)
    }

    /// Builds the 10 × 256 network, initializes it, runs the batch and returns the measured
    /// (Var Z, Var f) per layer with the predictions.
    private static func measureDeep(_ act: Activation, seed: UInt64) throws
        -> (z: [Double], f: [Double], predictions: [AnalyticVarianceInitialization.LayerPrediction]) {
        let model = try Sequential(sizes: [Int](repeating: 256, count: 11), activation: act, outputActivation: act, seed: 0)
        let predictions = try AnalyticVarianceInitialization().initialize(model, inputSecondMoment: 1, seed: seed)
        #expect(predictions.count == 10)
        _ = try model.forward(anGaussianBatch(rows: 1024, columns: 256, seed: 42 + seed))
        var zs: [Double] = [], fs: [Double] = []
        for (i, layer) in model.layers.enumerated() {
            // The weights were drawn with the predicted std (statistical check, 65 536 samples).
            let ws = anMoments(layer.weight).variance.squareRoot()
            #expect(abs(ws / predictions[i].weightStd - 1) < 0.02, "\(act.name) layer \(i): weight std \(ws) vs \(predictions[i].weightStd)")
            #expect(layer.bias.allSatisfy { $0 == 0 })
            zs.append(anMoments(layer.preactivation).variance)
            fs.append(anMoments(layer.output).variance)
        }
        let rows = (0..<10).map { String(format: "%d: Var(Z) %.3f Var(f) %.4f/%.4f", $0, zs[$0], fs[$0], predictions[$0].activationVariance) }
        print("analytic \(act.name) seed \(seed): " + rows.joined(separator: " | "))
        return (zs, fs, predictions)
    }

    private static func within10(_ m: (z: [Double], f: [Double], predictions: [AnalyticVarianceInitialization.LayerPrediction]),
                                 _ act: Activation, layers: Range<Int> = 0..<10) {
        for i in layers {
            #expect(abs(m.z[i] - 1) <= 0.1, "\(act.name) layer \(i): Var(Z) = \(m.z[i])")
            let pv = m.predictions[i].activationVariance
            #expect(abs(m.f[i] - pv) <= 0.1 * pv, "\(act.name) layer \(i): Var(f) = \(m.f[i]), predicted \(pv)")
        }
    }

    @Test("10 layers × 256, zero-mean activations (tanh, SELU): every layer's Var(Z) within 10% of 1, Var(f) within 10% of the prediction",
          arguments: [AnalyticActivationCase(activation: .tanh), AnalyticActivationCase(activation: .selu)])
    func deepZeroMeanActivations(_ c: AnalyticActivationCase) throws {
        Self.within10(try Self.measureDeep(c.activation, seed: 0), c.activation)
    }

    @Test("10 layers × 256, non-zero-mean activations: layer 0 within 10%; all 10 layers within 10% (known to fail)",
          arguments: [AnalyticActivationCase(activation: .sigmoid), AnalyticActivationCase(activation: .gelu),
                      AnalyticActivationCase(activation: .silu), AnalyticActivationCase(activation: .leakyReLU(slope: 0.01))])
    func deepNonZeroMeanActivations(_ c: AnalyticActivationCase) throws {
        let m = try Self.measureDeep(c.activation, seed: 0)
        Self.within10(m, c.activation, layers: 0..<1)
        // Deeper layers: with zero-mean i.i.d. weights and inputs of mean μ ≠ 0, each unit gets a
        // batch-constant offset Σⱼ wᵤⱼ μⱼ whose variance is estimated from only 256 units (≈ ±9% per
        // layer for sigmoid), and the error compounds over depth.
        withKnownIssue("analytic variance propagation: measured Var(Z) leaves [0.9, 1.1] in deep layers for non-zero-mean activations",
                       isIntermittent: true) {
            Self.within10(m, c.activation, layers: 1..<10)
        }
    }

    @Test("secondMoment(of:) is the mean of x²; invalid second moments are rejected")
    func secondMomentAndErrors() throws {
        let m = try Matrix<Float>([[1, -2], [3, 0.5]])
        #expect(abs(AnalyticVarianceInitialization.secondMoment(of: m) - (1 + 4 + 9 + 0.25) / 4) < 1e-12)
        #expect(AnalyticVarianceInitialization.secondMoment(of: Matrix<Float>(rows: 0, columns: 3)) == 0)
        let model = try Sequential(sizes: [4, 4, 2], activation: .tanh, seed: 0)
        for bad in [0.0, -1, .nan, .infinity] {
            #expect(throws: TrainingError.self) { try AnalyticVarianceInitialization().initialize(model, inputSecondMoment: bad) }
        }
        #expect(throws: (any Error).self) { try AnalyticVarianceInitialization(quadraturePoints: 0).predict(model) }
    }

    @Test("inputs with second moment q: layer 0 uses σ = 1/√(n·q) and its pre-activation variance is ≈ 1")
    func scaledInputs() throws {
        let model = try Sequential(sizes: [128, 128, 10], activation: .tanh, seed: 2)
        var batch = anGaussianBatch(rows: 512, columns: 128, seed: 8)
        batch.scale(by: 3)
        let q = AnalyticVarianceInitialization.secondMoment(of: batch)
        #expect(abs(q - 9) < 0.3)
        let p = try AnalyticVarianceInitialization().initialize(model, inputSecondMoment: q, seed: 1)
        #expect(abs(p[0].weightStd - 1 / (128 * q).squareRoot()) < 1e-12)
        _ = try model.forward(batch)
        for layer in model.layers { #expect(abs(anMoments(layer.preactivation).variance - 1) < 0.1) }
    }
}

