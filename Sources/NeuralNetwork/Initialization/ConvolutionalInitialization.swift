import Foundation
import Initializers
import MatrixModule

/// A Dense or Conv2D layer seen as `units` (dense outputs or conv output channels), each owning
/// one row of a weight matrix and one bias, with pre-activation elements at `positions` places
/// per sample (1 for dense, `OH·OW` for conv; NCHW makes unit `u`'s elements of a sample the
/// contiguous run `u·positions ..< (u+1)·positions`).
struct UnitView {
    let layer: any Layer
    var units: Int { (layer as? Dense)?.outputSize ?? (layer as! Conv2D).outputChannels }
    var positions: Int { (layer as? Conv2D)?.geometry.outputPlane ?? 1 }
    var preactivation: Matrix<Float> { (layer as? Dense)?.preactivation ?? (layer as! Conv2D).preactivation }

    /// Per-unit mean and population variance of the pre-activation over samples and positions, in Double.
    func unitMoments() -> [(mean: Double, variance: Double)] {
        let z = preactivation, u = units, p = positions
        var s = [Double](repeating: 0, count: u), q = s
        z.withUnsafeBufferPointer { zp in
            for r in 0..<z.rows { for c in 0..<u { for i in 0..<p { let v = Double(zp[(r * u + c) * p + i]); s[c] += v; q[c] += v * v } } }
        }
        let n = Double(max(z.rows * p, 1))
        return (0..<u).map { c in let m = s[c] / n; return (m, max(q[c] / n - m * m, 0)) }
    }

    /// `W[u, :] *= s`.
    func scaleRow(_ u: Int, by s: Float) {
        let rows = units      // read before the exclusive access to the weight
        layer.withParameter(0) { w, _ in let k = w.count / rows; for j in 0..<k { w[u * k + j] *= s } }
    }
    /// `b[u] = v`.
    func setBias(_ u: Int, _ v: Float) { layer.withParameter(1) { b, _ in b[u] = v } }
    func bias(_ u: Int) -> Float { layer.withParameter(1) { b, _ in b[u] } }
    /// `W *= s`.
    func scaleAll(by s: Float) { layer.withParameter(0) { w, _ in for j in 0..<w.count { w[j] *= s } } }
}

extension LSUV {
    /// LSUV on a convolutional network: the same steps as for an MLP (orthonormal pre-init of
    /// every Dense and Conv2D weight — a conv weight as the `[O, (C/G)·kh·kw]` matrix, as
    /// PyTorch's `orthogonal_` flattens it — then, in forward order, each layer's weight divided
    /// by `√Var(Z)` until the variance over all `batch × channels × positions` elements is within
    /// `tolerance` of 1). Keys: layer `i`'s pre-init uses `RandomKey(seed).folding(in: i)`.
    /// - Throws: as `initialize(_: Sequential, …)`.
    @discardableResult
    public func initialize(_ model: ConvolutionalNetwork, batch: Matrix<Float>, seed: UInt64 = 0) throws -> [CalibrationRecord] {
        guard tolerance.isFinite, tolerance > 0 else { throw TrainingError.invalidHyperparameter(name: "tolerance", value: tolerance, rule: "must be finite and > 0") }
        guard maxIterations >= 1 else { throw TrainingError.invalidHyperparameter(name: "maxIterations", value: Double(maxIterations), rule: "must be ≥ 1") }
        try checkBatch(batch, inputs: model.inputSize)
        let root = RandomKey(seed: seed)
        if orthonormalPreInit {
            for (i, layer) in model.layers.enumerated() {
                if let d = layer as? Dense { try d.initialize(with: .orthogonal(gain: 1), key: root.folding(in: UInt64(i))) }
                if let c = layer as? Conv2D { try c.initialize(with: .orthogonal(gain: 1), key: root.folding(in: UInt64(i))) }
            }
        }
        let lastParametric = model.layers.lastIndex { !$0.parameterSlots.isEmpty }
        var records: [CalibrationRecord] = []
        var h = batch
        for (i, layer) in model.layers.enumerated() {
            var z = try layer.forward(h)
            guard !layer.parameterSlots.isEmpty else { h = z; continue }
            let view = UnitView(layer: layer)
            var (mean, variance) = LSUV.moments(view.preactivation)
            var iterations = 0
            if i != lastParametric || includeOutputLayer {
                while abs(variance - 1) > tolerance && iterations < maxIterations {
                    guard variance.isFinite, variance > 0 else { throw DataInitializationError.degenerateLayer(layer: records.count, variance: variance) }
                    view.scaleAll(by: Float(1 / variance.squareRoot()))
                    iterations += 1
                    z = try layer.forward(h)
                    (mean, variance) = LSUV.moments(view.preactivation)
                }
                appendInitializationLabel(layer, " + lsuv")
            }
            records.append(CalibrationRecord(layer: records.count, iterations: iterations, variance: variance, mean: mean,
                                             converged: abs(variance - 1) <= tolerance, skippedUnits: 0))
            h = z
        }
        return records
    }
}

extension DataDependentInitialization {
    /// Per-output-channel data-dependent initialization of a convolutional network: in forward
    /// order, each conv output channel (and each dense unit) gets pre-activation mean 0 and
    /// variance 1 over the batch's samples and positions, `W[c] ← W[c]/σ_c`, `b_c ← (b_c − μ_c)/σ_c`
    /// (Krähenbühl et al. 2016 §3.1 on conv nets); channels with `σ < minimumStd` are skipped
    /// and counted. The last parametric layer is left alone unless `includeOutputLayer`.
    /// - Throws: `DataInitializationError` for an empty, non-finite or mis-shaped batch.
    @discardableResult
    public func initialize(_ model: ConvolutionalNetwork, batch: Matrix<Float>) throws -> [CalibrationRecord] {
        try checkBatch(batch, inputs: model.inputSize)
        let lastParametric = model.layers.lastIndex { !$0.parameterSlots.isEmpty }
        var h = batch
        var records: [CalibrationRecord] = []
        for (i, layer) in model.layers.enumerated() {
            var z = try layer.forward(h)
            guard !layer.parameterSlots.isEmpty else { h = z; continue }
            let view = UnitView(layer: layer)
            var skipped = 0
            if i != lastParametric || includeOutputLayer {
                for (u, m) in view.unitMoments().enumerated() {
                    let sigma = m.variance.squareRoot()
                    guard sigma.isFinite, sigma >= minimumStd else { skipped += 1; continue }
                    view.scaleRow(u, by: Float(1 / sigma))
                    view.setBias(u, Float((Double(view.bias(u)) - m.mean) / sigma))
                }
                z = try layer.forward(h)
                appendInitializationLabel(layer, " + data-dependent")
            }
            let (m, v) = LSUV.moments(view.preactivation)
            records.append(CalibrationRecord(layer: records.count, iterations: 1, variance: v, mean: m, converged: abs(v - 1) < 0.1, skippedUnits: skipped))
            h = z
        }
        return records
    }
}

extension AnalyticVarianceInitialization {
    /// Analytic variance propagation through a convolutional network, per output channel: each
    /// Dense or Conv2D layer's weight (a conv weight as the `[O, (C/G)·kh·kw]` matrix, one row per
    /// output channel) is drawn with `σ = 1/√(fan_in·v)` (`1/√(fan_in·(v + m²))` without
    /// `cancelMean`), `fan_in = (C/G)·kh·kw`, and with `cancelMean` every row is centred and
    /// rescaled to norm `σ·√fan_in`, exactly as for an MLP (see the type's documentation); the
    /// activation's output moments come from the same quadrature. Keys: layer `i` (position in
    /// `layers`) uses `RandomKey(seed).folding(in: i)`; biases zero.
    ///
    /// Approximations, documented: zero padding gives border positions fewer inputs (their
    /// variance is lower than predicted), and pooling layers are assumed to keep the mean and
    /// variance (max pooling raises the mean, average pooling lowers the variance of correlated
    /// inputs less than of independent ones). Returns one prediction per parametric layer.
    /// - Throws: as `initialize(_: Sequential, …)`.
    @discardableResult
    public func initialize(_ model: ConvolutionalNetwork, inputMean: Double = 0, inputVariance: Double = 1, seed: UInt64 = 0) throws -> [LayerPrediction] {
        guard inputVariance.isFinite, inputVariance > 0 else {
            throw TrainingError.invalidHyperparameter(name: "input variance", value: inputVariance, rule: "must be finite and > 0")
        }
        guard inputMean.isFinite else { throw TrainingError.invalidHyperparameter(name: "input mean", value: inputMean, rule: "must be finite") }
        let rule = try GaussHermite(points: quadraturePoints)
        let root = RandomKey(seed: seed)
        var m = inputMean, v = inputVariance
        var out: [LayerPrediction] = []
        for (i, layer) in model.layers.enumerated() {
            guard let act = ConvolutionalNetwork.activation(of: layer) else { continue }
            let rows = UnitView(layer: layer).units
            let fanIn = layer.parameterSlots[0].count / max(rows, 1)
            let n = Double(max(fanIn, 1))
            let std = 1 / (n * (cancelMean ? v : v + m * m)).squareRoot()
            let scheme = Initializer.normal(mean: 0, std: std), key = root.folding(in: UInt64(i))
            if let d = layer as? Dense { try d.initialize(with: scheme, key: key) }
            if let c = layer as? Conv2D { try c.initialize(with: scheme, key: key) }
            if cancelMean && fanIn > 1 {
                let target = std * n.squareRoot()
                layer.withParameter(0) { w, _ in
                    for r in 0..<rows {
                        var s = 0.0
                        for j in 0..<fanIn { s += Double(w[r * fanIn + j]) }
                        let mean = s / n
                        var q = 0.0
                        for j in 0..<fanIn { let d = Double(w[r * fanIn + j]) - mean; q += d * d }
                        let f = q > 0 ? target / q.squareRoot() : 0
                        for j in 0..<fanIn { w[r * fanIn + j] = Float((Double(w[r * fanIn + j]) - mean) * f) }
                    }
                }
            }
            let (m1, m2) = AnalyticVarianceInitialization.moments(of: act.doubleFunction, smooth: act.isSmooth, rule: rule)
            out.append(LayerPrediction(layer: out.count, weightStd: std, inputMean: m, inputVariance: v, preactivationVariance: 1,
                                       activationMean: m1, activationVariance: max(m2 - m1 * m1, 0)))
            m = m1
            v = max(m2 - m1 * m1, 1e-12)
        }
        return out
    }
}

/// Appends `suffix` to the `initializationLabel` of a Dense or Conv2D layer (shown by
/// `summary()`), as the MLP versions of the data-based methods do.
func appendInitializationLabel(_ layer: any Layer, _ suffix: String) {
    if let d = layer as? Dense { d.initializationLabel = (d.initializationLabel ?? "as given") + suffix }
    if let c = layer as? Conv2D { c.initializationLabel = (c.initializationLabel ?? "as given") + suffix }
}
