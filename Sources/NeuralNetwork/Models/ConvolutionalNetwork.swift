import Initializers
import MatrixModule

/// One entry of a `ConvolutionalNetwork` specification. Input shapes are inferred from the
/// previous entry, so a spec lists only what each layer adds.
public enum LayerSpec: Sendable, Hashable, Codable {
    /// `Conv2D` with `channels` outputs, a `kernel×kernel` window (see `Conv2D` for the rest).
    case conv(channels: Int, kernel: Int, stride: Int = 1, padding: Padding2D = .same, dilation: Int = 1, groups: Int = 1,
              activation: Activation = .relu)
    /// `MaxPool2D` with a `kernel×kernel` window, stride `stride ?? kernel`.
    case maxPool(kernel: Int, stride: Int? = nil)
    /// `AvgPool2D` with a `kernel×kernel` window, stride `stride ?? kernel`.
    case avgPool(kernel: Int, stride: Int? = nil)
    /// `GlobalAveragePool` (`[C, H, W] → [C]`).
    case globalAveragePool
    /// `Flatten` (`[C, H, W] → [C·H·W]`).
    case flatten
    /// `Dense` with `units` outputs (needs a flat input: put `.flatten` or `.globalAveragePool` before).
    case dense(units: Int, activation: Activation = .relu)
}

/// A feed-forward network of any `Layer`s in sequence — convolutions, pooling, flatten and
/// dense layers (PyTorch `nn.Sequential`), trained on NCHW image batches flattened per row.
///
/// - Keys: layer `i` (0-based position in `layers`, parameter-free layers included) is
///   initialized with `RandomKey(seed: seed).folding(in: i)`, as `Sequential` does.
/// - Parameter names: `torch.nn.Sequential`'s, counting the fused activation as its own module
///   (`Layer.torchModuleCount`): the default CNN `conv(32) → maxPool → conv(64) → maxPool →
///   flatten → dense(128) → dense(10)` is PyTorch's `Sequential(Conv2d, ReLU, MaxPool2d,
///   Conv2d, ReLU, MaxPool2d, Flatten, Linear, ReLU, Linear)`, so its tensors are `"0.weight"`,
///   `"0.bias"`, `"3.weight"`, `"3.bias"`, `"7.weight"`, `"7.bias"`, `"9.weight"`, `"9.bias"`.
///
/// ```swift
/// let cnn = try ConvolutionalNetwork.defaultCNN(seed: 0)
/// print(cnn.summary())
/// let logits = try cnn.forward(images)        // images [batch, 1·28·28] → [batch, 10]
/// ```
public final class ConvolutionalNetwork: NetworkModel {
    /// The layers, input first.
    public let layers: [any Layer]
    /// Shape of one input sample, e.g. `[1, 28, 28]`.
    public let inputShape: [Int]

    /// A network over existing layers; each layer's input shape must equal the previous
    /// layer's output shape. - Throws: `TrainingError.shapeMismatch` naming the pair.
    public init(layers: [any Layer]) throws {
        guard let first = layers.first else { throw TrainingError.invalidHyperparameter(name: "layer count", value: 0, rule: "need at least one layer") }
        for (i, (a, b)) in zip(layers, layers.dropFirst()).enumerated() where a.outputShape.reduce(1, *) != b.inputShape.reduce(1, *)
            || (a.outputShape.count == b.inputShape.count && a.outputShape != b.inputShape) {
            throw TrainingError.shapeMismatch("layer \(i) (\(a.layerDescription)) outputs \(shapeText(a.outputShape)), layer \(i + 1) (\(b.layerDescription)) expects \(shapeText(b.inputShape))")
        }
        self.layers = layers
        inputShape = first.inputShape
    }

    /// Builds the layers of `spec` over inputs of `inputShape` (`[C, H, W]`) and initializes them.
    /// - Parameters:
    ///   - initialization: `.auto` gives each layer its activation's scheme
    ///     (`Activation.defaultInitializer`: He for ReLU, Xavier for tanh and the linear output,
    ///     with the layer's group-aware fans); `.all(s)` one scheme for every weight; `.perLayer`
    ///     one per parametric layer (count must match). Biases zero.
    /// - Throws: `TrainingError.invalidHyperparameter` for invalid sizes, `.shapeMismatch` for
    ///   a dense layer on an image or a conv on a vector, `InitializationError` from the schemes.
    public convenience init(inputShape: [Int], spec: [LayerSpec], initialization: LayerInitialization = .auto,
                            seed: UInt64 = 0, threads: Int? = nil) throws {
        var shape = inputShape
        var layers: [any Layer] = []
        guard !inputShape.isEmpty, inputShape.allSatisfy({ $0 >= 1 }) else {
            throw TrainingError.invalidHyperparameter(name: "input shape", value: Double(inputShape.min() ?? 0), rule: "needs sizes ≥ 1 (got \(inputShape))")
        }
        for (i, s) in spec.enumerated() {
            func image() throws -> (Int, Int, Int) {
                guard shape.count == 3 else { throw TrainingError.shapeMismatch("layer \(i) (\(s)) needs a C×H×W input, got \(shapeText(shape))") }
                return (shape[0], shape[1], shape[2])
            }
            let layer: any Layer
            switch s {
            case let .conv(channels, kernel, stride, padding, dilation, groups, activation):
                let (c, h, w) = try image()
                layer = try Conv2D(inputChannels: c, outputChannels: channels, kernelSize: kernel, stride: stride, padding: padding,
                                   dilation: dilation, groups: groups, activation: activation, inputHeight: h, inputWidth: w)
            case let .maxPool(kernel, stride):
                let (c, h, w) = try image()
                layer = try MaxPool2D(channels: c, inputHeight: h, inputWidth: w, kernelSize: kernel, stride: stride)
            case let .avgPool(kernel, stride):
                let (c, h, w) = try image()
                layer = try AvgPool2D(channels: c, inputHeight: h, inputWidth: w, kernelSize: kernel, stride: stride)
            case .globalAveragePool:
                let (c, h, w) = try image()
                layer = try GlobalAveragePool(channels: c, inputHeight: h, inputWidth: w)
            case .flatten:
                layer = try Flatten(inputShape: shape)
            case let .dense(units, activation):
                guard shape.count == 1 else { throw TrainingError.shapeMismatch("layer \(i) (dense) needs a flat input, got \(shapeText(shape)): add .flatten or .globalAveragePool before it") }
                guard units >= 1 else { throw TrainingError.invalidHyperparameter(name: "dense units", value: Double(units), rule: "must be ≥ 1") }
                layer = Dense(inputSize: shape[0], outputSize: units, activation: activation)
            }
            layers.append(layer)
            shape = layer.outputShape
        }
        try self.init(layers: layers)
        try initialize(initialization, seed: seed, threads: threads)
    }

    /// The default small CNN for 28×28 grey images (Fashion-MNIST): conv 32 3×3 same → ReLU →
    /// max-pool 2 → conv 64 3×3 same → ReLU → max-pool 2 → flatten → dense 128 → ReLU → dense
    /// `classes` (logits); 421,642 parameters for 10 classes.
    public static func defaultCNN(classes: Int = 10, initialization: LayerInitialization = .auto, seed: UInt64 = 0,
                                  threads: Int? = nil) throws -> ConvolutionalNetwork {
        try ConvolutionalNetwork(inputShape: [1, 28, 28], spec: defaultCNNSpec(classes: classes), initialization: initialization,
                                 seed: seed, threads: threads)
    }

    /// The layer list of `defaultCNN`.
    public static func defaultCNNSpec(classes: Int = 10) -> [LayerSpec] {
        [.conv(channels: 32, kernel: 3), .maxPool(kernel: 2), .conv(channels: 64, kernel: 3), .maxPool(kernel: 2),
         .flatten, .dense(units: 128), .dense(units: classes, activation: .identity)]
    }

    /// A deep vanilla CNN (no normalization, no skip connections) for the initialization
    /// experiments after Xiao et al. 2018: a stride-2 3×3 stem `C → width` (28×28 → 14×14), then
    /// `depth − 1` 3×3 same convolutions `width → width`, all with `activation`, then global
    /// average pooling and a dense layer to `classes` logits. `depth` counts conv layers.
    /// - Throws: `TrainingError.invalidHyperparameter` for depth or width < 1.
    public static func deepVanilla(inputShape: [Int] = [1, 28, 28], depth: Int, width: Int, classes: Int = 10,
                                   activation: Activation, initialization: LayerInitialization = .auto, seed: UInt64 = 0,
                                   threads: Int? = nil) throws -> ConvolutionalNetwork {
        guard depth >= 1 else { throw TrainingError.invalidHyperparameter(name: "depth", value: Double(depth), rule: "must be ≥ 1 conv layer") }
        guard width >= 1 else { throw TrainingError.invalidHyperparameter(name: "width", value: Double(width), rule: "must be ≥ 1 channel") }
        let spec: [LayerSpec] = [.conv(channels: width, kernel: 3, stride: 2, padding: .symmetric(1), activation: activation)]
            + Array(repeating: .conv(channels: width, kernel: 3, padding: .symmetric(1), activation: activation), count: depth - 1)
            + [.globalAveragePool, .dense(units: classes, activation: .identity)]
        return try ConvolutionalNetwork(inputShape: inputShape, spec: spec, initialization: initialization, seed: seed, threads: threads)
    }

    /// Re-initializes every parametric layer with key `RandomKey(seed: seed).folding(in: i)`,
    /// `i` its position in `layers` (see the type's documentation).
    /// - Throws: `TrainingError.invalidHyperparameter` for a `.perLayer` list whose count is not
    ///   the number of parametric layers; `InitializationError` from the schemes.
    public func initialize(_ initialization: LayerInitialization, seed: UInt64, threads: Int? = nil) throws {
        let root = RandomKey(seed: seed)
        let parametric = layers.indices.filter { !layers[$0].parameterSlots.isEmpty }
        if case let .perLayer(list) = initialization, list.count != parametric.count {
            throw TrainingError.invalidHyperparameter(name: "per-layer initializers", value: Double(list.count), rule: "need one per parametric layer (\(parametric.count))")
        }
        // `.rules`: each parametric layer's weight and bias get the first rule matching their
        // PyTorch names (`parameters`: weight then bias per parametric layer); unmatched is an error.
        var biasSchemes = [Initializer](repeating: .zeros, count: parametric.count)
        var weightSchemes: [Initializer]? = nil
        if case let .rules(rules) = initialization {
            let names = parameters.map(\.name)
            var unmatched: [String] = [], weights: [Initializer] = []
            for k in parametric.indices {
                let w = ParameterRule.first(in: rules, matching: names[2 * k]), b = ParameterRule.first(in: rules, matching: names[2 * k + 1])
                if w == nil { unmatched.append(names[2 * k]) }
                if b == nil { unmatched.append(names[2 * k + 1]) }
                weights.append(w ?? .zeros); biasSchemes[k] = b ?? .zeros
            }
            guard unmatched.isEmpty else {
                throw TrainingError.invalidHyperparameter(name: "initialization rules", value: Double(unmatched.count),
                                                          rule: "no rule matches \(unmatched.joined(separator: ", ")); add a rule (e.g. \"*.bias\" → zeros)")
            }
            weightSchemes = weights
        }
        for (k, i) in parametric.enumerated() {
            let scheme: Initializer
            switch initialization {
            case .auto: scheme = (ConvolutionalNetwork.activation(of: layers[i]) ?? .identity).defaultInitializer
            case let .all(s): scheme = s
            case let .perLayer(list): scheme = list[k]
            case .rules: scheme = weightSchemes![k]
            }
            let key = root.folding(in: UInt64(i))
            if let d = layers[i] as? Dense { try d.initialize(with: scheme, bias: biasSchemes[k], key: key, threads: threads) }
            else if let c = layers[i] as? Conv2D { try c.initialize(with: scheme, bias: biasSchemes[k], key: key, threads: threads) }
        }
    }

    /// The fused activation of a Dense or Conv2D layer (nil for others).
    static func activation(of layer: any Layer) -> Activation? {
        if let d = layer as? Dense { return d.activation }
        if let c = layer as? Conv2D { return c.activation }
        return nil
    }

    // MARK: NetworkModel

    @discardableResult
    public func forward(_ x: Matrix<Float>) throws(MatrixError) -> Matrix<Float> {
        var h = x
        for layer in layers { h = try layer.forward(h) }
        return h
    }

    @discardableResult
    public func backward(_ gradient: Matrix<Float>) throws(MatrixError) -> Matrix<Float> {
        var g = gradient
        for layer in layers.reversed() { g = try layer.backward(g) }
        return g
    }

    public var denseLayers: [Dense] { layers.compactMap { $0 as? Dense } }
    /// The convolution layers, in forward order.
    public var convLayers: [Conv2D] { layers.compactMap { $0 as? Conv2D } }
    public var scalarParameters: [ScalarParameter] { [] }
    public var parameters: [ModelParameter] { torchSequentialParameters(layers) }
    public var inputSize: Int { inputShape.reduce(1, *) }
    public var firstParametricLayer: (any Layer)? { layers.first { !$0.parameterSlots.isEmpty } }
    /// Per-layer output shapes joined by arrows, e.g. `"1×28×28 → 32×28×28 → … → 10"`.
    public var summary: String { ([shapeText(inputShape)] + layers.map { shapeText($0.outputShape) }).joined(separator: " → ") }

    /// A table, one line per layer: index, description, output shape, parameter count.
    public func summaryTable() -> String {
        var lines = ["input  \(shapeText(inputShape))"]
        for (i, l) in layers.enumerated() {
            let d = l.layerDescription.padding(toLength: max(34, l.layerDescription.count), withPad: " ", startingAt: 0)
            lines.append("\(i)".padding(toLength: 4, withPad: " ", startingAt: 0) + " " + d + " → " + shapeText(l.outputShape)
                         + (l.layerParameterCount > 0 ? "  (\(l.layerParameterCount) parameters)" : ""))
        }
        lines.append("total \(parameterCount) parameters")
        return lines.joined(separator: "\n")
    }
}
