import Foundation
import WeightInit

/// The `conv` section of `weightinit bench`: Conv2D forward and forward+backward throughput at
/// batch 128 against a raw `cblas_sgemm` of the same forward shape, and the default CNN's
/// training samples/s (synthetic N(0, 1) images, SGD Nesterov 0.9, batch 128).
enum ConvBench {
    struct Layer: Encodable {
        var layer: String; var batch: Int
        var forwardGflops: Double; var forwardBackwardGflops: Double
        var forwardMilliseconds: Double; var forwardBackwardMilliseconds: Double
        /// One raw cblas_sgemm of the forward product's shape (per group, times groups), GFLOP/s.
        var rawSgemmGflops: Double
        /// forward+backward GFLOP/s ÷ raw sgemm GFLOP/s.
        var forwardBackwardRatioToSgemm: Double
    }
    struct Report: Encodable { var layers: [Layer]; var cnnTrainSamplesPerSecond: Double; var cnnTrainSteps: Int; var threads: Int }

    static func run(quick: Bool, seed: UInt64, verbose: Bool) throws -> Report {
        let batch = 128
        var rows: [Layer] = []
        for (name, c, o, hw, groups) in [("1→32 3×3 28×28", 1, 32, 28, 1), ("32→64 3×3 14×14", 32, 64, 14, 1), ("depthwise 64 3×3 14×14", 64, 64, 14, 64)] {
            let layer = try Conv2D(inputChannels: c, outputChannels: o, kernelSize: 3, padding: .same, groups: groups, activation: .relu,
                                   inputHeight: hw, inputWidth: hw)
            try layer.initialize(with: .heNormal(), key: RandomKey(seed: seed))
            var x = Matrix<Float>(rows: batch, columns: c * hw * hw)
            try Initializer.normal(mean: 0, std: 1).fill(&x, key: RandomKey(seed: 7))
            var dy = Matrix<Float>(rows: batch, columns: o * hw * hw)
            try Initializer.normal(mean: 0, std: 1).fill(&dy, key: RandomKey(seed: 8))
            let reps = quick ? 5 : 15
            var f: [Double] = [], fb: [Double] = []
            for r in 0..<(reps + 2) {
                let t0 = now()
                try layer.forward(x)
                let t1 = now()
                try layer.forward(x); try layer.backward(dy)
                let t2 = now()
                if r >= 2 { f.append(t1 - t0); fb.append(t2 - t1) }
            }
            // Raw sgemm of the forward shape: per group [og, K]·[K, N·P].
            let og = o / groups, k = (c / groups) * 9, np = batch * hw * hw
            let a = [Float](repeating: 0.5, count: og * k), b = [Float](repeating: 0.25, count: k * np)
            var cc = [Float](repeating: 0, count: og * np)
            var raw: [Double] = []
            for r in 0..<(reps + 2) {
                let t0 = now()
                for _ in 0..<groups {
                    try a.withUnsafeBufferPointer { pa in try b.withUnsafeBufferPointer { pb in try cc.withUnsafeMutableBufferPointer { pc in
                        try BLAS.gemm(m: og, n: np, k: k, a: pa, lda: k, b: pb, ldb: np, c: pc, ldc: np) } } }
                }
                if r >= 2 { raw.append(now() - t0) }
            }
            let flops = 2 * Double(batch) * Double(o) * Double(hw * hw) * Double(k)
            let rawG = flops / median(raw) / 1e9, fbG = 3 * flops / median(fb) / 1e9
            let row = Layer(layer: name, batch: batch, forwardGflops: flops / median(f) / 1e9, forwardBackwardGflops: fbG,
                            forwardMilliseconds: median(f) * 1e3, forwardBackwardMilliseconds: median(fb) * 1e3,
                            rawSgemmGflops: rawG, forwardBackwardRatioToSgemm: fbG / rawG)
            rows.append(row)
        }
        // Default CNN training throughput.
        let model = try ConvolutionalNetwork.defaultCNN(seed: seed)
        let optimizer = try Optimizer(.sgd(momentum: 0.9, nesterov: true))
        var x = Matrix<Float>(rows: batch, columns: 784)
        try Initializer.normal(mean: 0, std: 1).fill(&x, key: RandomKey(seed: 3))
        let labels = (0..<batch).map { Int32($0 % 10) }
        var loss = SoftmaxCrossEntropy()
        let params = model.parameters
        func step() throws {
            let logits = try model.forward(x)
            _ = try loss.loss(logits: logits, labels: labels[...])
            try model.backward(loss.gradient)
            optimizer.step(parameters: params, learningRate: 0.01)
        }
        let steps = quick ? 10 : 40
        let sps = try model.withoutInputGradient { () throws -> Double in
            for _ in 0..<3 { try step() }
            let t0 = now()
            for _ in 0..<steps { try step() }
            return Double(steps * batch) / (now() - t0)
        }
        return Report(layers: rows, cnnTrainSamplesPerSecond: sps, cnnTrainSteps: steps, threads: BLASBackend.threads)
    }
}
