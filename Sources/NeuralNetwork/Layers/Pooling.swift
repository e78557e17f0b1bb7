import MatrixModule

/// Max pooling over `kh×kw` windows of every channel (PyTorch `nn.MaxPool2d`, floor mode,
/// dilation 1; padding counts as −∞ so it is never chosen).
///
/// - Shapes: input `[batch, C·H·W]` (NCHW), output `[batch, C·OH·OW]`,
///   `OH = ⌊(H + 2·ph − kh)/sh⌋ + 1` (likewise `OW`); stride defaults to the kernel size.
/// - Ties: the FIRST maximal element in row-major window order (top row first, left to right)
///   wins — a strict `>` scan — and gets the whole gradient; the choice is kept (`argmax`) from
///   forward for backward. NaN inputs are never chosen over a number (a window of only NaN
///   picks its first element).
/// - Backward: `dX[argmax] += dY` (overlapping windows accumulate).
public final class MaxPool2D: Layer {
    /// Window, stride, padding and output size.
    public let geometry: WindowGeometry
    public var computesInputGradient = true
    /// Output of the last forward pass.
    public private(set) var output = Matrix<Float>(rows: 0, columns: 0)
    /// For each output element, the flat index `ih·W + iw` of the chosen input in its channel plane.
    public private(set) var argmax: [Int32] = []
    private var spareOutput = Matrix<Float>(rows: 0, columns: 0)
    private var inputGradient = Matrix<Float>(rows: 0, columns: 0)

    /// - Parameters: `kernelSize` `(kh, kw)`; `stride` defaults to `kernelSize`; `padding` zeros
    ///   per side `(ph, pw)`, each at most half the kernel (PyTorch's rule).
    /// - Throws: `TrainingError.invalidHyperparameter` for sizes < 1, padding above half the
    ///   kernel, or a window larger than the padded input.
    public init(channels: Int, inputHeight: Int, inputWidth: Int, kernelSize: (Int, Int), stride: (Int, Int)? = nil,
                padding: (Int, Int) = (0, 0)) throws {
        geometry = try WindowGeometry(channels: channels, height: inputHeight, width: inputWidth, kernel: kernelSize,
                                      stride: stride ?? kernelSize, dilation: (1, 1),
                                      padding: .explicit(height: padding.0, width: padding.1), layer: "MaxPool2D", maxPadHalfKernel: true)
    }

    /// Square window `k`, stride `stride ?? k`, padding `padding`.
    public convenience init(channels: Int, inputHeight: Int, inputWidth: Int, kernelSize: Int, stride: Int? = nil, padding: Int = 0) throws {
        try self.init(channels: channels, inputHeight: inputHeight, inputWidth: inputWidth, kernelSize: (kernelSize, kernelSize),
                      stride: stride.map { ($0, $0) }, padding: (padding, padding))
    }

    public var inputShape: [Int] { [geometry.channels, geometry.height, geometry.width] }
    public var outputShape: [Int] { [geometry.channels, geometry.outputHeight, geometry.outputWidth] }
    public var parameterSlots: [ParameterSlot] { [] }
    public func withParameter<R, E: Error>(_ slot: Int, _ body: (UnsafeMutableBufferPointer<Float>, UnsafeMutableBufferPointer<Float>) throws(E) -> R) throws(E) -> R {
        preconditionFailure("MaxPool2D has no parameters (slot \(slot))")
    }
    public var torchModuleCount: Int { 1 }
    public var layerDescription: String { "MaxPool2D \(geometry.kernelHeight)×\(geometry.kernelWidth) s\(geometry.strideHeight)" }

    @discardableResult
    public func forward(_ x: Matrix<Float>) throws(MatrixError) -> Matrix<Float> {
        let g = geometry, c = g.channels, hw = g.inputPlane, p = g.outputPlane
        guard x.columns == c * hw else {
            throw .shapeMismatch(operation: "MaxPool2D.forward", lhs: "X \(x.shapeDescription)", rhs: "expects \(c)×\(g.height)×\(g.width) columns")
        }
        let n = x.rows
        if output.rows != n {
            output = Matrix(rows: n, columns: c * p)
            spareOutput = Matrix(rows: n, columns: c * p)
            argmax = [Int32](repeating: 0, count: n * c * p)
            inputGradient = Matrix(rows: n, columns: c * hw)
        }
        if n == 0 { return output }
        // Alternate two output buffers: the next layer may still hold the last output (a Dense
        // layer keeps its input), and writing into it would copy it on every step.
        swap(&output, &spareOutput)
        let workers = LayerThreads.workers
        x.withUnsafeBufferPointer { xp in
            output.withUnsafeMutableBufferPointer { yp in
                argmax.withUnsafeMutableBufferPointer { ap in
                    let X = SharedBuffer(xp.baseAddress!), Y = SharedBuffer(yp.baseAddress!), A = SharedBuffer(ap.baseAddress!)
                    // One task per range of planes: every plane is independent, so the split never changes the bytes.
                    LayerThreads.forEach(n * c, workers: workers, minimumPerWorker: 16) { _, planes in
                        for plane in planes { MaxPool2D.pool(X + plane * hw, Y + plane * p, A + plane * p, g) }
                    }
                }
            }
        }
        return output
    }

    /// Max-pools one `H×W` plane into `OH×OW` values and their flat indices (first maximum in
    /// row-major window order wins; NaN never beats a number). A 2×2, stride-2, unpadded window —
    /// the common case — is unrolled with the same comparisons.
    @inline(__always) static func pool(_ src: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ a: UnsafeMutablePointer<Int32>,
                                       _ g: WindowGeometry) {
        @inline(__always) func better(_ v: Float, _ best: Float) -> Bool { v > best || (best.isNaN && !v.isNaN) }
        let w = g.width, ow = g.outputWidth
        if g.kernelHeight == 2 && g.kernelWidth == 2 && g.strideHeight == 2 && g.strideWidth == 2 && g.padTop == 0 && g.padLeft == 0 && ow >= 4 {
            // 8 (or 4) outputs per step, branch-free; the last step overlaps the previous one
            // (it recomputes the same values), so no scalar tail.
            for i in 0..<g.outputHeight {
                let r0 = src + 2 * i * w, base = Int32(2 * i * w), yo = y + i * ow, ao = a + i * ow
                if ow >= 8 {
                    var j = 0
                    while true {
                        let jj = min(j, ow - 8)
                        MaxPool2D.pool8(r0, w, base, jj, yo, ao)
                        if jj + 8 >= ow { break }
                        j += 8
                    }
                } else {
                    MaxPool2D.pool4(r0, w, base, 0, yo, ao)
                    MaxPool2D.pool4(r0, w, base, ow - 4, yo, ao)
                }
            }
            return
        }
        if g.kernelHeight == 2 && g.kernelWidth == 2 && g.strideHeight == 2 && g.strideWidth == 2 && g.padTop == 0 && g.padLeft == 0 {
            for i in 0..<g.outputHeight {
                for j in 0..<ow {
                    let i0 = 2 * i * w + 2 * j
                    var best = src[i0], at = i0
                    let v1 = src[i0 + 1], v2 = src[i0 + w], v3 = src[i0 + w + 1]
                    if better(v1, best) { best = v1; at = i0 + 1 }
                    if better(v2, best) { best = v2; at = i0 + w }
                    if better(v3, best) { best = v3; at = i0 + w + 1 }
                    y[i * ow + j] = best; a[i * ow + j] = Int32(at)
                }
            }
            return
        }
        for i in 0..<g.outputHeight {
            for j in 0..<ow {
                var best = -Float.infinity, at = -1
                for ki in 0..<g.kernelHeight {
                    let ih = i * g.strideHeight - g.padTop + ki
                    if ih < 0 || ih >= g.height { continue }
                    for kj in 0..<g.kernelWidth {
                        let iw = j * g.strideWidth - g.padLeft + kj
                        if iw < 0 || iw >= w { continue }
                        let v = src[ih * w + iw]
                        if at < 0 || better(v, best) { best = v; at = ih * w + iw }
                    }
                }
                y[i * ow + j] = best; a[i * ow + j] = Int32(at)
            }
        }
    }

    /// Outputs `j..<j+8` of a 2×2 stride-2 row: window `(a, b; c, d)` from rows `r0` and `r0 + w`,
    /// chosen in the order a, b, c, d with `v > best || (best is NaN && v is not)`.
    @inline(__always) static func pool8(_ r0: UnsafeMutablePointer<Float>, _ w: Int, _ base: Int32, _ j: Int,
                                        _ y: UnsafeMutablePointer<Float>, _ a: UnsafeMutablePointer<Int32>) {
        let t0 = UnsafeRawPointer(r0 + 2 * j).loadUnaligned(as: SIMD16<Float>.self)
        let t1 = UnsafeRawPointer(r0 + w + 2 * j).loadUnaligned(as: SIMD16<Float>.self)
        let lanes = SIMD8<Int32>(0, 2, 4, 6, 8, 10, 12, 14)
        let ia = SIMD8<Int32>(repeating: base + Int32(2 * j)) &+ lanes
        var best = t0.evenHalf, at = ia
        @inline(__always) func take(_ v: SIMD8<Float>, _ offset: Int32) {
            let m = (v .> best) .| ((best .!= best) .& (v .== v))
            best = best.replacing(with: v, where: m)
            at = at.replacing(with: ia &+ offset, where: m)
        }
        take(t0.oddHalf, 1); take(t1.evenHalf, Int32(w)); take(t1.oddHalf, Int32(w + 1))
        UnsafeMutableRawPointer(y + j).storeBytes(of: best, as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(a + j).storeBytes(of: at, as: SIMD8<Int32>.self)
    }

    /// `pool8` for 4 outputs.
    @inline(__always) static func pool4(_ r0: UnsafeMutablePointer<Float>, _ w: Int, _ base: Int32, _ j: Int,
                                        _ y: UnsafeMutablePointer<Float>, _ a: UnsafeMutablePointer<Int32>) {
        let t0 = UnsafeRawPointer(r0 + 2 * j).loadUnaligned(as: SIMD8<Float>.self)
        let t1 = UnsafeRawPointer(r0 + w + 2 * j).loadUnaligned(as: SIMD8<Float>.self)
        let ia = SIMD4<Int32>(repeating: base + Int32(2 * j)) &+ SIMD4<Int32>(0, 2, 4, 6)
        var best = t0.evenHalf, at = ia
        @inline(__always) func take(_ v: SIMD4<Float>, _ offset: Int32) {
            let m = (v .> best) .| ((best .!= best) .& (v .== v))
            best = best.replacing(with: v, where: m)
            at = at.replacing(with: ia &+ offset, where: m)
        }
        take(t0.oddHalf, 1); take(t1.evenHalf, Int32(w)); take(t1.oddHalf, Int32(w + 1))
        UnsafeMutableRawPointer(y + j).storeBytes(of: best, as: SIMD4<Float>.self)
        UnsafeMutableRawPointer(a + j).storeBytes(of: at, as: SIMD4<Int32>.self)
    }

    @discardableResult
    public func backward(_ outputGradient: Matrix<Float>) throws(MatrixError) -> Matrix<Float> {
        guard outputGradient.rows == output.rows, outputGradient.columns == output.columns else {
            throw .shapeMismatch(operation: "MaxPool2D.backward", lhs: "dY \(outputGradient.shapeDescription)", rhs: "Y \(output.shapeDescription)")
        }
        guard computesInputGradient else { return Matrix(rows: output.rows, columns: 0) }
        let g = geometry, hw = g.inputPlane, p = g.outputPlane, planes = output.rows * g.channels
        if planes == 0 { return inputGradient }
        let workers = LayerThreads.workers
        outputGradient.withUnsafeBufferPointer { dyp in
            argmax.withUnsafeBufferPointer { ap in
                inputGradient.withUnsafeMutableBufferPointer { dxp in
                    let DY = SharedBuffer(dyp.baseAddress!), A = SharedBuffer(ap.baseAddress!), DX = SharedBuffer(dxp.baseAddress!)
                    // 2×2 stride-2 unpadded windows tile the plane without overlap: one pass writes each
                    // window (zeros, then `0 + dY` at the argmax, as the general path's zero fill and add).
                    let tiles = g.kernelHeight == 2 && g.kernelWidth == 2 && g.strideHeight == 2 && g.strideWidth == 2 && g.padTop == 0 && g.padLeft == 0
                    let h = g.height, w = g.width, oh = g.outputHeight, ow = g.outputWidth
                    LayerThreads.forEach(planes, workers: workers, minimumPerWorker: 16) { _, range in
                        for plane in range {
                            let dx = DX + plane * hw, dy = DY + plane * p, a = A + plane * p
                            if tiles {
                                if h % 2 == 1 { (dx + (h - 1) * w).update(repeating: 0, count: w) }
                                if w % 2 == 1 { for r in 0..<(2 * oh) { dx[r * w + w - 1] = 0 } }
                                for i in 0..<oh {
                                    for j in 0..<ow {
                                        let i0 = 2 * i * w + 2 * j
                                        dx[i0] = 0; dx[i0 + 1] = 0; dx[i0 + w] = 0; dx[i0 + w + 1] = 0
                                        dx[Int(a[i * ow + j])] = 0 + dy[i * ow + j]
                                    }
                                }
                            } else {
                                dx.update(repeating: 0, count: hw)
                                for o in 0..<p { dx[Int(a[o])] += dy[o] }
                            }
                        }
                    }
                }
            }
        }
        return inputGradient
    }
}

/// Average pooling over `kh×kw` windows (PyTorch `nn.AvgPool2d`, floor mode,
/// `count_include_pad=True`: the divisor is always `kh·kw`, padded zeros included).
///
/// - Shapes as `MaxPool2D`; stride defaults to the kernel size; padding at most half the kernel.
/// - Forward `Y = (1/(kh·kw))·Σ_window X`; backward spreads `dY/(kh·kw)` over the window.
public final class AvgPool2D: Layer {
    public let geometry: WindowGeometry
    public var computesInputGradient = true
    public private(set) var output = Matrix<Float>(rows: 0, columns: 0)
    private var inputGradient = Matrix<Float>(rows: 0, columns: 0)

    /// - Throws: as `MaxPool2D.init`.
    public init(channels: Int, inputHeight: Int, inputWidth: Int, kernelSize: (Int, Int), stride: (Int, Int)? = nil,
                padding: (Int, Int) = (0, 0)) throws {
        geometry = try WindowGeometry(channels: channels, height: inputHeight, width: inputWidth, kernel: kernelSize,
                                      stride: stride ?? kernelSize, dilation: (1, 1),
                                      padding: .explicit(height: padding.0, width: padding.1), layer: "AvgPool2D", maxPadHalfKernel: true)
    }

    /// Square window `k`, stride `stride ?? k`, padding `padding`.
    public convenience init(channels: Int, inputHeight: Int, inputWidth: Int, kernelSize: Int, stride: Int? = nil, padding: Int = 0) throws {
        try self.init(channels: channels, inputHeight: inputHeight, inputWidth: inputWidth, kernelSize: (kernelSize, kernelSize),
                      stride: stride.map { ($0, $0) }, padding: (padding, padding))
    }

    public var inputShape: [Int] { [geometry.channels, geometry.height, geometry.width] }
    public var outputShape: [Int] { [geometry.channels, geometry.outputHeight, geometry.outputWidth] }
    public var parameterSlots: [ParameterSlot] { [] }
    public func withParameter<R, E: Error>(_ slot: Int, _ body: (UnsafeMutableBufferPointer<Float>, UnsafeMutableBufferPointer<Float>) throws(E) -> R) throws(E) -> R {
        preconditionFailure("AvgPool2D has no parameters (slot \(slot))")
    }
    public var torchModuleCount: Int { 1 }
    public var layerDescription: String { "AvgPool2D \(geometry.kernelHeight)×\(geometry.kernelWidth) s\(geometry.strideHeight)" }

    @discardableResult
    public func forward(_ x: Matrix<Float>) throws(MatrixError) -> Matrix<Float> {
        let g = geometry, c = g.channels, hw = g.inputPlane, p = g.outputPlane
        guard x.columns == c * hw else {
            throw .shapeMismatch(operation: "AvgPool2D.forward", lhs: "X \(x.shapeDescription)", rhs: "expects \(c)×\(g.height)×\(g.width) columns")
        }
        let n = x.rows
        if output.rows != n { output = Matrix(rows: n, columns: c * p); inputGradient = Matrix(rows: n, columns: c * hw) }
        let scale = 1 / Float(g.kernelHeight * g.kernelWidth)
        x.withUnsafeBufferPointer { xp in
            output.withUnsafeMutableBufferPointer { yp in
                for plane in 0..<(n * c) {
                    let src = xp.baseAddress! + plane * hw
                    for i in 0..<g.outputHeight {
                        for j in 0..<g.outputWidth {
                            var s: Float = 0
                            for ki in 0..<g.kernelHeight {
                                let ih = i * g.strideHeight - g.padTop + ki
                                if ih < 0 || ih >= g.height { continue }
                                for kj in 0..<g.kernelWidth {
                                    let iw = j * g.strideWidth - g.padLeft + kj
                                    if iw >= 0 && iw < g.width { s += src[ih * g.width + iw] }
                                }
                            }
                            yp[plane * p + i * g.outputWidth + j] = s * scale
                        }
                    }
                }
            }
        }
        return output
    }

    @discardableResult
    public func backward(_ outputGradient: Matrix<Float>) throws(MatrixError) -> Matrix<Float> {
        guard outputGradient.rows == output.rows, outputGradient.columns == output.columns else {
            throw .shapeMismatch(operation: "AvgPool2D.backward", lhs: "dY \(outputGradient.shapeDescription)", rhs: "Y \(output.shapeDescription)")
        }
        guard computesInputGradient else { return Matrix(rows: output.rows, columns: 0) }
        let g = geometry, hw = g.inputPlane, p = g.outputPlane, planes = output.rows * g.channels
        let scale = 1 / Float(g.kernelHeight * g.kernelWidth)
        inputGradient.fill(with: 0)
        outputGradient.withUnsafeBufferPointer { dy in
            inputGradient.withUnsafeMutableBufferPointer { dxp in
                for plane in 0..<planes {
                    let dx = dxp.baseAddress! + plane * hw
                    for i in 0..<g.outputHeight {
                        for j in 0..<g.outputWidth {
                            let v = dy[plane * p + i * g.outputWidth + j] * scale
                            for ki in 0..<g.kernelHeight {
                                let ih = i * g.strideHeight - g.padTop + ki
                                if ih < 0 || ih >= g.height { continue }
                                for kj in 0..<g.kernelWidth {
                                    let iw = j * g.strideWidth - g.padLeft + kj
                                    if iw >= 0 && iw < g.width { dx[ih * g.width + iw] += v }
                                }
                            }
                        }
                    }
                }
            }
        }
        return inputGradient
    }
}

/// Global average pooling `[C, H, W] → [C]`: `Y[n, c] = (1/(H·W))·Σ X[n, c, ·, ·]` (PyTorch
/// `nn.AdaptiveAvgPool2d(1)` followed by `nn.Flatten()`, hence two `torch.nn.Sequential` entries).
public final class GlobalAveragePool: Layer {
    public let channels: Int, height: Int, width: Int
    public var computesInputGradient = true
    public private(set) var output = Matrix<Float>(rows: 0, columns: 0)
    private var inputGradient = Matrix<Float>(rows: 0, columns: 0)

    /// - Throws: `TrainingError.invalidHyperparameter` for sizes < 1.
    public init(channels: Int, inputHeight: Int, inputWidth: Int) throws {
        for (n, v) in [("channels", channels), ("input height", inputHeight), ("input width", inputWidth)] where v < 1 {
            throw TrainingError.invalidHyperparameter(name: "GlobalAveragePool \(n)", value: Double(v), rule: "must be ≥ 1")
        }
        self.channels = channels; height = inputHeight; width = inputWidth
    }

    public var inputShape: [Int] { [channels, height, width] }
    public var outputShape: [Int] { [channels] }
    public var parameterSlots: [ParameterSlot] { [] }
    public func withParameter<R, E: Error>(_ slot: Int, _ body: (UnsafeMutableBufferPointer<Float>, UnsafeMutableBufferPointer<Float>) throws(E) -> R) throws(E) -> R {
        preconditionFailure("GlobalAveragePool has no parameters (slot \(slot))")
    }
    public var torchModuleCount: Int { 2 }
    public var layerDescription: String { "GlobalAveragePool" }

    @discardableResult
    public func forward(_ x: Matrix<Float>) throws(MatrixError) -> Matrix<Float> {
        let hw = height * width
        guard x.columns == channels * hw else {
            throw .shapeMismatch(operation: "GlobalAveragePool.forward", lhs: "X \(x.shapeDescription)", rhs: "expects \(channels)×\(height)×\(width) columns")
        }
        if output.rows != x.rows { output = Matrix(rows: x.rows, columns: channels); inputGradient = Matrix(rows: x.rows, columns: channels * hw) }
        let scale = 1 / Double(hw)
        x.withUnsafeBufferPointer { xp in
            output.withUnsafeMutableBufferPointer { yp in
                for plane in 0..<(x.rows * channels) {
                    var s = 0.0
                    for i in 0..<hw { s += Double(xp[plane * hw + i]) }
                    yp[plane] = Float(s * scale)
                }
            }
        }
        return output
    }

    @discardableResult
    public func backward(_ outputGradient: Matrix<Float>) throws(MatrixError) -> Matrix<Float> {
        guard outputGradient.rows == output.rows, outputGradient.columns == channels else {
            throw .shapeMismatch(operation: "GlobalAveragePool.backward", lhs: "dY \(outputGradient.shapeDescription)", rhs: "Y \(output.shapeDescription)")
        }
        guard computesInputGradient else { return Matrix(rows: output.rows, columns: 0) }
        let hw = height * width, scale = 1 / Float(hw)
        outputGradient.withUnsafeBufferPointer { dy in
            inputGradient.withUnsafeMutableBufferPointer { dx in
                for plane in 0..<(output.rows * channels) {
                    let v = dy[plane] * scale
                    for i in 0..<hw { dx[plane * hw + i] = v }
                }
            }
        }
        return inputGradient
    }
}

/// Flattens `[C, H, W]` to `[C·H·W]` (PyTorch `nn.Flatten()`). The batch matrix already holds
/// each sample row-major, so forward and backward return their argument unchanged.
public final class Flatten: Layer {
    public let inputShape: [Int]
    public var computesInputGradient = true

    /// - Throws: `TrainingError.invalidHyperparameter` for an empty shape or a size < 1.
    public init(inputShape: [Int]) throws {
        guard !inputShape.isEmpty, inputShape.allSatisfy({ $0 >= 1 }) else {
            throw TrainingError.invalidHyperparameter(name: "Flatten input shape", value: Double(inputShape.min() ?? 0), rule: "needs ≥ 1 dimension, each ≥ 1 (got \(inputShape))")
        }
        self.inputShape = inputShape
    }

    public var outputShape: [Int] { [inputShape.reduce(1, *)] }
    public var parameterSlots: [ParameterSlot] { [] }
    public func withParameter<R, E: Error>(_ slot: Int, _ body: (UnsafeMutableBufferPointer<Float>, UnsafeMutableBufferPointer<Float>) throws(E) -> R) throws(E) -> R {
        preconditionFailure("Flatten has no parameters (slot \(slot))")
    }
    public var torchModuleCount: Int { 1 }
    public var layerDescription: String { "Flatten" }

    @discardableResult
    public func forward(_ x: Matrix<Float>) throws(MatrixError) -> Matrix<Float> {
        guard x.columns == inputShape.reduce(1, *) else {
            throw .shapeMismatch(operation: "Flatten.forward", lhs: "X \(x.shapeDescription)", rhs: "expects \(inputShape.reduce(1, *)) columns")
        }
        return x
    }

    @discardableResult
    public func backward(_ outputGradient: Matrix<Float>) throws(MatrixError) -> Matrix<Float> {
        guard outputGradient.columns == inputShape.reduce(1, *) else {
            throw .shapeMismatch(operation: "Flatten.backward", lhs: "dY \(outputGradient.shapeDescription)", rhs: "expects \(inputShape.reduce(1, *)) columns")
        }
        return computesInputGradient ? outputGradient : Matrix(rows: outputGradient.rows, columns: 0)
    }
}
