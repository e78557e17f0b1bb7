// Conv2D against independent oracles: a naive 7-loop convolution in Double (forward), the
// same loops' adjoints in Double and central finite differences in Double on the Float layer
// (backward), over the whole option grid of issue 12 (stride 1/2, padding 0/1/same, dilation
// 1/2, groups 1/2/depthwise, kernels 1/3/5, non-square inputs, batch 1, a kernel as large as the
// input, 1×1 images). Sizes are tiny so the grid runs in seconds.
//
// Tolerances. Every output is a dot product of K = (C/G)·kh·kw + 1 terms (bias included)
// computed in Float, so |y − y_exact| ≤ γ·A with A = Σ|w·x| + |b| and γ = K·2⁻²⁴ (Higham's
// bound, first order); the tests use 4·K·2⁻²⁴·A. Gradients are sums over N·OH·OW terms of
// Float products: likewise 4·terms·2⁻²⁴·(Σ|terms|). With the identity activation the layer is
// affine in W, b and X, so the central difference (L(θ+h) − L(θ−h))/2h with L = Σ R⊙Y has no
// truncation error at any h: its error is only the forward rounding, at most
// 2·Σ_i |R_i|·4·K·2⁻²⁴·A_i / (2h). h = 0.5.
import Foundation
import Testing
import Initializers
import MatrixModule
@testable import NeuralNetwork

struct ConvCase: CustomStringConvertible, Sendable {
    var n = 2, c = 2, h = 5, w = 6, o = 2
    var kh = 3, kw = 3, sh = 1, sw = 1, dh = 1, dw = 1, groups = 1
    var padding: Padding2D = .valid

    var description: String { "N\(n) C\(c) \(h)×\(w) → O\(o) k\(kh)×\(kw) s(\(sh),\(sw)) d(\(dh),\(dw)) g\(groups) p\(padding)" }

    /// Padding per side from the definitions (PyTorch explicit; TensorFlow "same").
    func pads() -> (top: Int, bottom: Int, left: Int, right: Int) {
        switch padding {
        case let .explicit(ph, pw): return (ph, ph, pw, pw)
        case .same:
            func axis(_ size: Int, _ k: Int, _ s: Int, _ d: Int) -> (Int, Int) {
                let out = Int((Double(size) / Double(s)).rounded(.up))
                let total = max((out - 1) * s + d * (k - 1) + 1 - size, 0)
                return (total / 2, total - total / 2)
            }
            let (t, b) = axis(h, kh, sh, dh), (l, r) = axis(w, kw, sw, dw)
            return (t, b, l, r)
        }
    }
    var outH: Int { let p = pads(); return (h + p.top + p.bottom - dh * (kh - 1) - 1) / sh + 1 }
    var outW: Int { let p = pads(); return (w + p.left + p.right - dw * (kw - 1) - 1) / sw + 1 }
    var valid: Bool {
        let p = pads()
        return dh * (kh - 1) + 1 <= h + p.top + p.bottom && dw * (kw - 1) + 1 <= w + p.left + p.right
    }
    var cg: Int { c / groups }
    var og: Int { o / groups }
    var weightCount: Int { o * cg * kh * kw }

    func layer(_ act: Activation = .identity) throws -> Conv2D {
        try Conv2D(inputChannels: c, outputChannels: o, kernelSize: (kh, kw), stride: (sh, sw), padding: padding,
                   dilation: (dh, dw), groups: groups, activation: act, inputHeight: h, inputWidth: w)
    }

    /// The 7-loop convolution in Double: y[n][o][i][j] and A = Σ|w·x| + |b| per output.
    func naive(x: [Double], wt: [Double], b: [Double]) -> (y: [Double], a: [Double]) {
        let p = pads(), oh = outH, ow = outW
        var y = [Double](repeating: 0, count: n * o * oh * ow), a = y
        for s in 0..<n {
            for oc in 0..<o {
                let g = oc / og
                for i in 0..<oh {
                    for j in 0..<ow {
                        var acc = b[oc], abs = Swift.abs(b[oc])
                        for ci in 0..<cg {
                            for ki in 0..<kh {
                                for kj in 0..<kw {
                                    let ih = i * sh - p.top + ki * dh, iw = j * sw - p.left + kj * dw
                                    guard ih >= 0, ih < h, iw >= 0, iw < w else { continue }
                                    let xv = x[((s * c + g * cg + ci) * h + ih) * w + iw]
                                    let wv = wt[((oc * cg + ci) * kh + ki) * kw + kj]
                                    acc += wv * xv; abs += Swift.abs(wv * xv)
                                }
                            }
                        }
                        let idx = ((s * o + oc) * oh + i) * ow + j
                        y[idx] = acc; a[idx] = abs
                    }
                }
            }
        }
        return (y, a)
    }

    /// The adjoint loops in Double: dX, dW, db for output gradient dz, with Σ|terms| bounds.
    func naiveBackward(x: [Double], wt: [Double], dz: [Double]) -> (dx: [Double], dw: [Double], db: [Double], dxA: [Double], dwA: [Double], dbA: [Double]) {
        let p = pads(), oh = outH, ow = outW
        var dx = [Double](repeating: 0, count: x.count), dxA = dx
        var dwt = [Double](repeating: 0, count: wt.count), dwA = dwt
        var db = [Double](repeating: 0, count: o), dbA = db
        for s in 0..<n {
            for oc in 0..<o {
                let g = oc / og
                for i in 0..<oh {
                    for j in 0..<ow {
                        let d = dz[((s * o + oc) * oh + i) * ow + j]
                        db[oc] += d; dbA[oc] += abs(d)
                        for ci in 0..<cg {
                            for ki in 0..<kh {
                                for kj in 0..<kw {
                                    let ih = i * sh - p.top + ki * dh, iw = j * sw - p.left + kj * dw
                                    guard ih >= 0, ih < h, iw >= 0, iw < w else { continue }
                                    let xi = ((s * c + g * cg + ci) * h + ih) * w + iw
                                    let wi = ((oc * cg + ci) * kh + ki) * kw + kj
                                    dwt[wi] += d * x[xi]; dwA[wi] += abs(d * x[xi])
                                    dx[xi] += d * wt[wi]; dxA[xi] += abs(d * wt[wi])
                                }
                            }
                        }
                    }
                }
            }
        }
        return (dx, dwt, db, dxA, dwA, dbA)
    }
}

private let u = 0x1.0p-24

/// The option grid of issue 12 on a 5×6 input (non-square), batch 2, plus a batch-1 copy of
/// every fifth case; cases whose dilated kernel does not fit are returned separately.
func convGrid() -> (valid: [ConvCase], invalid: [ConvCase]) {
    var valid: [ConvCase] = [], invalid: [ConvCase] = []
    var index = 0
    for groups in [1, 2, 0] {          // 0 = depthwise
        for k in [1, 3, 5] {
            for stride in [1, 2] {
                for dilation in [1, 2] {
                    for padding in [Padding2D.valid, .symmetric(1), .same] {
                        var cs = ConvCase()
                        switch groups {
                        case 1: cs.c = 2; cs.o = 3
                        case 2: cs.c = 4; cs.o = 4; cs.groups = 2
                        default: cs.c = 3; cs.o = 3; cs.groups = 3
                        }
                        cs.kh = k; cs.kw = k; cs.sh = stride; cs.sw = stride; cs.dh = dilation; cs.dw = dilation
                        cs.padding = padding
                        if !cs.valid { invalid.append(cs); continue }
                        valid.append(cs)
                        index += 1
                        if index % 5 == 0 { var b = cs; b.n = 1; valid.append(b) }
                    }
                }
            }
        }
    }
    // Special shapes: kernel as large as the input, 1×1 images, rectangular kernels and strides.
    valid.append(ConvCase(n: 2, c: 2, h: 3, w: 5, o: 2, kh: 3, kw: 5))                                   // kernel = input
    valid.append(ConvCase(n: 1, c: 4, h: 3, w: 3, o: 2, kh: 3, kw: 3, groups: 2))                         // kernel = input, groups
    valid.append(ConvCase(n: 3, c: 2, h: 1, w: 1, o: 3, kh: 1, kw: 1))                                   // 1×1 image
    valid.append(ConvCase(n: 2, c: 2, h: 1, w: 1, o: 2, kh: 3, kw: 3, padding: .symmetric(1)))           // 1×1 image, 3×3 pad 1
    valid.append(ConvCase(n: 2, c: 3, h: 1, w: 1, o: 3, kh: 3, kw: 3, groups: 3, padding: .same))        // 1×1, depthwise, same
    valid.append(ConvCase(n: 2, c: 2, h: 6, w: 4, o: 2, kh: 3, kw: 1, sh: 2, sw: 1, dh: 1, dw: 2, padding: .explicit(height: 1, width: 0)))
    valid.append(ConvCase(n: 1, c: 2, h: 7, w: 5, o: 4, kh: 2, kw: 3, sh: 1, sw: 2, padding: .same))     // even kernel, same: odd zero after
    return (valid, invalid)
}

func seeded(_ count: Int, _ seed: UInt64, _ lo: Double = -1, _ hi: Double = 1) -> [Double] {
    var g = SplitMix64(seed: seed)
    return (0..<count).map { _ in Double(Float(g.uniform(lo, hi))) }     // exactly representable in Float
}

func floatMatrix(_ rows: Int, _ columns: Int, _ v: [Double]) -> Matrix<Float> {
    try! Matrix(rows: rows, columns: columns, elements: v.map { Float($0) })
}

@Suite("Conv2D")
struct Conv2DTests {
    @Test("forward equals the naive 7-loop Double convolution over the whole option grid", arguments: [ConvolutionAlgorithm.im2col, .direct])
    func forwardGrid(algorithm: ConvolutionAlgorithm) throws {
        let (cases, _) = convGrid()
        var worst = 0.0
        for (ci, cs) in cases.enumerated() {
            let layer = try cs.layer()
            layer.algorithm = algorithm
            let x = seeded(cs.n * cs.c * cs.h * cs.w, UInt64(ci) * 3 + 1)
            let wt = seeded(cs.weightCount, UInt64(ci) * 3 + 2), b = seeded(cs.o, UInt64(ci) * 3 + 3)
            layer.weight = floatMatrix(cs.o, cs.weightCount / cs.o, wt)
            layer.bias = b.map { Float($0) }
            #expect(layer.outputShape == [cs.o, cs.outH, cs.outW], "\(cs)")
            let y = try layer.forward(floatMatrix(cs.n, cs.c * cs.h * cs.w, x))
            let (ref, a) = cs.naive(x: x, wt: wt, b: b)
            #expect(y.rows == cs.n && y.columns == cs.o * cs.outH * cs.outW, "\(cs)")
            let k = Double(cs.cg * cs.kh * cs.kw + 1)
            for (i, v) in y.elements.enumerated() {
                let err = abs(Double(v) - ref[i]), tol = 4 * k * u * a[i] + 1e-30
                worst = max(worst, err / tol)
                #expect(err <= tol, "\(cs) output \(i): \(v) vs \(ref[i])")
            }
        }
        print("Conv2D forward (\(algorithm)): \(cases.count) cases, worst error / bound = \(worst)")
    }

    @Test("backward dX, dW, db equal the Double adjoint loops and central finite differences, whole grid",
          arguments: [ConvolutionAlgorithm.im2col, .direct])
    func backwardGrid(algorithm: ConvolutionAlgorithm) throws {
        let (cases, _) = convGrid()
        var worstFD = 0.0, worstAdj = 0.0
        for (ci, cs) in cases.enumerated() {
            let layer = try cs.layer()
            layer.algorithm = algorithm
            var x = seeded(cs.n * cs.c * cs.h * cs.w, UInt64(ci) * 5 + 1)
            var wt = seeded(cs.weightCount, UInt64(ci) * 5 + 2)
            var b = seeded(cs.o, UInt64(ci) * 5 + 3)
            let outCount = cs.n * cs.o * cs.outH * cs.outW
            let r = seeded(outCount, UInt64(ci) * 5 + 4)            // L = Σ R ⊙ Y, so dY = R
            func load() { layer.weight = floatMatrix(cs.o, cs.weightCount / cs.o, wt); layer.bias = b.map { Float($0) } }
            func loss() throws -> Double {
                load()
                let y = try layer.forward(floatMatrix(cs.n, cs.c * cs.h * cs.w, x))
                return zip(y.elements, r).reduce(0) { $0 + Double($1.0) * $1.1 }
            }
            load()
            _ = try layer.forward(floatMatrix(cs.n, cs.c * cs.h * cs.w, x))
            let dx = try layer.backward(floatMatrix(cs.n, cs.o * cs.outH * cs.outW, r))
            let dw = layer.weightGradient.elements.map(Double.init), db = layer.biasGradient.map(Double.init)
            let dxs = dx.elements.map(Double.init)
            let ref = cs.naiveBackward(x: x, wt: wt, dz: r)
            func check(_ got: [Double], _ want: [Double], _ abs: [Double], _ terms: Int, _ what: String) {
                for i in got.indices {
                    let tol = 4 * Double(terms) * u * abs[i] + 1e-30, err = Swift.abs(got[i] - want[i])
                    worstAdj = max(worstAdj, err / tol)
                    #expect(err <= tol, "\(cs) \(what)[\(i)]: \(got[i]) vs \(want[i])")
                }
            }
            check(dxs, ref.dx, ref.dxA, cs.og * cs.kh * cs.kw, "dX")
            check(dw, ref.dw, ref.dwA, cs.n * cs.outH * cs.outW, "dW")
            check(db, ref.db, ref.dbA, cs.n * cs.outH * cs.outW, "db")
            // Central differences, every element of W, b and X.
            let (_, a) = cs.naive(x: x.map(Swift.abs), wt: wt.map(Swift.abs), b: b.map(Swift.abs))
            let k = Double(cs.cg * cs.kh * cs.kw + 1), h = 0.5
            // Perturbing by h changes A by at most h·(Σ|x| or Σ|w|) per output: bound with 2× margin.
            let fdTol = 2 * zip(r, a).reduce(0) { $0 + Swift.abs($1.0) * 4 * k * u * ($1.1 + 2) } / (2 * h) + 1e-12
            // which: 0 = W, 1 = b, 2 = X (no inout: loss() reads all three arrays).
            func fd(_ which: Int, _ i: Int) throws -> Double {
                func set(_ v: Double) { if which == 0 { wt[i] = v } else if which == 1 { b[i] = v } else { x[i] = v } }
                let saved = which == 0 ? wt[i] : which == 1 ? b[i] : x[i]
                set(saved + h); let lp = try loss()
                set(saved - h); let lm = try loss()
                set(saved)
                return (lp - lm) / (2 * h)
            }
            for i in wt.indices { let g = try fd(0, i); worstFD = max(worstFD, abs(g - dw[i]) / fdTol); #expect(abs(g - dw[i]) <= fdTol, "\(cs) FD dW[\(i)]: \(g) vs \(dw[i])") }
            for i in b.indices { let g = try fd(1, i); worstFD = max(worstFD, abs(g - db[i]) / fdTol); #expect(abs(g - db[i]) <= fdTol, "\(cs) FD db[\(i)]: \(g) vs \(db[i])") }
            for i in x.indices { let g = try fd(2, i); worstFD = max(worstFD, abs(g - dxs[i]) / fdTol); #expect(abs(g - dxs[i]) <= fdTol, "\(cs) FD dX[\(i)]: \(g) vs \(dxs[i])") }
        }
        print("Conv2D backward (\(algorithm)): \(cases.count) cases, worst error / bound: adjoint loops \(worstAdj), finite differences \(worstFD)")
    }

    @Test("a fused activation: dZ = dY ⊙ f′(Z) before the products (tanh and ReLU, Double chain rule)",
          arguments: [ConvolutionAlgorithm.im2col, .direct])
    func activationBackward(algorithm: ConvolutionAlgorithm) throws {
        for act in [Activation.tanh, .relu] {
            let cs = ConvCase(n: 2, c: 4, h: 5, w: 4, o: 4, kh: 3, kw: 3, sh: 2, sw: 1, groups: 2, padding: .same)
            let layer = try cs.layer(act)
            layer.algorithm = algorithm
            let x = seeded(cs.n * cs.c * cs.h * cs.w, 11), wt = seeded(cs.weightCount, 12), b = seeded(cs.o, 13)
            layer.weight = floatMatrix(cs.o, cs.weightCount / cs.o, wt); layer.bias = b.map { Float($0) }
            let y = try layer.forward(floatMatrix(cs.n, cs.c * cs.h * cs.w, x))
            let (z, a) = cs.naive(x: x, wt: wt, b: b)
            let dy = seeded(z.count, 14)
            let fz: [Double] = act == .tanh ? z.map { Foundation.tanh($0) } : z.map { max($0, 0) }
            for i in z.indices { #expect(abs(Double(y.elements[i]) - fz[i]) <= 1e-5 * (1 + a[i]), "\(act.name) y[\(i)]") }
            let dz: [Double] = act == .tanh ? zip(dy, fz).map { $0 * (1 - $1 * $1) } : zip(dy, z).map { $1 > 0 ? $0 : 0 }
            let dx = try layer.backward(floatMatrix(cs.n, z.count / cs.n, dy))
            let ref = cs.naiveBackward(x: x, wt: wt, dz: dz)
            for i in ref.dw.indices { #expect(abs(Double(layer.weightGradient.elements[i]) - ref.dw[i]) <= 1e-4 * (1 + ref.dwA[i]), "\(act.name) dW[\(i)]") }
            for i in ref.db.indices { #expect(abs(Double(layer.biasGradient[i]) - ref.db[i]) <= 1e-4 * (1 + ref.dbA[i]), "\(act.name) db[\(i)]") }
            for i in ref.dx.indices { #expect(abs(Double(dx.elements[i]) - ref.dx[i]) <= 1e-4 * (1 + ref.dxA[i]), "\(act.name) dX[\(i)]") }
        }
    }

    @Test("invalid geometry is a typed error naming the value: kernel larger than the padded input, groups, sizes")
    func invalidGeometry() throws {
        let (_, invalid) = convGrid()
        #expect(!invalid.isEmpty)
        for cs in invalid {
            #expect(throws: TrainingError.self, "\(cs)") { _ = try cs.layer() }
        }
        #expect(throws: TrainingError.self) { _ = try Conv2D(inputChannels: 3, outputChannels: 4, kernelSize: 3, groups: 2, inputHeight: 5, inputWidth: 5) }
        #expect(throws: TrainingError.self) { _ = try Conv2D(inputChannels: 0, outputChannels: 4, kernelSize: 3, inputHeight: 5, inputWidth: 5) }
        #expect(throws: TrainingError.self) { _ = try Conv2D(inputChannels: 1, outputChannels: 4, kernelSize: 3, stride: 0, inputHeight: 5, inputWidth: 5) }
        #expect(throws: TrainingError.self) { _ = try Conv2D(inputChannels: 1, outputChannels: 4, kernelSize: 3, padding: .symmetric(-1), inputHeight: 5, inputWidth: 5) }
        let layer = try Conv2D(inputChannels: 2, outputChannels: 2, kernelSize: 3, inputHeight: 4, inputWidth: 4)
        #expect(throws: MatrixError.self) { _ = try layer.forward(Matrix(rows: 1, columns: 31)) }
        _ = try layer.forward(Matrix(rows: 2, columns: 32))
        #expect(throws: MatrixError.self) { _ = try layer.backward(Matrix(rows: 1, columns: 8)) }
    }

    @Test("computesInputGradient false: same dW and db, dX is [batch, 0]; buffers reused across steps")
    func skipInputGradient() throws {
        let cs = ConvCase(n: 3, c: 2, h: 5, w: 5, o: 4, padding: .same)
        let layer = try cs.layer(.relu)
        layer.weight = floatMatrix(cs.o, cs.weightCount / cs.o, seeded(cs.weightCount, 1))
        let x = floatMatrix(3, 50, seeded(150, 2)), dy = floatMatrix(3, 100, seeded(300, 3))
        _ = try layer.forward(x)
        _ = try layer.backward(dy)
        let (w1, b1) = (layer.weightGradient, layer.biasGradient)
        layer.computesInputGradient = false
        _ = try layer.forward(x)
        let dx = try layer.backward(dy)
        #expect(dx.rows == 3 && dx.columns == 0)
        #expect(layer.weightGradient == w1 && layer.biasGradient == b1)
    }

    @Test("results are bitwise the same for 1, 2 and 3 layer threads, for both algorithms; .automatic picks direct for small C·kh·kw")
    func threadInvariance() throws {
        let shapes = [ConvCase(n: 5, c: 1, h: 12, w: 11, o: 8, padding: .same),                         // a first layer
                      ConvCase(n: 4, c: 6, h: 7, w: 9, o: 6, groups: 6, padding: .same),                // depthwise
                      ConvCase(n: 3, c: 4, h: 9, w: 8, o: 5, sh: 2, sw: 2, padding: .symmetric(1)),     // strided
                      ConvCase(n: 3, c: 8, h: 6, w: 6, o: 4, kh: 3, kw: 3, dh: 2, dw: 2, groups: 2, padding: .same)]
        for (ci, cs) in shapes.enumerated() {
            for algorithm in [ConvolutionAlgorithm.im2col, .direct] {
                var reference: (y: [Float], dx: [Float], dw: [Float], db: [Float])?
                for threads in [1, 2, 3] {
                    let layer = try cs.layer(.relu)
                    layer.algorithm = algorithm
                    layer.threads = threads
                    layer.weight = floatMatrix(cs.o, cs.weightCount / cs.o, seeded(cs.weightCount, UInt64(ci) + 40))
                    layer.bias = seeded(cs.o, UInt64(ci) + 50).map { Float($0) }
                    let y = try layer.forward(floatMatrix(cs.n, cs.c * cs.h * cs.w, seeded(cs.n * cs.c * cs.h * cs.w, UInt64(ci) + 60)))
                    let dx = try layer.backward(floatMatrix(cs.n, y.columns, seeded(cs.n * y.columns, UInt64(ci) + 70)))
                    let got = (y.elements, dx.elements, layer.weightGradient.elements, layer.biasGradient)
                    if let r = reference {
                        #expect(r.y == got.0 && r.dx == got.1 && r.dw == got.2 && r.db == got.3, "\(cs) \(algorithm) threads \(threads)")
                    } else { reference = got }
                }
            }
        }
        let first = try Conv2D(inputChannels: 3, outputChannels: 32, kernelSize: 3, padding: .same, inputHeight: 8, inputWidth: 8)
        let second = try Conv2D(inputChannels: 32, outputChannels: 64, kernelSize: 3, padding: .same, inputHeight: 8, inputWidth: 8)
        #expect(first.resolvedAlgorithm == .direct && second.resolvedAlgorithm == .im2col)
        second.algorithm = .direct
        #expect(second.resolvedAlgorithm == .direct)
    }

    @Test("im2col in several blocks (a partial last one) and several dW waves: equals the Double loops, and bitwise the same for 1, 2 and 3 threads and any wave size")
    func im2colBlocks() throws {
        // Block bytes of two samples' col: blocks of 2 rows, the last one partial (N odd).
        let shapes = [ConvCase(n: 7, c: 4, h: 6, w: 5, o: 6, padding: .same),
                      ConvCase(n: 5, c: 8, h: 7, w: 6, o: 4, groups: 2, padding: .symmetric(1)),
                      ConvCase(n: 5, c: 6, h: 9, w: 8, o: 5, sh: 2, sw: 2, dh: 1, dw: 2, padding: .same)]
        for (ci, cs) in shapes.enumerated() {
            let k = cs.cg * cs.kh * cs.kw, p = cs.outH * cs.outW
            let x = seeded(cs.n * cs.c * cs.h * cs.w, UInt64(ci) + 80), wt = seeded(cs.weightCount, UInt64(ci) + 81)
            let b = seeded(cs.o, UInt64(ci) + 82), dy = seeded(cs.n * cs.o * p, UInt64(ci) + 83)
            let (ref, a) = cs.naive(x: x, wt: wt, b: b)
            let back = cs.naiveBackward(x: x, wt: wt, dz: dy)
            var reference: (y: [Float], dx: [Float], dw: [Float], db: [Float], dz: [Float])?
            for threads in [1, 2, 3] {
                for partialLimit in [Conv2D.weightPartialFloats, 1] {     // all blocks in one wave; one wave per thread
                    let layer = try cs.layer()
                    layer.algorithm = .im2col
                    layer.threads = threads
                    layer.im2colBlockBytes = 2 * k * p * 4
                    layer.weightPartialLimit = partialLimit
                    layer.weight = floatMatrix(cs.o, cs.weightCount / cs.o, wt)
                    layer.bias = b.map { Float($0) }
                    let y = try layer.forward(floatMatrix(cs.n, cs.c * cs.h * cs.w, x))
                    let dx = try layer.backward(floatMatrix(cs.n, cs.o * p, dy))
                    let got = (y.elements, dx.elements, layer.weightGradient.elements, layer.biasGradient, layer.preactivationGradient.elements)
                    if let r = reference {
                        #expect(r.y == got.0 && r.dx == got.1 && r.dw == got.2 && r.db == got.3 && r.dz == got.4,
                                "\(cs) threads \(threads) partial limit \(partialLimit)")
                        continue
                    }
                    reference = got
                    let kk = Double(k + 1)
                    for (i, v) in got.0.enumerated() {
                        #expect(abs(Double(v) - ref[i]) <= 4 * kk * u * a[i] + 1e-30, "\(cs) y[\(i)]")
                    }
                    #expect(got.4 == dy.map { Float($0) }, "\(cs): identity activation, dZ = dY in NCHW order")
                    func check(_ g: [Float], _ want: [Double], _ abs: [Double], _ terms: Int, _ what: String) {
                        for i in g.indices {
                            #expect(Swift.abs(Double(g[i]) - want[i]) <= 4 * Double(terms) * u * abs[i] + 1e-30, "\(cs) \(what)[\(i)]")
                        }
                    }
                    check(got.1, back.dx, back.dxA, cs.og * cs.kh * cs.kw, "dX")
                    check(got.2, back.dw, back.dwA, cs.n * p, "dW")
                    check(got.3, back.db, back.dbA, cs.n * p, "db")
                }
            }
        }
    }

    @Test("fans are group-aware: OIHW [O, C/G, kh, kw] with groups (C02/C04)")
    func fans() throws {
        let a = try Conv2D(inputChannels: 16, outputChannels: 32, kernelSize: 3, inputHeight: 8, inputWidth: 8)
        #expect(a.weightShape == [32, 16, 3, 3] && a.fans.fanIn == 144 && a.fans.fanOut == 288)
        let g = try Conv2D(inputChannels: 16, outputChannels: 32, kernelSize: 3, groups: 4, inputHeight: 8, inputWidth: 8)
        #expect(g.weightShape == [32, 4, 3, 3] && g.fans.fanIn == 36 && g.fans.fanOut == 72)
        let dw = try Conv2D(inputChannels: 4, outputChannels: 4, kernelSize: 3, groups: 4, inputHeight: 8, inputWidth: 8)
        #expect(dw.weightShape == [4, 1, 3, 3] && dw.fans.fanIn == 9 && dw.fans.fanOut == 9)
        // He normal on a depthwise layer: std √(2/9) by the group-aware fan_in (sample of 64·9 = 576 values).
        let big = try Conv2D(inputChannels: 64, outputChannels: 64, kernelSize: 3, groups: 64, inputHeight: 4, inputWidth: 4)
        try big.initialize(with: .heNormal(), key: RandomKey(seed: 3))
        let v = big.weight.elements.map(Double.init)
        let sd = (v.reduce(0) { $0 + $1 * $1 } / Double(v.count)).squareRoot(), want = (2.0 / 9).squareRoot()
        // std of the sample std ≈ σ/√(2n): 5 of those.
        print("He normal depthwise std \(sd) (want \(want))")
        #expect(abs(sd - want) <= 5 * want / (2 * Double(v.count)).squareRoot())
        // Xavier with fan_out group-aware: (C/G·9 + O/G·9) = (36 + 72) on the grouped layer.
        try g.initialize(with: .xavierUniform(), key: RandomKey(seed: 4))
        let bound = (6.0 / (36 + 72)).squareRoot()
        #expect(g.weight.elements.allSatisfy { abs(Double($0)) <= bound } && g.weight.elements.contains { abs(Double($0)) > 0.9 * bound })
    }
}
