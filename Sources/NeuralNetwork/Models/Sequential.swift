import Initializers
import MatrixModule

/// How a model's layers are initialized.
public enum LayerInitialization: Sendable, Hashable, Codable {
    /// Each layer gets the scheme that fits its activation (`Activation.defaultInitializer`):
    /// He for the ReLU family, Xavier/Glorot for tanh/sigmoid and the linear output layer,
    /// LeCun normal for SELU. Biases zero.
    case auto
    /// The same scheme for every layer's weight; biases zero.
    case all(Initializer)
    /// One scheme per layer (count must match); biases zero.
    case perLayer([Initializer])
}

/// A multilayer perceptron: a stack of `Dense` layers.
///
/// Layer `i` (0-based) is initialized with key `RandomKey(seed: seed).folding(in: i)`, so the
/// same seed gives the same network and adding a layer does not change the others.
///
/// ```swift
/// let mlp = try Sequential(sizes: [784, 256, 128, 10], activation: .relu, seed: 0)
/// let logits = try mlp.forward(batch)        // [batch, 10]
/// ```
public final class Sequential {
    /// The layers, input first.
    public private(set) var layers: [Dense]

    /// An MLP with layer sizes `sizes` (input first, at least 2 entries), `activation` on hidden
    /// layers and `outputActivation` (default identity: logits) on the last.
    /// - Throws: `TrainingError.invalidHyperparameter` for fewer than 2 sizes or a negative
    ///   size; `TrainingError.size` when the weights and gradients overflow `Int` or exceed the
    ///   memory available (`MemoryEstimate.sequential`, checked before allocating);
    ///   `InitializationError` from the schemes.
    public init(sizes: [Int], activation: Activation, outputActivation: Activation = .identity,
                initialization: LayerInitialization = .auto, seed: UInt64 = 0, threads: Int? = nil) throws {
        guard sizes.count >= 2 else { throw TrainingError.invalidHyperparameter(name: "layer count", value: Double(sizes.count), rule: "need input and output sizes") }
        if let bad = sizes.first(where: { $0 < 0 }) { throw TrainingError.invalidHyperparameter(name: "layer size", value: Double(bad), rule: "must be ≥ 0") }
        do {   // parameters and gradients, checked before any layer is allocated
            try CheckedSize.requireMemory(try MemoryEstimate.sequential(sizes: sizes, batch: 0, optimizerSlots: 0), what: "an MLP \(MemoryEstimate.describe(sizes: sizes))")
        } catch { throw TrainingError.size(error) }
        let n = sizes.count - 1
        layers = (0..<n).map { i in Dense(inputSize: sizes[i], outputSize: sizes[i + 1], activation: i == n - 1 ? outputActivation : activation) }
        try initialize(initialization, seed: seed, threads: threads)
    }

    /// A model over existing layers.
    public init(layers: [Dense]) { self.layers = layers }

    /// Re-initializes every layer (see the type's documentation for the keys).
    public func initialize(_ initialization: LayerInitialization, seed: UInt64, threads: Int? = nil) throws {
        let root = RandomKey(seed: seed)
        if case let .perLayer(list) = initialization, list.count != layers.count {
            throw TrainingError.invalidHyperparameter(name: "per-layer initializers", value: Double(list.count), rule: "need one per layer (\(layers.count))")
        }
        for (i, layer) in layers.enumerated() {
            let scheme: Initializer
            switch initialization {
            case .auto: scheme = layer.activation.defaultInitializer
            case let .all(s): scheme = s
            case let .perLayer(list): scheme = list[i]
            }
            try layer.initialize(with: scheme, key: root.folding(in: UInt64(i)), threads: threads)
        }
    }

    /// The initializer `initialization` gives layer `index`.
    public func initializer(for index: Int, _ initialization: LayerInitialization) -> Initializer {
        switch initialization {
        case .auto: return layers[index].activation.defaultInitializer
        case let .all(s): return s
        case let .perLayer(list): return list[index]
        }
    }

    /// Forward pass through every layer; returns the last layer's output.
    @discardableResult
    public func forward(_ x: Matrix<Float>) throws(MatrixError) -> Matrix<Float> {
        var h = x
        for layer in layers { h = try layer.forward(h) }
        return h
    }

    /// Backward pass from `∂L/∂output`; fills every layer's gradients and returns `∂L/∂input`.
    @discardableResult
    public func backward(_ gradient: Matrix<Float>) throws(MatrixError) -> Matrix<Float> {
        var g = gradient
        for layer in layers.reversed() { g = try layer.backward(g) }
        return g
    }

    /// Total number of parameters.
    public var parameterCount: Int { layers.reduce(0) { $0 + $1.parameterCount } }

    /// Layer sizes, input first.
    public var sizes: [Int] { (layers.first.map { [$0.inputSize] } ?? []) + layers.map(\.outputSize) }
}
