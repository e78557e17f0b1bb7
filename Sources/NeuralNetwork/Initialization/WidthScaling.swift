import Foundation
import Initializers
import MatrixModule

/// Maximal-update parametrization, μP (Yang & Hu, "Feature learning in infinite-width neural
/// networks", ICML 2021; Yang et al., "Tensor Programs V", 2022, Table 3, SGD column), for an MLP
/// `d_in → n → … → n → classes`, relative to a base width `n₀` at which it equals the standard
/// parametrization. With width multiplier `m = n/n₀` and the activation's gain `g`:
///
/// | layer | weight init std | weight LR scale | bias LR scale |
/// |---|---|---|---|
/// | input (`d_in → n`) | `g/√d_in` | `m` | `m` |
/// | hidden (`n → n`) | `g/√n` | `1` | `m` |
/// | output (`n → classes`) | `1/√(n·m)` (variance ∝ 1/n²) | `1/m` | `1` |
///
/// (Biases scale like input weights: their SGD learning rate is proportional to fan_out.)
/// Biases start at zero. Under μP the size of every layer's update to its activations stays
/// constant as the width grows (so hyper-parameters tuned at width `n₀` transfer); under the
/// standard parametrization with a fixed learning rate they grow with width — see
/// `coordinateCheck`.
public struct WidthScaling: Sendable {
    /// The width at which μP coincides with the standard parametrization.
    public var baseWidth: Int
    public init(baseWidth: Int = 64) { self.baseWidth = baseWidth }

    /// Checks an MLP's hidden widths before it is built: μP needs at least one hidden layer and
    /// all of them as wide as the first.
    /// - Throws: `TrainingError.invalidHyperparameter` naming the first width (1-based) that differs.
    public func validate(hiddenWidths: [Int]) throws {
        guard let n = hiddenWidths.first else {
            throw TrainingError.invalidHyperparameter(name: "hidden layers", value: 0, rule: "μP needs at least one hidden layer")
        }
        if let k = hiddenWidths.firstIndex(where: { $0 != n }) {
            throw TrainingError.invalidHyperparameter(name: "hidden width \(k + 1)", value: Double(hiddenWidths[k]),
                                                      rule: "μP needs every hidden layer as wide as the first (\(n)), e.g. --hidden \(n),\(n)")
        }
    }

    /// Re-initializes `model` with μP scales and sets each layer's `learningRateScale`.
    /// - Throws: `TrainingError.invalidHyperparameter` when the hidden layers do not all have the
    ///   same width or the base width is < 1; `InitializationError`.
    public func apply(_ model: Sequential, seed: UInt64 = 0) throws {
        guard baseWidth >= 1 else { throw TrainingError.invalidHyperparameter(name: "base width", value: Double(baseWidth), rule: "must be ≥ 1") }
        let layers = model.layers
        guard layers.count >= 2 else { throw TrainingError.invalidHyperparameter(name: "layers", value: Double(layers.count), rule: "μP needs an input and an output layer") }
        let n = layers[0].outputSize
        try validate(hiddenWidths: layers.dropLast().map(\.outputSize))
        let m = Double(n) / Double(baseWidth)
        let root = RandomKey(seed: seed)
        for (i, layer) in layers.enumerated() {
            let g = layer.activation.nonlinearity.gain
            let std: Double, lr: Double
            if i == 0 { std = g / Double(max(layer.inputSize, 1)).squareRoot(); lr = m }
            else if i == layers.count - 1 { std = 1 / (Double(n) * m).squareRoot(); lr = 1 / m }
            else { std = g / Double(n).squareRoot(); lr = 1 }
            try layer.initialize(with: .normal(mean: 0, std: std), key: root.folding(in: UInt64(i)))
            layer.learningRateScale = lr
            layer.biasLearningRateScale = i == layers.count - 1 ? 1 : m
        }
    }

    /// One row of a coordinate check.
    public struct CoordinateCheckRow: Sendable, Codable, Equatable {
        public var width: Int
        /// RMS of the change of the last hidden layer's activations and of the logits from
        /// initialization, after each SGD step (on the same batch).
        public var hiddenDelta: [Double]
        public var logitsDelta: [Double]
    }

    /// Trains MLPs `[d_in, n, n, classes]` for `steps` plain-SGD steps on one batch at every width
    /// in `widths`, with μP (`mup: true`) or the standard parametrization (He init, no learning-rate
    /// scaling), and records how far the activations moved. Under μP the rows stay flat across widths.
    public static func coordinateCheck(widths: [Int], batch: Matrix<Float>, labels: [Int32], classes: Int, activation: Activation = .relu,
                                       steps: Int = 5, learningRate: Double = 0.1, mup: Bool, baseWidth: Int = 64, seed: UInt64 = 0) throws -> [CoordinateCheckRow] {
        try widths.map { n in
            let model = try Sequential(sizes: [batch.columns, n, n, classes], activation: activation, seed: seed)
            if mup { try WidthScaling(baseWidth: baseWidth).apply(model, seed: seed) }
            else { try model.initialize(.perLayer([.heNormal(nonlinearity: activation.nonlinearity), .heNormal(nonlinearity: activation.nonlinearity), .heNormal(nonlinearity: .linear)]), seed: seed) }
            let optimizer = try Optimizer(.sgd(momentum: 0))
            var loss = SoftmaxCrossEntropy()
            let logits0 = try model.forward(batch), hidden0 = model.layers[1].output
            var hd: [Double] = [], ld: [Double] = []
            for _ in 0..<steps {
                let logits = try model.forward(batch)
                _ = try loss.loss(logits: logits, labels: labels[...])
                _ = try model.backward(loss.gradient)
                optimizer.step(model: model, learningRate: learningRate)
                let l = try model.forward(batch)
                hd.append(try model.layers[1].output.subtracting(hidden0).frobeniusNorm() / Double(max(hidden0.count, 1)).squareRoot())
                ld.append(try l.subtracting(logits0).frobeniusNorm() / Double(max(l.count, 1)).squareRoot())
            }
            return CoordinateCheckRow(width: n, hiddenDelta: hd, logitsDelta: ld)
        }
    }
}
