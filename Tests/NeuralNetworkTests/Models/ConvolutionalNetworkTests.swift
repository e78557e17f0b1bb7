// ConvolutionalNetwork: identity at initialization (C15: dirac passes the input through exactly;
// delta-orthogonal preserves the norm of every spatial position's channel vector), PyTorch
// parameter names and shapes in closed form, the flat parameter views, summary shapes, and a
// short real Fashion-MNIST run that lowers the loss and is bitwise reproducible.
import Foundation
import Testing
import Datasets
import Initializers
import MatrixModule
import NeuralNetwork

private func gaussianMatrix(_ rows: Int, _ columns: Int, seed: UInt64) -> Matrix<Float> {
    var g = SplitMix64(seed: seed)
    return try! Matrix(rows: rows, columns: columns, elements: (0..<(rows * columns)).map { _ in Float(g.gaussian()) })
}

@Suite("ConvolutionalNetwork")
struct ConvolutionalNetworkTests {
    @Test("C15: dirac (3,3,3,3) pad 1 on (1,3,5,5) passes the input through exactly")
    func diracIdentity() throws {
        let conv = try Conv2D(inputChannels: 3, outputChannels: 3, kernelSize: 3, padding: .symmetric(1), inputHeight: 5, inputWidth: 5)
        try conv.initialize(with: .dirac(), key: RandomKey(seed: 0))
        let x = gaussianMatrix(1, 75, seed: 1)
        #expect(try conv.forward(x) == x)
        // A stack of 4 such layers (with identity activation) is still exact.
        let net = try ConvolutionalNetwork(inputShape: [3, 5, 5], spec: Array(repeating: .conv(channels: 3, kernel: 3, padding: .symmetric(1), activation: .identity), count: 4),
                                           initialization: .all(.dirac()))
        #expect(try net.forward(x) == x)
    }

    @Test("C15: dirac (6,3,3,3) groups 1 copies channels 0–2 and zeroes 3–5; groups 2 is the identity on 6 channels")
    func diracGroups() throws {
        let x = gaussianMatrix(2, 3 * 25, seed: 2)
        let g1 = try Conv2D(inputChannels: 3, outputChannels: 6, kernelSize: 3, padding: .same, inputHeight: 5, inputWidth: 5)
        try g1.initialize(with: .dirac(), key: RandomKey(seed: 0))
        #expect(g1.weightShape == [6, 3, 3, 3])
        let y = try g1.forward(x)
        for s in 0..<2 {
            for c in 0..<6 {
                for p in 0..<25 {
                    let want: Float = c < 3 ? x[s, c * 25 + p] : 0
                    #expect(y[s, c * 25 + p] == want, "sample \(s) channel \(c) position \(p)")
                }
            }
        }
        let x6 = gaussianMatrix(2, 6 * 25, seed: 3)
        let g2 = try Conv2D(inputChannels: 6, outputChannels: 6, kernelSize: 3, padding: .same, groups: 2, inputHeight: 5, inputWidth: 5)
        try g2.initialize(with: .dirac(), key: RandomKey(seed: 0))
        #expect(g2.weightShape == [6, 3, 3, 3])
        #expect(try g2.forward(x6) == x6)
    }

    @Test("delta-orthogonal: every spatial position's channel vector keeps its norm (C ≤ O, same padding, identity activation)")
    func deltaOrthogonalNorm() throws {
        for (c, o) in [(8, 8), (4, 12)] {
            let conv = try Conv2D(inputChannels: c, outputChannels: o, kernelSize: 3, padding: .same, inputHeight: 6, inputWidth: 7)
            try conv.initialize(with: .deltaOrthogonal(), key: RandomKey(seed: 5))
            let x = gaussianMatrix(2, c * 42, seed: 6)
            let y = try conv.forward(x)
            var worst = 0.0
            for s in 0..<2 {
                for p in 0..<42 {
                    let nx = (0..<c).reduce(0.0) { $0 + pow(Double(x[s, $1 * 42 + p]), 2) }.squareRoot()
                    let ny = (0..<o).reduce(0.0) { $0 + pow(Double(y[s, $1 * 42 + p]), 2) }.squareRoot()
                    worst = max(worst, abs(ny - nx) / nx)
                    // Orthonormal columns in Float: relative error a few ulps times √C.
                    #expect(abs(ny - nx) <= 1e-5 * nx, "C\(c)→O\(o) sample \(s) position \(p): \(ny) vs \(nx)")
                }
            }
            print("delta-orthogonal C\(c)→O\(o): worst relative norm change \(worst)")
        }
    }

    @Test("default CNN: PyTorch nn.Sequential names and OIHW / [out, in] shapes, parameter count, summary shapes")
    func defaultNames() throws {
        let cnn = try ConvolutionalNetwork.defaultCNN(seed: 0)
        let names = cnn.parameters.map(\.name), shapes = cnn.parameters.map(\.shape)
        #expect(names == ["0.weight", "0.bias", "3.weight", "3.bias", "7.weight", "7.bias", "9.weight", "9.bias"])
        #expect(shapes == [[32, 1, 3, 3], [32], [64, 32, 3, 3], [64], [128, 3136], [128], [10, 128], [10]])
        #expect(cnn.parameterCount == 32 * 9 + 32 + 64 * 32 * 9 + 64 + 3136 * 128 + 128 + 128 * 10 + 10)
        #expect(cnn.inputSize == 784)
        #expect(cnn.layers.map(\.outputShape) == [[32, 28, 28], [32, 14, 14], [64, 14, 14], [64, 7, 7], [3136], [128], [10]])
        #expect(cnn.summary == "1×28×28 → 32×28×28 → 32×14×14 → 64×14×14 → 64×7×7 → 3136 → 128 → 10")
        let table = cnn.summaryTable()
        #expect(table.contains("64×7×7") && table.contains("total 421642 parameters"))
        // The MLP keeps its nn.Sequential names too.
        let mlp = try Sequential(sizes: [784, 256, 10], activation: .relu, seed: 0)
        #expect(mlp.parameters.map(\.name) == ["0.weight", "0.bias", "2.weight", "2.bias"])
        // Flat views: gradients and values in parameters order.
        let flat = cnn.flatValues
        #expect(flat.count == cnn.parameterCount)
        #expect(Array(flat[0..<288]) == cnn.convLayers[0].weight.elements)
        var copy = flat
        copy[0] = 42
        try copy.withUnsafeBufferPointer { try cnn.loadValues(from: $0) }
        #expect(cnn.convLayers[0].weight[0, 0] == 42)
        #expect(throws: TrainingError.self) { try [Float](repeating: 0, count: 3).withUnsafeBufferPointer { try cnn.loadGradients(from: $0) } }
    }

    @Test("keys: layer i uses RandomKey(seed).folding(in: i) with the layer's group-aware shape; auto is He for ReLU convs")
    func keys() throws {
        let cnn = try ConvolutionalNetwork.defaultCNN(seed: 7)
        var w = [Float](repeating: 0, count: 64 * 32 * 9)
        try Initializer.heNormal().fill(&w, shape: [64, 32, 3, 3], key: RandomKey(seed: 7).folding(in: 2))
        #expect(cnn.convLayers[1].weight.elements == w)
        var d = Matrix<Float>(rows: 10, columns: 128)
        try Initializer.xavierUniform().fill(&d, key: RandomKey(seed: 7).folding(in: 6))
        #expect(cnn.denseLayers[1].weight == d)
    }

    @Test("real Fashion-MNIST: 24 SGD steps of a small CNN (512 samples) lower the loss, and two runs are bitwise identical")
    func fashionMNISTShortRun() throws {
        guard FileManager.default.fileExists(atPath: MNISTDataset.defaultDirectory) else {
            print("skipped: no Fashion-MNIST at \(MNISTDataset.defaultDirectory)"); return
        }
        var train = try MNISTDataset.load(split: .train, limit: 512)
        train = try train.standardized(using: train.statistics())
        let data = try LabeledData(features: 784, inputs: train.images, labels: train.labels)
        func run() throws -> (first: Double, last: Double, weights: [Float]) {
            let spec: [LayerSpec] = [.conv(channels: 8, kernel: 3, stride: 2, padding: .symmetric(1)), .maxPool(kernel: 2),
                                     .flatten, .dense(units: 10, activation: .identity)]
            let net = try ConvolutionalNetwork(inputShape: [1, 28, 28], spec: spec, seed: 0)
            var cfg = TrainingConfiguration()
            cfg.epochs = 3; cfg.batchSize = 64; cfg.learningRate = 0.05
            let before = try Trainer.evaluate(net, data).loss
            let reports = try Trainer(model: net, configuration: cfg).fit(train: data, test: data)
            return (before, reports.last!.testLoss, net.flatValues)
        }
        let a = try run(), b = try run()
        print("Fashion-MNIST CNN (512 samples, 24 steps): loss \(a.first) → \(a.last)")
        #expect(a.last < a.first - 0.3)
        #expect(a.weights == b.weights)
    }
}
