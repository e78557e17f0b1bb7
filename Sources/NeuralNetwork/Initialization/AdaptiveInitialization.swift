import Foundation
import Initializers
import MatrixModule

/// Runs a forward pass on `batch` and backpropagates `outputGradient` (a label-free signal).
func backpropagate(_ model: any NetworkModel, _ batch: Matrix<Float>, _ outputGradient: Matrix<Float>) throws {
    _ = try model.forward(batch)
    _ = try model.backward(outputGradient)
}

/// A fixed random output gradient `N(0, 1)/√batch` `[batch, classes]`, the label-free signal both
/// adaptive calibrations backpropagate.
func randomOutputGradient(rows: Int, columns: Int, key: RandomKey) throws -> Matrix<Float> {
    var g = Matrix<Float>(rows: rows, columns: columns)
    try Initializer.normal(mean: 0, std: 1 / Double(max(rows, 1)).squareRoot()).fill(&g, key: key)
    return g
}

/// The between-layer step of Krähenbühl, Doersch, Donahue & Darrell ("Data-dependent
/// initializations of convolutional neural networks", ICLR 2016): make every layer train at the
/// same relative rate, label-free.
///
/// Each iteration backpropagates a fixed random Gaussian signal from the output on the batch and
/// computes every layer's change rate `C_k = ‖∂L/∂W_k‖² / ‖W_k‖²`; with `C̄` their geometric mean,
/// layer `k` is scaled by `β_k = (C_k / C̄)^(strength/2)` (a layer that would change too fast gets
/// larger weights; `Σ log β_k = 0`, so for a bias-free ReLU network the function's overall scale
/// is unchanged). Layers whose weights are all zero (e.g. Fixup's) are left alone.
/// Approximation: the paper averages the rate over several batches and uses the true loss; this
/// uses one batch and a random output signal.
public struct LayerRatioCalibration: Sendable {
    public var iterations: Int = 10
    /// Damping in (0, 1]: 1 applies the full correction each iteration.
    public var strength: Double = 0.5
    public init(iterations: Int = 10, strength: Double = 0.5) { self.iterations = iterations; self.strength = strength }

    /// Calibrates `model` on `batch`; returns the change rates `C_k` measured at each iteration
    /// (the last entry is after the final rescaling).
    /// - Throws: `DataInitializationError` for a bad batch; `TrainingError.invalidHyperparameter`.
    @discardableResult
    public func calibrate(_ model: any NetworkModel, batch: Matrix<Float>, seed: UInt64 = 0) throws -> [[Double]] {
        guard iterations >= 1 else { throw TrainingError.invalidHyperparameter(name: "iterations", value: Double(iterations), rule: "must be ≥ 1") }
        guard strength.isFinite, strength > 0, strength <= 1 else { throw TrainingError.invalidHyperparameter(name: "strength", value: strength, rule: "must be in (0, 1]") }
        try checkBatch(batch, inputs: model.inputSize)
        let classes = model.denseLayers.last?.outputSize ?? 0
        let g = try randomOutputGradient(rows: batch.rows, columns: classes, key: RandomKey(seed: seed).folding(in: 0xCA11))
        var history: [[Double]] = []
        for it in 0...iterations {
            try backpropagate(model, batch, g)
            let rates = model.denseLayers.map { layer -> Double in
                let w = layer.weight.frobeniusNorm(), d = layer.weightGradient.frobeniusNorm()
                return w > 0 ? (d * d) / (w * w) : .nan
            }
            history.append(rates)
            if it == iterations { break }
            let logs = rates.filter { $0.isFinite && $0 > 0 }.map { Foundation.log($0) }
            guard !logs.isEmpty else { break }
            let target = logs.reduce(0, +) / Double(logs.count)
            for (layer, c) in zip(model.denseLayers, rates) where c.isFinite && c > 0 {
                let beta = Foundation.exp(strength / 2 * (Foundation.log(c) - target))
                layer.weight.scale(by: Float(beta))
            }
        }
        for layer in model.denseLayers { layer.initializationLabel = (layer.initializationLabel ?? "as given") + " + layer-ratio" }
        return history
    }
}

/// MetaInit (Dauphin & Schoenholz, "MetaInit: initializing learning by learning to initialize",
/// NeurIPS 2019): tune each layer's weight scale so the gradient quotient
/// `GQ = (1/N) Σᵢ |(H·g)ᵢ / gᵢ|` is small — a loss whose curvature along the gradient is small
/// relative to the gradient trains well with SGD.
///
/// Approximations (documented, no double backward): `H·g ≈ (g(θ) − g(θ − εg))/ε` with `ε` chosen so
/// that `‖εg‖ = 10⁻³·‖θ‖`; gᵢ is stabilized as `gᵢ + 10⁻⁵·sign(gᵢ)` as in the paper; the loss is
/// softmax cross-entropy on labels drawn at random (label-free); the gradient of GQ with respect to
/// the per-layer log-scales is estimated by simultaneous-perturbation finite differences (Spall
/// 1992: two GQ evaluations per step whatever the depth), and the log-scales take sign-SGD steps
/// (the paper uses signSGD on the norms too); a step that does not lower GQ is undone and the step
/// size halved, so the returned history never increases. `gradientQuotient` leaves the weights
/// bitwise unchanged.
public struct MetaInit: Sendable {
    public var iterations: Int = 30
    /// Sign-SGD step on each layer's log-scale.
    public var stepSize: Double = 0.03
    /// Perturbation of the log-scales for the finite differences.
    public var perturbation: Double = 0.05
    public init(iterations: Int = 30, stepSize: Double = 0.03, perturbation: Double = 0.05) {
        self.iterations = iterations; self.stepSize = stepSize; self.perturbation = perturbation
    }

    /// Tunes `model` on `batch`; returns the GQ measured before each step and after the last.
    /// - Throws: `DataInitializationError`, `TrainingError`.
    @discardableResult
    public func calibrate(_ model: any NetworkModel, batch: Matrix<Float>, seed: UInt64 = 0) throws -> [Double] {
        guard iterations >= 0 else { throw TrainingError.invalidHyperparameter(name: "iterations", value: Double(iterations), rule: "must be ≥ 0") }
        for (name, v) in [("step size", stepSize), ("perturbation", perturbation)] where !(v.isFinite && v > 0) {
            throw TrainingError.invalidHyperparameter(name: name, value: v, rule: "must be finite and > 0")
        }
        try checkBatch(batch, inputs: model.inputSize)
        let layers = model.denseLayers.filter { $0.weight.frobeniusNorm() > 0 }
        let classes = model.denseLayers.last?.outputSize ?? 1
        var rng = PhiloxGenerator(key: RandomKey(seed: seed).folding(in: 0x3E7A))
        let labels = (0..<batch.rows).map { _ in Int32(rng.next() % UInt64(max(classes, 1))) }
        var history: [Double] = []
        var current = try gradientQuotient(model, layers, batch, labels)
        var step = stepSize
        for _ in 0..<iterations {
            history.append(current)
            let delta = layers.map { _ in rng.next() & 1 == 0 ? -1.0 : 1.0 }
            scale(layers, by: delta.map { Foundation.exp(perturbation * $0) })
            let plus = try gradientQuotient(model, layers, batch, labels)
            scale(layers, by: delta.map { Foundation.exp(-2 * perturbation * $0) })
            let minus = try gradientQuotient(model, layers, batch, labels)
            scale(layers, by: delta.map { Foundation.exp(perturbation * $0) })     // back to the start
            let diff = plus - minus
            guard diff.isFinite else { break }
            // ∂GQ/∂log s_k ≈ diff / (2·perturbation·Δ_k): sign-SGD moves against its sign. A step that
            // does not lower GQ is undone and the step size halved, so GQ never increases.
            let move = delta.map { d in -step * (diff * d > 0 ? 1 : (diff * d < 0 ? -1 : 0)) }
            let saved = layers.map(\.weight)
            scale(layers, by: move.map { Foundation.exp($0) })
            let candidate = try gradientQuotient(model, layers, batch, labels)
            if candidate.isFinite && candidate < current {
                current = candidate
            } else {
                for (layer, w) in zip(layers, saved) { layer.weight = w }
                step /= 2
            }
        }
        history.append(current)
        for layer in layers { layer.initializationLabel = (layer.initializationLabel ?? "as given") + " + metainit" }
        return history
    }

    func scale(_ layers: [Dense], by factors: [Double]) {
        for (layer, f) in zip(layers, factors) { layer.weight.scale(by: Float(f)) }
    }

    /// The gradient quotient of `model` on the batch (see the type's documentation).
    public func gradientQuotient(_ model: any NetworkModel, batch: Matrix<Float>, labels: [Int32]) throws -> Double {
        try gradientQuotient(model, model.denseLayers.filter { $0.weight.frobeniusNorm() > 0 }, batch, labels)
    }

    func gradientQuotient(_ model: any NetworkModel, _ layers: [Dense], _ batch: Matrix<Float>, _ labels: [Int32]) throws -> Double {
        var loss = SoftmaxCrossEntropy()
        func gradients() throws -> [Matrix<Float>] {
            let logits = try model.forward(batch)
            _ = try loss.loss(logits: logits, labels: labels[...])
            _ = try model.backward(loss.gradient)
            return layers.map(\.weightGradient)
        }
        let g0 = try gradients()
        let thetaNorm = layers.reduce(0.0) { $0 + pow($1.weight.frobeniusNorm(), 2) }.squareRoot()
        let gNorm = g0.reduce(0.0) { $0 + pow($1.frobeniusNorm(), 2) }.squareRoot()
        guard gNorm > 0, gNorm.isFinite, thetaNorm.isFinite else { return gNorm == 0 ? 0 : .infinity }
        let eps = 1e-3 * thetaNorm / gNorm
        let saved = layers.map(\.weight)                     // restored bitwise afterwards
        for (layer, g) in zip(layers, g0) { try layer.weight.add(g, scaledBy: Float(-eps)) }
        let g1 = try gradients()
        for (layer, w) in zip(layers, saved) { layer.weight = w }
        var total = 0.0, count = 0
        for (a, b) in zip(g0, g1) {
            a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in
                for i in 0..<pa.count {
                    let gi = Double(pa[i]), hg = (gi - Double(pb[i])) / eps
                    let denom = gi + (gi >= 0 ? 1e-5 : -1e-5)
                    total += abs(hg / denom); count += 1
                }
            } }
        }
        return count > 0 ? total / Double(count) : 0
    }
}
