import Foundation
import MatrixModule

/// Learning-rate schedule: the rate at step `t` of `T`, after an optional linear warm-up.
public struct LearningRateSchedule: Sendable, Hashable, Codable {
    /// The decay after warm-up.
    public enum Decay: Sendable, Hashable, Codable {
        /// Constant rate.
        case constant
        /// Multiply by `gamma` every `stepSize` steps (PyTorch `StepLR`).
        case step(stepSize: Int, gamma: Double)
        /// Cosine from the base rate to `minimum` over the remaining steps (Loshchilov & Hutter
        /// 2017, PyTorch `CosineAnnealingLR` without restarts).
        case cosine(minimum: Double)
    }
    public var decay: Decay
    /// Steps of linear warm-up from 0 to the base rate (default 0).
    public var warmupSteps: Int

    public init(_ decay: Decay = .constant, warmupSteps: Int = 0) { self.decay = decay; self.warmupSteps = warmupSteps }

    /// The rate at 0-based step `step` of `totalSteps`.
    public func rate(base: Double, step: Int, totalSteps: Int) -> Double {
        if warmupSteps > 0 && step < warmupSteps { return base * Double(step + 1) / Double(warmupSteps) }
        let t = step - warmupSteps, total = max(1, totalSteps - warmupSteps)
        switch decay {
        case .constant: return base
        case let .step(size, gamma): return base * Foundation.pow(gamma, Double(t / max(1, size)))
        case let .cosine(minimum): return minimum + (base - minimum) * 0.5 * (1 + Foundation.cos(Double.pi * Double(min(t, total)) / Double(total)))
        }
    }
}

/// A gradient-based optimizer over a model's parameters (weights and biases of every layer).
///
/// - SGD (PyTorch semantics, dampening 0): `g ← ∇ + λw`; `v ← μv + g`;
///   `w ← w − η·(nesterov ? g + μv : v)`.
/// - Adam (Kingma & Ba 2015): `g ← ∇ + λw` (L2); `m ← β₁m + (1−β₁)g`; `v ← β₂v + (1−β₂)g²`;
///   `w ← w − η·m̂/(√v̂ + ε)` with bias-corrected `m̂, v̂`.
/// - AdamW (Loshchilov & Hutter 2019): decoupled decay `w ← w − ηλw`, then Adam without L2.
/// Weight decay applies to weights only, not biases.
public final class Optimizer {
    /// Which algorithm.
    public enum Kind: Sendable, Hashable, Codable {
        case sgd(momentum: Double = 0, nesterov: Bool = false)
        case adam(beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8)
        case adamW(beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8)
    }
    public let kind: Kind
    /// Weight decay λ (L2 for SGD/Adam, decoupled for AdamW).
    public let weightDecay: Double
    private var first: [[Float]] = []
    private var second: [[Float]] = []
    private var steps = 0

    /// Which buffers of `State` the algorithm reads (checkpoints store these), with PyTorch's names: `["momentum_buffer"]`
    /// for SGD with momentum, `["exp_avg", "exp_avg_sq"]` for Adam and AdamW, `[]` for plain SGD.
    public var stateBufferNames: [String] {
        switch kind {
        case let .sgd(momentum, _): return momentum == 0 ? [] : ["momentum_buffer"]
        case .adam, .adamW: return ["exp_avg", "exp_avg_sq"]
        }
    }

    /// - Throws: `TrainingError.invalidHyperparameter` for momentum outside [0, 1), betas outside
    ///   [0, 1), a non-positive epsilon or a negative/non-finite weight decay, or Nesterov without momentum.
    public init(_ kind: Kind, weightDecay: Double = 0) throws {
        func check(_ name: String, _ v: Double, _ ok: Bool, _ rule: String) throws {
            guard v.isFinite, ok else { throw TrainingError.invalidHyperparameter(name: name, value: v, rule: rule) }
        }
        try check("weight decay", weightDecay, weightDecay >= 0, "must be finite and ≥ 0")
        switch kind {
        case let .sgd(m, nesterov):
            try check("momentum", m, m >= 0 && m < 1, "must be in [0, 1)")
            if nesterov { try check("momentum", m, m > 0, "Nesterov needs momentum > 0") }
        case let .adam(b1, b2, e), let .adamW(b1, b2, e):
            try check("beta1", b1, b1 >= 0 && b1 < 1, "must be in [0, 1)")
            try check("beta2", b2, b2 >= 0 && b2 < 1, "must be in [0, 1)")
            try check("epsilon", e, e > 0, "must be > 0")
        }
        self.kind = kind
        self.weightDecay = weightDecay
    }

    /// The optimizer's state, laid out in the order of the parameters it steps (a model's
    /// `parameters`): `firstMoments[i]` is parameter `i`'s SGD momentum buffer or Adam's `m`,
    /// `secondMoments[i]` Adam's `v` (zeros for SGD), each with the parameter's element count;
    /// `steps` is the number of updates taken (Adam's bias correction uses it). Empty until the
    /// first step. Setting it (a checkpoint resuming) makes the next step continue exactly.
    public struct State: Sendable, Codable, Equatable {
        public var steps: Int
        public var firstMoments: [[Float]]
        public var secondMoments: [[Float]]
        public init(steps: Int, firstMoments: [[Float]], secondMoments: [[Float]]) {
            self.steps = steps; self.firstMoments = firstMoments; self.secondMoments = secondMoments
        }
    }

    /// The current state (see `State`). A state whose tensor counts or sizes do not match the
    /// parameters at the next step is discarded there and the optimizer starts afresh, as on
    /// the first step.
    public var state: State {
        get { State(steps: steps, firstMoments: first, secondMoments: second) }
        set { steps = newValue.steps; first = newValue.firstMoments; second = newValue.secondMoments }
    }

    /// Applies one update to every layer with learning rate `learningRate` (times each
    /// layer's `learningRateScale`), using the gradients from the last backward pass.
    public func step(_ layers: [Dense], learningRate: Double) {
        step(parameters: layers.enumerated().flatMap { i, d in
            [ModelParameter(name: "\(i).weight", layer: d, slot: 0), ModelParameter(name: "\(i).bias", layer: d, slot: 1)]
        }, learningRate: learningRate)
    }

    /// Applies one update to every parameter of `model` (its `parameters`, in order).
    public func step(model: any NetworkModel, learningRate: Double) {
        step(parameters: model.parameters, learningRate: learningRate)
    }

    /// Applies one update to each of `parameters` with learning rate `learningRate` times the
    /// parameter's `slot.learningRateScale`; weight decay only where `slot.decays`. The state
    /// is kept per position in the list: pass the same list, in the same order, every step.
    public func step(parameters: [ModelParameter], learningRate: Double) {
        prepare(parameters)
        for (i, p) in parameters.enumerated() {
            let lr = learningRate * p.slot.learningRateScale
            let decay = p.slot.decays ? weightDecay : 0
            guard p.count > 0 else { continue }
            p.withBuffers { w, g in
                first[i].withUnsafeMutableBufferPointer { m in
                    second[i].withUnsafeMutableBufferPointer { v in
                        update(w.baseAddress!, UnsafePointer(g.baseAddress!), m.baseAddress!, v.baseAddress!, count: w.count, decay: decay, lr: lr)
                    }
                }
            }
        }
    }

    /// Resets the state when it does not match `parameters` (counts and sizes) and counts the step.
    func prepare(_ parameters: [ModelParameter]) {
        if first.count != parameters.count || second.count != parameters.count
            || parameters.enumerated().contains(where: { i, p in first[i].count != p.count || second[i].count != p.count }) {
            first = parameters.map { [Float](repeating: 0, count: $0.count) }
            second = first
            steps = 0
        }
        steps += 1
    }

    /// Undoes the step count of the last `prepare` (a step abandoned before any update).
    func cancelPreparedStep() { if steps > 0 { steps -= 1 } }

    /// Runs `body` with pointers to every parameter's first and second moment buffers (in
    /// `prepare`'s order; a pointer of an empty buffer is never read). The buffers stay valid and
    /// in place while `body` runs, so threads can update disjoint element ranges of them.
    func withStatePointers<R>(_ body: ([UnsafeMutablePointer<Float>?], [UnsafeMutablePointer<Float>?]) -> R) -> R {
        first.withUnsafeMutableBufferPointer { f in
            second.withUnsafeMutableBufferPointer { s in
                var fp: [UnsafeMutablePointer<Float>?] = [], sp: [UnsafeMutablePointer<Float>?] = []
                func nest(_ i: Int) -> R {
                    if i == f.count { return body(fp, sp) }
                    return f[i].withUnsafeMutableBufferPointer { a in
                        s[i].withUnsafeMutableBufferPointer { b in
                            fp.append(a.baseAddress); sp.append(b.baseAddress)
                            return nest(i + 1)
                        }
                    }
                }
                return nest(0)
            }
        }
    }

    /// The update of `count` elements: values `w`, gradient `g`, moments `m`, `v` (the same
    /// arithmetic element by element whatever range a call covers). `steps` must already count
    /// this step (`prepare`).
    func update(_ w: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ m: UnsafeMutablePointer<Float>, _ v: UnsafeMutablePointer<Float>,
                count n: Int, decay: Double, lr: Double) {
        let eta = Float(lr), lambda = Float(decay)
        do {
            switch kind {
            case let .sgd(momentum, nesterov):
                // g' = g + λ·w; w −= η·g' (μ = 0), else v = μ·m + g', m = v, w −= η·(nesterov ? g' + μ·v : v),
                // each operation rounded in that order (DenseKernels.sgdUpdate, AVX2 when available).
                DenseKernels.sgdUpdate(w, g, m, count: n, learningRate: eta, decay: lambda, momentum: Float(momentum), nesterov: nesterov)
            case let .adam(b1, b2, eps), let .adamW(b1, b2, eps):
                let decoupled: Bool
                if case .adamW = kind { decoupled = true } else { decoupled = false }
                let c1 = Float(1 - Foundation.pow(b1, Double(steps))), c2 = Float(1 - Foundation.pow(b2, Double(steps)))
                let fb1 = Float(b1), fb2 = Float(b2), e = Float(eps)
                let ob1 = Float(1 - b1), ob2 = Float(1 - b2)   // 1 − β in Double first: 1 − Float(0.999) is off by 1.3e-5 relative
                do {
                    for j in 0..<n {
                        if decoupled { w[j] -= eta * lambda * w[j] }
                        let gj = decoupled ? g[j] : g[j] + lambda * w[j]
                        m[j] = fb1 * m[j] + ob1 * gj
                        v[j] = fb2 * v[j] + ob2 * gj * gj
                        w[j] -= eta * (m[j] / c1) / ((v[j] / c2).squareRoot() + e)
                    }
                }
            }
        }
    }
}
