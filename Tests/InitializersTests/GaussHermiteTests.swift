// GaussHermite: nodes and weights against closed forms (2- and 3-point rules), the normal moments
// E[Z^k] = (k−1)!! (0 for odd k) that an n-point rule integrates exactly for k ≤ 2n − 1,
// E[cos Z] = e^(−1/2), the shifted/scaled expectation, and the rejected point counts.
import Foundation
import Testing
import Initializers

/// E[Z^k] for Z ~ N(0, 1): 0 for odd k, (k−1)!! for even k (closed form).
private func ghNormalMoment(_ k: Int) -> Double {
    if k % 2 == 1 { return 0 }
    var p = 1.0
    var j = k - 1
    while j > 1 { p *= Double(j); j -= 2 }
    return p
}

@Suite("GaussHermite")
struct GaussHermiteTests {
    @Test("weights sum to 1, are positive; nodes ascending and symmetric", arguments: [1, 2, 3, 5, 10, 32, 96, 200])
    func weightsAndNodes(n: Int) throws {
        let rule = try GaussHermite(points: n)
        #expect(rule.nodes.count == n && rule.weights.count == n)
        var sum = 0.0
        for w in rule.weights { sum += w }
        #expect(abs(sum - 1) < 1e-12, "Σw = \(sum)")
        // Positive; for very large n the outermost weights (< 1e-150) may round to 0.
        #expect(rule.weights.allSatisfy { n <= 96 ? $0 > 0 : $0 >= 0 })
        for i in 1..<max(n, 1) where n > 1 { #expect(rule.nodes[i - 1] < rule.nodes[i]) }
        for i in 0..<n { #expect(abs(rule.nodes[i] + rule.nodes[n - 1 - i]) < 1e-9 * max(1, abs(rule.nodes[i]))) }
        for i in 0..<n { #expect(abs(rule.weights[i] - rule.weights[n - 1 - i]) <= 1e-9 * rule.weights[i] + 1e-15) }
    }

    @Test("2- and 3-point rules match the closed forms (±1, ½ ½; 0, ±√3, ⅔ ⅙ ⅙)")
    func smallRulesClosedForm() throws {
        let one = try GaussHermite(points: 1)
        #expect(abs(one.nodes[0]) < 1e-14 && abs(one.weights[0] - 1) < 1e-14)
        let two = try GaussHermite(points: 2)
        #expect(abs(two.nodes[0] + 1) < 1e-12 && abs(two.nodes[1] - 1) < 1e-12)
        #expect(abs(two.weights[0] - 0.5) < 1e-12 && abs(two.weights[1] - 0.5) < 1e-12)
        let three = try GaussHermite(points: 3)
        let r3 = 3.0.squareRoot()
        #expect(abs(three.nodes[0] + r3) < 1e-12 && abs(three.nodes[1]) < 1e-12 && abs(three.nodes[2] - r3) < 1e-12)
        #expect(abs(three.weights[0] - 1.0 / 6) < 1e-12 && abs(three.weights[1] - 2.0 / 3) < 1e-12 && abs(three.weights[2] - 1.0 / 6) < 1e-12)
    }

    @Test("E[Z^k] exact for k ≤ 2n−1 (moments 0,1,0,3,0,15,0,105,…), not for k = 2n", arguments: [1, 2, 3, 4, 5, 8, 10, 16])
    func momentsExactUpTo2nMinus1(n: Int) throws {
        let rule = try GaussHermite(points: n)
        for k in 0...(2 * n - 1) {
            let got = rule.expectation { Foundation.pow($0, Double(k)) }
            let want = ghNormalMoment(k)
            // Odd moments vanish; scale their tolerance by the neighbouring even moment.
            let scale = max(1, ghNormalMoment(k % 2 == 0 ? k : k + 1))
            #expect(abs(got - want) <= 1e-11 * scale, "n \(n), k \(k): \(got) vs \(want)")
        }
        // Degree 2n is not integrated exactly (the rule has exactly 2n − 1 degrees of exactness).
        let k = 2 * n
        let got = rule.expectation { Foundation.pow($0, Double(k)) }
        #expect(abs(got - ghNormalMoment(k)) > 1e-6 * ghNormalMoment(k), "n \(n), k \(k) unexpectedly exact")
    }

    @Test("96-point rule: moments up to k = 30 to 1e-10 relative")
    func momentsDefaultRule() throws {
        let rule = try GaussHermite()
        #expect(rule.nodes.count == 96)
        for k in 0...30 {
            let got = rule.expectation { Foundation.pow($0, Double(k)) }
            let want = ghNormalMoment(k)
            let scale = max(1, ghNormalMoment(k % 2 == 0 ? k : k + 1))
            #expect(abs(got - want) <= 1e-10 * scale, "k \(k): \(got) vs \(want)")
        }
    }

    @Test("E[cos Z] = e^(−1/2); E[e^Z] = e^(1/2); shifted/scaled E[(μ+σZ)²] = μ²+σ²")
    func smoothExpectations() throws {
        let rule = try GaussHermite(points: 96)
        #expect(abs(rule.expectation { Foundation.cos($0) } - Foundation.exp(-0.5)) < 1e-13)
        #expect(abs(rule.expectation { Foundation.exp($0) } - Foundation.exp(0.5)) < 1e-12)
        let r20 = try GaussHermite(points: 20)
        #expect(abs(r20.expectation { Foundation.cos($0) } - Foundation.exp(-0.5)) < 1e-12)
        // E[cos(σZ)] = e^(−σ²/2) via the std argument; E[(μ+σZ)²] = μ² + σ².
        #expect(abs(rule.expectation(mean: 0, std: 2) { Foundation.cos($0) } - Foundation.exp(-2)) < 1e-12)
        #expect(abs(rule.expectation(mean: 1.5, std: 0.5) { $0 * $0 } - (2.25 + 0.25)) < 1e-12)
        #expect(abs(rule.expectation(mean: -0.75, std: 3) { $0 } + 0.75) < 1e-12)
    }

    @Test("invalid point counts throw invalidParameter", arguments: [0, -1, -96, 401, 10_000])
    func invalidCounts(n: Int) {
        #expect {
            _ = try GaussHermite(points: n)
        } throws: { error in
            guard let e = error as? InitializationError, case let .invalidParameter(name, value, _) = e else { return false }
            return name == "points" && value == Double(n)
        }
    }

    @Test("boundary counts 1 and 400 are accepted")
    func boundaryCounts() throws {
        let r = try GaussHermite(points: 400)
        var sum = 0.0
        for w in r.weights { sum += w }
        #expect(abs(sum - 1) < 1e-10)
        #expect(abs(r.expectation { $0 * $0 } - 1) < 1e-9)
        _ = try GaussHermite(points: 1)
    }
}
