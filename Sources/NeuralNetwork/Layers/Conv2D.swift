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

/// A 2-D convolution `Y = f(W ⋆ X + b)` on `cblas_sgemm` via im2col/col2im (PyTorch
/// `nn.Conv2d`, cross-correlation as every framework computes it).
///
/// - Layout: activations NCHW, one sample per row of the batch matrix (`columns = C·H·W`);
///   weight OIHW `[out, in/groups, kh, kw]`, stored as a `Matrix` `[out, (in/groups)·kh·kw]`
///   (the same bytes); bias `[out]`.
/// - `Z[n, o, i, j] = b[o] + Σ_{c, ki, kj} W[o, c, ki, kj] · X[n, g·C/G + c, i·sh − top + ki·dh, j·sw − left + kj·dw]`
///   with `g = ⌊o/(O/G)⌋` the group of output channel `o`, and zeros outside the input.
/// - Forward, per group `g`: `col_g` `[(C/G)·kh·kw, N·OH·OW]` (im2col of the whole batch) and one
///   `Z_g = W_g · col_g` `[O/G, N·OH·OW]` (`cblas_sgemm`), scattered to NCHW with the bias.
/// - Backward, per group: `dW_g = dZ_g · col_gᵀ`, `db = Σ dZ`, `dcol_g = W_gᵀ · dZ_g`, then
///   col2im accumulates `dcol_g` into `dX` — all products through `cblas_sgemm`.
/// - `col` (kept from forward for backward), `Z`, `Y`, `dZ` and `dX` are reallocated only when the
///   batch size changes: steady-state training allocates nothing per step.
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

    private var batch = -1
    private var col: [Float] = []            // [G][K][N·P]
    private var channelMajor: [Float] = []   // [O][N·P]: Z before scatter, dZ in backward
    private var dcol: [Float] = []           // [K][N·P], one group at a time
    private var outputGradientScratch = Matrix<Float>(rows: 0, columns: 0)
    private var inputGradient = Matrix<Float>(rows: 0, columns: 0)

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
    }

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
        s += " p\(padding)"
        if g.dilationHeight != 1 || g.dilationWidth != 1 { s += " d(\(g.dilationHeight),\(g.dilationWidth))" }
        if groups != 1 { s += " g\(groups)" }
        return s + (activation == .identity ? "" : ", \(activation.name)")
    }

    private func ensureBatch(_ n: Int) {
        guard n != batch else { return }
        batch = n
        let g = geometry, np = n * g.outputPlane, k = weight.columns
        col = [Float](repeating: 0, count: groups * k * np)
        channelMajor = [Float](repeating: 0, count: outputChannels * np)
        dcol = [Float](repeating: 0, count: k * np)
        preactivation = Matrix(rows: n, columns: outputChannels * g.outputPlane)
        output = Matrix(rows: n, columns: outputChannels * g.outputPlane)
        outputGradientScratch = Matrix(rows: n, columns: outputChannels * g.outputPlane)
        inputGradient = Matrix(rows: n, columns: inputChannels * g.inputPlane)
    }

    /// Forward pass on `x` `[batch, C·H·W]` (NCHW); returns `[batch, O·OH·OW]`.
    /// - Throws: `MatrixError.shapeMismatch` when `x.columns != C·H·W`.
    @discardableResult
    public func forward(_ x: Matrix<Float>) throws(MatrixError) -> Matrix<Float> {
        let g = geometry
        guard x.columns == inputChannels * g.inputPlane else {
            throw .shapeMismatch(operation: "Conv2D.forward", lhs: "X \(x.shapeDescription)",
                                 rhs: "expects \(inputChannels)×\(g.height)×\(g.width) = \(inputChannels * g.inputPlane) columns")
        }
        let n = x.rows
        ensureBatch(n)
        if n == 0 { return output }
        let np = n * g.outputPlane, k = weight.columns, cg = inputChannels / groups, og = outputChannels / groups
        x.withUnsafeBufferPointer { xp in
            col.withUnsafeMutableBufferPointer { cp in
                for grp in 0..<groups { Conv2D.im2col(xp.baseAddress!, cp.baseAddress! + grp * k * np, g, batch: n, firstChannel: grp * cg, channels: cg) }
            }
        }
        try weight.withUnsafeBufferPointer { (wp) throws(MatrixError) in
            try col.withUnsafeBufferPointer { (cp) throws(MatrixError) in
                try channelMajor.withUnsafeMutableBufferPointer { (zp) throws(MatrixError) in
                    for grp in 0..<groups {
                        try BLAS.gemm(m: og, n: np, k: k,
                                      a: UnsafeBufferPointer(rebasing: wp[(grp * og * k)..<((grp + 1) * og * k)]), lda: max(k, 1),
                                      b: UnsafeBufferPointer(rebasing: cp[(grp * k * np)..<((grp + 1) * k * np)]), ldb: max(np, 1),
                                      c: UnsafeMutableBufferPointer(rebasing: zp[(grp * og * np)..<((grp + 1) * og * np)]), ldc: max(np, 1))
                    }
                }
            }
        }
        // [O][N][P] → [N][O][P] with the bias.
        let p = g.outputPlane, o = outputChannels
        channelMajor.withUnsafeBufferPointer { src in
            bias.withUnsafeBufferPointer { b in
                preactivation.withUnsafeMutableBufferPointer { dst in
                    for s in 0..<n {
                        for c in 0..<o {
                            let from = src.baseAddress! + (c * n + s) * p, to = dst.baseAddress! + (s * o + c) * p
                            let bc = b[c]
                            for i in 0..<p { to[i] = from[i] + bc }
                        }
                    }
                }
            }
        }
        let count = preactivation.count, act = activation
        preactivation.withUnsafeBufferPointer { z in
            output.withUnsafeMutableBufferPointer { y in act.forward(z.baseAddress!, y.baseAddress!, count: count) }
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
        let g = geometry, n = batch, p = g.outputPlane, np = n * p, k = weight.columns, o = outputChannels
        let cg = inputChannels / groups, og = o / groups
        if n == 0 {
            weightGradient.fill(with: 0)
            for i in 0..<biasGradient.count { biasGradient[i] = 0 }
            return computesInputGradient ? inputGradient : Matrix(rows: 0, columns: 0)
        }
        let count = output.count, act = activation
        preactivation.withUnsafeBufferPointer { z in
            output.withUnsafeBufferPointer { y in
                outputGradient.withUnsafeBufferPointer { dy in
                    outputGradientScratch.withUnsafeMutableBufferPointer { dz in
                        act.backward(z: z.baseAddress!, y: y.baseAddress!, dy: dy.baseAddress!, dz: dz.baseAddress!, count: count)
                    }
                }
            }
        }
        // dZ [N][O][P] → [O][N][P]; bias gradient per channel (Double accumulation).
        outputGradientScratch.withUnsafeBufferPointer { src in
            channelMajor.withUnsafeMutableBufferPointer { dst in
                biasGradient.withUnsafeMutableBufferPointer { db in
                    for c in 0..<o {
                        var sum = 0.0
                        for s in 0..<n {
                            let from = src.baseAddress! + (s * o + c) * p, to = dst.baseAddress! + (c * n + s) * p
                            var part: Float = 0
                            for i in 0..<p { let v = from[i]; to[i] = v; part += v }
                            sum += Double(part)
                        }
                        db[c] = Float(sum)
                    }
                }
            }
        }
        try channelMajor.withUnsafeBufferPointer { (dzp) throws(MatrixError) in
            try col.withUnsafeBufferPointer { (cp) throws(MatrixError) in
                try weightGradient.withUnsafeMutableBufferPointer { (dwp) throws(MatrixError) in
                    for grp in 0..<groups {
                        // dW_g [og, K] = dZ_g [og, NP] · col_gᵀ
                        try BLAS.gemm(transposeB: true, m: og, n: k, k: np,
                                      a: UnsafeBufferPointer(rebasing: dzp[(grp * og * np)..<((grp + 1) * og * np)]), lda: np,
                                      b: UnsafeBufferPointer(rebasing: cp[(grp * k * np)..<((grp + 1) * k * np)]), ldb: np,
                                      c: UnsafeMutableBufferPointer(rebasing: dwp[(grp * og * k)..<((grp + 1) * og * k)]), ldc: max(k, 1))
                    }
                }
            }
        }
        guard computesInputGradient else { return Matrix(rows: n, columns: 0) }
        inputGradient.fill(with: 0)
        for grp in 0..<groups {
            try weight.withUnsafeBufferPointer { (wp) throws(MatrixError) in
                try channelMajor.withUnsafeBufferPointer { (dzp) throws(MatrixError) in
                    try dcol.withUnsafeMutableBufferPointer { (dcp) throws(MatrixError) in
                        // dcol_g [K, NP] = W_gᵀ [K, og] · dZ_g [og, NP]
                        try BLAS.gemm(transposeA: true, m: k, n: np, k: og,
                                      a: UnsafeBufferPointer(rebasing: wp[(grp * og * k)..<((grp + 1) * og * k)]), lda: max(k, 1),
                                      b: UnsafeBufferPointer(rebasing: dzp[(grp * og * np)..<((grp + 1) * og * np)]), ldb: np,
                                      c: dcp, ldc: np)
                    }
                }
            }
            dcol.withUnsafeBufferPointer { dcp in
                inputGradient.withUnsafeMutableBufferPointer { dx in
                    Conv2D.col2im(dcp.baseAddress!, dx.baseAddress!, g, batch: n, firstChannel: grp * cg, channels: cg)
                }
            }
        }
        return inputGradient
    }

    /// `dZ = dY ⊙ f′(Z)` from the last backward pass, `[batch, O·OH·OW]`.
    public var preactivationGradient: Matrix<Float> { outputGradientScratch }

    // MARK: im2col / col2im

    /// Writes `col[(c·kh + ki)·kw + kj][s·P + i·OW + j] = X[s, first + c, i·sh − top + ki·dh, j·sw − left + kj·dw]`
    /// (0 outside the image) for `channels` channels starting at `firstChannel`.
    static func im2col(_ x: UnsafePointer<Float>, _ col: UnsafeMutablePointer<Float>, _ g: WindowGeometry,
                       batch n: Int, firstChannel: Int, channels cg: Int) {
        let p = g.outputPlane, np = n * p, hw = g.inputPlane, cTotal = g.channels
        let ow = g.outputWidth, oh = g.outputHeight, sw = g.strideWidth, sh = g.strideHeight
        for c in 0..<cg {
            for ki in 0..<g.kernelHeight {
                let rows = g.validRows(ki)
                let rowOffset = ki * g.dilationHeight - g.padTop
                for kj in 0..<g.kernelWidth {
                    let r = (c * g.kernelHeight + ki) * g.kernelWidth + kj
                    let cols = g.validColumns(kj)
                    let colOffset = kj * g.dilationWidth - g.padLeft
                    let dstRow = col + r * np
                    for s in 0..<n {
                        let plane = x + (s * cTotal + firstChannel + c) * hw
                        let dst = dstRow + s * p
                        for i in 0..<oh {
                            let d = dst + i * ow
                            guard rows.contains(i) else { d.update(repeating: 0, count: ow); continue }
                            let src = plane + (i * sh + rowOffset) * g.width + colOffset
                            if cols.lowerBound > 0 { d.update(repeating: 0, count: cols.lowerBound) }
                            if sw == 1 {
                                if !cols.isEmpty { (d + cols.lowerBound).update(from: src + cols.lowerBound, count: cols.count) }
                            } else {
                                for j in cols { d[j] = src[j * sw] }
                            }
                            if cols.upperBound < ow { (d + cols.upperBound).update(repeating: 0, count: ow - cols.upperBound) }
                        }
                    }
                }
            }
        }
    }

    /// The adjoint of `im2col`: `dX[s, first + c, ih, iw] += dcol[…]` over every window tap.
    static func col2im(_ dcol: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ g: WindowGeometry,
                       batch n: Int, firstChannel: Int, channels cg: Int) {
        let p = g.outputPlane, np = n * p, hw = g.inputPlane, cTotal = g.channels
        let ow = g.outputWidth, sw = g.strideWidth, sh = g.strideHeight
        for c in 0..<cg {
            for ki in 0..<g.kernelHeight {
                let rows = g.validRows(ki)
                let rowOffset = ki * g.dilationHeight - g.padTop
                for kj in 0..<g.kernelWidth {
                    let r = (c * g.kernelHeight + ki) * g.kernelWidth + kj
                    let cols = g.validColumns(kj)
                    if cols.isEmpty { continue }
                    let colOffset = kj * g.dilationWidth - g.padLeft
                    let srcRow = dcol + r * np
                    for s in 0..<n {
                        let plane = dx + (s * cTotal + firstChannel + c) * hw
                        let src = srcRow + s * p
                        for i in rows {
                            let d = plane + (i * sh + rowOffset) * g.width + colOffset
                            let from = src + i * ow
                            if sw == 1 { for j in cols { d[j] += from[j] } } else { for j in cols { d[j * sw] += from[j] } }
                        }
                    }
                }
            }
        }
    }
}
