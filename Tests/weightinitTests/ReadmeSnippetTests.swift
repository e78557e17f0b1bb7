// The README's "Using it from your package" snippet compiles and runs as written: it is held
// verbatim below (between the marker comments, indented by 8 spaces), after the names it uses
// from outside (`trainData`, `testData`) are defined from small synthetic data; a second test
// checks that README.md still contains exactly that text. Edit both together.
import Foundation
import Testing
import WeightInit

@Suite("README snippet")
struct ReadmeSnippetTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let beginMarker = "        // README snippet begins (verbatim; `import WeightInit` is at the top of this file)"
    static let endMarker = "        // README snippet ends"

    @Test("the snippet runs on synthetic data")
    func snippetRuns() throws {
        // 384 training and 128 test examples of 784 features in two classes separated by their mean.
        func synthetic(_ count: Int, seed: UInt64) throws -> LabeledData {
            var g = PhiloxGenerator(key: RandomKey(seed: seed))
            var inputs = [Float](), labels = [Int32]()
            for i in 0..<count {
                let label = Int32(i % 2)
                labels.append(label)
                for _ in 0..<784 { inputs.append(Float(g.next() >> 40) / Float(1 << 24) - 0.5 + (label == 0 ? -0.2 : 0.2)) }
            }
            return try LabeledData(features: 784, inputs: inputs, labels: labels)
        }
        let trainData = try synthetic(384, seed: 1), testData = try synthetic(128, seed: 2)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("readme-snippet-\(getpid())").path
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let modelFile = directory + "/model.safetensors", runDirectory = directory + "/run1"

        // README snippet begins (verbatim; `import WeightInit` is at the top of this file)
        // A dense weight is [out, in] (PyTorch's layout): fanIn = columns, fanOut = rows.
        var w = Matrix<Float>(rows: 256, columns: 784)
        let root = RandomKey(seed: 0)
        try Initializer.heNormal().fill(&w, key: root.folding(in: 0))        // N(0, 2/784)

        // Raw storage, conv kernels (OIHW by default, .spatialInOut for Keras HWIO), any thread count.
        var kernel = [Float](repeating: 0, count: 64 * 32 * 3 * 3)
        try Initializer.xavierUniform(gain: Nonlinearity.tanh.gain)
            .fill(&kernel, shape: [64, 32, 3, 3], key: root.folding(in: 1), threads: 2)

        // One shard of a big tensor gives exactly those rows of the full fill.
        var rows100to200 = [Float](repeating: 0, count: 100 * 4096)
        try rows100to200.withUnsafeMutableBufferPointer {
            try Initializer.normal(mean: 0, std: 0.02).fillShard($0, shape: [8192, 4096], rows: 100..<200, key: root)
        }

        // Keras/JAX-style truncated variance scaling, orthogonal, names from configs:
        let vs = Initializer.varianceScaling(VarianceScaling(scale: 2, mode: .fanIn, distribution: .truncatedNormal))
        let q = try Initializer.orthogonal(gain: 1).matrix(rows: 128, columns: 256, of: Float.self, key: root)
        let fromConfig = try Initializer(name: "GlorotUniform")               // == .xavierUniform()
        let y = try q.multiplied(by: q, transposeOther: true)                 // Q·Qᵀ = I, through cblas_sgemm

        // Data: `let (trainData, testData) = try LabeledData.mnist()` loads Fashion-MNIST standardized
        // (Debian package dataset-fashion-mnist); any [count, features] Float array with labels works too.
        let calibrationBatch = try trainData.calibrationBatch(count: 1024, seed: 0)   // [≤1024, 784] Matrix

        // A model, trained with the scheme that fits each layer's activation (He for ReLU):
        let model = try Sequential(sizes: [784, 256, 128, 10], activation: .relu, seed: 0)
        try LSUV().initialize(model, batch: calibrationBatch)                 // or keep the default
        print(model.summary())                                                // layer, shapes, parameters, init scheme
        let trainer = try Trainer(model: model, configuration: TrainingConfiguration())
        let epochs = try trainer.fit(train: trainData, test: testData)
        let predicted = try model.predict(testData)                          // .probabilities [n, 10], .classes [n]

        // Per-parameter rules over PyTorch names (first match wins) and a bias initializer:
        let custom = try Sequential(sizes: [784, 256, 10], activation: .relu,
                                    initialization: .rules([ParameterRule("0.weight", .orthogonal(gain: 1)),
                                                            ParameterRule("*.weight", .xavierUniform()),
                                                            ParameterRule("*.bias", .constant(0.01))]), seed: 0)

        // Save for PyTorch (safetensors; torch.nn.Sequential names 0.weight, 0.bias, 2.weight, …, weights
        // [out, in]) and load back; modelFile is a path such as "model.safetensors":
        try model.save(to: modelFile)                                         // atomic: temp file, fsync, rename
        let reloaded = try Sequential(sizes: [784, 256, 128, 10], activation: .relu)
        try reloaded.load(from: modelFile)                                    // checks names, shapes, dtypes

        // Checkpoints every 100 steps, after each epoch and at the end (runDirectory: e.g. "run1");
        // a run killed at any point and started again resumes bit for bit:
        let checkpoints = try CheckpointSchedule(directory: runDirectory, every: 100)
        let run = try Trainer(model: try Sequential(sizes: [784, 256, 128, 10], activation: .relu, seed: 0),
                              configuration: TrainingConfiguration())
        if checkpoints.exists { try run.resume(from: checkpoints.path) }      // model, optimizer, schedule, data order
        let history = try run.fit(train: trainData, test: testData, checkpoints: checkpoints)
        // README snippet ends

        // What the snippet promises, checked with independent arithmetic.
        let std = (w.elements.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(w.count)).squareRoot()
        #expect(abs(std / (2.0 / 784).squareRoot() - 1) < 0.02, "He normal std \(std)")
        let bound = Nonlinearity.tanh.gain * (6.0 / Double(32 * 9 + 64 * 9)).squareRoot()
        #expect(kernel.allSatisfy { abs(Double($0)) <= bound } && kernel.contains { $0 != 0 })
        #expect(rows100to200.contains { $0 != 0 })
        #expect(fromConfig == .xavierUniform() && vs.name == "variance-scaling")
        for i in 0..<128 { for j in 0..<128 { #expect(abs(y[i, j] - (i == j ? 1 : 0)) < 1e-4) } }
        #expect(calibrationBatch.rows == 384 && calibrationBatch.columns == 784)
        #expect(epochs.count == 5 && predicted.classes.count == 128)
        let accuracy = Double(zip(predicted.classes, testData.labels).filter { $0 == Int($1) }.count) / 128
        print("README snippet: test accuracy \(accuracy) on two separable synthetic classes")
        #expect(accuracy > 0.9)
        #expect(custom.layers[1].bias.allSatisfy { $0 == 0.01 })
        #expect(reloaded.flatValues.map(\.bitPattern) == model.flatValues.map(\.bitPattern))
        #expect(history.count == 5 && checkpoints.exists)
        let fromCheckpoint = try Sequential(sizes: [784, 256, 128, 10], activation: .relu, seed: 1)
        try fromCheckpoint.load(from: checkpoints.path)
        #expect(fromCheckpoint.flatValues == run.model.flatValues)
    }

    @Test("README.md contains exactly the snippet held by this test")
    func readmeMatches() throws {
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        let section = try #require(readme.range(of: "## Using it from your package"), "README has no 'Using it from your package' section")
        let open = try #require(readme.range(of: "```swift\nimport WeightInit\n", range: section.upperBound..<readme.endIndex))
        let close = try #require(readme.range(of: "\n```", range: open.upperBound..<readme.endIndex))
        // The blank line after `import WeightInit` is not held (the import is at the top of this file).
        let fromReadme = String(readme[open.upperBound..<close.lowerBound]).split(separator: "\n", omittingEmptySubsequences: false)
            .drop { $0.isEmpty }

        let source = try String(contentsOf: URL(fileURLWithPath: #filePath), encoding: .utf8)
        let lines = source.split(separator: "\n", omittingEmptySubsequences: false)
        let begin = try #require(lines.firstIndex { $0 == Self.beginMarker })
        let end = try #require(lines.firstIndex { $0 == Self.endMarker })
        let held = lines[(begin + 1)..<end].map { $0.hasPrefix("        ") ? $0.dropFirst(8) : $0 }
        #expect(held.count == fromReadme.count, "README snippet has \(fromReadme.count) lines, the test holds \(held.count)")
        for (i, (a, b)) in zip(held, fromReadme).enumerated() where a != b {
            Issue.record("line \(i + 1) differs:\n  test:   \(a)\n  README: \(b)")
        }
    }
}
