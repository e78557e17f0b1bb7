// InitializationComparison (the `weightinit compare` experiment as a library API): per-layer
// statistics against hand-worked values and a naive Double forward/backward pass, zeros keeping
// every unit of a layer identical (closed forms), determinism (same seed → same report bit for
// bit), divergence, the progress events, the JSON keys, and typed errors before any work.
import Foundation
import Testing
import Initializers
import MatrixModule
import NeuralNetwork

/// `count` samples of `features` seeded values in [-1, 1) shifted by `class/2` on feature
/// `class % features`, labels cycling through `0..<classes`.
private func syntheticData(count: Int, features: Int = 6, classes: Int = 3, seed: UInt64) throws -> LabeledData {
    var g = SplitMix64(seed: seed)
    var inputs: [Float] = [], labels: [Int32] = []
    for i in 0..<count {
        let c = i % classes
        for f in 0..<features { inputs.append(Float(g.uniform() + (f == c % features ? 0.5 * Double(c) : 0))) }
        labels.append(Int32(c))
    }
    return try LabeledData(features: features, inputs: inputs, labels: labels)
}

/// A small configuration that runs in milliseconds.
private func tinyConfiguration() -> InitializationComparison.Configuration {
    var c = InitializationComparison.Configuration()
    c.depth = 2; c.width = 5; c.classes = 3; c.steps = 12; c.batchSize = 8; c.learningRate = 0.05
    c.probeSize = 16; c.evaluationSize = 32; c.threads = 1
    return c
}

/// Population mean and std in Double.
private func meanStd(_ xs: [Double]) -> (Double, Double) {
    let m = xs.reduce(0, +) / Double(xs.count)
    return (m, (xs.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(xs.count)).squareRoot())
}

/// The report as JSON bytes with every `seconds` set to 0 (the only non-reproducible field).
private func bytesWithoutTiming(_ report: InitializationComparison.Report) throws -> Data {
    var r = report
    for i in r.runs.indices { r.runs[i].seconds = 0 }
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys]
    e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return try e.encode(r)
}

@Suite("InitializationComparison")
struct InitializationComparisonTests {
    @Test("ones on 2→2→2 ReLU: hand-worked statistics on the first probeSize samples only")
    func handWorkedOnes() throws {
        // Rows 0…3 are the probe; rows 4, 5 (large values) must not enter the statistics.
        let train = try LabeledData(features: 2, inputs: [1, 2, -1, 0.5, 3, -4, 0.5, 0.5, 100, 100, -50, 7], labels: [0, 1, 1, 0, 1, 0])
        var c = InitializationComparison.Configuration()
        c.depth = 1; c.width = 2; c.classes = 2; c.schemes = ["ones"]; c.steps = 0; c.probeSize = 4
        let report = try InitializationComparison(c).run(train: train, test: train)
        let r = try #require(report.runs.first)
        // W = 1, b = 0: z = x0 + x1 = 3, −0.5, −1, 1 for both units; ReLU → 3, 0, 0, 1.
        // Logits z2 = 2·relu(z) = 6, 0, 0, 2 for both classes → softmax ½, ½.
        let (_, z1std) = meanStd([3, 3, -0.5, -0.5, -1, -1, 1, 1])
        let (h1mean, h1std) = meanStd([3, 3, 0, 0, 0, 0, 1, 1])
        let (z2mean, z2std) = meanStd([6, 6, 0, 0, 0, 0, 2, 2])
        #expect(r.preactivationStd.count == 2)
        #expect(abs(r.preactivationStd[0] - z1std) < 1e-6 && abs(r.activationStd[0] - h1std) < 1e-6 && abs(r.activationMean[0] - h1mean) < 1e-6)
        #expect(abs(r.preactivationStd[1] - z2std) < 1e-6 && abs(r.activationStd[1] - z2std) < 1e-6 && abs(r.activationMean[1] - z2mean) < 1e-6)
        // ∂L/∂z2 = (½ − onehot)/4 = ∓⅛; ∂L/∂W2[c, j] = Σ_b g[b,c]·h[b,j] = ∓(3 + 1)/8 = ∓½ → ‖·‖ = √(4·¼) = 1.
        // ∂L/∂h = g·W2 = g[b,0] + g[b,1] = 0 → ∂L/∂W1 = 0.
        #expect(abs(r.gradientNorm[1] - 1) < 1e-6 && r.gradientNorm[0] == 0, "\(r.gradientNorm)")
        #expect(r.deadFraction[0] == 0, "no unit is 0 on every sample")
        #expect(r.saturatedFraction[0] == nil)
        #expect(r.loss.isEmpty && r.lossSteps.isEmpty && r.divergedAtStep == nil)
        // Accuracy on the 6 rows: logits tie → arg-max class 0; labels 0 at rows 0, 3, 5.
        #expect(r.testAccuracy == 0.5, "\(String(describing: r.testAccuracy))")
        #expect(abs((r.finalTrainLoss ?? 0) - Foundation.log(2)) < 1e-6, "equal logits give ln 2")
    }

    @Test("xavier-normal tanh MLP: statistics equal a naive Double forward and backward pass with the same seeded weights")
    func naiveOracle() throws {
        let train = try syntheticData(count: 40, seed: 3)
        var c = tinyConfiguration()
        c.activation = .tanh; c.schemes = ["xavier-normal"]; c.steps = 0; c.probeSize = 16; c.seed = 11
        let r = try #require(try InitializationComparison(c).run(train: train, test: train).runs.first)
        // The weights: the documented per-layer keys of Sequential (seed folded with the layer index).
        let sizes = [6, 5, 5, 3]
        var weights: [[Double]] = []
        for i in 0..<3 {
            var w = Matrix<Float>(rows: sizes[i + 1], columns: sizes[i])
            try Initializer(name: "xavier-normal").fill(&w, key: RandomKey(seed: 11).folding(in: UInt64(i)))
            weights.append(w.elements.map(Double.init))
        }
        let n = 16
        var h = (0..<n).map { b in (0..<6).map { Double(train.inputs[b * 6 + $0]) } }
        var zs: [[[Double]]] = [], hs: [[[Double]]] = [h]
        for i in 0..<3 {
            let z = h.map { row in (0..<sizes[i + 1]).map { o in (0..<sizes[i]).reduce(0.0) { $0 + weights[i][o * sizes[i] + $1] * row[$1] } } }
            zs.append(z)
            h = i < 2 ? z.map { $0.map { Foundation.tanh($0) } } : z
            hs.append(h)
        }
        // Softmax cross-entropy gradient, then backward through tanh.
        var g = h.enumerated().map { b, z -> [Double] in
            let m = z.max()!, e = z.map { Foundation.exp($0 - m) }, s = e.reduce(0, +)
            return e.enumerated().map { ($0.element / s - ($0.offset == Int(train.labels[b]) ? 1 : 0)) / Double(n) }
        }
        var gradNorms = [Double](repeating: 0, count: 3)
        for i in stride(from: 2, through: 0, by: -1) {
            if i < 2 { g = g.enumerated().map { b, row in row.enumerated().map { $0.element * (1 - hs[i + 1][b][$0.offset] * hs[i + 1][b][$0.offset]) } } }
            var sq = 0.0
            for o in 0..<sizes[i + 1] { for k in 0..<sizes[i] { let d = (0..<n).reduce(0.0) { $0 + g[$1][o] * hs[i][$1][k] }; sq += d * d } }
            gradNorms[i] = sq.squareRoot()
            g = g.map { row in (0..<sizes[i]).map { k in (0..<sizes[i + 1]).reduce(0.0) { $0 + row[$1] * weights[i][$1 * sizes[i] + k] } } }
        }
        for i in 0..<3 {
            let (_, zstd) = meanStd(zs[i].flatMap { $0 }), (hm, hstd) = meanStd(hs[i + 1].flatMap { $0 })
            let saturated = Double(hs[i + 1].flatMap { $0 }.filter { abs($0) > 0.99 }.count) / Double(n * sizes[i + 1])
            print("layer \(i + 1): pre std \(r.preactivationStd[i]) vs \(zstd), act std \(r.activationStd[i]) vs \(hstd), ‖∂L/∂W‖ \(r.gradientNorm[i]) vs \(gradNorms[i])")
            #expect(abs(r.preactivationStd[i] - zstd) <= 1e-5 * max(1, zstd))
            #expect(abs(r.activationStd[i] - hstd) <= 1e-5 * max(1, hstd) && abs(r.activationMean[i] - hm) <= 1e-5)
            #expect(abs(r.gradientNorm[i] - gradNorms[i]) <= 1e-4 * gradNorms[i])
            if i < 2 { #expect(abs((r.saturatedFraction[i] ?? -1) - saturated) < 1e-12) } else { #expect(r.saturatedFraction[i] == nil) }
        }
    }

    @Test("zeros keeps every unit of a layer identical: closed forms for sigmoid and ReLU")
    func zerosIdenticalUnits() throws {
        let train = try syntheticData(count: 48, seed: 5)
        var c = tinyConfiguration()
        c.schemes = ["zeros"]; c.steps = 0; c.probeSize = 16
        c.activation = .sigmoid
        let s = try #require(try InitializationComparison(c).run(train: train, test: train).runs.first)
        // Hidden: z = 0, σ(0) = ½ on every unit and sample; logits 0 → softmax 1/C.
        for i in 0..<2 { #expect(s.preactivationStd[i] == 0 && s.activationStd[i] == 0 && s.activationMean[i] == 0.5 && s.gradientNorm[i] == 0) }
        // ∂L/∂W_out[c, j] = Σ_b (1/C − [y_b = c])/B · ½ = ½(1/C − n_c/B) for every j.
        let counts = (0..<3).map { k in train.labels[0..<16].filter { $0 == k }.count }
        let expected = (Double(c.width) * counts.reduce(0.0) { let d = 0.5 * (1.0 / 3 - Double($1) / 16); return $0 + d * d }).squareRoot()
        print("zeros/sigmoid output-layer gradient norm \(s.gradientNorm[2]), closed form \(expected)")
        #expect(abs(s.gradientNorm[2] - expected) <= 1e-6 * max(expected, 1e-3))
        c.activation = .relu
        let r = try #require(try InitializationComparison(c).run(train: train, test: train).runs.first)
        for i in 0..<2 { #expect(r.deadFraction[i] == 1 && r.activationStd[i] == 0 && r.gradientNorm[i] == 0) }
        #expect(r.gradientNorm[2] == 0, "ReLU(0) = 0 feeds the output layer zeros")
    }

    @Test("the same seed gives the same report bit for bit (MLP, residual, a calibrated scheme); another seed does not")
    func deterministic() throws {
        let train = try syntheticData(count: 64, seed: 1), test = try syntheticData(count: 24, seed: 2)
        var c = tinyConfiguration()
        c.schemes = ["he-normal", "normal:0.5", "lsuv", "auto"]
        for architecture in NetworkArchitecture.allCases {
            c.architecture = architecture
            if architecture == .residual { c.schemes = ["he-normal", "fixup", "rezero", "truncated-normal:0.3"] }
            c.seed = 7
            let a = try InitializationComparison(c).run(train: train, test: test)
            let b = try InitializationComparison(c).run(train: train, test: test)
            #expect(try bytesWithoutTiming(a) == bytesWithoutTiming(b), "\(architecture)")
            #expect(a.runs.map(\.scheme) == (architecture == .mlp ? ["he-normal", "normal:0.5", "lsuv", "auto"] : ["he-normal", "fixup", "rezero", "truncated-normal:0.3"]))
            #expect(a.runs.allSatisfy { $0.lossSteps.last == c.steps && $0.divergedAtStep == nil })
            c.seed = 8
            let other = try InitializationComparison(c).run(train: train, test: test)
            #expect(try bytesWithoutTiming(a) != bytesWithoutTiming(other), "\(architecture): the seed changes the weights")
        }
    }

    @Test("a scheme whose logits overflow stops at step 1 and reports no loss or accuracy; the other scheme trains")
    func divergence() throws {
        let train = try syntheticData(count: 32, seed: 9)
        var c = tinyConfiguration()
        c.activation = .identity; c.depth = 10; c.schemes = ["normal:100000", "xavier-uniform"]; c.steps = 5
        var events: [String] = []
        let report = try InitializationComparison(c).run(train: train, test: train) { e in
            switch e {
            case let .started(s, i, n): events.append("started \(s) \(i)/\(n)")
            case let .step(s, step, steps, _): events.append("step \(s) \(step)/\(steps)")
            case let .diverged(s, step): events.append("diverged \(s) \(step)")
            case let .finished(run): events.append("finished \(run.scheme)")
            }
        }
        let bad = report.runs[0], good = report.runs[1]
        #expect(bad.divergedAtStep == 1 && bad.finalTrainLoss == nil && bad.testAccuracy == nil && bad.loss.isEmpty)
        #expect(good.divergedAtStep == nil && good.finalTrainLoss != nil && good.lossSteps == [1, 2, 3, 4, 5])
        #expect(events == ["started normal:100000 0/2", "diverged normal:100000 1", "finished normal:100000", "started xavier-uniform 1/2"]
                + (1...5).map { "step xavier-uniform \($0)/5" } + ["finished xavier-uniform"])
    }

    @Test("JSON: every key present (null when missing), the scheme under `init`; the report decodes back")
    func codable() throws {
        let train = try syntheticData(count: 16, seed: 4)
        var c = tinyConfiguration()
        c.schemes = ["orthogonal"]; c.steps = 3
        let report = try InitializationComparison(c).run(train: train, test: train)
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        let obj = try #require(try JSONSerialization.jsonObject(with: e.encode(report)) as? [String: Any])
        #expect(Set(obj.keys) == ["runs", "architecture", "depth", "width", "activation", "steps", "batch_size", "learning_rate", "optimizer", "seed"])
        #expect(obj["architecture"] as? String == "mlp" && obj["optimizer"] as? String == "sgd" && obj["activation"] as? String == "relu")
        let run = try #require((obj["runs"] as? [[String: Any]])?.first)
        #expect(Set(run.keys) == ["init", "preactivation_std", "activation_std", "activation_mean", "saturated_fraction", "dead_fraction",
                                  "gradient_norm", "loss", "loss_steps", "final_train_loss", "test_accuracy", "diverged_at_step", "seconds"])
        #expect(run["init"] as? String == "orthogonal" && run["diverged_at_step"] is NSNull)
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        #expect(try d.decode(InitializationComparison.Report.self, from: e.encode(report)) == report)
    }

    @Test("a bad configuration throws a typed error naming the value, before anything is built",
          arguments: [("depth", "0"), ("width", "16385"), ("steps", "-1"), ("batchSize", "0"), ("learningRate", "nan"),
                      ("threads", "0"), ("classes", "0"), ("probeSize", "0"), ("evaluationSize", "0"), ("schemes", ""),
                      ("schemes", "xavier_unifrom"), ("schemes", "he-normal:1"), ("schemes", "normal:-1"), ("schemes", ":1"),
                      ("schemes", "fixup"), ("residual", "lsuv")])
    func badConfiguration(field: String, value: String) throws {
        var c = tinyConfiguration()
        switch field {
        case "depth": c.depth = Int(value)!
        case "width": c.width = Int(value)!
        case "steps": c.steps = Int(value)!
        case "batchSize": c.batchSize = Int(value)!
        case "learningRate": c.learningRate = Double(value)!
        case "threads": c.threads = Int(value)!
        case "classes": c.classes = Int(value)!
        case "probeSize": c.probeSize = Int(value)!
        case "evaluationSize": c.evaluationSize = Int(value)!
        case "residual": c.architecture = .residual; c.schemes = ["he-normal", value]
        default: c.schemes = value.isEmpty ? [] : ["he-normal", value]
        }
        let error = try #require(throws: InitializationComparisonError.self) { try c.validate() }
        #expect(throws: InitializationComparisonError.self) { _ = try InitializationComparison(c) }
        print("\(field) = \(value) → \(error)")
        switch error {
        case let .invalidValue(name, v, _): #expect(!name.isEmpty && (v == value || value.isEmpty))
        case let .invalidScheme(s, _): #expect(s == value)
        case .invalidData: Issue.record("not a data error: \(error)")
        }
    }

    @Test("data that does not fit is refused before any progress event")
    func badData() throws {
        let c = tinyConfiguration()
        let comparison = try InitializationComparison(c)
        let good = try syntheticData(count: 8, seed: 1)
        let cases = [(good, try syntheticData(count: 8, features: 5, seed: 1)),     // feature mismatch
                     (try LabeledData(features: 6, inputs: [], labels: []), good),    // no training sample
                     (try syntheticData(count: 8, classes: 4, seed: 1), good)]        // label 3 with 3 classes
        for (train, test) in cases {
            var events = 0
            #expect(throws: InitializationComparisonError.self) { _ = try comparison.run(train: train, test: test) { _ in events += 1 } }
            #expect(events == 0)
        }
    }
}
