import Foundation
import Initializers
import MatrixModule

/// Analytic variance propagation, in the spirit of AutoInit (Bingham & Miikkulainen, "AutoInit:
/// analytic signal-preserving weight initialization for neural networks", AAAI 2023), written from
/// the paper's idea: track the mean and second moment of the signal through every layer and
/// activation, and choose each layer's weight std so its pre-activation has variance 1.
///
/// For a layer with `n = fan_in` inputs whose elements have second moment `q = E[x²]`, zero-mean
/// i.i.d. weights of variance `σ²` give `E[Z] = 0` and `Var(Z) = n·σ²·q`; so `σ = 1/√(n·q)`.
/// Assuming `Z ~ N(0, 1)`, the activation's output moments `E[f(Z)]` and `E[f(Z)²]` — the next
/// layer's `q` — come from Gauss–Hermite quadrature (96 points). Works for any activation
/// (sigmoid, tanh, GELU, SiLU, SELU, leaky ReLU, …), including non-zero-mean ones, where the fixed
/// gain tables are wrong. Weights are drawn `N(0, σ²)` with layer keys `RandomKey(seed).folding(in: i)`;
/// biases are zero. The output layer is scaled the same way (unit-variance logits).
public struct AnalyticVarianceInitialization: Sendable {
    /// The prediction for one layer.
    public struct LayerPrediction: Sendable, Codable, Equatable {
        public var layer: Int
        /// The chosen weight standard deviation `1/√(fan_in·q)`.
        public var weightStd: Double
        /// `q = E[x²]` of the layer's input.
        public var inputSecondMoment: Double
        /// Predicted variance of the pre-activation (1 by construction).
        public var preactivationVariance: Double
        /// Predicted mean and variance of the activation's output.
        public var activationMean: Double
        public var activationVariance: Double
    }

    public var quadraturePoints: Int = 96
    public init(quadraturePoints: Int = 96) { self.quadraturePoints = quadraturePoints }

    /// Initializes `model` for inputs whose elements have second moment `inputSecondMoment`
    /// (1 for standardized data; use `secondMoment(of:)` on a batch otherwise).
    /// - Throws: `TrainingError.invalidHyperparameter` for a second moment that is not finite and
    ///   positive; `InitializationError` from the quadrature or the fills.
    @discardableResult
    public func initialize(_ model: Sequential, inputSecondMoment: Double = 1, seed: UInt64 = 0) throws -> [LayerPrediction] {
        let rule = try GaussHermite(points: quadraturePoints)
        let predictions = try predict(model, inputSecondMoment: inputSecondMoment, rule: rule)
        let root = RandomKey(seed: seed)
        for (i, layer) in model.layers.enumerated() {
            try layer.initialize(with: .normal(mean: 0, std: predictions[i].weightStd), key: root.folding(in: UInt64(i)))
        }
        return predictions
    }

    /// The per-layer predictions without touching the weights.
    public func predict(_ model: Sequential, inputSecondMoment: Double = 1) throws -> [LayerPrediction] {
        try predict(model, inputSecondMoment: inputSecondMoment, rule: try GaussHermite(points: quadraturePoints))
    }

    func predict(_ model: Sequential, inputSecondMoment: Double, rule: GaussHermite) throws -> [LayerPrediction] {
        guard inputSecondMoment.isFinite, inputSecondMoment > 0 else {
            throw TrainingError.invalidHyperparameter(name: "input second moment", value: inputSecondMoment, rule: "must be finite and > 0")
        }
        var q = inputSecondMoment
        var out: [LayerPrediction] = []
        for (i, layer) in model.layers.enumerated() {
            let n = Double(max(layer.inputSize, 1))
            let std = 1 / (n * q).squareRoot()
            let f = layer.activation.doubleFunction
            let m1 = rule.expectation { f($0) }
            let m2 = rule.expectation { let v = f($0); return v * v }
            out.append(LayerPrediction(layer: i, weightStd: std, inputSecondMoment: q, preactivationVariance: 1,
                                       activationMean: m1, activationVariance: max(m2 - m1 * m1, 0)))
            q = max(m2, 1e-12)
        }
        return out
    }

    /// The mean of `x²` over all elements of `batch` (in Double).
    public static func secondMoment(of batch: Matrix<Float>) -> Double {
        guard batch.count > 0 else { return 0 }
        return batch.withUnsafeBufferPointer { p in p.reduce(0.0) { $0 + Double($1) * Double($1) } } / Double(batch.count)
    }
}
