// What a new user reaches for first: LabeledData from a loaded data set, calibration batches,
// predict (probabilities and arg-max), summary(), bias initializers and per-parameter rules.
// Oracles: naive Double forward passes and softmax, hand-counted parameters, explicit fills with
// the documented keys, rows compared with the source data.
import Foundation
import Testing
import Datasets
import Initializers
import MatrixModule
import NeuralNetwork

@Suite("Using the library: data, predict, summary, rules")
struct UsabilityTests {
    /// A small synthetic data set: `count` examples of `features` seeded uniform values, labels i % classes.
    static func synthetic(count: Int, features: Int, classes: Int = 10, seed: UInt64 = 1) throws -> LabeledData {
        try LabeledData(features: features, inputs: randomArray(count: count * features, seed: seed),
                        labels: (0..<count).map { Int32($0 % classes) })
    }

    @Test("LabeledData(MNISTDataset) keeps images, labels and features")
    func fromDataset() throws {
        let images = randomArray(count: 3 * 4 * 5, seed: 9, 0, 1)
        let set = try MNISTDataset(images: images, rows: 4, columns: 5, labels: [3, 1, 4])
        let data = LabeledData(set)
        #expect(data.features == 20 && data.count == 3)
        #expect(data.inputs == images && data.labels == [3, 1, 4])
    }

    @Test("LabeledData.mnist loads Fashion-MNIST standardized with the training statistics (skipped without the data)")
    func oneCallFashionMNIST() throws {
        guard FileManager.default.fileExists(atPath: MNISTDataset.defaultDirectory) else {
            print("skipped: \(MNISTDataset.defaultDirectory) not installed"); return
        }
        let (train, test) = try LabeledData.mnist(trainLimit: 2000, testLimit: 500)
        #expect(train.count == 2000 && test.count == 500 && train.features == 784)
        // Oracle: the mean and std of the raw [0, 1] training pixels computed here in Double.
        let raw = try MNISTDataset.load(split: .train, limit: 2000)
        let n = Double(raw.images.count)
        let mean = raw.images.reduce(0.0) { $0 + Double($1) } / n
        let std = (raw.images.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n).squareRoot()
        for i in [0, 1234, 784 * 1999 + 400] {
            let expected = (Double(raw.images[i]) - mean) / std
            #expect(abs(Double(train.inputs[i]) - expected) < 1e-5, "pixel \(i): \(train.inputs[i]) vs \(expected)")
        }
        #expect(train.labels == raw.labels)
        let rawTest = try MNISTDataset.load(split: .test, limit: 500)
        #expect(abs(Double(test.inputs[300]) - (Double(rawTest.images[300]) - mean) / std) < 1e-5)
        let unstandardized = try LabeledData.mnist(trainLimit: 10, testLimit: 10, standardize: false)
        #expect(unstandardized.train.inputs == Array(raw.images[0..<7840]))
    }

    @Test("calibrationBatch: first n rows without a seed; a seeded subset without replacement otherwise")
    func calibrationBatch() throws {
        let data = try Self.synthetic(count: 50, features: 3)
        let first = try data.calibrationBatch(count: 7)
        #expect(first.rows == 7 && first.columns == 3)
        #expect(first.elements == Array(data.inputs[0..<21]))
        let all = try data.calibrationBatch(count: 500)
        #expect(all.rows == 50)
        let a = try data.calibrationBatch(count: 20, seed: 5), b = try data.calibrationBatch(count: 20, seed: 5)
        let c = try data.calibrationBatch(count: 20, seed: 6)
        #expect(a == b && a != c)
        // Every row is some row of the data, no row twice.
        var used = Set<Int>()
        for r in 0..<20 {
            let row = Array(a.elements[(r * 3)..<(r * 3 + 3)])
            let match = try #require((0..<50).first { Array(data.inputs[($0 * 3)..<($0 * 3 + 3)]) == row })
            #expect(used.insert(match).inserted)
        }
        #expect(throws: TrainingError.self) { try data.calibrationBatch(count: 0) }
    }

    @Test("predict: softmax probabilities and arg-max equal a naive Double forward pass")
    func predict() throws {
        let model = try Sequential(sizes: [6, 8, 4], activation: .tanh, seed: 3)
        for layer in model.layers { for i in layer.bias.indices { layer.bias[i] = Float(i) * 0.1 - 0.15 } }
        let x = randomMatrix(rows: 9, columns: 6, seed: 4, -2, 2)
        let p = try model.predict(x)
        var h = doubles(x)
        for layer in model.layers {
            h = naiveDense(x: h, w: doubles(layer.weight), b: layer.bias.map(Double.init), batch: 9, inSize: layer.inputSize,
                           outSize: layer.outputSize, activation: layer.activation).y
        }
        for r in 0..<9 {
            let z = Array(h[(r * 4)..<(r * 4 + 4)])
            let m = z.max()!
            let e = z.map { exp($0 - m) }, s = e.reduce(0, +)
            for j in 0..<4 { #expect(abs(Double(p.probabilities[r, j]) - e[j] / s) < 1e-6) }
            #expect(p.classes[r] == z.firstIndex(of: m)!)
        }
        // Batched over a data set: the same as one call.
        let data = try LabeledData(features: 6, inputs: x.elements, labels: [Int32](repeating: 0, count: 9))
        let q = try model.predict(data, batchSize: 4)
        #expect(q.classes == p.classes && q.probabilities == p.probabilities)
        #expect(throws: TrainingError.self) { try model.predict(try Self.synthetic(count: 2, features: 5)) }
        // Huge logits stay finite; ties go to the first index.
        let big = Sequential(layers: [Dense(inputSize: 1, outputSize: 3)])
        big.layers[0].bias = [1e4, 1e4, -1e4]
        let t = try big.predict(Matrix(rows: 1, columns: 1))
        #expect(t.classes == [0] && t.probabilities[0, 0] == 0.5 && t.probabilities[0, 2] == 0)
    }

    @Test("summary: PyTorch module names, shapes, hand-counted parameters and init schemes")
    func summary() throws {
        let mlp = try Sequential(sizes: [784, 256, 128, 10], activation: .relu, seed: 0)
        let s = mlp.summary()
        #expect(s.layers.map(\.name) == ["0", "2", "4"])
        #expect(s.layers.map(\.parameters) == [784 * 256 + 256, 256 * 128 + 128, 128 * 10 + 10])
        #expect(s.parameters == 235_146)
        #expect(s.layers.map(\.initialization) == ["he-normal", "he-normal", "xavier-uniform"])
        #expect(s.layers[1].inputShape == [256] && s.layers[1].outputShape == [128] && s.layers[2].activation == "identity")
        print(s)
        #expect(s.description.contains("total: 235146 parameters"))
        let res = try ResidualMLP(inputSize: 5, width: 4, depth: 2, classes: 3, activation: .relu, initialization: .rezero)
        let r = res.summary()
        #expect(r.layers.map(\.name) == ["input", "blocks.0.first", "blocks.0.second", "blocks.0.gate",
                                         "blocks.1.first", "blocks.1.second", "blocks.1.gate", "output"])
        #expect(r.parameters == (5 * 4 + 4) + 2 * (2 * (4 * 4 + 4) + 1) + (4 * 3 + 3))
        #expect(r.layers[3].initialization == "constant 0 (rezero)")
    }

    @Test("bias initializer and per-parameter rules use the documented keys; unmatched parameters are named")
    func rulesAndBias() throws {
        let sizes = [5, 6, 3]
        let withBias = try Sequential(sizes: sizes, activation: .relu, bias: .constant(0.25), seed: 2)
        #expect(withBias.layers.allSatisfy { $0.bias.allSatisfy { $0 == 0.25 } })
        #expect(withBias.summary().layers[0].initialization == "he-normal, bias constant")
        // Rules: explicit fills with key folding(in: i) (weight) and folding(in: i).folding(in: 1) (bias).
        let he = Initializer.heNormal(), u = Initializer.uniform(low: -0.1, high: 0.1)
        let model = try Sequential(sizes: sizes, activation: .relu,
                                   initialization: .rules([ParameterRule("2.weight", .xavierNormal()), ParameterRule("*.weight", he),
                                                           ParameterRule("*", u)]), seed: 11)
        var w0 = Matrix<Float>(rows: 6, columns: 5), w1 = Matrix<Float>(rows: 3, columns: 6)
        var b0 = [Float](repeating: 0, count: 6), b1 = [Float](repeating: 0, count: 3)
        let root = RandomKey(seed: 11)
        try he.fill(&w0, key: root.folding(in: 0))
        try u.fill(&b0, shape: [6], key: root.folding(in: 0).folding(in: 1))
        try Initializer.xavierNormal().fill(&w1, key: root.folding(in: 1))
        try u.fill(&b1, shape: [3], key: root.folding(in: 1).folding(in: 1))
        #expect(model.layers[0].weight == w0 && model.layers[0].bias == b0 && model.layers[1].weight == w1 && model.layers[1].bias == b1)
        // "*" matches the biases with a fan-based scheme: a bias has no fans → InitializationError.
        #expect(throws: InitializationError.self) {
            _ = try Sequential(sizes: sizes, activation: .relu, initialization: .rules([ParameterRule("*", .xavierNormal())]))
        }
        do {
            _ = try Sequential(sizes: sizes, activation: .relu, initialization: .rules([ParameterRule("*.weight", he)]))
            Issue.record("unmatched biases must throw")
        } catch let TrainingError.invalidHyperparameter(name, _, rule) {
            #expect(name == "initialization rules" && rule.contains("0.bias") && rule.contains("2.bias"), "\(rule)")
        }
        // Rules equal to .all give the same bytes.
        let viaRules = try Sequential(sizes: sizes, activation: .relu, initialization: .rules([ParameterRule("*.weight", he), ParameterRule("*.bias", .zeros)]), seed: 4)
        let viaAll = try Sequential(sizes: sizes, activation: .relu, initialization: .all(he), seed: 4)
        #expect(zip(viaRules.layers, viaAll.layers).allSatisfy { $0.weight == $1.weight && $0.bias == $1.bias })
        // Glob semantics.
        for (p, name, expected) in [("*", "0.weight", true), ("?.weight", "0.weight", true), ("?.weight", "10.weight", false),
                                    ("*.bias", "blocks.1.first.bias", true), ("0.*", "10.weight", false), ("a*b*c", "aXbYc", true),
                                    ("a*b*c", "aXbY", false), ("", "", true), ("", "x", false)] {
            #expect(ParameterRule(p, .zeros).matches(name) == expected, "\(p) ~ \(name)")
        }
    }
}
