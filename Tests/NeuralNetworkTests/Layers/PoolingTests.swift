// MaxPool2D, AvgPool2D, GlobalAveragePool and Flatten against naive Double loops and central
// finite differences (inputs drawn without ties, so max pooling is differentiable there), plus
// the documented tie rule (first maximum in row-major window order) checked on hand-made inputs.
import Foundation
import Testing
import MatrixModule
import NeuralNetwork

private struct PoolCase: CustomStringConvertible {
    var n = 2, c = 3, h = 5, w = 6, kh = 2, kw = 2, sh = 2, sw = 2, ph = 0, pw = 0
    var description: String { "N\(n) C\(c) \(h)×\(w) k(\(kh),\(kw)) s(\(sh),\(sw)) p(\(ph),\(pw))" }
    var oh: Int { (h + 2 * ph - kh) / sh + 1 }
    var ow: Int { (w + 2 * pw - kw) / sw + 1 }

    /// Naive max and average pooling in Double; max returns the first maximal flat index too.
    func naive(_ x: [Double]) -> (max: [Double], arg: [Int], avg: [Double]) {
        var mx: [Double] = [], arg: [Int] = [], avg: [Double] = []
        for plane in 0..<(n * c) {
            for i in 0..<oh {
                for j in 0..<ow {
                    var best = -Double.infinity, at = -1, sum = 0.0
                    for ki in 0..<kh {
                        for kj in 0..<kw {
                            let ih = i * sh - ph + ki, iw = j * sw - pw + kj
                            guard ih >= 0, ih < h, iw >= 0, iw < w else { continue }
                            let v = x[plane * h * w + ih * w + iw]
                            sum += v
                            if v > best { best = v; at = plane * h * w + ih * w + iw }
                        }
                    }
                    mx.append(best); arg.append(at); avg.append(sum / Double(kh * kw))
                }
            }
        }
        return (mx, arg, avg)
    }
}

private let poolCases: [PoolCase] = [
    PoolCase(), PoolCase(kh: 3, kw: 3, sh: 2, sw: 2, ph: 1, pw: 1), PoolCase(n: 1, c: 1, h: 4, w: 4, kh: 2, kw: 2, sh: 1, sw: 1),
    PoolCase(h: 7, w: 3, kh: 3, kw: 2, sh: 2, sw: 1, ph: 1, pw: 0), PoolCase(n: 1, c: 2, h: 1, w: 1, kh: 1, kw: 1, sh: 1, sw: 1),
    PoolCase(h: 4, w: 6, kh: 4, kw: 6, sh: 1, sw: 1),
]

/// Distinct values (a shuffled grid with spacing 0.01): no ties anywhere.
private func distinct(_ count: Int, seed: UInt64) -> [Double] {
    var v = (0..<count).map { Double($0) * 0.01 - Double(count) * 0.005 }
    var g = SplitMix64(seed: seed)
    v.shuffle(using: &g)
    return v.map { Double(Float($0)) }
}

@Suite("Pooling")
struct PoolingTests {
    @Test("MaxPool2D and AvgPool2D forward equal naive loops; backward equals finite differences (no ties)")
    func againstNaive() throws {
        for (k, cs) in poolCases.enumerated() {
            let mp = try MaxPool2D(channels: cs.c, inputHeight: cs.h, inputWidth: cs.w, kernelSize: (cs.kh, cs.kw), stride: (cs.sh, cs.sw), padding: (cs.ph, cs.pw))
            let ap = try AvgPool2D(channels: cs.c, inputHeight: cs.h, inputWidth: cs.w, kernelSize: (cs.kh, cs.kw), stride: (cs.sh, cs.sw), padding: (cs.ph, cs.pw))
            #expect(mp.outputShape == [cs.c, cs.oh, cs.ow] && ap.outputShape == [cs.c, cs.oh, cs.ow], "\(cs)")
            var x = distinct(cs.n * cs.c * cs.h * cs.w, seed: UInt64(k))
            let xm = try Matrix(rows: cs.n, columns: cs.c * cs.h * cs.w, elements: x.map { Float($0) })
            let ref = cs.naive(x)
            let ym = try mp.forward(xm), ya = try ap.forward(xm)
            for i in ref.max.indices {
                #expect(Double(ym.elements[i]) == ref.max[i], "\(cs) max[\(i)]")
                #expect(abs(Double(ya.elements[i]) - ref.avg[i]) <= 1e-6 * (1 + abs(ref.avg[i])), "\(cs) avg[\(i)]")
            }
            // L = Σ R ⊙ Y; finite differences with h = 0.004 (< half the 0.01 spacing: the argmax cannot change).
            let r = (0..<ref.max.count).map { Double(Float(sin(Double($0) + 1))) }
            let rm = try Matrix(rows: cs.n, columns: cs.c * cs.oh * cs.ow, elements: r.map { Float($0) })
            let dxm = try mp.backward(rm).elements.map(Double.init)
            let dxa = try ap.backward(rm).elements.map(Double.init)
            let h = 0.004
            for i in x.indices {
                let saved = x[i]
                x[i] = saved + h; let pm = cs.naive(x); x[i] = saved - h; let mm = cs.naive(x); x[i] = saved
                let gm = zip(r, zip(pm.max, mm.max)).reduce(0) { $0 + $1.0 * ($1.1.0 - $1.1.1) } / (2 * h)
                let ga = zip(r, zip(pm.avg, mm.avg)).reduce(0) { $0 + $1.0 * ($1.1.0 - $1.1.1) } / (2 * h)
                #expect(abs(gm - dxm[i]) <= 1e-5, "\(cs) max dX[\(i)]: FD \(gm) vs \(dxm[i])")
                #expect(abs(ga - dxa[i]) <= 1e-5, "\(cs) avg dX[\(i)]: FD \(ga) vs \(dxa[i])")
            }
        }
    }

    @Test("MaxPool2D ties: the first maximum in row-major window order gets the gradient, deterministically")
    func ties() throws {
        // One 4×4 plane, 2×2 windows: all equal; a tie between (0,1) and (1,0); a tie on the right column.
        let plane: [Float] = [5, 5, 1, 7,
                              5, 5, 2, 7,
                              0, 3, 4, 4,
                              3, 1, 4, 4]
        let mp = try MaxPool2D(channels: 1, inputHeight: 4, inputWidth: 4, kernelSize: 2)
        let x = try Matrix(rows: 1, columns: 16, elements: plane)
        let y = try mp.forward(x)
        #expect(y.elements == [5, 7, 3, 4])
        #expect(mp.argmax == [0, 3, 9, 10])     // flat indices ih·4 + iw: first in row-major order
        let dx = try mp.backward(try Matrix(rows: 1, columns: 4, elements: [1, 2, 3, 4]))
        var want = [Float](repeating: 0, count: 16); want[0] = 1; want[3] = 2; want[9] = 3; want[10] = 4
        #expect(dx.elements == want)
        // Same result on a second run (no state leaks between calls).
        _ = try mp.forward(x)
        #expect(mp.argmax == [0, 3, 9, 10])
    }

    @Test("GlobalAveragePool and Flatten: means per channel, uniform gradient spread; flatten is the identity on the batch")
    func globalAndFlatten() throws {
        let g = try GlobalAveragePool(channels: 3, inputHeight: 2, inputWidth: 5)
        let xv = distinct(2 * 3 * 10, seed: 9)
        let x = try Matrix(rows: 2, columns: 30, elements: xv.map { Float($0) })
        let y = try g.forward(x)
        for p in 0..<6 { #expect(abs(Double(y.elements[p]) - xv[(p * 10)..<(p * 10 + 10)].reduce(0, +) / 10) <= 1e-6) }
        let dx = try g.backward(try Matrix(rows: 2, columns: 3, elements: [1, 2, 3, 4, 5, 6]))
        for i in 0..<60 { #expect(dx.elements[i] == Float(i / 10 + 1) / 10) }
        let f = try Flatten(inputShape: [3, 2, 5])
        #expect(f.outputShape == [30])
        #expect(try f.forward(x) == x)
        #expect(try f.backward(x) == x)
        #expect(throws: TrainingError.self) { _ = try MaxPool2D(channels: 1, inputHeight: 4, inputWidth: 4, kernelSize: 2, padding: 2) }
        #expect(throws: TrainingError.self) { _ = try AvgPool2D(channels: 1, inputHeight: 2, inputWidth: 2, kernelSize: 3) }
        #expect(throws: TrainingError.self) { _ = try GlobalAveragePool(channels: 0, inputHeight: 2, inputWidth: 2) }
        #expect(throws: MatrixError.self) { _ = try g.forward(Matrix(rows: 1, columns: 29)) }
    }
}
