// Layer-synchronous batch-split training (Sequential with batchThreads > 1): weights bitwise equal
// to the 1-thread path for T = 2, 3, 4 (ReLU and tanh, SGD Nesterov and AdamW with decay, partial
// batches, batches smaller than T); one plain-SGD step against a naive Double forward/backward;
// a non-finite batch leaves the weights alone; the thread team's barrier orders memory.
import Foundation
import Testing
import Initializers
import MatrixModule
@testable import NeuralNetwork

/// `count` samples of `features` uniform values in [−1, 1) with labels `0..<classes` (SplitMix64).
private func samples(count: Int, features: Int, classes: Int, seed: UInt64) throws -> LabeledData {
    var g = SplitMix64(seed: seed)
    let inputs = (0..<(count * features)).map { _ in Float(g.uniform()) }
    let labels = (0..<count).map { _ in Int32(g.next() % UInt64(classes)) }
    return try LabeledData(features: features, inputs: inputs, labels: labels)
}

@Suite("Layer-synchronous training")
struct LayerSyncTests {
    @Test("T = 2, 3, 4 end bitwise equal to T = 1 (ReLU + SGD Nesterov, tanh + AdamW with decay; last batch of 1 row, batches < T)")
    func bitwiseAcrossThreads() throws {
        // 97 samples in batches of 16: the last batch has 1 row (members without rows); batch 3 < T = 4.
        let train = try samples(count: 97, features: 19, classes: 5, seed: 7), test = try samples(count: 30, features: 19, classes: 5, seed: 8)
        func run(_ activation: Activation, _ optimizer: Optimizer.Kind, decay: Double, batch: Int, threads: Int,
                 diagnostics: Bool = false) throws -> (weights: [Float], reports: [EpochReport]) {
            let model = try Sequential(sizes: [19, 40, 24, 5], activation: activation, seed: 3)
            var cfg = TrainingConfiguration()
            cfg.epochs = 2; cfg.batchSize = batch; cfg.learningRate = 0.05; cfg.optimizer = optimizer; cfg.weightDecay = decay
            cfg.batchThreads = threads; cfg.diagnostics = diagnostics
            let trainer = try Trainer(model: model, configuration: cfg)
            let reports = try trainer.fit(train: train, test: test)
            return (model.flatValues, reports)
        }
        let cases: [(Activation, Optimizer.Kind, Double, Int)] = [(.relu, .sgd(momentum: 0.9, nesterov: true), 0, 16), (.tanh, .adamW(), 0.01, 16), (.relu, .sgd(momentum: 0.9, nesterov: true), 0, 3)]
        for (activation, optimizer, decay, batch) in cases {
            let one = try run(activation, optimizer, decay: decay, batch: batch, threads: 1)
            #expect(one.weights.allSatisfy { $0.isFinite })
            for t in [2, 3, 4] {
                let many = try run(activation, optimizer, decay: decay, batch: batch, threads: t)
                let differing = zip(one.weights, many.weights).filter { $0.bitPattern != $1.bitPattern }.count
                #expect(differing == 0, "\(activation.name), batch \(batch), T = \(t): \(differing) of \(one.weights.count) weights differ from T = 1")
                #expect(zip(one.reports, many.reports).allSatisfy { $0.trainLoss == $1.trainLoss && $0.trainAccuracy == $1.trainAccuracy })
            }
            // Diagnostics (per-layer statistics, update ratios) read the model between steps: same bytes.
            let diagnosed = try run(activation, optimizer, decay: decay, batch: batch, threads: 2, diagnostics: true)
            #expect(diagnosed.weights.map(\.bitPattern) == one.weights.map(\.bitPattern), "\(activation.name), batch \(batch): T = 2 with diagnostics differs")
            #expect(diagnosed.reports.allSatisfy { $0.updateRatio?.allSatisfy { $0.isFinite && $0 > 0 } ?? false })
            print("layer-synchronous \(activation.name), batch \(batch): T = 2, 3, 4 (and 2 with diagnostics) bitwise equal to T = 1 after 2 epochs (\(one.weights.count) parameters)")
        }
    }

    @Test("one plain-SGD step (T = 2) against a naive Double forward/backward")
    func oneStepAgainstDouble() throws {
        let sizes = [13, 21, 17, 4], n = 37, lr = 0.5
        let data = try samples(count: n, features: sizes[0], classes: 4, seed: 21)
        let model = try Sequential(sizes: sizes, activation: .relu, seed: 9)
        let before = model.layers.map { ($0.weight.elements.map(Double.init), $0.bias.map(Double.init)) }
        var cfg = TrainingConfiguration()
        cfg.epochs = 1; cfg.batchSize = n; cfg.learningRate = lr; cfg.optimizer = .sgd(); cfg.schedule = LearningRateSchedule(.constant)
        cfg.batchThreads = 2
        let trainer = try Trainer(model: model, configuration: cfg)
        _ = try trainer.fit(train: data, test: data, maxSteps: 1)
        // The oracle: rows in the epoch's order, Double everywhere.
        let order = try Trainer.order(count: n, seed: cfg.seed, epoch: 1)
        var acts: [[[Double]]] = [order.map { i in (0..<sizes[0]).map { Double(data.inputs[i * sizes[0] + $0]) } }]
        var pre: [[[Double]]] = []
        for (l, (w, b)) in before.enumerated() {
            let (inn, out) = (sizes[l], sizes[l + 1])
            let z = acts[l].map { x in (0..<out).map { o in b[o] + (0..<inn).reduce(0.0) { $0 + w[o * inn + $1] * x[$1] } } }
            pre.append(z)
            acts.append(l == before.count - 1 ? z : z.map { $0.map { max($0, 0) } })
        }
        var dz = acts.last!.enumerated().map { r, z -> [Double] in
            let m = z.max()!, e = z.map { Foundation.exp($0 - m) }, s = e.reduce(0, +)
            return e.enumerated().map { j, v in (v / s - (j == Int(data.labels[order[r]]) ? 1 : 0)) / Double(n) }
        }
        var worst = 0.0
        for l in stride(from: before.count - 1, through: 0, by: -1) {
            let (inn, out) = (sizes[l], sizes[l + 1]), (w, b) = before[l]
            let layer = model.layers[l]
            var scale = 0.0
            for o in 0..<out {
                let gb = (0..<n).reduce(0.0) { $0 + dz[$1][o] }
                scale = max(scale, abs(b[o] - lr * gb))
                worst = max(worst, abs(Double(layer.bias[o]) - (b[o] - lr * gb)))
                for i in 0..<inn {
                    let g = (0..<n).reduce(0.0) { $0 + dz[$1][o] * acts[l][$1][i] }
                    let expected = w[o * inn + i] - lr * g
                    let got = Double(layer.weight[o, i])
                    // Float forward/backward against Double: a few thousand ulps of the gradient's scale at most.
                    #expect(abs(got - expected) <= 1e-5 + 1e-5 * abs(expected), "layer \(l) W[\(o), \(i)]: \(got) vs \(expected)")
                    worst = max(worst, abs(got - expected))
                }
            }
            if l > 0 {
                var below = [[Double]](repeating: [Double](repeating: 0, count: inn), count: n)
                for r in 0..<n {
                    for i in 0..<inn where pre[l - 1][r][i] > 0 {
                        var sum = 0.0
                        for o in 0..<out { sum += dz[r][o] * w[o * inn + i] }
                        below[r][i] = sum
                    }
                }
                dz = below
            }
        }
        print("layer-synchronous one SGD step (T = 2, n = \(n)) vs Double oracle: max |Δw| = \(worst)")
    }

    @Test("a batch with a non-finite loss stops the run and leaves the weights and the optimizer unchanged (T = 1 and 2)")
    func nonFiniteLeavesWeights() throws {
        var data = try samples(count: 20, features: 6, classes: 3, seed: 5)
        var inputs = data.inputs
        inputs[6 * 3 + 2] = .infinity    // sample 3, in the first batch of 20
        data = try LabeledData(features: 6, inputs: inputs, labels: data.labels)
        for t in [1, 2] {
            let model = try Sequential(sizes: [6, 8, 3], activation: .relu, seed: 1)
            let before = model.flatValues
            var cfg = TrainingConfiguration()
            cfg.epochs = 1; cfg.batchSize = 20; cfg.batchThreads = t
            let trainer = try Trainer(model: model, configuration: cfg)
            #expect(throws: TrainingError.nonFiniteLoss(epoch: 1, step: 1, lastFiniteLoss: nil)) { _ = try trainer.fit(train: data, test: data) }
            #expect(model.flatValues == before, "T = \(t)")
            #expect(trainer.optimizer.state.steps == 0, "T = \(t)")
        }
    }

    @Test("DenseKernels: range packing equals whole packing; the biasReLU epilogue is max(X·Wᵀ + b, 0) within γ_k·Σ|x||w| of Double, and bitwise the bias epilogue's Y")
    func kernelsAgainstOracle() throws {
        let (out, inn, rows) = (37, 29, 11)     // partial panels (37 = 2·16 + 5) and a partial tile (11 = 6 + 5)
        var g = SplitMix64(seed: 77)
        let w = (0..<(out * inn)).map { _ in Float(g.uniform()) }, x = (0..<(rows * inn)).map { _ in Float(g.uniform()) }
        let bias = (0..<out).map { _ in Float(g.uniform(-0.5, 0.5)) }
        let count = DenseKernels.packedCount(m: out, k: inn)
        var whole = [Float](repeating: -1, count: count), pieces = [Float](repeating: -1, count: count)
        w.withUnsafeBufferPointer { wp in
            whole.withUnsafeMutableBufferPointer { d in
                DenseKernels.pack(transposed: true, m: out, panels: 0..<3, positions: 0..<inn, total: inn, a: wp.baseAddress!, lda: inn, into: d.baseAddress!)
            }
            pieces.withUnsafeMutableBufferPointer { d in   // two panel ranges × two position ranges
                for (panels, positions) in [(0..<1, 0..<10), (1..<3, 0..<10), (0..<1, 10..<inn), (1..<3, 10..<inn)] {
                    DenseKernels.pack(transposed: true, m: out, panels: panels, positions: positions, total: inn, a: wp.baseAddress!, lda: inn, into: d.baseAddress!)
                }
            }
        }
        #expect(whole == pieces)
        // Element (o, p) of the packed W at panel o/16, position p, lane o mod 16; rows ≥ out zero.
        #expect((0..<48).allSatisfy { o in (0..<inn).allSatisfy { p in whole[(o / 16) * 16 * inn + p * 16 + o % 16] == (o < out ? w[o * inn + p] : 0) } })
        var yRelu = [Float](repeating: .nan, count: rows * out), z = yRelu, y = yRelu
        whole.withUnsafeBufferPointer { a in
            x.withUnsafeBufferPointer { xb in
                bias.withUnsafeBufferPointer { bb in
                    yRelu.withUnsafeMutableBufferPointer { c in
                        DenseKernels.product(m: out, n: rows, k: inn, packedA: a.baseAddress!, b: xb.baseAddress!, bsp: 1, bsj: inn,
                                             c: c.baseAddress!, ldc: out, epilogue: .biasReLU, bias: bb.baseAddress!)
                    }
                    z.withUnsafeMutableBufferPointer { c in
                        y.withUnsafeMutableBufferPointer { yb in
                            DenseKernels.product(m: out, n: rows, k: inn, packedA: a.baseAddress!, b: xb.baseAddress!, bsp: 1, bsj: inn,
                                                 c: c.baseAddress!, ldc: out, epilogue: .bias, bias: bb.baseAddress!, y: yb.baseAddress!, ldy: out)
                        }
                    }
                }
            }
        }
        #expect(zip(yRelu, y).allSatisfy { $0.bitPattern == $1.bitPattern })
        let gammaK = Double(inn + 1) * 0x1p-24 / (1 - Double(inn + 1) * 0x1p-24)
        var worst = 0.0
        for r in 0..<rows {
            for o in 0..<out {
                var exact = Double(bias[o]), magnitude = abs(Double(bias[o]))
                for i in 0..<inn { exact += Double(x[r * inn + i]) * Double(w[o * inn + i]); magnitude += abs(Double(x[r * inn + i]) * Double(w[o * inn + i])) }
                let got = Double(yRelu[r * out + o]), expected = max(exact, 0)
                #expect(abs(got - expected) <= gammaK * magnitude, "row \(r), output \(o): \(got) vs \(expected)")
                #expect(got >= 0 && (got > 0 || yRelu[r * out + o].sign == .plus))
                worst = max(worst, abs(got - expected) / (gammaK * magnitude))
            }
        }
        print("DenseKernels biasReLU \(rows)×\(out)×\(inn): max |Δ|/(γ_k·Σ|x||w|) vs Double = \(worst)")
    }

    @Test("DenseKernels.sgdUpdate equals the scalar formula bitwise (plain, momentum, Nesterov; decay 0 and 0.01; counts 1…37)")
    func sgdUpdateBitwise() {
        var g0 = SplitMix64(seed: 5)
        for count in [1, 7, 8, 9, 37] {
            for (mu, nesterov) in [(Float(0), false), (0.9, false), (0.9, true)] {
                for lambda in [Float(0), 0.01] {
                    var w = (0..<count).map { _ in Float(g0.uniform()) }, m = (0..<count).map { _ in Float(g0.uniform()) }
                    let g = (0..<count).map { _ in Float(g0.uniform()) * 1e-2 }
                    w[0] = -0.0
                    var wr = w, mr = m
                    let eta: Float = 0.05
                    for j in 0..<count {   // the oracle: each operation rounded in order
                        let gj = g[j] + lambda * wr[j]
                        if mu == 0 { wr[j] = wr[j] - eta * gj; continue }
                        let v = mu * mr[j] + gj
                        mr[j] = v
                        wr[j] = wr[j] - eta * (nesterov ? gj + mu * v : v)
                    }
                    w.withUnsafeMutableBufferPointer { wp in
                        m.withUnsafeMutableBufferPointer { mp in
                            g.withUnsafeBufferPointer { gp in
                                DenseKernels.sgdUpdate(wp.baseAddress!, gp.baseAddress!, mp.baseAddress!, count: count, learningRate: eta, decay: lambda, momentum: mu, nesterov: nesterov)
                            }
                        }
                    }
                    #expect(zip(w, wr).allSatisfy { $0.bitPattern == $1.bitPattern }, "count \(count), μ \(mu), nesterov \(nesterov), λ \(lambda)")
                    #expect(zip(m, mr).allSatisfy { $0.bitPattern == $1.bitPattern })
                }
            }
        }
    }

    @Test("the thread team runs every member at once and its barrier orders memory (sizes 1…4, 2000 rounds)")
    func teamBarrier() throws {
        for size in 1...4 {
            let team = try #require(ThreadTeam(size: size))
            let slots = UnsafeMutablePointer<Int>.allocate(capacity: size)
            slots.initialize(repeating: -1, count: size)
            defer { slots.deallocate() }
            let bad = UnsafeMutablePointer<Int>.allocate(capacity: size)
            bad.initialize(repeating: 0, count: size)
            defer { bad.deallocate() }
            let p = UnsafeSendable((slots, bad))
            var seen = [Int](repeating: 0, count: size)
            team.run { m in
                let (slots, bad) = p.value
                for round in 0..<2000 {
                    slots[m] = round
                    team.barrier()
                    for k in 0..<size where slots[k] != round { bad[m] += 1 }
                    team.barrier()
                }
            }
            for m in 0..<size { seen[m] = bad[m] }
            #expect(seen.allSatisfy { $0 == 0 }, "size \(size): members saw stale slots \(seen)")
            var ran = [Bool](repeating: false, count: size)
            ran.withUnsafeMutableBufferPointer { r in
                let q = UnsafeSendable(r.baseAddress!)
                team.run { m in q.value[m] = true }
            }
            #expect(ran.allSatisfy { $0 })
        }
        #expect(ThreadTeam(size: 0) == nil)
    }
}

private struct UnsafeSendable<T>: @unchecked Sendable { let value: T; init(_ v: T) { value = v } }
