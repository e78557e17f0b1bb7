import MatrixModule

/// A learnable scalar (a residual gate or multiplier) and its gradient.
public final class ScalarParameter {
    /// The value.
    public var value: Float
    /// `∂L/∂value` from the last backward pass.
    public var gradient: Float = 0
    /// Multiplies the optimizer's learning rate for this parameter (default 1).
    public var learningRateScale: Double = 1
    public init(_ value: Float) { self.value = value }
}

/// One trainable tensor of a model: its PyTorch name, its shape, and access to its values and
/// gradient.
///
/// - `name` is what `torch.nn.Module.named_parameters()` calls the tensor in the equivalent
///   PyTorch model: `"0.weight"`, `"0.bias"`, `"3.weight"` for a `torch.nn.Sequential` (entries
///   counted with parameter-free modules such as `ReLU` and `MaxPool2d`, see
///   `Layer.torchModuleCount`); see each model's `parameters` for its names.
/// - `shape` is PyTorch's layout: Dense weight `[out, in]`, Conv2D weight OIHW
///   `[out, in/groups, kh, kw]`, biases `[out]`, a scalar gate `[]`.
/// - Values and gradients are contiguous row-major Float buffers of `count` elements, reached
///   with `withBuffers`; the reference is to the model's own storage (no copy).
public struct ModelParameter {
    enum Owner {
        case layer(any Layer, Int)
        case scalar(ScalarParameter)
    }
    /// The PyTorch name, e.g. `"3.weight"`.
    public let name: String
    /// Local name, shape, weight-decay flag and learning-rate multiplier.
    public let slot: ParameterSlot
    let owner: Owner

    /// A parameter of `layer`'s slot `slot`, named `name`.
    public init(name: String, layer: any Layer, slot: Int) {
        self.name = name; self.slot = layer.parameterSlots[slot]; owner = .layer(layer, slot)
    }

    /// A scalar parameter named `name` (shape `[]`, no weight decay).
    public init(name: String, scalar: ScalarParameter) {
        self.name = name
        slot = ParameterSlot(name: name.split(separator: ".").last.map(String.init) ?? name, shape: [], decays: false,
                             learningRateScale: scalar.learningRateScale)
        owner = .scalar(scalar)
    }

    /// PyTorch-layout shape.
    public var shape: [Int] { slot.shape }
    /// Number of elements.
    public var count: Int { slot.count }

    /// Runs `body` with the values and the gradient (both `count` elements, row-major in `shape`).
    public func withBuffers<R, E: Error>(_ body: (_ value: UnsafeMutableBufferPointer<Float>,
                                                  _ gradient: UnsafeMutableBufferPointer<Float>) throws(E) -> R) throws(E) -> R {
        switch owner {
        case let .layer(layer, s): return try layer.withParameter(s, body)
        case let .scalar(p):
            var v = p.value, g = p.gradient
            let r = try withUnsafeMutablePointer(to: &v) { (vp) throws(E) -> R in
                try withUnsafeMutablePointer(to: &g) { (gp) throws(E) -> R in
                    try body(UnsafeMutableBufferPointer(start: vp, count: 1), UnsafeMutableBufferPointer(start: gp, count: 1))
                }
            }
            p.value = v; p.gradient = g
            return r
        }
    }

    /// A copy of the values.
    public var values: [Float] { withBuffers { v, _ in Array(v) } }
    /// A copy of the gradient.
    public var gradient: [Float] { withBuffers { _, g in Array(g) } }
}

/// A trainable classifier: a forward pass, a backward pass that fills every parameter's
/// gradient, and access to its parameters for optimizers, initializers, diagnostics,
/// checkpoints and gradient all-reduce. `Sequential` (an MLP), `ResidualMLP` and
/// `ConvolutionalNetwork` conform.
public protocol NetworkModel: AnyObject {
    /// Forward pass, `x` `[batch, inputs]` → logits `[batch, outputs]`.
    @discardableResult
    func forward(_ x: Matrix<Float>) throws(MatrixError) -> Matrix<Float>
    /// Backward pass from `∂L/∂logits`; fills all gradients and returns `∂L/∂x` (callers that
    /// only need the gradients may ignore it).
    @discardableResult
    func backward(_ gradient: Matrix<Float>) throws(MatrixError) -> Matrix<Float>
    /// Every dense layer, in forward order (conv models: only their `Dense` layers).
    var denseLayers: [Dense] { get }
    /// Learnable scalars outside the dense layers (residual gates), possibly empty.
    var scalarParameters: [ScalarParameter] { get }
    /// Layer sizes summary, e.g. `"784-256-128-10"`.
    var summary: String { get }
    /// Every trainable tensor in a fixed order (PyTorch's `named_parameters()` order for the
    /// equivalent module), with its PyTorch name. The order and names are stable: optimizer
    /// state, checkpoints and gradient buckets are laid out in it. Default: the dense layers'
    /// `"layers.i.weight"`, `"layers.i.bias"`, then `"scalars.k"`.
    var parameters: [ModelParameter] { get }
    /// Input features per sample (`C·H·W` for image models).
    var inputSize: Int { get }
    /// The first layer holding parameters; training switches off its input gradient.
    /// Default: the first dense layer.
    var firstParametricLayer: (any Layer)? { get }
}

extension NetworkModel {
    public var parameters: [ModelParameter] {
        denseLayers.enumerated().flatMap { i, d in
            [ModelParameter(name: "layers.\(i).weight", layer: d, slot: 0), ModelParameter(name: "layers.\(i).bias", layer: d, slot: 1)]
        } + scalarParameters.enumerated().map { k, p in ModelParameter(name: "scalars.\(k)", scalar: p) }
    }
    /// Input features.
    public var inputSize: Int { denseLayers.first?.inputSize ?? 0 }
    public var firstParametricLayer: (any Layer)? { denseLayers.first }

    /// Number of learnable parameters (elements of every tensor of `parameters`).
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    /// Runs `body` with the first parametric layer's input gradient switched off (training never
    /// needs `∂L/∂input`), then restores the previous setting.
    public func withoutInputGradient<R>(_ body: () throws -> R) rethrows -> R {
        guard let first = firstParametricLayer else { return try body() }
        let previous = first.computesInputGradient
        first.computesInputGradient = false
        defer { first.computesInputGradient = previous }
        return try body()
    }

    /// Copies every parameter's gradient, in `parameters` order, into one flat buffer of
    /// `parameterCount` elements (the layout of a gradient all-reduce bucket).
    /// - Throws: `TrainingError.shapeMismatch` when `buffer.count != parameterCount`.
    public func copyGradients(into buffer: UnsafeMutableBufferPointer<Float>) throws {
        try copyFlat(into: buffer, gradients: true)
    }
    /// Overwrites every parameter's gradient from one flat buffer (`parameters` order).
    /// - Throws: `TrainingError.shapeMismatch` when `buffer.count != parameterCount`.
    public func loadGradients(from buffer: UnsafeBufferPointer<Float>) throws { try loadFlat(from: buffer, gradients: true) }
    /// Copies every parameter's values, in `parameters` order, into one flat buffer.
    /// - Throws: `TrainingError.shapeMismatch` when `buffer.count != parameterCount`.
    public func copyValues(into buffer: UnsafeMutableBufferPointer<Float>) throws { try copyFlat(into: buffer, gradients: false) }
    /// Overwrites every parameter's values from one flat buffer (`parameters` order).
    /// - Throws: `TrainingError.shapeMismatch` when `buffer.count != parameterCount`.
    public func loadValues(from buffer: UnsafeBufferPointer<Float>) throws { try loadFlat(from: buffer, gradients: false) }
    /// All gradients as one flat array in `parameters` order.
    public var flatGradients: [Float] {
        var out = [Float](repeating: 0, count: parameterCount)
        out.withUnsafeMutableBufferPointer { try! copyGradients(into: $0) }
        return out
    }
    /// All values as one flat array in `parameters` order.
    public var flatValues: [Float] {
        var out = [Float](repeating: 0, count: parameterCount)
        out.withUnsafeMutableBufferPointer { try! copyValues(into: $0) }
        return out
    }

    private func copyFlat(into buffer: UnsafeMutableBufferPointer<Float>, gradients: Bool) throws {
        let params = parameters
        let total = params.reduce(0) { $0 + $1.count }
        guard buffer.count == total else { throw TrainingError.shapeMismatch("flat buffer of \(buffer.count) elements for \(total) parameters") }
        var offset = 0
        for p in params {
            p.withBuffers { v, g in
                let src = gradients ? g : v
                if src.count > 0 { (buffer.baseAddress! + offset).update(from: src.baseAddress!, count: src.count) }
                offset += src.count
            }
        }
    }

    private func loadFlat(from buffer: UnsafeBufferPointer<Float>, gradients: Bool) throws {
        let params = parameters
        let total = params.reduce(0) { $0 + $1.count }
        guard buffer.count == total else { throw TrainingError.shapeMismatch("flat buffer of \(buffer.count) elements for \(total) parameters") }
        var offset = 0
        for p in params {
            p.withBuffers { v, g in
                let dst = gradients ? g : v
                if dst.count > 0 { dst.baseAddress!.update(from: buffer.baseAddress! + offset, count: dst.count) }
                offset += dst.count
            }
        }
    }
}

/// PyTorch `nn.Sequential` names for a stack of layers: each layer's tensors are named
/// `"<index of its first torch module>.<slot name>"`, the index advancing by `torchModuleCount`.
func torchSequentialParameters(_ layers: [any Layer]) -> [ModelParameter] {
    var index = 0
    var out: [ModelParameter] = []
    for layer in layers {
        for (s, slot) in layer.parameterSlots.enumerated() { out.append(ModelParameter(name: "\(index).\(slot.name)", layer: layer, slot: s)) }
        index += layer.torchModuleCount
    }
    return out
}

extension Sequential: NetworkModel {
    public var denseLayers: [Dense] { layers }
    public var scalarParameters: [ScalarParameter] { [] }
    public var summary: String { sizes.map(String.init).joined(separator: "-") }
    /// `torch.nn.Sequential` names: `Linear` and activation modules alternate, so a 784-256-128-10
    /// ReLU MLP has `"0.weight"`, `"0.bias"`, `"2.weight"`, `"2.bias"`, `"4.weight"`, `"4.bias"`.
    public var parameters: [ModelParameter] { torchSequentialParameters(layers) }
}
