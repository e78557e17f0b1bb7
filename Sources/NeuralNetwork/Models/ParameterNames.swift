import MatrixModule

/// A learnable tensor of a model as PyTorch names it in `state_dict()`.
public struct ParameterDescription: Sendable, Hashable, Codable {
    /// The `state_dict` key, e.g. `"0.weight"`, `"blocks.2.first.bias"`, `"blocks.2.gate"`.
    public var name: String
    /// The tensor's shape in PyTorch's layout: Linear weight `[out, in]`, bias `[out]`, gate `[]` (0-d).
    public var shape: [Int]
    public init(name: String, shape: [Int]) { self.name = name; self.shape = shape }

    /// Number of elements, the product of `shape` (1 for a 0-d tensor).
    public var count: Int { shape.reduce(1, *) }
}

/// Where a named tensor lives in a model (for save/load and checkpoints).
enum ParameterReference {
    case weight(Dense)
    case bias(Dense)
    case scalar(ScalarParameter)

    /// The values, row-major.
    var values: [Float] {
        switch self {
        case let .weight(d): return d.weight.elements
        case let .bias(d): return d.bias
        case let .scalar(s): return [s.value]
        }
    }

    /// Calls `body` with the values' storage (no copy).
    func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        switch self {
        case let .weight(d): return try d.weight.withUnsafeBufferPointer(body)
        case let .bias(d): return try d.bias.withUnsafeBufferPointer(body)
        case let .scalar(s): let v = [s.value]; return try v.withUnsafeBufferPointer(body)
        }
    }

    /// Overwrites the values from `source` (exactly the tensor's element count).
    func assign(from source: UnsafeBufferPointer<Float>) {
        switch self {
        case let .weight(d):
            d.weight.withUnsafeMutableBufferPointer { w in
                precondition(w.count == source.count)
                if w.count > 0 { w.baseAddress!.update(from: source.baseAddress!, count: w.count) }
            }
        case let .bias(d):
            d.bias.withUnsafeMutableBufferPointer { w in
                precondition(w.count == source.count)
                if w.count > 0 { w.baseAddress!.update(from: source.baseAddress!, count: w.count) }
            }
        case let .scalar(s):
            precondition(source.count == 1)
            s.value = source[0]
        }
    }
}

/// The modules and named tensors of a model, in the optimizer's slot order: for each dense layer
/// (forward order) its weight then its bias, then the learned scalars.
struct ParameterLayout {
    enum ModuleKind { case dense(Dense), gate(ScalarParameter, initial: Float) }
    struct Module { var name: String; var kind: ModuleKind }
    var modules: [Module]
    var tensors: [(description: ParameterDescription, reference: ParameterReference)]

    init(denseNames: [String], layers: [Dense], gates: [(name: String, parameter: ScalarParameter, initial: Float)], moduleOrder: [Module]) {
        modules = moduleOrder
        tensors = []
        for (name, layer) in zip(denseNames, layers) {
            tensors.append((ParameterDescription(name: name + ".weight", shape: [layer.outputSize, layer.inputSize]), .weight(layer)))
            tensors.append((ParameterDescription(name: name + ".bias", shape: [layer.outputSize]), .bias(layer)))
        }
        for g in gates { tensors.append((ParameterDescription(name: g.name, shape: []), .scalar(g.parameter))) }
    }
}

extension Sequential {
    /// The index of layer `layer` in the equivalent `torch.nn.Sequential`, whose modules are
    /// `Linear, activation, Linear, activation, …, Linear[, output activation]`: `2·layer`.
    public static func moduleName(layer: Int) -> String { "\(2 * layer)" }
}

extension NetworkModel {
    /// The model's learnable tensors with their PyTorch `state_dict` names and shapes, in the
    /// order `save(to:)`, checkpoints and the optimizer use (per dense layer weight then bias,
    /// forward order; then the learned gates).
    ///
    /// **`Sequential(sizes: [n₀, n₁, …, n_L], activation: f)`** is
    /// `torch.nn.Sequential(Linear(n₀, n₁), f, Linear(n₁, n₂), f, …, Linear(n_{L−1}, n_L))`: layer `i`
    /// is module `2i`, so the names are `0.weight` `[n₁, n₀]`, `0.bias` `[n₁]`, `2.weight`, `2.bias`,
    /// …, `{2(L−1)}.weight`. The activations hold no parameters (a hidden `identity` is `nn.Identity()`;
    /// a non-identity `outputActivation` is one more module at the end).
    ///
    /// **`ResidualMLP`** is this torch module (names follow the attributes):
    /// ```python
    /// class Block(nn.Module):
    ///     def __init__(self, width, act, gate):        # gate: None (fixed 1) or the initial value
    ///         super().__init__()
    ///         self.first, self.act, self.second = nn.Linear(width, width), act, nn.Linear(width, width)
    ///         self.gate = 1.0 if gate is None else nn.Parameter(torch.tensor(gate))   # 0-d
    ///     def forward(self, h): return h + self.gate * self.second(self.act(self.first(h)))
    /// class ResidualMLP(nn.Module):
    ///     def __init__(self, inputs, width, depth, classes, act, gate):
    ///         super().__init__()
    ///         self.input, self.act = nn.Linear(inputs, width), act
    ///         self.blocks = nn.ModuleList(Block(width, act, gate) for _ in range(depth))
    ///         self.output = nn.Linear(width, classes)
    ///     def forward(self, x):
    ///         h = self.act(self.input(x))
    ///         for b in self.blocks: h = b(h)
    ///         return self.output(h)
    /// ```
    /// names `input.weight`, `input.bias`, `blocks.{b}.first.weight`, `blocks.{b}.first.bias`,
    /// `blocks.{b}.second.weight`, `blocks.{b}.second.bias`, then `output.weight`, `output.bias`, then
    /// (Fixup: gate 1, ReZero: gate 0) `blocks.{b}.gate` with shape `[]`.
    public var namedParameters: [ParameterDescription] { parameterLayout.tensors.map(\.description) }

    var parameterLayout: ParameterLayout {
        if let r = self as? ResidualMLP {
            var modules = [ParameterLayout.Module(name: "input", kind: .dense(r.inputLayer))]
            var names = ["input"]
            var gates: [(name: String, parameter: ScalarParameter, initial: Float)] = []
            let initial: Float
            if case .rezero = r.initialization { initial = 0 } else { initial = 1 }
            for (b, block) in r.blocks.enumerated() {
                modules.append(.init(name: "blocks.\(b).first", kind: .dense(block.first)))
                modules.append(.init(name: "blocks.\(b).second", kind: .dense(block.second)))
                names += ["blocks.\(b).first", "blocks.\(b).second"]
                if block.gateIsLearned {
                    modules.append(.init(name: "blocks.\(b).gate", kind: .gate(block.gate, initial: initial)))
                    gates.append(("blocks.\(b).gate", block.gate, initial))
                }
            }
            modules.append(.init(name: "output", kind: .dense(r.outputLayer)))
            names.append("output")
            return ParameterLayout(denseNames: names, layers: r.denseLayers, gates: gates, moduleOrder: modules)
        }
        // Sequential and any other model made of dense layers: torch.nn.Sequential indices.
        let layers = denseLayers
        let names = layers.indices.map { Sequential.moduleName(layer: $0) }
        let scalars = scalarParameters
        let gates = scalars.enumerated().map { (name: "scalars.\($0.offset)", parameter: $0.element, initial: Float.nan) }
        return ParameterLayout(denseNames: names, layers: layers, gates: gates,
                               moduleOrder: zip(names, layers).map { .init(name: $0, kind: .dense($1)) }
                                   + gates.map { .init(name: $0.name, kind: .gate($0.parameter, initial: $0.initial)) })
    }
}
