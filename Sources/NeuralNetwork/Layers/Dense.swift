import Initializers
import MatrixModule

/// A fully connected layer `Y = f(X·Wᵀ + b)`.
///
/// - Shapes: weight `[out, in]` row-major (PyTorch `nn.Linear` layout: `fanIn = in`,
///   `fanOut = out`), bias `[out]`, input `X` `[batch, in]`, output `[batch, out]`.
/// - Forward: `Z = X·Wᵀ + 1·bᵀ` in one pass (ReLU applied in the same pass), `Y = f(Z)`.
/// - Backward, given `dY`: `dZ = dY ⊙ f′(Z)`, `dW = dZᵀ·X`, `db = Σ_rows dZ`, `dX = dZ·W`.
/// - The products run on `DenseProducts` (the package's packed AVX2+FMA kernel, not
///   `cblas_sgemm`): the weight is packed once after every change (`PackedWeight`, about
///   `2·out·in` more Floats) and each element of `Z`, `dW`, `dX` is one fused-multiply-add chain
///   in index order, so the layer's bytes do not depend on the thread count. The products'
///   columns are split over `BLASBackend.threads` threads (the OpenBLAS setting, read at each
///   call; never changed here) when large enough; batch-split training runs them on 1.
/// - Buffers (`Z`, `Y`, `dZ`, `dX`, gradients) are kept between steps and reallocated only
///   when the batch size changes, so steady-state training allocates nothing per step.
/// - A batch of 0 rows gives empty outputs and zero gradients; `in = 0` gives `Y = f(b)`.
public final class Dense {
    /// Weight `[out, in]`. Any change (assignment, in-place mutation, `withParameter`) makes
    /// the next forward or backward pass pack it again.
    public var weight: Matrix<Float> { didSet { weightVersion &+= 1 } }
    /// Bumped by every change of `weight`; `packedVersion` is the value `packed` was made from.
    private(set) var weightVersion: UInt64 = 0
    private var packedVersion: UInt64?
    /// `weight` packed for `DenseProducts` (current when `packedVersion == weightVersion`).
    private(set) var packed = PackedWeight()
    /// Batch-split replicas: the model's layer whose bias and packed weight this layer's passes
    /// use instead of its own (set by `BatchSplit`, which packs it before each step).
    var parameterSource: Dense?
    /// Threads for the products; nil reads `BLASBackend.threads` at each call.
    var productThreads: Int?
    /// `X` packed for `dW = dZᵀ·X`.
    private var gradientScratch: [Float] = []
    /// Bias `[out]`.
    public var bias: [Float]
    /// The activation applied after the affine map.
    public let activation: Activation
    /// `∂L/∂W` from the last `backward`, `[out, in]`.
    public internal(set) var weightGradient: Matrix<Float>
    /// `∂L/∂b` from the last `backward`, `[out]`.
    public internal(set) var biasGradient: [Float]

    /// Pre-activation `Z` of the last forward pass, `[batch, out]`.
    public private(set) var preactivation: Matrix<Float>
    /// Output `Y = f(Z)` of the last forward pass, `[batch, out]`.
    public private(set) var output: Matrix<Float>
    private var input: Matrix<Float>
    private var outputGradientScratch: Matrix<Float>
    private var inputGradient: Matrix<Float>

    /// Whether `backward` computes `dX = dZ·W` (default true). The first layer of a model being
    /// trained does not need it; skipping it saves a third of that layer's backward flops.
    /// When false, `backward` returns an empty `[batch, 0]` matrix.
    public var computesInputGradient = true

    /// Multiplies the optimizer's learning rate for this layer's weight and bias (default 1;
    /// width-scaled parametrizations such as μP set it per layer).
    public var learningRateScale: Double = 1
    /// Learning-rate multiplier for the bias; `nil` (default) uses `learningRateScale`.
    public var biasLearningRateScale: Double?

    /// How the parameters were initialized, for `summary()`: set by `initialize(with:bias:key:)`
    /// to the weight scheme's name (plus `", bias <name>"` when the bias is not zeros);
    /// data-based methods (LSUV, data-dependent, layer-ratio, MetaInit) append what they did.
    /// `nil` for a layer never initialized through `initialize` (zeros, or set by hand).
    public var initializationLabel: String?

    /// Input features (`fanIn`).
    public var inputSize: Int { weight.columns }
    /// Output features (`fanOut`).
    public var outputSize: Int { weight.rows }

    /// A layer `in → out` with zero weights and bias; initialize with `initialize(with:key:)`.
    public init(inputSize: Int, outputSize: Int, activation: Activation = .identity) {
        precondition(inputSize >= 0 && outputSize >= 0, "Dense sizes must be ≥ 0, got \(inputSize)→\(outputSize)")
        weight = Matrix(rows: outputSize, columns: inputSize)
        bias = [Float](repeating: 0, count: outputSize)
        self.activation = activation
        weightGradient = Matrix(rows: outputSize, columns: inputSize)
        biasGradient = [Float](repeating: 0, count: outputSize)
        preactivation = Matrix(rows: 0, columns: outputSize)
        output = Matrix(rows: 0, columns: outputSize)
        input = Matrix(rows: 0, columns: inputSize)
        outputGradientScratch = Matrix(rows: 0, columns: outputSize)
        inputGradient = Matrix(rows: 0, columns: inputSize)
    }

    /// Fills the weight with `weightInitializer` (as a dense `[out, in]` tensor) and the bias
    /// with `biasInitializer` (default zeros), using `key` for the weight and
    /// `key.folding(in: 1)` for the bias.
    /// - Throws: `InitializationError` from the schemes (e.g. a 1-D bias with a fan-based scheme).
    public func initialize(with weightInitializer: Initializer, bias biasInitializer: Initializer = .zeros, key: RandomKey,
                           threads: Int? = nil) throws(InitializationError) {
        try weightInitializer.fill(&weight, key: key, threads: threads)
        let n = bias.count
        try biasInitializer.fill(&bias, shape: [n], key: key.folding(in: 1), threads: threads)
        let biasName = biasInitializer.name
        initializationLabel = weightInitializer.name + (biasName == "zeros" ? "" : ", bias \(biasName)")
    }

    /// Number of parameters, `out·in + out`.
    public var parameterCount: Int { weight.count + bias.count }

    /// Packs `weight` when it changed since the last packing (`threads` split the panels).
    func packIfNeeded(threads: Int) {
        if packedVersion != weightVersion { packed.pack(weight, threads: threads); packedVersion = weightVersion }
    }

    private var threadsForProducts: Int { productThreads ?? BLASBackend.threads }

    private func ensureBatch(_ batch: Int) {
        if preactivation.rows != batch {
            preactivation = Matrix(rows: batch, columns: outputSize)
            output = Matrix(rows: batch, columns: outputSize)
            outputGradientScratch = Matrix(rows: batch, columns: outputSize)
            inputGradient = Matrix(rows: batch, columns: inputSize)
        }
    }

    /// Forward pass for `x` `[batch, in]`; returns `Y` `[batch, out]` and keeps what backward needs.
    /// - Throws: `MatrixError.shapeMismatch` when `x.columns != in`.
    @discardableResult
    public func forward(_ x: Matrix<Float>) throws(MatrixError) -> Matrix<Float> {
        guard x.columns == inputSize else {
            throw .shapeMismatch(operation: "Dense.forward", lhs: "X \(x.shapeDescription)", rhs: "W \(weight.shapeDescription) (expects X with \(inputSize) columns)")
        }
        ensureBatch(x.rows)
        input = x
        let threads = threadsForProducts
        let source = parameterSource ?? self
        if parameterSource == nil { packIfNeeded(threads: threads) }
        if activation == .relu {
            try DenseProducts.forward(x, source.packed, bias: source.bias, into: &preactivation, relu: &output, threads: threads)
            return output
        }
        try DenseProducts.forward(x, source.packed, bias: source.bias, into: &preactivation, threads: threads)
        let count = preactivation.count
        let act = activation
        preactivation.withUnsafeBufferPointer { z in
            output.withUnsafeMutableBufferPointer { y in
                if count > 0 { act.forward(z.baseAddress!, y.baseAddress!, count: count) }
            }
        }
        return output
    }

    /// Backward pass for `dY` `[batch, out]` (the gradient of the loss with respect to this
    /// layer's output from the last `forward`). Stores `weightGradient`, `biasGradient` and
    /// returns `dX` `[batch, in]`.
    /// - Throws: `MatrixError.shapeMismatch` when `dY` does not match the last output.
    @discardableResult
    public func backward(_ outputGradient: Matrix<Float>) throws(MatrixError) -> Matrix<Float> {
        try backward(outputGradient, preactivationGradientReady: false, gating: nil)
    }

    /// The backward pass, with two fusions `Sequential` uses: `preactivationGradientReady` (the
    /// layer above already wrote `dZ` into this layer's buffer, `outputGradient` is ignored) and
    /// `gating` (a ReLU layer below: `dX` is written, gated by that layer's `Z > 0`, straight into
    /// its `dZ` buffer, and an empty matrix is returned). The values are those of the separate
    /// passes: `g > 0 ? (dZ·W) : +0` is what ReLU's backward computes from `dX`.
    func backward(_ outputGradient: Matrix<Float>, preactivationGradientReady: Bool, gating below: Dense?) throws(MatrixError) -> Matrix<Float> {
        if preactivationGradientReady {
            guard outputGradientScratch.rows == output.rows else {
                throw .shapeMismatch(operation: "Dense.backward", lhs: "dZ \(outputGradientScratch.shapeDescription)", rhs: "Y \(output.shapeDescription)")
            }
            return try finishBackward(gating: below)
        }
        guard outputGradient.rows == output.rows, outputGradient.columns == outputSize else {
            throw .shapeMismatch(operation: "Dense.backward", lhs: "dY \(outputGradient.shapeDescription)", rhs: "Y \(output.shapeDescription)")
        }
        let count = output.count
        let act = activation
        preactivation.withUnsafeBufferPointer { z in
            output.withUnsafeBufferPointer { y in
                outputGradient.withUnsafeBufferPointer { dy in
                    outputGradientScratch.withUnsafeMutableBufferPointer { dz in
                        if count > 0 { act.backward(z: z.baseAddress!, y: y.baseAddress!, dy: dy.baseAddress!, dz: dz.baseAddress!, count: count) }
                    }
                }
            }
        }
        return try finishBackward(gating: below)
    }

    /// `dW`, `db` and `dX` from `dZ` in `outputGradientScratch` (see `backward(_:preactivationGradientReady:gating:)`).
    private func finishBackward(gating below: Dense?) throws(MatrixError) -> Matrix<Float> {
        let threads = threadsForProducts
        try DenseProducts.weightGradient(outputGradientScratch, input, into: &weightGradient, scratch: &gradientScratch, threads: threads)
        outputGradientScratch.columnSums(into: &biasGradient)
        guard computesInputGradient else { return Matrix(rows: outputGradientScratch.rows, columns: 0) }
        let source = parameterSource ?? self
        if parameterSource == nil { packIfNeeded(threads: threads) }
        if let below {
            guard below.activation == .relu, below.outputSize == inputSize, below.preactivation.rows == outputGradientScratch.rows else {
                throw .shapeMismatch(operation: "Dense.backward (fused ReLU gate)", lhs: "dZ \(outputGradientScratch.shapeDescription)",
                                     rhs: "Z below \(below.preactivation.shapeDescription)")
            }
            if below.outputGradientScratch.rows != below.preactivation.rows { below.outputGradientScratch = Matrix(rows: below.preactivation.rows, columns: below.outputSize) }
            try DenseProducts.inputGradient(outputGradientScratch, source.packed, reluGate: below.preactivation, into: &below.outputGradientScratch, threads: threads)
            return Matrix(rows: outputGradientScratch.rows, columns: 0)
        }
        try DenseProducts.inputGradient(outputGradientScratch, source.packed, into: &inputGradient, threads: threads)
        return inputGradient
    }

    /// `dZ = dY ⊙ f′(Z)` from the last backward pass, `[batch, out]`.
    public var preactivationGradient: Matrix<Float> { outputGradientScratch }
}
