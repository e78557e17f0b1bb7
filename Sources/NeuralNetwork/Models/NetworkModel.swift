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

/// A trainable classifier: a forward pass, a backward pass that fills every parameter's
/// gradient, and access to its parameters for optimizers, initializers and diagnostics.
/// `Sequential` (an MLP) and `ResidualMLP` conform.
public protocol NetworkModel: AnyObject {
    /// Forward pass, `x` `[batch, inputs]` → logits `[batch, outputs]`.
    @discardableResult
    func forward(_ x: Matrix<Float>) throws(MatrixError) -> Matrix<Float>
    /// Backward pass from `∂L/∂logits`; fills all gradients and returns `∂L/∂x` (callers that
    /// only need the gradients may ignore it).
    @discardableResult
    func backward(_ gradient: Matrix<Float>) throws(MatrixError) -> Matrix<Float>
    /// Every dense layer, in forward order.
    var denseLayers: [Dense] { get }
    /// Learnable scalars outside the dense layers (residual gates), possibly empty.
    var scalarParameters: [ScalarParameter] { get }
    /// Layer sizes summary, e.g. `"784-256-128-10"`.
    var summary: String { get }
}

extension NetworkModel {
    /// Number of learnable parameters.
    public var parameterCount: Int { denseLayers.reduce(0) { $0 + $1.parameterCount } + scalarParameters.count }
    /// Input features.
    public var inputSize: Int { denseLayers.first?.inputSize ?? 0 }

    /// Runs `body` with the first layer's input gradient switched off (training never needs
    /// `∂L/∂input`), then restores the previous setting.
    public func withoutInputGradient<R>(_ body: () throws -> R) rethrows -> R {
        guard let first = denseLayers.first else { return try body() }
        let previous = first.computesInputGradient
        first.computesInputGradient = false
        defer { first.computesInputGradient = previous }
        return try body()
    }
}

extension Sequential: NetworkModel {
    public var denseLayers: [Dense] { layers }
    public var scalarParameters: [ScalarParameter] { [] }
    public var summary: String { sizes.map(String.init).joined(separator: "-") }
}
