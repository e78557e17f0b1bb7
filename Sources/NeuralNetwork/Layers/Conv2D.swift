import Initializers
import MatrixModule

/// Zero padding of a 2-D convolution or pooling window.
public enum Padding2D: Sendable, Hashable, Codable, CustomStringConvertible {
    /// `top = bottom = height`, `left = right = width` zeros (PyTorch `padding=(h, w)`).
    case explicit(height: Int, width: Int)
    /// "same": output `⌈H/stride⌉ × ⌈W/stride⌉`. Total padding per axis
    /// `max((out − 1)·stride + dilation·(k − 1) + 1 − in, 0)`, `⌊total/2⌋` before and the rest
    /// after (TensorFlow/Keras `padding="same"`; with stride 1 this is PyTorch's `padding="same"`,
    /// which also puts the odd zero after).
    case same
    /// No padding (PyTorch `padding=0`, Keras `"valid"`).
    public static let valid = Padding2D.explicit(height: 0, width: 0)
    /// `p` zeros on every side.
    public static func symmetric(_ p: Int) -> Padding2D { .explicit(height: p, width: p) }

    public var description: String {
        switch self {
        case .same: return "same"
        case let .explicit(h, w): return h == w ? "\(h)" : "(\(h),\(w))"
        }
    }

    /// `(before, after)` zeros along an axis of `size` for a window `kernel`, `stride`, `dilation`.
    func amounts(size: Int, kernel: Int, stride: Int, dilation: Int, axisIsHeight: Bool) -> (Int, Int) {
        switch self {
        case let .explicit(h, w): let p = axisIsHeight ? h : w; return (p, p)
        case .same:
            let out = (size + stride - 1) / stride
            let total = max((out - 1) * stride + dilation * (kernel - 1) + 1 - size, 0)
            return (total / 2, total - total / 2)
        }
    }
}

/// Geometry shared by convolution and pooling: input `C×H×W`, window `kh×kw`, stride,
/// dilation and padding, and the output size
/// `OH = ⌊(H + top + bottom − dh·(kh − 1) − 1)/sh⌋ + 1` (PyTorch's formula; likewise `OW`).
public struct WindowGeometry: Sendable, Hashable, Codable {
    public var channels: Int, height: Int, width: Int
    public var kernelHeight: Int, kernelWidth: Int
    public var strideHeight: Int, strideWidth: Int
    public var dilationHeight: Int, dilationWidth: Int
    public var padTop: Int, padBottom: Int, padLeft: Int, padRight: Int
    public var outputHeight: Int, outputWidth: Int

    /// - Throws: `TrainingError.invalidHyperparameter` naming the value and the rule: sizes
    ///   < 1, stride or dilation < 1, negative padding, padding larger than half the
    ///   (dilated) window when `maxPadHalfKernel` (PyTorch's pooling rule), or an empty output
    ///   (the dilated window larger than the padded input).
    init(channels: Int, height: Int, width: Int, kernel: (Int, Int), stride: (Int, Int), dilation: (Int, Int),
         padding: Padding2D, layer: String, maxPadHalfKernel: Bool = false) throws {
        func bad(_ name: String, _ v: Int, _ rule: String) -> TrainingError {
            .invalidHyperparameter(name: "\(layer) \(name)", value: Double(v), rule: rule)
        }
        for (n, v) in [("channels", channels), ("input height", height), ("input width", width),
                       ("kernel height", kernel.0), ("kernel width", kernel.1)] where v < 1 { throw bad(n, v, "must be ≥ 1") }
        for (n, v) in [("stride", stride.0), ("stride", stride.1), ("dilation", dilation.0), ("dilation", dilation.1)] where v < 1 {
            throw bad(n, v, "must be ≥ 1")
        }
        for (n, v) in [("input size", height), ("input size", width), ("kernel size", kernel.0), ("kernel size", kernel.1)] where v > 1 << 20 {
            throw bad(n, v, "must be ≤ 2^20")
        }
        if case let .explicit(h, w) = padding {
            for v in [h, w] where v < 0 || v > 1 << 20 { throw bad("padding", v, "must be in 0...2^20") }
            if maxPadHalfKernel {
                if h > kernel.0 / 2 { throw bad("padding", h, "must be ≤ half the kernel height (\(kernel.0))") }
                if w > kernel.1 / 2 { throw bad("padding", w, "must be ≤ half the kernel width (\(kernel.1))") }
            }
        }
        self.channels = channels; self.height = height; self.width = width
        kernelHeight = kernel.0; kernelWidth = kernel.1
        strideHeight = stride.0; strideWidth = stride.1
        dilationHeight = dilation.0; dilationWidth = dilation.1
        (padTop, padBottom) = padding.amounts(size: height, kernel: kernel.0, stride: stride.0, dilation: dilation.0, axisIsHeight: true)
        (padLeft, padRight) = padding.amounts(size: width, kernel: kernel.1, stride: stride.1, dilation: dilation.1, axisIsHeight: false)
        let spanH = dilation.0 * (kernel.0 - 1) + 1, spanW = dilation.1 * (kernel.1 - 1) + 1
        let paddedH = height + padTop + padBottom, paddedW = width + padLeft + padRight
        guard spanH <= paddedH else { throw bad("dilated kernel height", spanH, "must be ≤ the padded input height \(paddedH)") }
        guard spanW <= paddedW else { throw bad("dilated kernel width", spanW, "must be ≤ the padded input width \(paddedW)") }
        outputHeight = (paddedH - spanH) / stride.0 + 1
        outputWidth = (paddedW - spanW) / stride.1 + 1
        let (_, o1) = channels.multipliedReportingOverflow(by: height * width)
        if o1 { throw bad("input elements", channels, "C·H·W must fit in Int") }
    }

    /// Output positions per channel, `OH·OW`.
    public var outputPlane: Int { outputHeight * outputWidth }
    /// Input positions per channel, `H·W`.
    public var inputPlane: Int { height * width }

    /// For output column `ow` and kernel column `kj`, the input column is
    /// `ow·sw − left + kj·dw`; returns the range of `ow` for which it lies in `0..<W`.
    @inline(__always) func validColumns(_ kj: Int) -> Range<Int> {
        validRange(offset: kj * dilationWidth - padLeft, stride: strideWidth, size: width, count: outputWidth)
    }
    @inline(__always) func validRows(_ ki: Int) -> Range<Int> {
        validRange(offset: ki * dilationHeight - padTop, stride: strideHeight, size: height, count: outputHeight)
    }
    /// `{o in 0..<count : 0 ≤ o·stride + offset < size}`.
    @inline(__always) func validRange(offset: Int, stride: Int, size: Int, count: Int) -> Range<Int> {
        // o·s + off ≥ 0  ⇔  o ≥ ⌈−off/s⌉;  o·s + off ≤ size − 1  ⇔  o ≤ ⌊(size − 1 − off)/s⌋
        let lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride
        let top = size - 1 - offset
        let hi = top < 0 ? -1 : top / stride
        let a = min(lo, count), b = min(max(hi + 1, a), count)
        return a..<b
    }
}

/// How `Conv2D` computes its products.
public enum ConvolutionAlgorithm: String, Sendable, Hashable, Codable, CaseIterable {
    /// `.direct` when a group's reduction length `(C/G)·kh·kw` is at most
    /// `Conv2D.directReductionLimit` (32: a first layer on grey or RGB images, depthwise layers),
    /// `.im2col` otherwise.
    case automatic
    /// im2col/col2im in blocks of samples (about 2 MiB of `col` per block), the blocks run side
    /// by side on the layer's threads, each with one single-threaded `SerialGEMM` product per
    /// group, block and product (no BLAS call).
    case im2col
    /// SIMD loops over zero-padded planes, one sample per task, no BLAS: for small reductions,
    /// where a `[O/G, K] · [K, N·OH·OW]` product with tiny `K` is memory-bound in BLAS.
    case direct
}

/// A 2-D convolution `Y = f(W ⋆ X + b)` (PyTorch `nn.Conv2d`, cross-correlation as every
/// framework computes it), by im2col + `cblas_sgemm` or by direct SIMD loops (`algorithm`).
///
/// - Layout: activations NCHW, one sample per row of the batch matrix (`columns = C·H·W`);
///   weight OIHW `[out, in/groups, kh, kw]`, stored as a `Matrix` `[out, (in/groups)·kh·kw]`
///   (the same bytes); bias `[out]`.
/// - `Z[n, o, i, j] = b[o] + Σ_{c, ki, kj} W[o, c, ki, kj] · X[n, g·C/G + c, i·sh − top + ki·dh, j·sw − left + kj·dw]`
///   with `g = ⌊o/(O/G)⌋` the group of output channel `o`, and zeros outside the input.
/// - Both algorithms first copy each input plane into a zero-padded plane `(H + top + bottom) ×
///   (W + left + right)` (the borders are written once, at allocation).
/// - im2col, in blocks of `B` samples (`K·B·P` Floats of `col` about 2 MiB, `K = (C/G)·kh·kw`,
///   `P = OH·OW`; `B` depends only on the shapes). Each block is one task for the layer's
///   threads (handed out in order to whichever is free), computed entirely by that thread in its
///   own buffers with single-threaded products (`SerialGEMM`, the package's packed AVX2 kernel:
///   its bytes depend only on its inputs). Forward per block and group `g`: the block's planes
///   padded, `col_g` `[K, B·P]` and `Z_g = W_g · col_g` `[O/G, B·P]`, then the block moved to NCHW
///   with the bias and the activation in one pass. Backward per block: `dZ = dY ⊙ f′(Z)` written
///   channel-major within the block `[O][B·P]` with each (sample, channel)'s sum for `db`, the
///   block's `col_g` again (recomputed rather than kept: `B·K·P` instead of `N·K·P` Floats), the
///   block's own `dW_g = dZ_g · col_gᵀ`, `dcol_g = W_gᵀ · dZ_g` and col2im into `dX`; the blocks'
///   `dW` are added in block order, `((dW₀ + dW₁) + dW₂) + …` per element.
/// - direct, per sample: each output is `Σ_q W[o, q]·P[q-th tap]` in tap order `q = (c·kh + ki)·kw
///   + kj` (8 outputs per SIMD step), then `+ b`; `dW[o, q]` is the sum over samples (in sample
///   order, in Double) of each sample's dot product of `dZ` with the shifted padded plane;
///   `dX` accumulates `W[o, q]·dZ` into a padded plane per input channel (output channels, then
///   taps, in order) and is cropped.
/// - Both algorithms run on `min(BLASBackend.threads, cores)` threads over independent blocks,
///   samples, channels or rows, so the bytes do not depend on the thread count (nor on
///   OpenBLAS's: the im2col path calls no BLAS); the two algorithms round differently (sum
///   orders differ), each deterministically.
/// - Buffers (padded input, per-thread `col`, product and packing blocks, per-block `dW`, `Z`, `Y`, `dZ`, `dX`, per-thread scratch) are reallocated
///   only when the batch size, the algorithm or the thread count changes: steady-state training
///   allocates nothing per step.
/// - Fans (`Fans(shape: [O, C/G, kh, kw], groups: G)`): fan_in `(C/G)·kh·kw`,
///   fan_out `(O/G)·kh·kw` (group-aware; PyTorch's shape-only rule uses `O·kh·kw`).
public final class Conv2D: Layer {
    /// Input channels `C`, output channels `O`, groups `G`.
    public let inputChannels: Int, outputChannels: Int, groups: Int
    /// Window, stride, dilation, resolved padding and output size.
    public let geometry: WindowGeometry
    /// The padding as requested.
    public let padding: Padding2D
    /// The activation applied after the convolution (default identity).
    public let activation: Activation
    /// Weight OIHW `[out, in/groups, kh, kw]`, as a matrix `[out, (in/groups)·kh·kw]`.
    public var weight: Matrix<Float>
    /// Bias `[out]`.
    public var bias: [Float]
    /// `∂L/∂W` from the last `backward`, same layout as `weight`.
    public internal(set) var weightGradient: Matrix<Float>
    /// `∂L/∂b` from the last `backward`.
    public internal(set) var biasGradient: [Float]
    /// Pre-activation `Z` of the last forward pass, `[batch, O·OH·OW]` (NCHW).
    public private(set) var preactivation = Matrix<Float>(rows: 0, columns: 0)
    /// Output `Y = f(Z)` of the last forward pass, `[batch, O·OH·OW]` (NCHW).
    public private(set) var output = Matrix<Float>(rows: 0, columns: 0)
    /// Whether `backward` computes `dX` (default true; see `Dense.computesInputGradient`).
    public var computesInputGradient = true
    /// Multiplies the optimizer's learning rate for the weight and the bias (default 1).
    public var learningRateScale: Double = 1

    /// Which algorithm computes the products (default `.automatic`; see `ConvolutionAlgorithm`).
    /// Set it before a forward pass; `backward` uses the algorithm of the last forward.
    public var algorithm: ConvolutionAlgorithm = .automatic
    /// `.automatic` picks `.direct` when `(C/G)·kh·kw ≤ directReductionLimit` (32).
    public static let directReductionLimit = 32

    /// The algorithm `forward` runs: `algorithm`, with `.automatic` resolved.
    public var resolvedAlgorithm: ConvolutionAlgorithm {
        switch algorithm {
        case .automatic: return weight.columns <= Conv2D.directReductionLimit ? .direct : .im2col
        case .im2col, .direct: return algorithm
        }
    }

    /// Threads for the layer's work (the im2col path's blocks with their products, padding,
    /// im2col, col2im, layout changes; the direct loops); nil (default) uses
    /// `min(BLASBackend.threads, active processors)`. Values below 1 count as 1. The bytes of
    /// every result are the same for any value (work is split over independent blocks,
    /// samples, channels or rows). OpenBLAS's own thread count is never changed.
    public var threads: Int?

    private var batch = -1
    private var allocated: (batch: Int, algorithm: ConvolutionAlgorithm, workers: Int, blockBytes: Int, partialLimit: Int) = (-1, .automatic, 0, 0, 0)
    private var lastAlgorithm: ConvolutionAlgorithm = .im2col
    private var padded: [Float] = []         // [N][C][planeStride], zero borders
    private var colBlock: [Float] = []       // im2col: [slots][colStride]: [K][B·P] of one group and block; dcol in backward
    private var productBlock: [Float] = []   // im2col: [slots][O·B·P], Z of a block before the move to NCHW
    private var gemmWorkspace: [Float] = []  // im2col: [slots][workspaceStride], SerialGEMM's packed panels
    private var weightPartials: [Float] = [] // im2col: [wave][O·K], dW of each block of a wave
    private var channelMajorGradient: [Float] = []   // im2col: dZ per block, [block][O][B·P] (channel-major within a block)
    private var biasPartials: [Float] = []   // im2col: Σ_i dZ per (sample, channel), [N][O]
    private var directGradient: [Float] = [] // direct: dZ [N][O][OH·accW] (columns ≥ OW stay 0)
    private var partials: [Float] = []       // direct: per-sample dW, db [N][O·K + O]
    private var scratch: [Float] = []        // [workers][scratchStride]: direct; im2col with stride 1 (col2im accumulator)
    /// im2col: per-slot strides of `colBlock`, `productBlock`, `gemmWorkspace`; blocks per wave of `weightPartials`.
    private var colStride = 0, productStride = 0, workspaceStride = 0, partialWave = 0
    /// Hands the im2col blocks to the layer threads (reused: nothing allocated per step).
    private let blockQueue = LayerThreads.ItemQueue()
    private var inputGradient = Matrix<Float>(rows: 0, columns: 0)
    /// Padded plane `Hp × Wp` plus slack so a shifted flat run of `OH·Wp` elements stays inside.
    private let paddedHeight: Int, paddedWidth: Int, planeStride: Int
    /// Accumulator row length of the direct path (`Wp` when both strides are 1, else `OW`).
    private let accumulatorWidth: Int
    /// Tap offsets in a group's padded planes: `c·planeStride + ki·dh·Wp + kj·dw`, `q = (c·kh + ki)·kw + kj`.
    private let tapOffsets: [Int]

    /// A convolution `inputChannels → outputChannels` over `inputHeight × inputWidth` images,
    /// zero weights and bias (initialize with `initialize(with:key:)`).
    /// - Parameters: `kernelSize` `(kh, kw)`; `stride` and `dilation` default `(1, 1)`; `padding`
    ///   default `.valid`; `groups` default 1 (`groups == inputChannels == outputChannels` is
    ///   depthwise).
    /// - Throws: `TrainingError.invalidHyperparameter` for sizes < 1, groups not dividing both
    ///   channel counts, negative padding, a dilated kernel larger than the padded input, or an
    ///   element count that overflows.
    public init(inputChannels: Int, outputChannels: Int, kernelSize: (Int, Int), stride: (Int, Int) = (1, 1),
                padding: Padding2D = .valid, dilation: (Int, Int) = (1, 1), groups: Int = 1,
                activation: Activation = .identity, inputHeight: Int, inputWidth: Int) throws {
        guard outputChannels >= 1 else { throw TrainingError.invalidHyperparameter(name: "Conv2D output channels", value: Double(outputChannels), rule: "must be ≥ 1") }
        guard groups >= 1 else { throw TrainingError.invalidHyperparameter(name: "Conv2D groups", value: Double(groups), rule: "must be ≥ 1") }
        geometry = try WindowGeometry(channels: inputChannels, height: inputHeight, width: inputWidth, kernel: kernelSize,
                                      stride: stride, dilation: dilation, padding: padding, layer: "Conv2D")
        guard inputChannels % groups == 0, outputChannels % groups == 0 else {
            throw TrainingError.invalidHyperparameter(name: "Conv2D groups", value: Double(groups),
                                                      rule: "must divide the input channels (\(inputChannels)) and the output channels (\(outputChannels))")
        }
        let k = (inputChannels / groups) * kernelSize.0 * kernelSize.1
        let (wc, o1) = outputChannels.multipliedReportingOverflow(by: k)
        let (oc, o2) = outputChannels.multipliedReportingOverflow(by: geometry.outputPlane)
        guard !o1, !o2, wc <= 1 << 31, oc <= 1 << 31 else {
            throw TrainingError.invalidHyperparameter(name: "Conv2D weight elements", value: Double(outputChannels) * Double(k), rule: "weight and per-sample output must each have ≤ 2^31 elements")
        }
        self.inputChannels = inputChannels; self.outputChannels = outputChannels; self.groups = groups
        self.padding = padding; self.activation = activation
        weight = Matrix(rows: outputChannels, columns: k)
        weightGradient = Matrix(rows: outputChannels, columns: k)
        bias = [Float](repeating: 0, count: outputChannels)
        biasGradient = [Float](repeating: 0, count: outputChannels)
        let g = geometry
        paddedHeight = g.height + g.padTop + g.padBottom
        paddedWidth = g.width + g.padLeft + g.padRight
        let (area, o3) = paddedHeight.multipliedReportingOverflow(by: paddedWidth)
        guard !o3, area <= 1 << 40 else {
            throw TrainingError.invalidHyperparameter(name: "Conv2D padded input elements", value: Double(paddedHeight) * Double(paddedWidth), rule: "must fit in 2^40")
        }
        planeStride = area + (g.kernelWidth - 1) * g.dilationWidth + 8
        accumulatorWidth = g.strideHeight == 1 && g.strideWidth == 1 ? paddedWidth : g.outputWidth
        var offsets: [Int] = []
        for c in 0..<(inputChannels / groups) {
            for ki in 0..<g.kernelHeight {
                for kj in 0..<g.kernelWidth { offsets.append(c * planeStride + ki * g.dilationHeight * paddedWidth + kj * g.dilationWidth) }
            }
        }
        tapOffsets = offsets
    }

    /// Square-kernel convenience: `kernelSize: k`, `stride: s`, `padding`, `dilation: d`.
    public convenience init(inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int = 1, padding: Padding2D = .valid,
                            dilation: Int = 1, groups: Int = 1, activation: Activation = .identity,
                            inputHeight: Int, inputWidth: Int) throws {
        try self.init(inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: (kernelSize, kernelSize),
                      stride: (stride, stride), padding: padding, dilation: (dilation, dilation), groups: groups,
                      activation: activation, inputHeight: inputHeight, inputWidth: inputWidth)
    }

    /// The weight's OIHW shape `[out, in/groups, kh, kw]`.
    public var weightShape: [Int] { [outputChannels, inputChannels / groups, geometry.kernelHeight, geometry.kernelWidth] }
    /// fan_in and fan_out from the OIHW shape with the layer's groups (group-aware).
    public var fans: Fans { try! Fans(shape: weightShape, groups: groups) }
    /// `[C, H, W]`.
    public var inputShape: [Int] { [inputChannels, geometry.height, geometry.width] }
    /// `[O, OH, OW]`.
    public var outputShape: [Int] { [outputChannels, geometry.outputHeight, geometry.outputWidth] }
    /// Number of parameters, `O·(C/G)·kh·kw + O`.
    public var parameterCount: Int { weight.count + bias.count }

    /// Fills the weight with `weightInitializer` as an OIHW tensor with the layer's groups (so
    /// variance-scaling schemes use the group-aware fans) and the bias with `biasInitializer`
    /// (default zeros), keys `key` and `key.folding(in: 1)` as `Dense`. `.dirac` is applied with
    /// the layer's groups whatever groups it names (each group's channels pass through), so a
    /// dirac layer with `C ≤ O` is the identity on its first channels.
    /// - Throws: `InitializationError` (e.g. delta-orthogonal with `C/G > O`).
    public func initialize(with weightInitializer: Initializer, bias biasInitializer: Initializer = .zeros, key: RandomKey,
                           threads: Int? = nil) throws(InitializationError) {
        var scheme = weightInitializer
        if case .dirac = scheme { scheme = .dirac(groups: groups) }
        let shape = weightShape, g = groups
        try weight.withUnsafeMutableBufferPointer { (p) throws(InitializationError) in
            try scheme.fill(p, shape: shape, groups: g, key: key, threads: threads)
        }
        try biasInitializer.fill(&bias, shape: [outputChannels], key: key.folding(in: 1), threads: threads)
        let biasName = biasInitializer.name
        initializationLabel = weightInitializer.name + (biasName == "zeros" ? "" : ", bias \(biasName)")
    }

    /// How the parameters were initialized, for `summary()` (as `Dense.initializationLabel`): set
    /// by `initialize(with:bias:key:)` to the weight scheme's name (plus `", bias <name>"` when
    /// the bias is not zeros); data-based methods append what they did. `nil` for a layer never
    /// initialized through `initialize` (zeros, or set by hand).
    public var initializationLabel: String?

    // MARK: Layer

    public var parameterSlots: [ParameterSlot] {
        [ParameterSlot(name: "weight", shape: weightShape, decays: true, learningRateScale: learningRateScale),
         ParameterSlot(name: "bias", shape: [outputChannels], decays: false, learningRateScale: learningRateScale)]
    }
    public func withParameter<R, E: Error>(_ slot: Int, _ body: (UnsafeMutableBufferPointer<Float>, UnsafeMutableBufferPointer<Float>) throws(E) -> R) throws(E) -> R {
        precondition(slot == 0 || slot == 1, "Conv2D has parameter slots 0 (weight) and 1 (bias), got \(slot)")
        if slot == 0 {
            return try weight.withUnsafeMutableBufferPointer { (w) throws(E) -> R in
                try weightGradient.withUnsafeMutableBufferPointer { (g) throws(E) -> R in try body(w, g) }
            }
        }
        return try bias.withUnsafeMutableBufferPointer { (w) throws(E) -> R in
            try biasGradient.withUnsafeMutableBufferPointer { (g) throws(E) -> R in try body(w, g) }
        }
    }
    /// 2 (`Conv2d` + the activation module) unless the activation is identity.
    public var torchModuleCount: Int { activation == .identity ? 1 : 2 }
    public var layerDescription: String {
        let g = geometry
        var s = "Conv2D \(inputChannels)→\(outputChannels) \(g.kernelHeight)×\(g.kernelWidth)"
        s += g.strideHeight == g.strideWidth ? " s\(g.strideHeight)" : " s(\(g.strideHeight),\(g.strideWidth))"
        if case .same = padding { s += " same" } else { s += " p\(padding)" }   // "p1", "p(1,2)", "same"
        if g.dilationHeight != 1 || g.dilationWidth != 1 { s += " d(\(g.dilationHeight),\(g.dilationWidth))" }
        if groups != 1 { s += " g\(groups)" }
        return s + (activation == .identity ? "" : ", \(activation.name)")
    }

    /// Per-thread scratch floats: one accumulator plane, one padded plane (+ 8 slack) or one output plane.
    private var scratchStride: Int { max(geometry.outputHeight * accumulatorWidth, planeStride, geometry.outputPlane) }

    private func ensureBuffers(_ n: Int, _ alg: ConvolutionAlgorithm, _ workers: Int) {
        guard allocated.batch != n || allocated.algorithm != alg || allocated.workers != workers
                || allocated.blockBytes != im2colBlockBytes || allocated.partialLimit != weightPartialLimit else { return }
        allocated = (n, alg, workers, im2colBlockBytes, weightPartialLimit)
        batch = n
        let g = geometry, np = n * g.outputPlane, k = weight.columns, o = outputChannels
        padded = [Float](repeating: 0, count: n * inputChannels * planeStride)
        preactivation = Matrix(rows: n, columns: o * g.outputPlane)
        output = Matrix(rows: n, columns: o * g.outputPlane)
        inputGradient = Matrix(rows: n, columns: inputChannels * g.inputPlane)
        if alg == .im2col {
            let plan = Conv2D.im2colPlan(batch: n, outputChannels: o, reduction: k, groups: groups, outputPlane: g.outputPlane, workers: workers,
                                         blockBytes: im2colBlockBytes, partialLimit: weightPartialLimit)
            colStride = plan.colStride; productStride = plan.productStride; workspaceStride = plan.workspaceStride
            partialWave = plan.wave
            colBlock = [Float](repeating: 0, count: plan.slots * colStride)
            productBlock = [Float](repeating: 0, count: plan.slots * productStride)
            gemmWorkspace = [Float](repeating: 0, count: plan.slots * workspaceStride)
            weightPartials = [Float](repeating: 0, count: plan.wave * o * k)
            channelMajorGradient = [Float](repeating: 0, count: o * np)
            biasPartials = [Float](repeating: 0, count: n * o)
            directGradient = []; partials = []
            scratch = g.strideHeight == 1 && g.strideWidth == 1 ? [Float](repeating: 0, count: workers * scratchStride) : []
        } else {
            colBlock = []; productBlock = []; gemmWorkspace = []; weightPartials = []; channelMajorGradient = []; biasPartials = []
            directGradient = [Float](repeating: 0, count: n * o * g.outputHeight * accumulatorWidth)
            partials = [Float](repeating: 0, count: n * (o * k + o))
            scratch = [Float](repeating: 0, count: workers * scratchStride)
        }
        gradientValid = false
    }
    private var gradientValid = false

    /// Forward pass on `x` `[batch, C·H·W]` (NCHW); returns `[batch, O·OH·OW]`.
    /// - Throws: `MatrixError.shapeMismatch` when `x.columns != C·H·W`.
    @discardableResult
    public func forward(_ x: Matrix<Float>) throws(MatrixError) -> Matrix<Float> {
        let g = geometry
        guard x.columns == inputChannels * g.inputPlane else {
            throw .shapeMismatch(operation: "Conv2D.forward", lhs: "X \(x.shapeDescription)",
                                 rhs: "expects \(inputChannels)×\(g.height)×\(g.width) = \(inputChannels * g.inputPlane) columns")
        }
        let n = x.rows, alg = resolvedAlgorithm, workers = max(1, threads ?? LayerThreads.workers)
        ensureBuffers(n, alg, workers)
        lastAlgorithm = alg
        gradientValid = false
        if n == 0 { return output }
        if alg == .direct {
            let ps = planeStride, wp = paddedWidth
            x.withUnsafeBufferPointer { xp in
                padded.withUnsafeMutableBufferPointer { pp in
                    Conv2D.pad(SharedBuffer(xp.baseAddress!), SharedBuffer(pp.baseAddress!), g, planes: n * inputChannels,
                               planeStride: ps, paddedWidth: wp, workers: workers)
                }
            }
            directForward(n, workers)
        } else {
            try im2colForward(x, n, workers)
        }
        return output
    }

    /// Backward pass for `dY` `[batch, O·OH·OW]`; stores `weightGradient` and `biasGradient` and
    /// returns `dX` `[batch, C·H·W]` (or `[batch, 0]` when `computesInputGradient` is false).
    /// - Throws: `MatrixError.shapeMismatch` when `dY` does not match the last output.
    @discardableResult
    public func backward(_ outputGradient: Matrix<Float>) throws(MatrixError) -> Matrix<Float> {
        guard outputGradient.rows == output.rows, outputGradient.columns == output.columns, batch >= 0 else {
            throw .shapeMismatch(operation: "Conv2D.backward", lhs: "dY \(outputGradient.shapeDescription)", rhs: "Y \(output.shapeDescription)")
        }
        let n = batch
        if n == 0 {
            weightGradient.fill(with: 0)
            for i in 0..<biasGradient.count { biasGradient[i] = 0 }
            return computesInputGradient ? inputGradient : Matrix(rows: 0, columns: 0)
        }
        let workers = allocated.workers
        if lastAlgorithm == .direct { directBackward(outputGradient, n, workers) } else { try im2colBackward(outputGradient, n, workers) }
        gradientValid = true
        return computesInputGradient ? inputGradient : Matrix(rows: n, columns: 0)
    }

    /// `dZ = dY ⊙ f′(Z)` of the last backward pass, `[batch, O·OH·OW]` (NCHW), assembled on
    /// request from the layer's internal layout; zeros until a backward pass follows the last
    /// forward pass.
    public var preactivationGradient: Matrix<Float> {
        let n = max(batch, 0), o = outputChannels, p = geometry.outputPlane, oh = geometry.outputHeight, ow = geometry.outputWidth
        var m = Matrix<Float>(rows: n, columns: o * p)
        guard n > 0, gradientValid else { return m }
        let accW = accumulatorWidth, direct = lastAlgorithm == .direct, block = direct ? 1 : im2colBlock(n)
        let source = direct ? directGradient : channelMajorGradient
        source.withUnsafeBufferPointer { src in
            m.withUnsafeMutableBufferPointer { dst in
                for s in 0..<n {
                    let s0 = s / block * block, ld = min(block, n - s0) * p
                    for c in 0..<o {
                        for i in 0..<oh {
                            for j in 0..<ow {
                                dst[(s * o + c) * p + i * ow + j] = direct ? src[(s * o + c) * oh * accW + i * accW + j]
                                    : src[s0 * o * p + c * ld + (s - s0) * p + i * ow + j]
                            }
                        }
                    }
                }
            }
        }
        return m
    }

    // MARK: im2col path

    /// Forward, one block of `B` samples (`im2colBlock`) per task, blocks handed to the layer's
    /// threads as they become free; each block is computed by one thread with its own buffers
    /// (so the block's padded planes, `col` and product stay in that core's cache): the block's
    /// planes are padded, then per group `col_g` `[K, B·P]` (im2col) and `Z_g = W_g · col_g`
    /// `[O/G, B·P]` (`SerialGEMM`, single-threaded, bytes independent of the thread), then the
    /// block is moved to NCHW with the bias and the activation.
    private func im2colForward(_ x: Matrix<Float>, _ n: Int, _ workers: Int) throws(MatrixError) {
        let g = geometry, p = g.outputPlane, k = weight.columns, cg = inputChannels / groups, og = outputChannels / groups
        let o = outputChannels, cin = inputChannels, ps = planeStride, wpad = paddedWidth, act = activation
        let block = im2colBlock(n), groups = self.groups, blocks = (n + block - 1) / block
        let cs = colStride, zs = productStride, wss = workspaceStride, hw = g.inputPlane
        try x.withUnsafeBufferPointer { (xb) throws(MatrixError) in
        try padded.withUnsafeMutableBufferPointer { (pb) throws(MatrixError) in
        try tapOffsets.withUnsafeBufferPointer { (tb) throws(MatrixError) in
        try colBlock.withUnsafeMutableBufferPointer { (cb) throws(MatrixError) in
        try productBlock.withUnsafeMutableBufferPointer { (zbk) throws(MatrixError) in
        try gemmWorkspace.withUnsafeMutableBufferPointer { (wsb) throws(MatrixError) in
        try weight.withUnsafeBufferPointer { (wb) throws(MatrixError) in
        try bias.withUnsafeBufferPointer { (bb) throws(MatrixError) in
        try preactivation.withUnsafeMutableBufferPointer { (zb) throws(MatrixError) in
        try output.withUnsafeMutableBufferPointer { (yb) throws(MatrixError) in
            let X = SharedBuffer(xb.baseAddress!), P = SharedBuffer(pb.baseAddress!), T = SharedBuffer(tb.baseAddress!)
            let C = SharedBuffer(cb.baseAddress!), ZB = SharedBuffer(zbk.baseAddress!), WS = SharedBuffer(wsb.baseAddress!)
            let W = SharedBuffer(wb.baseAddress!), B = SharedBuffer(bb.baseAddress!)
            let Z = SharedBuffer(zb.baseAddress!), Y = SharedBuffer(yb.baseAddress!)
            try LayerThreads.forEachItem(blocks, workers: workers, queue: blockQueue) { (slot, bi) throws(MatrixError) in
                let s0 = bi * block, count = min(block, n - s0), ld = count * p
                let col = C + slot * cs, prod = ZB + slot * zs, ws = UnsafeMutableBufferPointer(start: WS + slot * wss, count: wss)
                Conv2D.pad(SharedBuffer(X + s0 * cin * hw), SharedBuffer(P + s0 * cin * ps), g, planes: count * cin,
                           planeStride: ps, paddedWidth: wpad, workers: 1)
                for grp in 0..<groups {
                    Conv2D.im2col(P, SharedBuffer(col), T, g, samples: s0..<(s0 + count), firstChannel: grp * cg, rows: k,
                                  planeStride: ps, paddedWidth: wpad, workers: 1)
                    // Z_g [og, count·P] = W_g [og, K] · col_g [K, count·P]
                    try SerialGEMM.sgemm(m: og, n: ld, k: k, a: UnsafeBufferPointer(start: W + grp * og * k, count: og * k), lda: max(k, 1),
                                         b: UnsafeBufferPointer(start: col, count: k * ld), ldb: ld,
                                         c: UnsafeMutableBufferPointer(start: prod + grp * og * ld, count: og * ld), ldc: ld, workspace: ws)
                }
                // [O][count·P] → NCHW with the bias, then the activation.
                for ls in 0..<count {
                    for c in 0..<o {
                        let s = s0 + ls, from = prod + c * ld + ls * p, to = Z + (s * o + c) * p, bc = B[c]
                        for i in 0..<p { to[i] = from[i] + bc }
                        act.forward(to, Y + (s * o + c) * p, count: p)
                    }
                }
            }
        }}}}}}}}}}
    }

    /// Backward, one block of `B` samples per task as in forward: `dZ = dY ⊙ f′(Z)` of the block
    /// written channel-major within the block (`[O][B·P]`) with each (sample, channel)'s Float
    /// sum for `db`; then per group im2col of the block again (from the padded planes kept by
    /// forward), the block's own `dW_g = dZ_g · col_gᵀ` (`SerialGEMM`, β = 0), `dcol_g = W_gᵀ · dZ_g`
    /// written over `col`, and col2im of the block into `dX`. The blocks' `dW` are then added in
    /// block order, `((dW₀ + dW₁) + dW₂) + …` per element (in waves of `partialWave` blocks when
    /// they do not all fit), and `db[c] = Σ_s Double(Σ_i dZ[s, c, i])` in sample order: no sum
    /// depends on the thread count or on which thread ran a block.
    private func im2colBackward(_ outputGradient: Matrix<Float>, _ n: Int, _ workers: Int) throws(MatrixError) {
        let g = geometry, p = g.outputPlane, k = weight.columns, o = outputChannels
        let cg = inputChannels / groups, og = o / groups, act = activation
        let ps = planeStride, wpad = paddedWidth, block = im2colBlock(n), groups = self.groups, computesDX = computesInputGradient
        let stride1 = g.strideHeight == 1 && g.strideWidth == 1, sstride = scratchStride
        let parea = paddedHeight * paddedWidth, blocks = (n + block - 1) / block, wave = partialWave, ok = o * k
        let cs = colStride, wss = workspaceStride
        try scratch.withUnsafeMutableBufferPointer { (sb) throws(MatrixError) in
        try padded.withUnsafeBufferPointer { (pb) throws(MatrixError) in
        try tapOffsets.withUnsafeBufferPointer { (tb) throws(MatrixError) in
        try colBlock.withUnsafeMutableBufferPointer { (cb) throws(MatrixError) in
        try gemmWorkspace.withUnsafeMutableBufferPointer { (wsb) throws(MatrixError) in
        try weightPartials.withUnsafeMutableBufferPointer { (wpb) throws(MatrixError) in
        try channelMajorGradient.withUnsafeMutableBufferPointer { (gb) throws(MatrixError) in
        try biasPartials.withUnsafeMutableBufferPointer { (qb) throws(MatrixError) in
        try preactivation.withUnsafeBufferPointer { (zb) throws(MatrixError) in
        try output.withUnsafeBufferPointer { (yb) throws(MatrixError) in
        try outputGradient.withUnsafeBufferPointer { (dyb) throws(MatrixError) in
        try weight.withUnsafeBufferPointer { (wb) throws(MatrixError) in
        try weightGradient.withUnsafeMutableBufferPointer { (dwb) throws(MatrixError) in
        try inputGradient.withUnsafeMutableBufferPointer { (xb) throws(MatrixError) in
            let P = SharedBuffer(pb.baseAddress!), T = SharedBuffer(tb.baseAddress!), C = SharedBuffer(cb.baseAddress!)
            let WS = SharedBuffer(wsb.baseAddress!), WP = SharedBuffer(wpb.baseAddress!), S = SharedBuffer(sb.baseAddress ?? UnsafeMutablePointer(bitPattern: 8)!)
            let DZ = SharedBuffer(gb.baseAddress!), Q = SharedBuffer(qb.baseAddress!), W = SharedBuffer(wb.baseAddress!)
            let Z = SharedBuffer(zb.baseAddress!), Y = SharedBuffer(yb.baseAddress!), DY = SharedBuffer(dyb.baseAddress!)
            let DX = SharedBuffer(xb.baseAddress ?? UnsafeMutablePointer(bitPattern: 8)!), DW = SharedBuffer(dwb.baseAddress!)
            for first in stride(from: 0, to: blocks, by: wave) {
                let inWave = min(wave, blocks - first)
                try LayerThreads.forEachItem(inWave, workers: workers, queue: blockQueue) { (slot, item) throws(MatrixError) in
                    let bi = first + item, s0 = bi * block, count = min(block, n - s0), ld = count * p
                    let col = C + slot * cs, ws = UnsafeMutableBufferPointer(start: WS + slot * wss, count: wss)
                    let dzBlock = DZ + s0 * o * p, partial = WP + item * ok
                    for ls in 0..<count {
                        for c in 0..<o {
                            let s = s0 + ls, at = (s * o + c) * p, dst = dzBlock + c * ld + ls * p
                            act.backward(z: Z + at, y: Y + at, dy: DY + at, dz: dst, count: p)
                            Q[s * o + c] = LayerKernels.sum(p, dst)
                        }
                    }
                    for grp in 0..<groups {
                        Conv2D.im2col(P, SharedBuffer(col), T, g, samples: s0..<(s0 + count), firstChannel: grp * cg, rows: k,
                                      planeStride: ps, paddedWidth: wpad, workers: 1)
                        let wg = UnsafeBufferPointer(start: W + grp * og * k, count: og * k)
                        let dz = UnsafeBufferPointer(start: dzBlock + grp * og * ld, count: og * ld)
                        let colBuffer = UnsafeMutableBufferPointer(start: col, count: k * ld)
                        // dW_g of the block [og, K] = dZ_g [og, count·P] · col_gᵀ
                        try SerialGEMM.sgemm(transposeB: true, m: og, n: k, k: ld, a: dz, lda: ld, b: UnsafeBufferPointer(colBuffer), ldb: ld,
                                             c: UnsafeMutableBufferPointer(start: partial + grp * og * k, count: og * k), ldc: max(k, 1), workspace: ws)
                        guard computesDX else { continue }
                        // dcol_g [K, count·P] = W_gᵀ [K, og] · dZ_g, over col
                        try SerialGEMM.sgemm(transposeA: true, m: k, n: ld, k: og, a: wg, lda: max(k, 1), b: dz, ldb: ld,
                                             c: colBuffer, ldc: ld, workspace: ws)
                        if stride1 {
                            Conv2D.col2imStride1(SharedBuffer(col), DX, SharedBuffer(S + slot * sstride), scratchStride: sstride, g,
                                                 samples: s0..<(s0 + count), firstChannel: grp * cg, channels: cg,
                                                 paddedWidth: wpad, paddedArea: parea, workers: 1)
                        } else {
                            Conv2D.col2im(SharedBuffer(col), DX, g, samples: s0..<(s0 + count), firstChannel: grp * cg,
                                          channels: cg, workers: 1)
                        }
                    }
                }
                // dW = ((dW₀ + dW₁) + …) in block order, one add per element; elements split over the threads.
                LayerThreads.forEach(ok, workers: workers, minimumPerWorker: 4096) { _, range in
                    let len = range.count, dst = DW + range.lowerBound
                    for item in 0..<inWave {
                        let src = WP + item * ok + range.lowerBound
                        if first == 0 && item == 0 { dst.update(from: src, count: len) } else { LayerKernels.add(len, src, dst) }
                    }
                }
            }
        }}}}}}}}}}}}}}
        // db[c] = Σ_s Double(Σ_i dZ[s, c, i]), samples in order.
        biasPartials.withUnsafeBufferPointer { qb in
            biasGradient.withUnsafeMutableBufferPointer { bg in
                for c in 0..<o {
                    var sum = 0.0
                    for s in 0..<n { sum += Double(qb[s * o + c]) }
                    bg[c] = Float(sum)
                }
            }
        }
    }

    /// Samples per im2col block: `col` of one group for the block about `im2colBlockBytes`
    /// (`K·B·P` Floats), at least 1 and at most the batch; a multiple of 4 when ≥ 4. Depends only
    /// on the shapes (never on the thread count), so the bytes do not either.
    private func im2colBlock(_ n: Int) -> Int {
        Conv2D.im2colBlock(batch: n, reduction: weight.columns, outputPlane: geometry.outputPlane, blockBytes: allocated.blockBytes)
    }
    static func im2colBlock(batch n: Int, reduction k: Int, outputPlane p: Int, blockBytes: Int) -> Int {
        let perSample = max(1, k * p * MemoryLayout<Float>.size)
        var b = max(1, blockBytes / perSample)
        if b >= 4 { b -= b % 4 }
        return max(1, min(n, b))
    }
    /// Target size of one group's im2col block in bytes (default of `im2colBlockBytes`).
    static let defaultIm2colBlockBytes = 2 << 20
    /// Upper bound on the Floats of the per-block `dW` kept at once (default of `weightPartialLimit`).
    static let weightPartialFloats = 1 << 22
    /// Target bytes of one group's im2col block (changes the block size `B`, hence the bytes of
    /// `dW`); tests set it to get several blocks from small shapes. Read at the next forward.
    var im2colBlockBytes = Conv2D.defaultIm2colBlockBytes
    /// Floats of per-block `dW` kept at once (changes only memory, never the bytes); tests set
    /// it to get several waves. Read at the next forward.
    var weightPartialLimit = Conv2D.weightPartialFloats

    /// The im2col path's buffers for a batch of `n` on `workers` threads: one slot (col, product,
    /// gemm workspace) per thread that can hold a block at once, and `wave` per-block `dW`
    /// (`wave ≥ min(blocks, workers)`, at most `partialLimit` Floats unless that is less than
    /// one per thread).
    static func im2colPlan(batch n: Int, outputChannels o: Int, reduction k: Int, groups: Int, outputPlane p: Int, workers: Int,
                           blockBytes: Int, partialLimit: Int)
        -> (slots: Int, colStride: Int, productStride: Int, workspaceStride: Int, wave: Int) {
        let block = im2colBlock(batch: n, reduction: k, outputPlane: p, blockBytes: blockBytes), blocks = max(1, (n + block - 1) / block)
        let slots = max(1, min(workers, blocks)), ld = block * p, og = o / max(groups, 1)
        let ws = max(SerialGEMM.workspaceCount(m: og, n: ld, k: k), SerialGEMM.workspaceCount(m: og, n: k, k: ld),
                     SerialGEMM.workspaceCount(m: k, n: ld, k: og))
        let wave = min(blocks, max(slots, partialLimit / max(1, o * k)))
        // + 8: masked tail loads of col2imStride1; strides rounded to 16 Floats (64 bytes).
        func round(_ v: Int) -> Int { (v + 15) / 16 * 16 }
        return (slots, round(k * ld + 8), round(o * ld), round(ws), wave)
    }

    /// The sizes in Floats of the buffers `forward` allocates (`ensureBuffers`) for a batch of
    /// `n` rows on `workers` threads with `algorithm` (`.im2col` or `.direct`), for
    /// `MemoryEstimate.cnn`: padded input, pre-activation, output, input gradient, then the
    /// path's own buffers (im2col: per-slot col, product and packing blocks, one wave of per-block
    /// weight gradients, channel-major gradient, bias partials, col2im scratch for stride 1;
    /// direct: accumulator, per-sample partial gradients, scratch). Weight and gradient are not
    /// included. Overflow-checked: throws `SizeError.overflow` where `Conv2D` itself would not
    /// fit in memory anyway.
    static func bufferFloats(geometry g: WindowGeometry, outputChannels o: Int, groups: Int, batch n: Int, workers: Int,
                             algorithm: ConvolutionAlgorithm) throws(SizeError) -> [Int] {
        func p(_ a: Int...) throws(SizeError) -> Int { try CheckedSize.elementCount(a, what: "Conv2D buffer") }
        let c = g.channels, k = try p(c / max(groups, 1), g.kernelHeight, g.kernelWidth), plane = try p(g.outputHeight, g.outputWidth)
        let hp = g.height + g.padTop + g.padBottom, wp = g.width + g.padLeft + g.padRight
        let planeStride = try CheckedSize.sum([try p(hp, wp), try p(g.kernelWidth - 1, g.dilationWidth), 8], what: "Conv2D padded plane")
        let stride1 = g.strideHeight == 1 && g.strideWidth == 1
        let accW = stride1 ? wp : g.outputWidth
        let scratchStride = max(try p(g.outputHeight, accW), planeStride, plane)
        var sizes = [try p(n, c, planeStride), try p(n, o, plane), try p(n, o, plane), try p(n, c, g.height, g.width)]
        guard n > 0 else { return sizes }
        if algorithm == .im2col {
            // im2colPlan's own products stay far below Int.max once these fit (checked here).
            _ = try p(k, plane, 4); _ = try p(o, plane, 4); _ = try p(o, k)
            let plan = Conv2D.im2colPlan(batch: n, outputChannels: o, reduction: k, groups: groups, outputPlane: plane, workers: workers,
                                         blockBytes: Conv2D.defaultIm2colBlockBytes, partialLimit: Conv2D.weightPartialFloats)
            sizes += [try p(plan.slots, plan.colStride), try p(plan.slots, plan.productStride), try p(plan.slots, plan.workspaceStride),
                      try p(plan.wave, o, k), try p(o, n, plane), try p(n, o), stride1 ? try p(workers, scratchStride) : 0]
        } else {
            sizes += [try p(n, o, g.outputHeight, accW), try p(n, try CheckedSize.sum([try p(o, k), o], what: "Conv2D partials")),
                      try p(workers, scratchStride)]
        }
        return sizes
    }

    /// Floats of the buffers this layer holds now (for tests of `bufferFloats`).
    var allocatedBufferFloats: Int {
        padded.count + preactivation.count + output.count + inputGradient.count + colBlock.count + productBlock.count
            + gemmWorkspace.count + weightPartials.count + channelMajorGradient.count + biasPartials.count + directGradient.count
            + partials.count + scratch.count
    }

    /// im2col of one group for a block of samples: `col[r][(s − first sample)·P + i·OW + j]` =
    /// padded plane `(s, firstChannel + c)` at `(i·sh + ki·dh, j·sw + kj·dw)` for row
    /// `r = (c·kh + ki)·kw + kj` of `rows`; rows split over the workers.
    static func im2col(_ padded: SharedBuffer<Float>, _ col: SharedBuffer<Float>, _ taps: SharedBuffer<Int>, _ g: WindowGeometry,
                       samples: Range<Int>, firstChannel: Int, rows: Int, planeStride ps: Int, paddedWidth wp: Int, workers: Int) {
        let p = g.outputPlane, ld = samples.count * p, cTotal = g.channels
        let oh = g.outputHeight, ow = g.outputWidth, sh = g.strideHeight, sw = g.strideWidth
        LayerThreads.forEach(rows, workers: workers) { _, range in
            for r in range {
                let dstRow = col + r * ld, tap = taps[r]
                for (ls, s) in samples.enumerated() {
                    let src = padded + (s * cTotal + firstChannel) * ps + tap, dst = dstRow + ls * p
                    if sw == 1 {
                        for i in 0..<oh { LayerKernels.copy(dst + i * ow, src + i * sh * wp, ow) }
                    } else {
                        for i in 0..<oh { for j in 0..<ow { dst[i * ow + j] = src[i * sh * wp + j * sw] } }
                    }
                }
            }
        }
    }

    // MARK: direct path

    private func directForward(_ n: Int, _ workers: Int) {
        let g = geometry, o = outputChannels, k = weight.columns, cg = inputChannels / groups, og = o / groups
        let p = g.outputPlane, oh = g.outputHeight, ow = g.outputWidth, accW = accumulatorWidth, accLen = oh * accW
        let flat = g.strideHeight == 1 && g.strideWidth == 1, sh = g.strideHeight, sw = g.strideWidth
        let wp = paddedWidth, cTotal = inputChannels, ps = planeStride, act = activation, stride = scratchStride
        weight.withUnsafeBufferPointer { wb in
            bias.withUnsafeBufferPointer { bb in
                tapOffsets.withUnsafeBufferPointer { tb in
                    padded.withUnsafeBufferPointer { pb in
                        scratch.withUnsafeMutableBufferPointer { sb in
                            preactivation.withUnsafeMutableBufferPointer { zb in
                                output.withUnsafeMutableBufferPointer { yb in
                                    let W = SharedBuffer(wb.baseAddress!), B = SharedBuffer(bb.baseAddress!), T = SharedBuffer(tb.baseAddress!)
                                    let P = SharedBuffer(pb.baseAddress!), S = SharedBuffer(sb.baseAddress!)
                                    let Z = SharedBuffer(zb.baseAddress!), Y = SharedBuffer(yb.baseAddress!)
                                    LayerThreads.forEach(n, workers: workers) { worker, samples in
                                        let acc = S + worker * stride
                                        for s in samples {
                                            for oc in 0..<o {
                                                let base = P + (s * cTotal + (oc / og) * cg) * ps, w = W + oc * k
                                                if flat {
                                                    Conv2D.directTaps(acc, base, w, T.base, k, accLen)
                                                } else {
                                                    for i in 0..<oh {
                                                        for j in 0..<ow {
                                                            let at = i * sh * wp + j * sw
                                                            var v: Float = 0
                                                            for q in 0..<k { v += w[q] * base[T[q] + at] }
                                                            acc[i * accW + j] = v
                                                        }
                                                    }
                                                }
                                                let z = Z + (s * o + oc) * p, bo = B[oc]
                                                for i in 0..<oh {
                                                    let a = acc + i * accW, zr = z + i * ow
                                                    for j in 0..<ow { zr[j] = a[j] + bo }
                                                }
                                                act.forward(z, Y + (s * o + oc) * p, count: p)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `acc[t] = Σ_q w[q]·base[offsets[q] + t]` for `t < len`, taps in order from 0 (16, then 8
    /// outputs per SIMD step, then scalars — the same operations per element on every path).
    @inline(__always) static func directTaps(_ acc: UnsafeMutablePointer<Float>, _ base: UnsafeMutablePointer<Float>, _ w: UnsafeMutablePointer<Float>,
                                             _ offsets: UnsafeMutablePointer<Int>, _ k: Int, _ len: Int) {
        var t = 0
        while t + 16 <= len {
            var v0 = SIMD8<Float>(), v1 = SIMD8<Float>()
            for q in 0..<k {
                let wq = SIMD8<Float>(repeating: w[q]), src = base + offsets[q] + t
                v0 += wq * LayerKernels.load8(src)
                v1 += wq * LayerKernels.load8(src + 8)
            }
            LayerKernels.store8(v0, acc + t); LayerKernels.store8(v1, acc + t + 8)
            t += 16
        }
        while t + 8 <= len {
            var v = SIMD8<Float>()
            for q in 0..<k { v += SIMD8<Float>(repeating: w[q]) * LayerKernels.load8(base + offsets[q] + t) }
            LayerKernels.store8(v, acc + t)
            t += 8
        }
        while t < len {
            var v: Float = 0
            for q in 0..<k { v += w[q] * base[offsets[q] + t] }
            acc[t] = v
            t += 1
        }
    }

    private func directBackward(_ outputGradient: Matrix<Float>, _ n: Int, _ workers: Int) {
        let g = geometry, o = outputChannels, k = weight.columns, cg = inputChannels / groups, og = o / groups
        let p = g.outputPlane, oh = g.outputHeight, ow = g.outputWidth, accW = accumulatorWidth, accLen = oh * accW
        let flat = g.strideHeight == 1 && g.strideWidth == 1, sh = g.strideHeight, sw = g.strideWidth
        let wp = paddedWidth, cTotal = inputChannels, ps = planeStride, act = activation, stride = scratchStride
        let h = g.height, w = g.width, hw = g.inputPlane, top = g.padTop, left = g.padLeft, taps = g.kernelHeight * g.kernelWidth
        let perSample = o * k + o, computesDX = computesInputGradient
        weight.withUnsafeBufferPointer { wb in
            tapOffsets.withUnsafeBufferPointer { tb in
                padded.withUnsafeBufferPointer { pb in
                    scratch.withUnsafeMutableBufferPointer { sb in
                        preactivation.withUnsafeBufferPointer { zb in
                            output.withUnsafeBufferPointer { yb in
                                outputGradient.withUnsafeBufferPointer { dyb in
                                    directGradient.withUnsafeMutableBufferPointer { gb in
                                        partials.withUnsafeMutableBufferPointer { qb in
                                            inputGradient.withUnsafeMutableBufferPointer { xb in
                                                let W = SharedBuffer(wb.baseAddress!), T = SharedBuffer(tb.baseAddress!), P = SharedBuffer(pb.baseAddress!)
                                                let S = SharedBuffer(sb.baseAddress!), Z = SharedBuffer(zb.baseAddress!), Y = SharedBuffer(yb.baseAddress!)
                                                let DY = SharedBuffer(dyb.baseAddress!), G = SharedBuffer(gb.baseAddress!), Q = SharedBuffer(qb.baseAddress!)
                                                let DX = SharedBuffer(xb.baseAddress!)
                                                LayerThreads.forEach(n, workers: workers) { worker, samples in
                                                    let tmp = S + worker * stride
                                                    for s in samples {
                                                        let part = Q + s * perSample
                                                        for oc in 0..<o {
                                                            let at = (s * o + oc) * p, dz = G + (s * o + oc) * accLen
                                                            if accW == ow {
                                                                act.backward(z: Z + at, y: Y + at, dy: DY + at, dz: dz, count: p)
                                                            } else {
                                                                act.backward(z: Z + at, y: Y + at, dy: DY + at, dz: tmp, count: p)
                                                                for i in 0..<oh { LayerKernels.copy(dz + i * accW, tmp + i * ow, ow) }
                                                            }
                                                            // Columns ≥ OW of dz are zero: one run over the accumulator layout.
                                                            part[o * k + oc] = LayerKernels.sum(accLen, dz)
                                                            let base = P + (s * cTotal + (oc / og) * cg) * ps
                                                            for q in 0..<k {
                                                                if flat {
                                                                    part[oc * k + q] = LayerKernels.dot(accLen, dz, base + T[q])
                                                                } else {
                                                                    var v: Float = 0
                                                                    for i in 0..<oh { for j in 0..<ow { v += dz[i * accW + j] * base[T[q] + i * sh * wp + j * sw] } }
                                                                    part[oc * k + q] = v
                                                                }
                                                            }
                                                        }
                                                        guard computesDX else { continue }
                                                        for ch in 0..<cTotal {
                                                            let grp = ch / cg, cl = ch % cg
                                                            tmp.update(repeating: 0, count: ps)
                                                            for oc in (grp * og)..<((grp + 1) * og) {
                                                                let dz = G + (s * o + oc) * accLen
                                                                for q in (cl * taps)..<((cl + 1) * taps) {
                                                                    let wv = W[oc * k + q], off = T[q] - cl * ps
                                                                    if flat {
                                                                        LayerKernels.axpy(accLen, wv, dz, tmp + off)
                                                                    } else {
                                                                        for i in 0..<oh { for j in 0..<ow { tmp[off + i * sh * wp + j * sw] += wv * dz[i * accW + j] } }
                                                                    }
                                                                }
                                                            }
                                                            let dx = DX + (s * cTotal + ch) * hw
                                                            for ih in 0..<h { LayerKernels.copy(dx + ih * w, tmp + (ih + top) * wp + left, w) }
                                                        }
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        // dW and db: per-sample partials summed in sample order in Double.
        partials.withUnsafeBufferPointer { qb in
            weightGradient.withUnsafeMutableBufferPointer { dw in
                biasGradient.withUnsafeMutableBufferPointer { db in
                    for idx in 0..<perSample {
                        var sum = 0.0
                        for s in 0..<n { sum += Double(qb[s * perSample + idx]) }
                        if idx < o * k { dw[idx] = Float(sum) } else { db[idx - o * k] = Float(sum) }
                    }
                }
            }
        }
    }

    // MARK: padding, col2im

    /// Copies each `H×W` plane of `x` into the interior of its padded plane (`planeStride` apart,
    /// rows `paddedWidth` apart, `top` rows and `left` columns in); the borders are left as they are (zero).
    static func pad(_ x: SharedBuffer<Float>, _ p: SharedBuffer<Float>, _ g: WindowGeometry, planes: Int, planeStride: Int,
                    paddedWidth wp: Int, workers: Int) {
        let h = g.height, w = g.width, top = g.padTop, left = g.padLeft
        LayerThreads.forEach(planes, workers: workers, minimumPerWorker: 8) { _, range in
            for plane in range {
                let src = x + plane * h * w, dst = p + plane * planeStride + top * wp + left
                if wp == w { LayerKernels.copy(dst, src, h * w) } else { for i in 0..<h { LayerKernels.copy(dst + i * wp, src + i * w, w) } }
            }
        }
    }

    /// col2im for stride 1 (any dilation) through a zero-padded accumulator plane per worker:
    /// every tap row is added whole at its padded position (contributions that fall in the
    /// padding land in the accumulator's border and are dropped by the crop), 8 lanes at a time,
    /// the last lanes of a row masked to +0; then the interior is copied into `dX`. Per element
    /// the same additions in the same (tap) order as `col2im`, plus exact `+ 0` additions (which
    /// can only turn a `−0` into `+0`).
    static func col2imStride1(_ dcol: SharedBuffer<Float>, _ dx: SharedBuffer<Float>, _ scratch: SharedBuffer<Float>, scratchStride: Int,
                              _ g: WindowGeometry, samples: Range<Int>, firstChannel: Int, channels cg: Int,
                              paddedWidth wp: Int, paddedArea: Int, workers: Int) {
        let p = g.outputPlane, ld = samples.count * p, hw = g.inputPlane, cTotal = g.channels
        let oh = g.outputHeight, ow = g.outputWidth, s0 = samples.lowerBound, h = g.height, w = g.width
        let kh = g.kernelHeight, kw = g.kernelWidth, dh = g.dilationHeight, dw = g.dilationWidth
        let top = g.padTop, left = g.padLeft
        let full = ow / 8 * 8, rest = ow - full
        var lanes = SIMD8<Float>(repeating: 0)
        for l in 0..<8 where l < rest { lanes[l] = 1 }
        let keep = lanes .> 0
        LayerThreads.forEach(samples.count * cg, workers: workers) { worker, items in
            let acc = scratch + worker * scratchStride
            for item in items {
                let ls = item / cg, c = item % cg, s = s0 + ls
                acc.update(repeating: 0, count: paddedArea + 8)
                for ki in 0..<kh {
                    for kj in 0..<kw {
                        let r = (c * kh + ki) * kw + kj
                        let src = dcol + r * ld + ls * p, dst = acc + ki * dh * wp + kj * dw
                        for i in 0..<oh {
                            let f = src + i * ow, d = dst + i * wp
                            var j = 0
                            while j < full { LayerKernels.store8(LayerKernels.load8(d + j) + LayerKernels.load8(f + j), d + j); j += 8 }
                            if rest > 0 {
                                let v = SIMD8<Float>(repeating: 0).replacing(with: LayerKernels.load8(f + j), where: keep)
                                LayerKernels.store8(LayerKernels.load8(d + j) + v, d + j)
                            }
                        }
                    }
                }
                let plane = dx + (s * cTotal + firstChannel + c) * hw
                for ih in 0..<h { LayerKernels.copy(plane + ih * w, acc + (ih + top) * wp + left, w) }
            }
        }
    }

    /// The adjoint of im2col for one group and a block of samples: per (sample, channel) plane
    /// (one item each), zeroes channel `firstChannel + c` of `dX` and adds
    /// `dcol[(c·kh + ki)·kw + kj][(s − first sample)·P + i·OW + j]` (rows `|samples|·P` long) into
    /// `dX[s, first + c, i·sh − top + ki·dh, j·sw − left + kj·dw]`, taps in order.
    static func col2im(_ dcol: SharedBuffer<Float>, _ dx: SharedBuffer<Float>, _ g: WindowGeometry,
                       samples: Range<Int>, firstChannel: Int, channels cg: Int, workers: Int) {
        let p = g.outputPlane, ld = samples.count * p, hw = g.inputPlane, cTotal = g.channels
        let ow = g.outputWidth, sw = g.strideWidth, sh = g.strideHeight, s0 = samples.lowerBound
        LayerThreads.forEach(samples.count * cg, workers: workers) { _, items in
            for item in items {
                let ls = item / cg, c = item % cg, s = s0 + ls
                let plane = dx + (s * cTotal + firstChannel + c) * hw
                plane.update(repeating: 0, count: hw)
                for ki in 0..<g.kernelHeight {
                    let rows = g.validRows(ki)
                    let rowOffset = ki * g.dilationHeight - g.padTop
                    for kj in 0..<g.kernelWidth {
                        let r = (c * g.kernelHeight + ki) * g.kernelWidth + kj
                        let cols = g.validColumns(kj)
                        if cols.isEmpty { continue }
                        let colOffset = kj * g.dilationWidth - g.padLeft
                        let src = dcol + r * ld + ls * p
                        for i in rows {
                            let d = plane + (i * sh + rowOffset) * g.width + colOffset
                            let from = src + i * ow
                            if sw == 1 {
                                LayerKernels.add(cols.count, from + cols.lowerBound, d + cols.lowerBound)
                            } else {
                                for j in cols { d[j * sw] += from[j] }
                            }
                        }
                    }
                }
            }
        }
    }
}
