import MatrixModule

/// What one trainable tensor of a layer is: its local name (`"weight"`, `"bias"`), its shape in
/// PyTorch's layout, and how the optimizer treats it.
public struct ParameterSlot: Sendable, Hashable, Codable {
    /// The local name, as PyTorch names the tensor inside its module: `"weight"` or `"bias"`.
    public var name: String
    /// The shape in PyTorch's layout: Dense weight `[out, in]`, Conv2D weight OIHW
    /// `[out, in/groups, kh, kw]`, biases `[out]`, scalar gates `[]`.
    public var shape: [Int]
    /// Whether weight decay applies (weights: true; biases and scalar gates: false).
    public var decays: Bool
    /// Multiplies the optimizer's learning rate for this tensor (default 1).
    public var learningRateScale: Double

    public init(name: String, shape: [Int], decays: Bool, learningRateScale: Double = 1) {
        self.name = name; self.shape = shape; self.decays = decays; self.learningRateScale = learningRateScale
    }

    /// Number of elements, the product of `shape` (1 for a scalar `[]`).
    public var count: Int { shape.reduce(1, *) }
}

/// A layer of a feed-forward network acting on a batch.
///
/// - Activations are `Matrix<Float>` batches, one sample per row: a sample of shape
///   `inputShape` (`[features]` for dense layers, `[C, H, W]` for conv and pooling layers) is
///   flattened row-major, so an image batch is NCHW with `N = rows`, `columns = C·H·W`.
/// - `forward` keeps what `backward` needs; `backward(dY)` stores the parameter gradients
///   (overwriting, not accumulating) and returns `dX` (an empty `[batch, 0]` matrix when
///   `computesInputGradient` is false).
/// - Parameters are enumerated by slot (`parameterSlots`, in PyTorch's `named_parameters()`
///   order within the module: weight, then bias) and reached with `withParameter`.
/// - `torchModuleCount` is how many `torch.nn.Sequential` entries the layer stands for (a
///   Dense or Conv2D with a fused activation other than identity is two: `Linear` + `ReLU`),
///   so a model can name parameters as PyTorch would (`"0.weight"`, `"3.bias"`).
///
/// `Dense`, `Conv2D`, `MaxPool2D`, `AvgPool2D`, `GlobalAveragePool` and `Flatten` conform.
public protocol Layer: AnyObject {
    /// Shape of one input sample (`[features]` or `[C, H, W]`).
    var inputShape: [Int] { get }
    /// Shape of one output sample.
    var outputShape: [Int] { get }
    /// Forward pass on `x` `[batch, product(inputShape)]`, returning `[batch, product(outputShape)]`.
    /// - Throws: `MatrixError.shapeMismatch` when `x.columns` does not match `inputShape`.
    func forward(_ x: Matrix<Float>) throws(MatrixError) -> Matrix<Float>
    /// Backward pass for `dY` (same shape as the last output); fills the parameter gradients
    /// and returns `dX`. - Throws: `MatrixError.shapeMismatch` when `dY` does not match.
    func backward(_ outputGradient: Matrix<Float>) throws(MatrixError) -> Matrix<Float>
    /// Whether `backward` computes `dX` (default true; the first trainable layer of a model
    /// being trained switches it off).
    var computesInputGradient: Bool { get set }
    /// The trainable tensors of the layer, in order (empty for pooling and flatten).
    var parameterSlots: [ParameterSlot] { get }
    /// Runs `body` with slot `slot`'s values and gradient (same count, row-major in the slot's
    /// shape). Writing the values changes the layer; writing the gradient changes what the
    /// optimizer applies next (all-reduce writes it in place). Precondition: `slot` in range.
    func withParameter<R, E: Error>(_ slot: Int, _ body: (_ value: UnsafeMutableBufferPointer<Float>,
                                                           _ gradient: UnsafeMutableBufferPointer<Float>) throws(E) -> R) throws(E) -> R
    /// Entries of a `torch.nn.Sequential` this layer corresponds to (1, or 2 with a fused activation).
    var torchModuleCount: Int { get }
    /// A one-line description for `summary()`, e.g. `"Conv2D 1→32 3×3 s1 p1, relu"`.
    var layerDescription: String { get }
}

extension Layer {
    /// Elements per input sample.
    public var inputCount: Int { inputShape.reduce(1, *) }
    /// Elements per output sample.
    public var outputCount: Int { outputShape.reduce(1, *) }
    /// Number of trainable elements.
    public var layerParameterCount: Int { parameterSlots.reduce(0) { $0 + $1.count } }
}

/// Formats a per-sample shape as `"32×14×14"` (`"784"` for a vector).
func shapeText(_ shape: [Int]) -> String { shape.map(String.init).joined(separator: "×") }

extension Dense: Layer {
    /// `[in]`.
    public var inputShape: [Int] { [inputSize] }
    /// `[out]`.
    public var outputShape: [Int] { [outputSize] }
    /// Slot 0: `"weight"` `[out, in]` (decays, `learningRateScale`); slot 1: `"bias"` `[out]`
    /// (no decay, `biasLearningRateScale ?? learningRateScale`).
    public var parameterSlots: [ParameterSlot] {
        [ParameterSlot(name: "weight", shape: [outputSize, inputSize], decays: true, learningRateScale: learningRateScale),
         ParameterSlot(name: "bias", shape: [outputSize], decays: false, learningRateScale: biasLearningRateScale ?? learningRateScale)]
    }
    public func withParameter<R, E: Error>(_ slot: Int, _ body: (UnsafeMutableBufferPointer<Float>, UnsafeMutableBufferPointer<Float>) throws(E) -> R) throws(E) -> R {
        precondition(slot == 0 || slot == 1, "Dense has parameter slots 0 (weight) and 1 (bias), got \(slot)")
        if slot == 0 {
            return try weight.withUnsafeMutableBufferPointer { (w) throws(E) -> R in
                try weightGradient.withUnsafeMutableBufferPointer { (g) throws(E) -> R in try body(w, g) }
            }
        }
        return try bias.withUnsafeMutableBufferPointer { (w) throws(E) -> R in
            try biasGradient.withUnsafeMutableBufferPointer { (g) throws(E) -> R in try body(w, g) }
        }
    }
    /// 2 (`Linear` + the activation module) unless the activation is identity.
    public var torchModuleCount: Int { activation == .identity ? 1 : 2 }
    public var layerDescription: String { "Dense \(inputSize)→\(outputSize)" + (activation == .identity ? "" : ", \(activation.name)") }
}
