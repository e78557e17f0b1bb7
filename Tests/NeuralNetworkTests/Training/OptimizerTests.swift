// Optimizer: a few steps on tiny layers against the update equations written out here in
// Double (PyTorch semantics: SGD with dampening 0, Nesterov, L2 weight decay on weights only;
// Adam with bias correction; AdamW with decoupled decay), invalid hyper-parameters, and the
// learning-rate schedules against their closed forms.
import Foundation
import Testing
import MatrixModule
import NeuralNetwork

/// Reference optimizer over flat Double parameter arrays (one slot per weight / bias).
private struct ReferenceOptimizer {
    let kind: Optimizer.Kind
    let weightDecay: Double
    var m: [[Double]] = [], v: [[Double]] = []
    var t = 0

    mutating func step(_ params: inout [[Double]], _ grads: [[Double]], isWeight: [Bool], lr: Double) {
        if m.isEmpty { m = params.map { [Double](repeating: 0, count: $0.count) }; v = m }
        t += 1
        for s in params.indices {
            let lambda = isWeight[s] ? weightDecay : 0
            for j in params[s].indices {
                var w = params[s][j]
                switch kind {
                case let .sgd(mu, nesterov):
                    var g = grads[s][j] + lambda * w
                    if mu != 0 {
                        m[s][j] = mu * m[s][j] + g           // buffer starts at g on step 1 (0·μ + g)
                        g = nesterov ? g + mu * m[s][j] : m[s][j]
                    }
                    w -= lr * g
                case let .adam(b1, b2, eps), let .adamW(b1, b2, eps):
                    var g = grads[s][j]
                    if case .adamW = kind { w -= lr * lambda * w } else { g += lambda * w }
                    m[s][j] = b1 * m[s][j] + (1 - b1) * g
                    v[s][j] = b2 * v[s][j] + (1 - b2) * g * g
                    let mHat = m[s][j] / (1 - pow(b1, Double(t))), vHat = v[s][j] / (1 - pow(b2, Double(t)))
                    w -= lr * mHat / (vHat.squareRoot() + eps)
                }
                params[s][j] = w
            }
        }
    }
}

private let optimizerCases: [(Optimizer.Kind, Double)] = [
    (.sgd(momentum: 0, nesterov: false), 0),
    (.sgd(momentum: 0, nesterov: false), 0.1),
    (.sgd(momentum: 0.9, nesterov: false), 0),
    (.sgd(momentum: 0.5, nesterov: false), 0.05),
    (.sgd(momentum: 0.9, nesterov: true), 0),
    (.sgd(momentum: 0.8, nesterov: true), 0.1),
    (.adam(beta1: 0.9, beta2: 0.999, epsilon: 1e-8), 0),
    (.adam(beta1: 0.8, beta2: 0.95, epsilon: 1e-6), 0.1),
    (.adamW(beta1: 0.9, beta2: 0.999, epsilon: 1e-8), 0.1),
    (.adamW(beta1: 0.5, beta2: 0.9, epsilon: 1e-3), 0.3),
]

@Suite("Optimizer")
struct OptimizerTests {
    @Test("steps on two tiny layers follow the update equations", arguments: optimizerCases.indices)
    func stepsMatchReference(_ index: Int) throws {
        let (kind, decay) = optimizerCases[index]
        // Identity activation: dW = dYᵀ·X and db = Σ dY do not depend on the weights, so the
        // gradients are fixed and computed here in Double.
        let a = Dense(inputSize: 2, outputSize: 3), b = Dense(inputSize: 3, outputSize: 2)
        setParameters(a, weight: randomMatrix(rows: 3, columns: 2, seed: 1), bias: randomArray(count: 3, seed: 2))
        setParameters(b, weight: randomMatrix(rows: 2, columns: 3, seed: 3), bias: randomArray(count: 2, seed: 4))
        let xa = randomMatrix(rows: 4, columns: 2, seed: 5), dya = randomMatrix(rows: 4, columns: 3, seed: 6)
        let xb = randomMatrix(rows: 4, columns: 3, seed: 7), dyb = randomMatrix(rows: 4, columns: 2, seed: 8, -0.01, 0.01)
        func naiveGrads(_ x: Matrix<Float>, _ dy: Matrix<Float>) -> ([Double], [Double]) {
            var dw = [Double](repeating: 0, count: dy.columns * x.columns), db = [Double](repeating: 0, count: dy.columns)
            for r in 0..<x.rows { for o in 0..<dy.columns {
                db[o] += Double(dy[r, o])
                for i in 0..<x.columns { dw[o * x.columns + i] += Double(dy[r, o]) * Double(x[r, i]) }
            } }
            return (dw, db)
        }
        let (gwa, gba) = naiveGrads(xa, dya), (gwb, gbb) = naiveGrads(xb, dyb)
        var params = [doubles(a.weight), a.bias.map(Double.init), doubles(b.weight), b.bias.map(Double.init)]
        var ref = ReferenceOptimizer(kind: kind, weightDecay: decay)
        let opt = try Optimizer(kind, weightDecay: decay)
        for (s, lr) in [0.1, 0.05, 0.2, 0.1, 0.01].enumerated() {
            try a.forward(xa); try a.backward(dya)
            try b.forward(xb); try b.backward(dyb)
            opt.step([a, b], learningRate: lr)
            ref.step(&params, [gwa, gba, gwb, gbb], isWeight: [true, false, true, false], lr: lr)
            let got = [doubles(a.weight), a.bias.map(Double.init), doubles(b.weight), b.bias.map(Double.init)]
            for slot in 0..<4 {
                // Float storage of w, m, v and the hyper-parameters: Adam's 1 − β₂ in Float is off by
                // 1.3e-5 relative (see adamFirstStepPrecision), ≤ 1.3e-6 per step of size ≤ 0.2.
                #expect(worstRatio(got[slot], params[slot], abs: 1e-5, rel: 2e-5) <= 1,
                        "\(kind) λ=\(decay) step \(s + 1) slot \(slot): \(got[slot]) vs \(params[slot])")
            }
        }
    }

    /// One weight, one bias: X = [[1]], dY = [[0.5]], identity → ∂L/∂w = ∂L/∂b = 0.5.
    private func scalarLayer() -> Dense {
        let d = Dense(inputSize: 1, outputSize: 1)
        d.weight = matrix([[1]]); d.bias = [0]
        return d
    }
    private func step(_ d: Dense, _ opt: Optimizer, lr: Double) throws {
        try d.forward(matrix([[1]])); try d.backward(matrix([[0.5]]))
        opt.step([d], learningRate: lr)
    }

    @Test("hand-worked scalar updates")
    func handWorked() throws {
        // SGD momentum 0.9, lr 0.1: v = 0.5, w = 0.95; v = 0.95, w = 0.855.
        var d = scalarLayer(), opt = try Optimizer(.sgd(momentum: 0.9))
        try step(d, opt, lr: 0.1); #expect(abs(d.weight[0, 0] - 0.95) < 1e-6)
        try step(d, opt, lr: 0.1); #expect(abs(d.weight[0, 0] - 0.855) < 1e-6)
        #expect(abs(d.bias[0] - (-0.145)) < 1e-6)
        // Nesterov 0.9: v = 0.5, w = 1 − 0.1·(0.5 + 0.45) = 0.905; v = 0.95, w −= 0.1·(0.5 + 0.855) → 0.7695.
        d = scalarLayer(); opt = try Optimizer(.sgd(momentum: 0.9, nesterov: true))
        try step(d, opt, lr: 0.1); #expect(abs(d.weight[0, 0] - 0.905) < 1e-6)
        try step(d, opt, lr: 0.1); #expect(abs(d.weight[0, 0] - 0.7695) < 1e-6)
        // Plain SGD with weight decay 0.1: g = 0.5 + 0.1·1 = 0.6 → w = 0.94; the bias has no decay → −0.05.
        d = scalarLayer(); opt = try Optimizer(.sgd(), weightDecay: 0.1)
        try step(d, opt, lr: 0.1); #expect(abs(d.weight[0, 0] - 0.94) < 1e-6); #expect(abs(d.bias[0] - (-0.05)) < 1e-7)
        // Adam, first step: m̂ = 0.5, v̂ = 0.25 → the step is lr·0.5/(0.5 + 1e-8) ≈ lr.
        d = scalarLayer(); opt = try Optimizer(.adam())
        try step(d, opt, lr: 0.01); #expect(abs(d.weight[0, 0] - 0.99) < 1e-6); #expect(abs(d.bias[0] - (-0.01)) < 1e-7)
        // AdamW with λ = 0.5, lr 0.1: w = 1 − 0.05 = 0.95, then the Adam step 0.1 → 0.85.
        d = scalarLayer(); opt = try Optimizer(.adamW(), weightDecay: 0.5)
        try step(d, opt, lr: 0.1); #expect(abs(d.weight[0, 0] - 0.85) < 1e-6)
        // Adam (L2) with λ = 0.5: g = 0.5 + 0.5 = 1, first step still ≈ lr (sign only) → 0.9.
        d = scalarLayer(); opt = try Optimizer(.adam(), weightDecay: 0.5)
        try step(d, opt, lr: 0.1); #expect(abs(d.weight[0, 0] - 0.9) < 1e-6)
    }

    @Test("Adam's first step has size lr·|g|/(|g| + ε) to Float precision")
    func adamFirstStepPrecision() throws {
        // w = 1, g = 0.5, lr = 1: m̂ = g, v̂ = g² → w = 1 − 0.5/(0.5 + 1e-8) ≈ 2e-8.
        for kind: Optimizer.Kind in [.adam(), .adamW()] {
            let d = scalarLayer(), opt = try Optimizer(kind)
            try step(d, opt, lr: 1)
            let w = d.weight[0, 0]
            // Regression (was a known issue): Optimizer.swift computes 1 − β₂ as 1 − Float(β₂) = 0.00099998713 (1.3e-5 relative error), so v̂ = 0.99998713·g² and the step is 6.4e-6 too large; PyTo
            #expect(abs(w) <= 1e-6, "\(kind): w after one step = \(w), expected ≈ 2e-8")
        }
    }

    @Test("invalid hyper-parameters throw invalidHyperparameter naming the value")
    func invalidHyperparameters() {
        let bad: [(Optimizer.Kind, Double, String)] = [
            (.sgd(momentum: -0.1), 0, "momentum"), (.sgd(momentum: 1), 0, "momentum"), (.sgd(momentum: .nan), 0, "momentum"),
            (.sgd(momentum: 0, nesterov: true), 0, "momentum"),
            (.adam(beta1: 1), 0, "beta1"), (.adam(beta1: -0.5), 0, "beta1"), (.adam(beta2: 1), 0, "beta2"),
            (.adamW(beta2: .nan), 0, "beta2"), (.adam(epsilon: 0), 0, "epsilon"), (.adamW(epsilon: -1e-8), 0, "epsilon"),
            (.adam(epsilon: .infinity), 0, "epsilon"),
            (.sgd(), -0.1, "weight decay"), (.adam(), .nan, "weight decay"), (.adamW(), .infinity, "weight decay"),
        ]
        for (kind, decay, name) in bad {
            #expect("\(kind) λ=\(decay)" != "") // label
            #expect {
                _ = try Optimizer(kind, weightDecay: decay)
            } throws: { error in
                guard case let .invalidHyperparameter(n, _, _) = error as? TrainingError else { return false }
                return n == name
            }
        }
        // Boundary values that are valid.
        #expect(throws: Never.self) { _ = try Optimizer(.sgd(momentum: 0)) }
        #expect(throws: Never.self) { _ = try Optimizer(.adam(beta1: 0, beta2: 0, epsilon: 1e-30), weightDecay: 0) }
    }

    @Test("constant schedule")
    func constantSchedule() {
        let s = LearningRateSchedule(.constant)
        for step in [0, 1, 50, 99, 100] { #expect(s.rate(base: 0.1, step: step, totalSteps: 100) == 0.1) }
    }

    @Test("step schedule: base·γ^⌊t/size⌋")
    func stepSchedule() {
        let s = LearningRateSchedule(.step(stepSize: 3, gamma: 0.5))
        let expected: [Double] = [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125]
        for (t, e) in expected.enumerated() { #expect(abs(s.rate(base: 0.1, step: t, totalSteps: 10) - e) < 1e-15, "step \(t)") }
    }

    @Test("cosine schedule: base at the start, midpoint in the middle, minimum at the end")
    func cosineSchedule() {
        let s = LearningRateSchedule(.cosine(minimum: 0.01))
        let base = 0.1, total = 100
        #expect(abs(s.rate(base: base, step: 0, totalSteps: total) - base) < 1e-15)
        #expect(abs(s.rate(base: base, step: 50, totalSteps: total) - 0.055) < 1e-15)
        #expect(abs(s.rate(base: base, step: 100, totalSteps: total) - 0.01) < 1e-15)
        #expect(abs(s.rate(base: base, step: 25, totalSteps: total) - (0.01 + 0.09 * (1 + 0.5.squareRoot()) / 2)) < 1e-15)
        // Monotone non-increasing over the run, never below the minimum.
        var last = Double.infinity
        for t in 0...total {
            let r = s.rate(base: base, step: t, totalSteps: total)
            #expect(r <= last && r >= 0.01 - 1e-15)
            last = r
        }
        let zero = LearningRateSchedule(.cosine(minimum: 0))
        #expect(abs(zero.rate(base: 1, step: 10, totalSteps: 10)) < 1e-15)
    }

    @Test("linear warm-up: base·(t+1)/W, then the decay restarts from the base")
    func warmup() {
        let s = LearningRateSchedule(.constant, warmupSteps: 4)
        let expected: [Double] = [0.05, 0.1, 0.15, 0.2, 0.2, 0.2]
        for (t, e) in expected.enumerated() { #expect(abs(s.rate(base: 0.2, step: t, totalSteps: 6) - e) < 1e-15, "step \(t)") }
        let c = LearningRateSchedule(.cosine(minimum: 0), warmupSteps: 4)
        #expect(abs(c.rate(base: 0.2, step: 0, totalSteps: 14) - 0.05) < 1e-15)
        #expect(abs(c.rate(base: 0.2, step: 4, totalSteps: 14) - 0.2) < 1e-15)
        #expect(abs(c.rate(base: 0.2, step: 9, totalSteps: 14) - 0.1) < 1e-15)
        #expect(abs(c.rate(base: 0.2, step: 14, totalSteps: 14)) < 1e-15)
        let st = LearningRateSchedule(.step(stepSize: 2, gamma: 0.1), warmupSteps: 2)
        let e2: [Double] = [0.5, 1, 1, 1, 0.1, 0.1, 0.01]
        for (t, e) in e2.enumerated() { #expect(abs(st.rate(base: 1, step: t, totalSteps: 7) - e) < 1e-12, "step \(t)") }
    }
}
