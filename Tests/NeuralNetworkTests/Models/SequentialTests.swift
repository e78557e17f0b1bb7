// Sequential: per-layer keys (same seed → same weights; layer i = fill with
// RandomKey(seed).folding(in: i) on a fresh matrix; adding a layer changes nothing before it),
// `.auto` picks He / Xavier / LeCun by activation (exactly and statistically), forward and
// backward through the stack against a naive Double chain, errors.
import Foundation
import Testing
import Initializers
import MatrixModule
import NeuralNetwork

/// Sample mean and population standard deviation in Double.
func sampleMoments(_ m: Matrix<Float>) -> (mean: Double, std: Double, maxAbs: Double) {
    let v = doubles(m)
    let mean = v.reduce(0, +) / Double(v.count)
    let variance = v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(v.count)
    return (mean, variance.squareRoot(), v.map(abs).max() ?? 0)
}

@Suite("Sequential")
struct SequentialTests {
    @Test("the same seed gives identical weights; another seed gives different ones")
    func sameSeedSameWeights() throws {
        let a = try Sequential(sizes: [5, 7, 3], activation: .relu, seed: 42)
        let b = try Sequential(sizes: [5, 7, 3], activation: .relu, seed: 42)
        let c = try Sequential(sizes: [5, 7, 3], activation: .relu, seed: 43)
        for i in 0..<2 {
            #expect(a.layers[i].weight == b.layers[i].weight)
            #expect(a.layers[i].bias == b.layers[i].bias)
            #expect(a.layers[i].weight != c.layers[i].weight)
        }
        // Re-initializing with the same seed reproduces the weights; threads do not matter.
        let w0 = a.layers[0].weight
        try a.initialize(.all(.normal(mean: 0, std: 1)), seed: 1)
        #expect(a.layers[0].weight != w0)
        try a.initialize(.auto, seed: 42, threads: 1)
        #expect(a.layers[0].weight == w0 && a.layers[1].weight == b.layers[1].weight)
    }

    @Test("layer i is initializer.fill with RandomKey(seed).folding(in: i) on a fresh matrix, bias zero")
    func perLayerKeys() throws {
        let sizes = [6, 9, 5, 4, 2]
        let acts: [(Activation, Initializer)] = [(.relu, .heNormal()), (.tanh, .xavierUniform()), (.selu, .lecunNormal())]
        for (act, expected) in acts {
            for seed: UInt64 in [0, 7, 123_456_789] {
                let model = try Sequential(sizes: sizes, activation: act, seed: seed)
                for i in 0..<(sizes.count - 1) {
                    let scheme: Initializer = i == sizes.count - 2 ? .xavierUniform() : expected   // linear output → Xavier
                    var w = Matrix<Float>(rows: sizes[i + 1], columns: sizes[i])
                    try scheme.fill(&w, key: RandomKey(seed: seed).folding(in: UInt64(i)))
                    #expect(model.layers[i].weight == w, "\(act.name) seed \(seed) layer \(i)")
                    #expect(model.layers[i].bias.allSatisfy { $0 == 0 })
                    #expect(model.initializer(for: i, .auto) == scheme)
                }
            }
        }
        // .all and .perLayer use the same keys.
        let s: Initializer = .normal(mean: 0.5, std: 2)
        let all = try Sequential(sizes: sizes, activation: .relu, initialization: .all(s), seed: 3)
        let per = try Sequential(sizes: sizes, activation: .relu, initialization: .perLayer([s, .zeros, s, .uniform(low: -1, high: 1)]), seed: 3)
        for i in 0..<4 {
            var w = Matrix<Float>(rows: sizes[i + 1], columns: sizes[i])
            try s.fill(&w, key: RandomKey(seed: 3).folding(in: UInt64(i)))
            #expect(all.layers[i].weight == w)
            if i == 0 || i == 2 { #expect(per.layers[i].weight == w) }
        }
        #expect(per.layers[1].weight.elements.allSatisfy { $0 == 0 })
        var u = Matrix<Float>(rows: 2, columns: 4)
        try Initializer.uniform(low: -1, high: 1).fill(&u, key: RandomKey(seed: 3).folding(in: 3))
        #expect(per.layers[3].weight == u)
    }

    @Test(".auto: He for relu (std √(2/fan_in)), Xavier for tanh, LeCun for selu — statistically")
    func autoStatistics() throws {
        let fanIn = 256, fanOut = 192, n = Double(fanIn * fanOut)
        // Relative standard error of a sample std of a normal is 1/√(2n); allow 6σ.
        let tol = 6 / (2 * n).squareRoot()
        let relu = try Sequential(sizes: [fanIn, fanOut, 10], activation: .relu, seed: 11).layers[0].weight
        let he = sampleMoments(relu), heStd = (2.0 / Double(fanIn)).squareRoot()
        #expect(abs(he.std / heStd - 1) < tol, "relu std \(he.std), He expects \(heStd)")
        #expect(abs(he.mean) < 6 * heStd / n.squareRoot())
        #expect(he.maxAbs > 3.5 * heStd, "untruncated normal: max |w| \(he.maxAbs)")

        let tanh = try Sequential(sizes: [fanIn, fanOut, 10], activation: .tanh, seed: 11).layers[0].weight
        let xv = sampleMoments(tanh), bound = (6.0 / Double(fanIn + fanOut)).squareRoot()
        // Uniform: kurtosis 1.8 → relative standard error √(0.8/(4n)).
        #expect(abs(xv.std / (bound / 3.0.squareRoot()) - 1) < 6 * (0.8 / (4 * n)).squareRoot(), "tanh std \(xv.std)")
        #expect(xv.maxAbs <= bound && xv.maxAbs > 0.99 * bound, "Xavier uniform bound \(bound), max |w| \(xv.maxAbs)")

        let selu = try Sequential(sizes: [fanIn, fanOut, 10], activation: .selu, seed: 11).layers[0].weight
        let lc = sampleMoments(selu), lcStd = (1.0 / Double(fanIn)).squareRoot()
        let parent = lcStd / 0.87962566103423978
        #expect(abs(lc.std / lcStd - 1) < 2 * tol, "selu std \(lc.std), LeCun expects \(lcStd)")
        #expect(lc.maxAbs <= 2 * parent * (1 + 1e-6) && lc.maxAbs > 1.9 * parent, "LeCun normal is cut at ±2σ_parent: max \(lc.maxAbs)")

        // Leaky ReLU: He with gain √(2/(1 + slope²)).
        let leaky = try Sequential(sizes: [fanIn, fanOut, 10], activation: .leakyReLU(slope: 0.2), seed: 11).layers[0].weight
        let lkStd = (2.0 / (1 + 0.04) / Double(fanIn)).squareRoot()
        #expect(abs(sampleMoments(leaky).std / lkStd - 1) < tol, "leaky std \(sampleMoments(leaky).std), expected \(lkStd)")

        // The identity output layer gets Xavier uniform.
        let out = try Sequential(sizes: [fanIn, 300, 200], activation: .relu, seed: 2).layers[1].weight
        let ob = (6.0 / 500).squareRoot()
        #expect(sampleMoments(out).maxAbs <= ob && sampleMoments(out).maxAbs > 0.99 * ob)
    }

    @Test("adding a layer does not change the earlier layers")
    func addingALayer() throws {
        let small = try Sequential(sizes: [6, 5, 4], activation: .relu, initialization: .all(.heNormal()), seed: 9)
        let big = try Sequential(sizes: [6, 5, 4, 3, 8], activation: .relu, initialization: .all(.heNormal()), seed: 9)
        #expect(small.layers[0].weight == big.layers[0].weight)
        #expect(small.layers[1].weight == big.layers[1].weight)
        // With .auto the first layer (relu in both) is unchanged too.
        let a = try Sequential(sizes: [6, 5, 4], activation: .tanh, seed: 9)
        let b = try Sequential(sizes: [6, 5, 4, 3], activation: .tanh, seed: 9)
        #expect(a.layers[0].weight == b.layers[0].weight)
    }

    @Test("layers, sizes, activations and parameter count")
    func structure() throws {
        let m = try Sequential(sizes: [4, 8, 3, 2], activation: .gelu, outputActivation: .softsign, seed: 0)
        #expect(m.sizes == [4, 8, 3, 2])
        #expect(m.layers.map(\.activation) == [.gelu, .gelu, .softsign])
        #expect(m.parameterCount == (4 * 8 + 8) + (8 * 3 + 3) + (3 * 2 + 2))
        #expect(m.layers.map { [$0.weight.rows, $0.weight.columns] } == [[8, 4], [3, 8], [2, 3]])
        #expect(Sequential(layers: []).sizes == [])
    }

    @Test("forward and backward through the stack equal the naive Double chain")
    func forwardBackwardChain() throws {
        let model = try Sequential(sizes: [3, 4, 5, 2], activation: .tanh, seed: 5)
        for l in model.layers { l.bias = randomArray(count: l.outputSize, seed: UInt64(l.outputSize)) }
        let x = randomMatrix(rows: 6, columns: 3, seed: 1, -2, 2)
        let dy = randomMatrix(rows: 6, columns: 2, seed: 2)
        let y = try model.forward(x)
        let dx = try model.backward(dy)
        // Naive forward, keeping inputs and pre-activations.
        var inputs: [[Double]] = [doubles(x)], zs: [[Double]] = []
        for l in model.layers {
            let r = naiveDense(x: inputs.last!, w: doubles(l.weight), b: l.bias.map(Double.init), batch: 6,
                               inSize: l.inputSize, outSize: l.outputSize, activation: l.activation)
            zs.append(r.z); inputs.append(r.y)
        }
        #expect(worstRatio(doubles(y), inputs.last!, abs: 1e-5, rel: 1e-5) <= 1)
        var g = doubles(dy)
        for (i, l) in model.layers.enumerated().reversed() {
            let r = naiveDenseBackward(x: inputs[i], w: doubles(l.weight), z: zs[i], dy: g, batch: 6,
                                       inSize: l.inputSize, outSize: l.outputSize, activation: l.activation)
            #expect(worstRatio(doubles(l.weightGradient), r.dw, abs: 1e-5, rel: 1e-4) <= 1, "dW layer \(i)")
            #expect(worstRatio(l.biasGradient.map(Double.init), r.db, abs: 1e-5, rel: 1e-4) <= 1, "db layer \(i)")
            g = r.dx
        }
        #expect(worstRatio(doubles(dx), g, abs: 1e-5, rel: 1e-4) <= 1)
        #expect(throws: MatrixError.self) { try model.forward(Matrix(rows: 2, columns: 4)) }
    }

    @Test("invalid sizes and per-layer counts throw")
    func errors() {
        func isHyper(_ e: any Error) -> Bool { if case .invalidHyperparameter = e as? TrainingError { return true }; return false }
        #expect { _ = try Sequential(sizes: [5], activation: .relu) } throws: { isHyper($0) }
        #expect { _ = try Sequential(sizes: [], activation: .relu) } throws: { isHyper($0) }
        #expect { _ = try Sequential(sizes: [5, -1, 2], activation: .relu) } throws: { isHyper($0) }
        #expect { _ = try Sequential(sizes: [5, 3, 2], activation: .relu, initialization: .perLayer([.zeros])) } throws: { isHyper($0) }
        #expect(throws: InitializationError.self) {
            _ = try Sequential(sizes: [5, 3], activation: .relu, initialization: .all(.normal(mean: 0, std: -1)))
        }
        // C13 through the model: a zero-width input layer initializes without error.
        #expect(throws: Never.self) { _ = try Sequential(sizes: [0, 8, 2], activation: .relu) }
    }
    @Test("a whole 3-layer network (tanh, tanh, linear + softmax CE): every weight and bias gradient vs central finite differences of a Double re-implementation")
    func wholeNetworkFiniteDifferences() throws {
        // Model under test (Float) and an independent Double forward pass of the same parameters.
        let sizes = [5, 7, 6, 4], batch = 3
        let model = try Sequential(sizes: sizes, activation: .tanh, seed: 11)
        let x = randomMatrix(rows: batch, columns: 5, seed: 12)
        let labels: [Int32] = [0, 3, 1]
        var loss = SoftmaxCrossEntropy()
        _ = try loss.loss(logits: try model.forward(x), labels: labels[...])
        _ = try model.backward(loss.gradient)
        var params: [[Double]] = model.layers.flatMap { [doubles($0.weight), $0.bias.map(Double.init)] }
        func doubleLoss(_ p: [[Double]]) -> Double {
            var h = doubles(x), width = 5, total = 0.0
            for l in 0..<3 {
                let out = sizes[l + 1], w = p[2 * l], b = p[2 * l + 1]
                var z = [Double](repeating: 0, count: batch * out)
                for r in 0..<batch { for o in 0..<out {
                    var s = b[o]
                    for i in 0..<width { s += h[r * width + i] * w[o * width + i] }
                    z[r * out + o] = l < 2 ? tanh(s) : s
                } }
                h = z; width = out
            }
            for r in 0..<batch {
                let row = h[(r * 4)..<(r * 4 + 4)], m = row.max()!
                let lse = m + log(row.reduce(0) { $0 + exp($1 - m) })
                total += lse - row[r * 4 + Int(labels[r])]
            }
            return total / Double(batch)
        }
        let analytic: [[Double]] = model.layers.flatMap { [doubles($0.weightGradient), $0.biasGradient.map(Double.init)] }
        var worst = 0.0
        for t in params.indices {
            for k in params[t].indices {
                let h = 1e-6, saved = params[t][k]
                params[t][k] = saved + h; let lp = doubleLoss(params)
                params[t][k] = saved - h; let lm = doubleLoss(params)
                params[t][k] = saved
                let fd = (lp - lm) / (2 * h)
                worst = max(worst, abs(fd - analytic[t][k]) / max(1e-3, abs(fd)))
            }
        }
        print("3-layer network: worst relative gradient error vs finite differences \(worst)")
        #expect(worst < 2e-3, "worst relative error \(worst)")
    }
}
