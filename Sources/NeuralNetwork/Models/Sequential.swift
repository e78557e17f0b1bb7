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
    /// Rules over the PyTorch parameter names (`parameters`: `0.weight`, `0.bias`, `2.weight`, … for ReLU):
    /// each parameter gets the initializer of the FIRST rule whose glob pattern matches its name
    /// (the format of whole-model recipes). Weights and biases both come from the rules (the
    /// `bias:` argument is not used); a parameter no rule matches is an error naming it.
    /// Keys are those of the other cases (weight `folding(in: i)`, bias `folding(in: i).folding(in: 1)`),
    /// so `[ "*.weight" → he-normal, "*.bias" → zeros ]` gives the same bytes as `.all(he-normal)`.
    case rules([ParameterRule])
}

/// One rule of `LayerInitialization.rules`: parameters whose name matches `pattern` get `initializer`.
///
/// `pattern` is a glob over the whole name: `*` matches any run of characters (dots included),
/// `?` any one character, everything else itself (e.g. `"*.bias"`, `"0.weight"`, `"?.weight"`).
public struct ParameterRule: Sendable, Hashable, Codable {
    /// The glob over the parameter's PyTorch name.
    public var pattern: String
    /// The scheme for matching parameters.
    public var initializer: Initializer
    /// `pattern` → `initializer`.
    public init(_ pattern: String, _ initializer: Initializer) { self.pattern = pattern; self.initializer = initializer }

    /// Whether `name` matches `pattern` as a whole (iterative glob match, O(|pattern|·|name|) worst case).
    public func matches(_ name: String) -> Bool {
        let p = Array(pattern.unicodeScalars), n = Array(name.unicodeScalars)
        var i = 0, j = 0, star = -1, mark = 0
        while j < n.count {
            if i < p.count && (p[i] == "?" || (p[i] != "*" && p[i] == n[j])) { i += 1; j += 1 }
            else if i < p.count && p[i] == "*" { star = i; mark = j; i += 1 }
            else if star >= 0 { i = star + 1; mark += 1; j = mark }
            else { return false }
        }
        while i < p.count && p[i] == "*" { i += 1 }
        return i == p.count
    }

    /// The initializer of the first rule of `rules` matching `name`, or nil.
    public static func first(in rules: [ParameterRule], matching name: String) -> Initializer? {
        rules.first { $0.matches(name) }?.initializer
    }
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
    ///
    /// `bias` (default zeros, as PyTorch's `nn.init.zeros_` convention and Keras) initializes
    /// every bias, unless `initialization` is `.rules`, whose rules cover biases too.
    public init(sizes: [Int], activation: Activation, outputActivation: Activation = .identity,
                initialization: LayerInitialization = .auto, bias: Initializer = .zeros, seed: UInt64 = 0, threads: Int? = nil) throws {
        guard sizes.count >= 2 else { throw TrainingError.invalidHyperparameter(name: "layer count", value: Double(sizes.count), rule: "need input and output sizes") }
        if let bad = sizes.first(where: { $0 < 0 }) { throw TrainingError.invalidHyperparameter(name: "layer size", value: Double(bad), rule: "must be ≥ 0") }
        do {   // parameters and gradients, checked before any layer is allocated
            try CheckedSize.requireMemory(try MemoryEstimate.sequential(sizes: sizes, batch: 0, optimizerSlots: 0), what: "an MLP \(MemoryEstimate.describe(sizes: sizes))")
        } catch { throw TrainingError.size(error) }
        let n = sizes.count - 1
        layers = (0..<n).map { i in Dense(inputSize: sizes[i], outputSize: sizes[i + 1], activation: i == n - 1 ? outputActivation : activation) }
        try initialize(initialization, bias: bias, seed: seed, threads: threads)
    }

    /// A model over existing layers.
    public init(layers: [Dense]) { self.layers = layers }

    /// Re-initializes every layer (see the type's documentation for the keys); biases with
    /// `bias` (default zeros) unless `initialization` is `.rules`.
    /// - Throws: `TrainingError.invalidHyperparameter` for a `.perLayer` list of the wrong length or
    ///   `.rules` that leave a parameter unmatched (the error names it); `InitializationError`
    ///   from the schemes (e.g. a fan-based scheme matched to a 1-D bias).
    public func initialize(_ initialization: LayerInitialization, bias: Initializer = .zeros, seed: UInt64, threads: Int? = nil) throws {
        let root = RandomKey(seed: seed)
        if case let .perLayer(list) = initialization, list.count != layers.count {
            throw TrainingError.invalidHyperparameter(name: "per-layer initializers", value: Double(list.count), rule: "need one per layer (\(layers.count))")
        }
        var plan: [(Initializer, Initializer)] = []
        var unmatched: [String] = []
        let names = parameters.map(\.name)          // layer i: weight names[2i], bias names[2i+1]
        for i in layers.indices {
            if case let .rules(rules) = initialization {
                let wName = names[2 * i], bName = names[2 * i + 1]
                let w = ParameterRule.first(in: rules, matching: wName), b = ParameterRule.first(in: rules, matching: bName)
                if w == nil { unmatched.append(wName) }
                if b == nil { unmatched.append(bName) }
                plan.append((w ?? .zeros, b ?? .zeros))
            } else {
                plan.append((initializer(for: i, initialization), bias))
            }
        }
        guard unmatched.isEmpty else {
            throw TrainingError.invalidHyperparameter(name: "initialization rules", value: Double(unmatched.count),
                                                      rule: "no rule matches \(unmatched.joined(separator: ", ")); add a rule (e.g. \"*.bias\" → zeros)")
        }
        for (i, layer) in layers.enumerated() {
            try layer.initialize(with: plan[i].0, bias: plan[i].1, key: root.folding(in: UInt64(i)), threads: threads)
        }
    }

    /// The weight initializer `initialization` gives layer `index` (for `.rules`, the first rule
    /// matching the layer's weight name in `parameters`, or zeros when none does).
    public func initializer(for index: Int, _ initialization: LayerInitialization) -> Initializer {
        switch initialization {
        case .auto: return layers[index].activation.defaultInitializer
        case let .all(s): return s
        case let .perLayer(list): return list[index]
        case let .rules(rules): return ParameterRule.first(in: rules, matching: parameters[2 * index].name) ?? .zeros
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
    /// Below a layer with a ReLU, the layer above writes `dX ⊙ [Z > 0]` straight into the ReLU
    /// layer's `dZ` (one pass instead of two; the same values).
    @discardableResult
    public func backward(_ gradient: Matrix<Float>) throws(MatrixError) -> Matrix<Float> {
        var g = gradient
        var ready = false
        for i in layers.indices.reversed() {
            let layer = layers[i]
            let below = i > 0 && layer.computesInputGradient && layers[i - 1].activation == .relu ? layers[i - 1] : nil
            g = try layer.backward(g, preactivationGradientReady: ready, gating: below)
            ready = below != nil
        }
        return g
    }

    /// Total number of parameters.
    public var parameterCount: Int { layers.reduce(0) { $0 + $1.parameterCount } }

    /// Layer sizes, input first.
    public var sizes: [Int] { (layers.first.map { [$0.inputSize] } ?? []) + layers.map(\.outputSize) }
}
