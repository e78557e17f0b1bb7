// Data-based initialization: LSUV (CASES C17) and per-unit data-dependent init. Every check is a
// statistic computed here with Double loops on the pre-activations of an independent forward
// pass after the calibration (validated once against a naive Double forward), never the
// records the code under test returns — those are compared against these measurements.
import Foundation
import Testing
import MatrixModule
import NeuralNetwork

// MARK: - Helpers (file-private)

/// `rows × columns` of N(0, 1) values (SplitMix64 + Box–Muller).
private func dbGaussianBatch(rows: Int, columns: Int, seed: UInt64) -> Matrix<Float> {
    var g = SplitMix64(seed: seed)
    let e = (0..<(rows * columns)).map { _ in Float(g.gaussian()) }
    return try! Matrix(rows: rows, columns: columns, elements: e)
}

/// Mean and population variance of all elements, two-pass, in Double.
private func dbMoments(_ m: Matrix<Float>) -> (mean: Double, variance: Double) {
    m.withUnsafeBufferPointer { p in
        var s = 0.0
        for v in p { s += Double(v) }
        let mean = s / Double(p.count)
        var q = 0.0
        for v in p { let d = Double(v) - mean; q += d * d }
        return (mean, q / Double(p.count))
    }
}

/// Per-column mean and population std, two-pass, in Double.
private func dbColumnStats(_ m: Matrix<Float>) -> (mean: [Double], std: [Double]) {
    let r = m.rows, c = m.columns
    return m.withUnsafeBufferPointer { p in
        var mean = [Double](repeating: 0, count: c), q = [Double](repeating: 0, count: c)
        for i in 0..<r { for j in 0..<c { mean[j] += Double(p[i * c + j]) } }
        for j in 0..<c { mean[j] /= Double(r) }
        for i in 0..<r { for j in 0..<c { let d = Double(p[i * c + j]) - mean[j]; q[j] += d * d } }
        return (mean, q.map { ($0 / Double(r)).squareRoot() })
    }
}

private func dbAllFinite(_ model: Sequential) -> Bool {
    model.layers.allSatisfy { l in l.weight.elements.allSatisfy { $0.isFinite } && l.bias.allSatisfy { $0.isFinite } }
}

/// `W·Wᵀ` of a `[out, in]` weight, in Double.
private func dbGram(_ w: Matrix<Float>) -> [[Double]] {
    let e = doubles(w), r = w.rows, c = w.columns
    var g = [[Double]](repeating: [Double](repeating: 0, count: r), count: r)
    for i in 0..<r { for j in 0..<r { var s = 0.0; for k in 0..<c { s += e[i * c + k] * e[j * c + k] }; g[i][j] = s } }
    return g
}

private func dbCosine(_ a: [Float], _ b: [Float]) -> Double {
    var ab = 0.0, aa = 0.0, bb = 0.0
    for i in a.indices { ab += Double(a[i]) * Double(b[i]); aa += Double(a[i]) * Double(a[i]); bb += Double(b[i]) * Double(b[i]) }
    return ab / (aa * bb).squareRoot()
}

private func dbSnapshot(_ model: Sequential) -> [([Float], [Float])] { model.layers.map { ($0.weight.elements, $0.bias) } }

// MARK: - LSUV (C17)

@Suite("LSUV (C17)")
struct LSUVTests {
    /// The C17 setup: 784–256–256–10 ReLU, batch 512 ~N(0, 1) seed 0.
    private static func c17Model() throws -> (Sequential, Matrix<Float>) {
        (try Sequential(sizes: [784, 256, 256, 10], activation: .relu, seed: 0), dbGaussianBatch(rows: 512, columns: 784, seed: 0))
    }

    @Test("C17: every layer's pre-activation variance in [0.9, 1.1], biases untouched, records agree with measurements")
    func c17VarianceTarget() throws {
        let (model, batch) = try Self.c17Model()
        let records = try LSUV(tolerance: 0.1, maxIterations: 10).initialize(model, batch: batch, seed: 0)
        #expect(records.count == 3)
        #expect(dbAllFinite(model))
        // Independent forward pass after calibration.
        _ = try model.forward(batch)
        // Validate layer.preactivation as a measurement source on 16 rows with a naive Double forward.
        let rows = 16
        var x = Array(doubles(batch)[0..<(rows * 784)])
        for layer in model.layers {
            let (z, y) = naiveDense(x: x, w: doubles(layer.weight), b: layer.bias.map(Double.init), batch: rows,
                                    inSize: layer.inputSize, outSize: layer.outputSize, activation: layer.activation)
            let got = Array(doubles(layer.preactivation)[0..<(rows * layer.outputSize)])
            #expect(worstRatio(got, z, abs: 1e-4, rel: 1e-4) <= 1)
            x = y
        }
        for (i, layer) in model.layers.enumerated() {
            let (mean, variance) = dbMoments(layer.preactivation)
            #expect(variance >= 0.9 && variance <= 1.1, "layer \(i): Var(Z) = \(variance)")
            #expect(layer.bias.allSatisfy { $0 == 0 }, "layer \(i): bias touched without centring")
            let r = records[i]
            #expect(r.layer == i)
            #expect(r.iterations >= 0 && r.iterations <= 10, "layer \(i): \(r.iterations) iterations")
            #expect(r.converged)
            #expect(close(r.variance, variance, abs: 1e-9, rel: 1e-6), "layer \(i): record \(r.variance) vs measured \(variance)")
            #expect(close(r.mean, mean, abs: 1e-7, rel: 1e-6), "layer \(i): record mean \(r.mean) vs measured \(mean)")
            #expect(r.skippedUnits == 0)
        }
    }

    @Test("C17: the output layer is rescaled by default; with includeOutputLayer false it keeps orthonormal rows")
    func outputLayerRescaled() throws {
        let (model, batch) = try Self.c17Model()
        try LSUV().initialize(model, batch: batch, seed: 0)
        // Orthonormal pre-init rows scaled by one factor c: W·Wᵀ = c²·I with c² clearly ≠ 1
        // (the ReLU layer below gives inputs with E[x²] ≈ 1/2, so the scale must change).
        let g = dbGram(model.layers[2].weight)
        let c2 = g[0][0]
        #expect(abs(c2 - 1) > 0.3, "output layer not rescaled: row norm² \(c2)")
        for i in 0..<10 { for j in 0..<10 { #expect(abs(g[i][j] - (i == j ? c2 : 0)) < 1e-4 * c2) } }

        let (model2, _) = try Self.c17Model()
        let records = try LSUV(includeOutputLayer: false).initialize(model2, batch: batch, seed: 0)
        #expect(records[2].iterations == 0)
        let g2 = dbGram(model2.layers[2].weight)
        for i in 0..<10 { for j in 0..<10 { #expect(abs(g2[i][j] - (i == j ? 1 : 0)) < 1e-4) } }
        _ = try model2.forward(batch)
        let v = dbMoments(model2.layers[2].preactivation).variance
        #expect(v < 0.8, "unscaled output layer variance \(v) (expected ≈ 0.5)")
        #expect(close(records[2].variance, v, abs: 1e-9, rel: 1e-6))
    }

    @Test("C17: with centerBias every layer has |mean| < 1e-4 and std 1 ± 0.1 (weight first, then bias)")
    func c17CenterBias() throws {
        let (model, batch) = try Self.c17Model()
        let records = try LSUV(tolerance: 0.1, maxIterations: 10, centerBias: true).initialize(model, batch: batch, seed: 0)
        #expect(dbAllFinite(model))
        _ = try model.forward(batch)
        for (i, layer) in model.layers.enumerated() {
            let (mean, variance) = dbMoments(layer.preactivation)
            #expect(abs(mean) < 1e-4, "layer \(i): mean \(mean)")
            #expect(abs(variance.squareRoot() - 1) <= 0.1, "layer \(i): std \(variance.squareRoot())")
            // Each unit is centred too (the bias removes the unit's mean).
            let cols = dbColumnStats(layer.preactivation)
            let worst = cols.mean.map(abs).max()!
            #expect(worst < 1e-3, "layer \(i): worst unit mean \(worst)")
            #expect(close(records[i].variance, variance, abs: 1e-9, rel: 1e-6))
            #expect(close(records[i].mean, mean, abs: 1e-7, rel: 1e-6))
        }
        // ReLU outputs are ≥ 0, so layers 1 and 2 need non-zero biases to be centred.
        #expect(model.layers[1].bias.contains { $0 != 0 })
        #expect(model.layers[2].bias.contains { $0 != 0 })
    }

    @Test("without orthonormal pre-init and without centring the biases are never touched (bitwise)")
    func biasesUntouched() throws {
        let model = try Sequential(sizes: [32, 24, 16, 4], activation: .tanh, seed: 7)
        for (i, layer) in model.layers.enumerated() { layer.bias = randomArray(count: layer.outputSize, seed: 100 + UInt64(i), -0.3, 0.3) }
        let before = model.layers.map(\.bias)
        let batch = dbGaussianBatch(rows: 128, columns: 32, seed: 3)
        try LSUV(orthonormalPreInit: false).initialize(model, batch: batch)
        for (i, layer) in model.layers.enumerated() { #expect(layer.bias == before[i], "layer \(i) bias changed") }
        _ = try model.forward(batch)
        for (i, layer) in model.layers.enumerated() {
            let v = dbMoments(layer.preactivation).variance
            #expect(abs(v - 1) <= 0.1, "layer \(i): \(v)")
        }
    }

    @Test("C17: all-zero input batch → degenerateLayer(layer 0, variance 0), no NaN/Inf in any weight")
    func zeroBatch() throws {
        let (model, _) = try Self.c17Model()
        let zeros = Matrix<Float>(rows: 64, columns: 784)
        #expect(throws: DataInitializationError.degenerateLayer(layer: 0, variance: 0)) {
            try LSUV().initialize(model, batch: zeros, seed: 0)
        }
        #expect(dbAllFinite(model))
    }

    @Test("a dead ReLU layer (bias −100) makes the next layer degenerate: typed error, weights finite")
    func deadLayer() throws {
        let model = try Sequential(sizes: [32, 16, 16, 4], activation: .relu, seed: 1)
        model.layers[0].bias = [Float](repeating: -100, count: 16)
        let batch = dbGaussianBatch(rows: 64, columns: 32, seed: 2)
        #expect(throws: DataInitializationError.degenerateLayer(layer: 1, variance: 0)) {
            try LSUV(orthonormalPreInit: false).initialize(model, batch: batch)
        }
        #expect(dbAllFinite(model))
    }

    @Test("C17: a batch containing NaN/Inf → nonFiniteBatch(count:), weights untouched")
    func nanBatch() throws {
        let (model, batch0) = try Self.c17Model()
        var batch = batch0
        batch[3, 5] = .nan; batch[100, 700] = .nan; batch[511, 0] = .infinity
        let before = dbSnapshot(model)
        #expect(throws: DataInitializationError.nonFiniteBatch(count: 3)) {
            try LSUV().initialize(model, batch: batch, seed: 0)
        }
        let after = dbSnapshot(model)
        for i in before.indices { #expect(before[i].0 == after[i].0 && before[i].1 == after[i].1) }
    }

    @Test("bad batches and hyper-parameters are rejected")
    func rejections() throws {
        let model = try Sequential(sizes: [8, 4, 2], activation: .relu, seed: 0)
        #expect(throws: DataInitializationError.emptyBatch) { try LSUV().initialize(model, batch: Matrix<Float>(rows: 0, columns: 8)) }
        #expect(throws: DataInitializationError.shapeMismatch(batchColumns: 7, modelInputs: 8)) {
            try LSUV().initialize(model, batch: dbGaussianBatch(rows: 4, columns: 7, seed: 0))
        }
        let ok = dbGaussianBatch(rows: 16, columns: 8, seed: 0)
        #expect(throws: TrainingError.self) { try LSUV(tolerance: 0).initialize(model, batch: ok) }
        #expect(throws: TrainingError.self) { try LSUV(tolerance: .nan).initialize(model, batch: ok) }
        #expect(throws: TrainingError.self) { try LSUV(maxIterations: 0).initialize(model, batch: ok) }
    }

    @Test("one rescaling per iteration: a too-loose limit (1 iteration) may stop early but stays finite; records count iterations")
    func iterationLimit() throws {
        let model = try Sequential(sizes: [32, 32, 32, 4], activation: .tanh, seed: 5)
        let batch = dbGaussianBatch(rows: 128, columns: 32, seed: 9)
        let records = try LSUV(tolerance: 1e-3, maxIterations: 1).initialize(model, batch: batch)
        #expect(records.allSatisfy { $0.iterations <= 1 })
        #expect(dbAllFinite(model))
        _ = try model.forward(batch)
        for (i, layer) in model.layers.enumerated() {
            let v = dbMoments(layer.preactivation).variance
            #expect(records[i].converged == (abs(v - 1) <= 1e-3))
        }
    }
}

// MARK: - Per-unit data-dependent init

@Suite("DataDependentInitialization")
struct DataDependentInitializationTests {
    @Test("each hidden unit: mean ≈ 0 (|μ| < 1e-4), std 1 ± 1e-3; row directions unchanged; zero rows skipped; output layer untouched")
    func perUnitNormalization() throws {
        let model = try Sequential(sizes: [32, 64, 48, 10], activation: .relu, seed: 3)
        // Units 0, 5, 7 of layer 0 have zero weights → constant pre-activation (their bias).
        for u in [0, 5, 7] { for j in 0..<32 { model.layers[0].weight[u, j] = 0 } }
        model.layers[0].bias[5] = 0.25
        let batch = dbGaussianBatch(rows: 256, columns: 32, seed: 11)
        let before = dbSnapshot(model)
        // Pre-calibration statistics of layer 0 (its input is the batch, so they fix its update).
        _ = try model.forward(batch)
        let pre0 = dbColumnStats(model.layers[0].preactivation)

        let records = try DataDependentInitialization().initialize(model, batch: batch)
        #expect(records.count == 3)
        #expect(records[0].skippedUnits == 3)
        #expect(records[1].skippedUnits == 0)
        #expect(dbAllFinite(model))

        _ = try model.forward(batch)
        for li in 0..<2 {
            let layer = model.layers[li]
            let st = dbColumnStats(layer.preactivation)
            for u in 0..<layer.outputSize {
                let row = layer.weight.row(u), old = Array(before[li].0[(u * layer.inputSize)..<((u + 1) * layer.inputSize)])
                if li == 0 && [0, 5, 7].contains(u) {
                    #expect(row.allSatisfy { $0 == 0 } && layer.bias[u] == before[li].1[u], "skipped unit \(u) changed")
                    continue
                }
                #expect(abs(st.mean[u]) < 1e-4, "layer \(li) unit \(u): mean \(st.mean[u])")
                #expect(abs(st.std[u] - 1) < 1e-3, "layer \(li) unit \(u): std \(st.std[u])")
                #expect(dbCosine(row, old) > 1 - 1e-6, "layer \(li) unit \(u): direction changed")
            }
        }
        // Layer 0's update in closed form from the pre-init statistics: W ← W/σ, b ← (b − μ)/σ.
        let l0 = model.layers[0]
        for u in 0..<64 where ![0, 5, 7].contains(u) {
            let ratio = Double(l0.weight[u, 3]) / Double(before[0].0[u * 32 + 3])
            #expect(close(ratio, 1 / pre0.std[u], abs: 1e-6, rel: 1e-4))
            #expect(close(Double(l0.bias[u]), (Double(before[0].1[u]) - pre0.mean[u]) / pre0.std[u], abs: 1e-5, rel: 1e-4))
        }
        // The records' layer statistics agree with our measurement.
        for li in 0..<3 {
            let (m, v) = dbMoments(model.layers[li].preactivation)
            #expect(close(records[li].variance, v, abs: 1e-9, rel: 1e-6) && close(records[li].mean, m, abs: 1e-7, rel: 1e-6))
        }
        // Output layer untouched by default.
        #expect(model.layers[2].weight.elements == before[2].0 && model.layers[2].bias == before[2].1)
    }

    @Test("includeOutputLayer normalizes the logits' units too")
    func includeOutput() throws {
        let model = try Sequential(sizes: [16, 32, 6], activation: .tanh, seed: 4)
        let batch = dbGaussianBatch(rows: 200, columns: 16, seed: 5)
        try DataDependentInitialization(includeOutputLayer: true).initialize(model, batch: batch)
        _ = try model.forward(batch)
        let st = dbColumnStats(model.layers[1].preactivation)
        for u in 0..<6 { #expect(abs(st.mean[u]) < 1e-4 && abs(st.std[u] - 1) < 1e-3) }
    }

    @Test("a constant batch: every hidden unit skipped and counted, nothing changes, no NaN")
    func constantBatch() throws {
        let model = try Sequential(sizes: [12, 20, 20, 3], activation: .relu, seed: 6)
        let row = randomArray(count: 12, seed: 8)
        let batch = try Matrix<Float>(rows: 64, columns: 12, elements: (0..<64).flatMap { _ in row })
        let before = dbSnapshot(model)
        let records = try DataDependentInitialization().initialize(model, batch: batch)
        #expect(records[0].skippedUnits == 20 && records[1].skippedUnits == 20)
        #expect(dbAllFinite(model))
        let after = dbSnapshot(model)
        for i in before.indices { #expect(before[i].0 == after[i].0 && before[i].1 == after[i].1) }
    }

    @Test("bad batches are rejected with typed errors")
    func rejections() throws {
        let model = try Sequential(sizes: [8, 4, 2], activation: .relu, seed: 0)
        var bad = dbGaussianBatch(rows: 4, columns: 8, seed: 1)
        bad[0, 0] = -.infinity
        #expect(throws: DataInitializationError.nonFiniteBatch(count: 1)) { try DataDependentInitialization().initialize(model, batch: bad) }
        #expect(throws: DataInitializationError.emptyBatch) { try DataDependentInitialization().initialize(model, batch: Matrix<Float>(rows: 0, columns: 8)) }
        #expect(throws: DataInitializationError.shapeMismatch(batchColumns: 9, modelInputs: 8)) {
            try DataDependentInitialization().initialize(model, batch: dbGaussianBatch(rows: 4, columns: 9, seed: 1))
        }
    }
}
