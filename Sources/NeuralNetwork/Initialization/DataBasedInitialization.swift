import Foundation
import Initializers
import MatrixModule

/// Errors from data-based and adaptive initialization.
public enum DataInitializationError: Error, Equatable, CustomStringConvertible {
    /// The calibration batch has no rows.
    case emptyBatch
    /// The calibration batch contains NaN or infinite values (`count` of them).
    case nonFiniteBatch(count: Int)
    /// A layer's pre-activation variance is zero or not finite, so it cannot be rescaled.
    case degenerateLayer(layer: Int, variance: Double)
    /// The model's input size does not match the batch.
    case shapeMismatch(batchColumns: Int, modelInputs: Int)

    public var description: String {
        switch self {
        case .emptyBatch: return "the calibration batch is empty"
        case let .nonFiniteBatch(n): return "the calibration batch contains \(n) NaN or infinite values"
        case let .degenerateLayer(layer, v):
            return "layer \(layer): the pre-activation variance on the batch is \(v) (zero or not finite), so the layer cannot be rescaled — check the inputs or the previous layers (a dead ReLU layer gives 0)"
        case let .shapeMismatch(b, m): return "the batch has \(b) columns but the model expects \(m) inputs"
        }
    }
}

func checkBatch(_ batch: Matrix<Float>, inputs: Int) throws {
    guard batch.rows > 0 else { throw DataInitializationError.emptyBatch }
    guard batch.columns == inputs else { throw DataInitializationError.shapeMismatch(batchColumns: batch.columns, modelInputs: inputs) }
    let bad = batch.withUnsafeBufferPointer { p in p.reduce(0) { $0 + ($1.isFinite ? 0 : 1) } }
    guard bad == 0 else { throw DataInitializationError.nonFiniteBatch(count: bad) }
}

/// Per-layer outcome of a data-based initialization.
public struct CalibrationRecord: Sendable, Codable, Equatable {
    public var layer: Int
    /// Rescaling iterations used (LSUV) or 1.
    public var iterations: Int
    /// Pre-activation variance and mean over the batch after calibration.
    public var variance: Double
    public var mean: Double
    /// Whether the tolerance was met.
    public var converged: Bool
    /// Units left unchanged because their std on the batch was (near) zero (data-dependent init).
    public var skippedUnits: Int
}

/// Layer-sequential unit-variance initialization, LSUV (Mishkin & Matas, "All you need is a
/// good init", ICLR 2016).
///
/// 1. Pre-initialize every weight with orthogonal matrices (`orthonormalPreInit`, gain 1;
///    layer `i` uses key `RandomKey(seed).folding(in: i)`), biases zero.
/// 2. In forward order, for each layer — including the output layer (`includeOutputLayer`,
///    default true, as in the paper, which rescales every layer) — compute the pre-activation
///    `Z = X·Wᵀ + b` on the batch and, while `|Var(Z) − 1| > tolerance` and fewer than
///    `maxIterations` rescalings were done, divide W by `√Var(Z)`.
/// 3. With `centerBias`, each unit's mean is removed through its bias after the weight scaling
///    (weight first, then bias), and weight and bias are rescaled together so the mean stays 0.
///    Without it the biases are never touched.
///
/// Variances are over all `batch × units` elements of Z, in Double. A zero or non-finite variance
/// throws `DataInitializationError.degenerateLayer` before any weight becomes NaN.
public struct LSUV: Sendable {
    public var tolerance: Double = 0.1
    public var maxIterations: Int = 10
    public var centerBias: Bool = false
    public var orthonormalPreInit: Bool = true
    public var includeOutputLayer: Bool = true

    public init(tolerance: Double = 0.1, maxIterations: Int = 10, centerBias: Bool = false,
                orthonormalPreInit: Bool = true, includeOutputLayer: Bool = true) {
        self.tolerance = tolerance; self.maxIterations = maxIterations; self.centerBias = centerBias
        self.orthonormalPreInit = orthonormalPreInit; self.includeOutputLayer = includeOutputLayer
    }

    /// Calibrates `model` on `batch` `[n, inputs]` (use a large shuffled batch, e.g. 1024 rows).
    /// - Throws: `DataInitializationError` (empty or non-finite batch, shape, degenerate layer),
    ///   `TrainingError.invalidHyperparameter` for a tolerance ≤ 0 or iterations < 1.
    @discardableResult
    public func initialize(_ model: Sequential, batch: Matrix<Float>, seed: UInt64 = 0) throws -> [CalibrationRecord] {
        guard tolerance.isFinite, tolerance > 0 else { throw TrainingError.invalidHyperparameter(name: "tolerance", value: tolerance, rule: "must be finite and > 0") }
        guard maxIterations >= 1 else { throw TrainingError.invalidHyperparameter(name: "maxIterations", value: Double(maxIterations), rule: "must be ≥ 1") }
        try checkBatch(batch, inputs: model.inputSize)
        let root = RandomKey(seed: seed)
        if orthonormalPreInit {
            for (i, layer) in model.layers.enumerated() {
                try layer.initialize(with: .orthogonal(gain: 1), key: root.folding(in: UInt64(i)))
            }
        }
        var records: [CalibrationRecord] = []
        var h = batch
        for (i, layer) in model.layers.enumerated() {
            let last = i == model.layers.count - 1
            var z = try layer.forward(h)
            var (mean, variance) = LSUV.moments(layer.preactivation)
            var iterations = 0
            if !last || includeOutputLayer {
                while true {
                    guard variance.isFinite, variance > 0 else { throw DataInitializationError.degenerateLayer(layer: i, variance: variance) }
                    if centerBias {      // only the bias changed: re-run the layer to measure it
                        let unitMeans = layer.preactivation.columnSums().map { $0 / Float(layer.preactivation.rows) }
                        for u in 0..<layer.bias.count { layer.bias[u] -= unitMeans[u] }
                        z = try layer.forward(h)
                        (mean, variance) = LSUV.moments(layer.preactivation)
                    }
                    let meanOK = !centerBias || abs(mean) < 1e-4
                    if (abs(variance - 1) <= tolerance && meanOK) || iterations >= maxIterations { break }
                    guard variance.isFinite, variance > 0 else { throw DataInitializationError.degenerateLayer(layer: i, variance: variance) }
                    let s = Float(1 / variance.squareRoot())
                    layer.weight.scale(by: s)
                    if centerBias { for u in 0..<layer.bias.count { layer.bias[u] *= s } }
                    iterations += 1
                    z = try layer.forward(h)
                    (mean, variance) = LSUV.moments(layer.preactivation)
                }
            }
            if !last || includeOutputLayer { layer.initializationLabel = (layer.initializationLabel ?? "as given") + " + lsuv" }
            records.append(CalibrationRecord(layer: i, iterations: iterations, variance: variance, mean: mean,
                                             converged: abs(variance - 1) <= tolerance, skippedUnits: 0))
            h = z
        }
        return records
    }

    /// Mean and population variance of all elements, in Double.
    static func moments(_ m: Matrix<Float>) -> (Double, Double) {
        let (mean, std) = Diagnostics.meanStd(m)
        return (mean, std * std)
    }
}

/// Per-unit data-dependent initialization: the within-layer step of Krähenbühl, Doersch, Donahue
/// & Darrell ("Data-dependent initializations of convolutional neural networks", ICLR 2016) and
/// the data-dependent init of weight normalization (Salimans & Kingma 2016).
///
/// In forward order, each unit `i`'s pre-activation on the batch gets mean 0 and variance 1:
/// with `μᵢ, σᵢ` its mean and std, `Wᵢ ← Wᵢ/σᵢ`, `bᵢ ← (bᵢ − μᵢ)/σᵢ`. Units with `σᵢ <
/// minimumStd` (e.g. constant inputs) are left unchanged and counted in `skippedUnits`. The existing
/// weights (any scheme) give the directions; only their scale and the biases change.
public struct DataDependentInitialization: Sendable {
    public var minimumStd: Double = 1e-6
    /// Whether the output layer is normalized too (default false: logits keep their scale).
    public var includeOutputLayer: Bool = false
    public init(minimumStd: Double = 1e-6, includeOutputLayer: Bool = false) {
        self.minimumStd = minimumStd; self.includeOutputLayer = includeOutputLayer
    }

    /// - Throws: `DataInitializationError` for an empty, non-finite or mis-shaped batch.
    @discardableResult
    public func initialize(_ model: Sequential, batch: Matrix<Float>) throws -> [CalibrationRecord] {
        try checkBatch(batch, inputs: model.inputSize)
        var h = batch
        var records: [CalibrationRecord] = []
        for (i, layer) in model.layers.enumerated() {
            var z = try layer.forward(h)
            var skipped = 0
            if i < model.layers.count - 1 || includeOutputLayer {
                let p = layer.preactivation, n = Double(p.rows), cols = p.columns
                var mean = [Double](repeating: 0, count: cols), sq = [Double](repeating: 0, count: cols)
                p.withUnsafeBufferPointer { q in
                    for r in 0..<p.rows { for c in 0..<cols { let v = Double(q[r * cols + c]); mean[c] += v; sq[c] += v * v } }
                }
                for c in 0..<cols {
                    let mu = mean[c] / n, sigma = max(sq[c] / n - mu * mu, 0).squareRoot()
                    guard sigma.isFinite, sigma >= minimumStd else { skipped += 1; continue }
                    let inv = Float(1 / sigma)
                    for j in 0..<layer.inputSize { layer.weight[c, j] *= inv }
                    layer.bias[c] = Float((Double(layer.bias[c]) - mu) / sigma)
                }
                z = try layer.forward(h)
            }
            if i < model.layers.count - 1 || includeOutputLayer {
                layer.initializationLabel = (layer.initializationLabel ?? "as given") + " + data-dependent"
            }
            let (m, v) = LSUV.moments(layer.preactivation)
            records.append(CalibrationRecord(layer: i, iterations: 1, variance: v, mean: m, converged: abs(v - 1) < 0.1, skippedUnits: skipped))
            h = z
        }
        return records
    }
}
