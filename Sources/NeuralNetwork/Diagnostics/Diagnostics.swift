import Foundation
import MatrixModule

/// Per-layer statistics that show why initialization matters: the scale of the signal going
/// forward, the scale of the gradient coming back, saturation and dead units.
public struct LayerStatistics: Sendable, Codable, Equatable {
    /// 0-based layer index.
    public var layer: Int
    public var fanIn: Int
    public var fanOut: Int
    public var activation: String
    /// Mean and standard deviation of the pre-activation `Z = X·Wᵀ + b` over the batch.
    public var preactivationMean: Double
    public var preactivationStd: Double
    /// Mean and standard deviation of the output `f(Z)`.
    public var activationMean: Double
    public var activationStd: Double
    /// Fraction of outputs within 1% of an asymptote (sigmoid: < 0.01 or > 0.99; tanh and
    /// softsign: |y| > 0.99); `nil` for non-saturating activations.
    public var saturatedFraction: Double?
    /// Fraction of units whose output is exactly 0 for every sample of the batch (ReLU); `nil` otherwise.
    public var deadFraction: Double?
    /// Number of dead units (see `deadFraction`).
    public var deadUnits: Int?
    /// Frobenius norm of `∂L/∂W` after one backward pass on the batch.
    public var gradientNorm: Double
    /// Standard deviation of the weights.
    public var weightStd: Double
}

/// Measures `LayerStatistics` for every layer of a model on one batch.
public enum Diagnostics {
    /// Runs a forward pass on `inputs` `[batch, in]`, the softmax cross-entropy against
    /// `labels`, and a backward pass, then summarizes each layer. The model's weights are not
    /// changed.
    /// - Throws: `MatrixError` for mismatched shapes, `TrainingError.invalidLabels`.
    public static func measure(_ model: any NetworkModel, inputs: Matrix<Float>, labels: ArraySlice<Int32>) throws -> [LayerStatistics] {
        let logits = try model.forward(inputs)
        var loss = SoftmaxCrossEntropy()
        _ = try loss.loss(logits: logits, labels: labels)
        _ = try model.backward(loss.gradient)
        if let residual = model as? ResidualMLP { return residual.blockStatistics() }
        if let cnn = model as? ConvolutionalNetwork {
            return cnn.layers.filter { !$0.parameterSlots.isEmpty }.enumerated().compactMap { i, layer in
                if let c = layer as? Conv2D { return summarize(c, index: i) }
                if let d = layer as? Dense { return summarize(d, index: i) }
                return nil
            }
        }
        return model.denseLayers.enumerated().map { i, layer in summarize(layer, index: i) }
    }

    /// Statistics of one layer from its last forward and backward pass.
    public static func summarize(_ layer: Dense, index: Int) -> LayerStatistics {
        let z = layer.preactivation, y = layer.output
        let (zm, zs) = meanStd(z), (ym, ys) = meanStd(y)
        var saturated: Double?
        if layer.activation.saturates, y.count > 0 {
            let act = layer.activation
            let n = y.withUnsafeBufferPointer { p in p.reduce(0) { c, v in
                let hit: Bool
                if case .sigmoid = act { hit = v < 0.01 || v > 0.99 } else { hit = abs(v) > 0.99 }
                return c + (hit ? 1 : 0)
            } }
            saturated = Double(n) / Double(y.count)
        }
        var dead: Int?
        if layer.activation.canDie {
            var alive = [Bool](repeating: false, count: y.columns)
            y.withUnsafeBufferPointer { p in
                for r in 0..<y.rows { for c in 0..<y.columns where p[r * y.columns + c] != 0 { alive[c] = true } }
            }
            dead = alive.filter { !$0 }.count
        }
        return LayerStatistics(layer: index, fanIn: layer.inputSize, fanOut: layer.outputSize, activation: layer.activation.name,
                               preactivationMean: zm, preactivationStd: zs, activationMean: ym, activationStd: ys,
                               saturatedFraction: saturated, deadFraction: dead.map { y.columns == 0 ? 0 : Double($0) / Double(y.columns) },
                               deadUnits: dead, gradientNorm: layer.weightGradient.frobeniusNorm(), weightStd: meanStd(layer.weight).1)
    }

    /// Statistics of one convolution from its last forward and backward pass: fans are the
    /// group-aware `fan_in = (C/G)·kh·kw` and `fan_out = (O/G)·kh·kw`; a unit is an output
    /// channel (dead when it is exactly 0 at every position of every sample).
    public static func summarize(_ layer: Conv2D, index: Int) -> LayerStatistics {
        let z = layer.preactivation, y = layer.output
        let (zm, zs) = meanStd(z), (ym, ys) = meanStd(y)
        var saturated: Double?
        if layer.activation.saturates, y.count > 0 {
            let act = layer.activation
            let n = y.withUnsafeBufferPointer { p in p.reduce(0) { c, v in
                let hit: Bool
                if case .sigmoid = act { hit = v < 0.01 || v > 0.99 } else { hit = abs(v) > 0.99 }
                return c + (hit ? 1 : 0)
            } }
            saturated = Double(n) / Double(y.count)
        }
        var dead: Int?
        let channels = layer.outputChannels, plane = layer.geometry.outputPlane
        if layer.activation.canDie {
            var alive = [Bool](repeating: false, count: channels)
            y.withUnsafeBufferPointer { p in
                for r in 0..<y.rows { for c in 0..<channels where !alive[c] {
                    for i in 0..<plane where p[(r * channels + c) * plane + i] != 0 { alive[c] = true; break }
                } }
            }
            dead = alive.filter { !$0 }.count
        }
        let fans = layer.fans
        return LayerStatistics(layer: index, fanIn: fans.fanIn, fanOut: fans.fanOut, activation: layer.activation.name,
                               preactivationMean: zm, preactivationStd: zs, activationMean: ym, activationStd: ys,
                               saturatedFraction: saturated, deadFraction: dead.map { Double($0) / Double(channels) },
                               deadUnits: dead, gradientNorm: layer.weightGradient.frobeniusNorm(), weightStd: meanStd(layer.weight).1)
    }

    /// Population mean and standard deviation of a matrix's elements, in Double.
    public static func meanStd(_ m: Matrix<Float>) -> (Double, Double) {
        guard m.count > 0 else { return (0, 0) }
        return m.withUnsafeBufferPointer { p in
            var s = 0.0
            for v in p { s += Double(v) }
            let mean = s / Double(p.count)
            var q = 0.0
            for v in p { let d = Double(v) - mean; q += d * d }
            return (mean, (q / Double(p.count)).squareRoot())
        }
    }
}
