// Identity (eye), dirac and delta-orthogonal: a naive conv2d as the oracle for dirac (C15),
// element checks, both centre conventions, and shape errors.
import Foundation
import Testing
import Initializers

@Suite("Identity, dirac, delta-orthogonal")
struct StructuredFillTests {
    /// Naive conv2d, stride 1, zero padding `pad`, groups: input (C, H, W), weight OIHW (O, C/groups, kh, kw).
    static func conv2d(_ x: [Double], channels c: Int, height h: Int, width w: Int, weight: [Double], out o: Int,
                       kh: Int, kw: Int, pad: Int, groups: Int) -> [Double] {
        let cg = c / groups, og = o / groups
        let oh = h + 2 * pad - kh + 1, ow = w + 2 * pad - kw + 1
        var y = [Double](repeating: 0, count: o * oh * ow)
        for oc in 0..<o {
            let g = oc / og
            for yy in 0..<oh { for xx in 0..<ow {
                var s = 0.0
                for ic in 0..<cg { for ky in 0..<kh { for kx in 0..<kw {
                    let iy = yy + ky - pad, ix = xx + kx - pad
                    guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                    s += weight[((oc * cg + ic) * kh + ky) * kw + kx] * x[((g * cg + ic) * h + iy) * w + ix]
                } } }
                y[(oc * oh + yy) * ow + xx] = s
            } }
        }
        return y
    }

    static func randomInput(_ count: Int, seed: UInt64) -> [Double] {
        var g = SplitMix64(seed: seed)
        return (0..<count).map { _ in g.uniform() }
    }

    @Test("C15: dirac (3,3,3,3) with padding 1 passes a random (1,3,5,5) input through exactly")
    func diracIdentity() throws {
        let w: [Double] = try filled(.dirac(), shape: [3, 3, 3, 3], key: RandomKey(seed: 0))
        let x = Self.randomInput(75, seed: 1)
        let y = Self.conv2d(x, channels: 3, height: 5, width: 5, weight: w, out: 3, kh: 3, kw: 3, pad: 1, groups: 1)
        #expect(y == x)
        let wf: [Float] = try filled(.dirac(), shape: [3, 3, 3, 3], key: RandomKey(seed: 0))
        #expect(toDoubles(wf) == w)
    }

    @Test("C15: dirac (6,3,3,3) groups 1: channels 0–2 copy the input, 3–5 are zero")
    func diracMoreOutputs() throws {
        let w: [Double] = try filled(.dirac(), shape: [6, 3, 3, 3], key: RandomKey(seed: 0))
        let x = Self.randomInput(75, seed: 2)
        let y = Self.conv2d(x, channels: 3, height: 5, width: 5, weight: w, out: 6, kh: 3, kw: 3, pad: 1, groups: 1)
        #expect(Array(y[0..<75]) == x)
        #expect(y[75...].allSatisfy { $0 == 0 })
    }

    @Test("C15: dirac (6,3,3,3) groups 2 on 6 input channels is the identity")
    func diracGroups() throws {
        let w: [Double] = try filled(.dirac(groups: 2), shape: [6, 3, 3, 3], key: RandomKey(seed: 0))
        let x = Self.randomInput(150, seed: 3)
        let y = Self.conv2d(x, channels: 6, height: 5, width: 5, weight: w, out: 6, kh: 3, kw: 3, pad: 1, groups: 2)
        #expect(y == x)
        // Only 6 ones, at [g·3 + d, d, 1, 1].
        #expect(w.filter { $0 != 0 }.count == 6 && w.reduce(0, +) == 6)
        for o in 0..<6 { #expect(w[((o * 3 + o % 3) * 3 + 1) * 3 + 1] == 1) }
    }

    @Test("dirac on 1-D and 3-D conv kernels and even kernels: centre k/2")
    func diracOtherRanks() throws {
        let w1: [Float] = try filled(.dirac(), shape: [4, 2, 5], key: RandomKey(seed: 0))  // out > in: d < min(4, 2)
        var e1 = [Float](repeating: 0, count: 40)
        for d in 0..<2 { e1[(d * 2 + d) * 5 + 2] = 1 }
        #expect(w1 == e1)
        let w3: [Float] = try filled(.dirac(), shape: [2, 2, 3, 3, 3], key: RandomKey(seed: 0))
        var e3 = [Float](repeating: 0, count: 108)
        for d in 0..<2 { e3[(d * 2 + d) * 27 + 13] = 1 }
        #expect(w3 == e3)
        let even: [Float] = try filled(.dirac(), shape: [2, 2, 4, 4], key: RandomKey(seed: 0))
        var ee = [Float](repeating: 0, count: 64)
        for d in 0..<2 { ee[(d * 2 + d) * 16 + 2 * 4 + 2] = 1 }
        #expect(even == ee)
    }

    @Test("C15: eye on (3,5) and (5,3), with gain")
    func eye() throws {
        let w: [Float] = try filled(.identity(), shape: [3, 5], key: RandomKey(seed: 0))
        #expect(w == [1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0])
        let t: [Double] = try filled(.identity(gain: 2.5), shape: [5, 3], key: RandomKey(seed: 0))
        for i in 0..<5 { for j in 0..<3 { #expect(t[i * 3 + j] == (i == j ? 2.5 : 0)) } }
    }

    @Test("C15: eye on a 3-D shape and dirac on a 2-D shape are errors; dirac groups must divide out")
    func errors() {
        if case .unsupportedShape? = InitializerTests.error(.identity(), shape: [3, 3, 3]) {} else { Issue.record("eye on 3-D accepted") }
        if case .unsupportedShape? = InitializerTests.error(.dirac(), shape: [3, 3]) {} else { Issue.record("dirac on 2-D accepted") }
        if case .unsupportedShape? = InitializerTests.error(.dirac(), shape: [2, 2, 1, 1, 1, 1]) {} else { Issue.record("dirac on 6-D accepted") }
        if case .invalidParameter? = InitializerTests.error(.dirac(groups: 4), shape: [6, 3, 3, 3]) {} else { Issue.record("groups 4 of 6 accepted") }
        if case .unsupportedShape? = InitializerTests.error(.deltaOrthogonal(), shape: [4, 4]) {} else { Issue.record("delta-orthogonal on 2-D accepted") }
        #expect(InitializerTests.error(.deltaOrthogonal(), shape: [4, 8, 3, 3]) == .deltaOrthogonalInputExceedsOutput(inChannels: 8, outChannels: 4))
    }

    @Test("delta-orthogonal: centre tap (k−1)/2 holds an orthogonal [out, in] matrix, everything else is 0",
          arguments: [[8, 4, 3, 3], [6, 6, 5], [5, 3, 4, 4], [4, 2, 3, 3, 3], [3, 3, 1, 1]])
    func deltaOrthogonal(_ shape: [Int]) throws {
        let gain = 1.5
        let w = toDoubles(try filled(.deltaOrthogonal(gain: gain), Float.self, shape: shape, key: RandomKey(seed: 21)))
        let o = shape[0], i = shape[1], spatial = Array(shape[2...])
        let r = spatial.reduce(1, *)
        var centre = 0
        for k in spatial { centre = centre * k + (k - 1) / 2 }
        var m = [Double](repeating: 0, count: o * i)
        for a in 0..<o { for b in 0..<i { for t in 0..<r {
            let v = w[(a * i + b) * r + t]
            if t == centre { m[a * i + b] = v } else if v != 0 { Issue.record("\(shape): nonzero off-centre at [\(a), \(b), tap \(t)]") }
        } } }
        let dev = maxDeviationFromScaledIdentity(gram(m, rows: o, columns: i, ofRows: false), n: i, scale: gain * gain)
        #expect(dev < 2e-5, "\(shape): max |MᵀM − g²I| = \(dev)")
    }

    @Test("expectedStatistics of identity and dirac equal the exact statistics of the fill")
    func statistics() throws {
        for (ini, shape) in [(Initializer.identity(gain: 2), [3, 5]), (.dirac(groups: 2), [6, 3, 3, 3]), (.dirac(), [4, 2, 5])] {
            let w: [Double] = try filled(ini, shape: shape, key: RandomKey(seed: 0))
            let n = Double(w.count), mean = w.reduce(0, +) / n
            let std = (w.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / n).squareRoot()
            let e = try ini.expectedStatistics(shape: shape)
            #expect(abs(e.mean - mean) < 1e-15 && abs(e.std - std) < 1e-15, "\(ini) \(shape): \(e) vs (\(mean), \(std))")
            #expect(e.bound == w.map(abs).max())
        }
    }
}
