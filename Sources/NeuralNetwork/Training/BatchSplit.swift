import Dispatch
import Foundation
import MatrixModule

/// A model that can build a structural copy of itself: the replicas of batch-split training
/// (`TrainingConfiguration.batchThreads`).
///
/// The copy has the same `parameters` (names, shapes, order), the same activations and the
/// same forward/backward arithmetic; its parameter values are unspecified (the trainer copies
/// the model's values into it before every step). `Sequential` and `ResidualMLP` conform.
public protocol ReplicableModel: NetworkModel {
    /// A new model with this model's architecture (values unspecified; see the protocol).
    /// - Throws: what the model's initializer throws (e.g. `TrainingError.size`).
    func makeReplica() throws -> any NetworkModel
}

extension Sequential: ReplicableModel {
    /// Dense layers of the same sizes and activations, zero weights.
    public func makeReplica() throws -> any NetworkModel {
        Sequential(layers: layers.map { Dense(inputSize: $0.inputSize, outputSize: $0.outputSize, activation: $0.activation) })
    }
}

extension ResidualMLP: ReplicableModel {
    /// A residual MLP of the same input size, width, depth, classes, activation and
    /// initialization kind (which fixes which gates are learned and the values of fixed gates).
    public func makeReplica() throws -> any NetworkModel {
        try ResidualMLP(inputSize: inputLayer.inputSize, width: inputLayer.outputSize, depth: blocks.count, classes: outputLayer.outputSize,
                        activation: inputLayer.activation, initialization: initialization, seed: 0, threads: 1)
    }
}

/// Rows `[⌊t·n/T⌋, ⌊(t+1)·n/T⌋)` of a batch of `n` rows split over `T` threads: contiguous,
/// in order, sizes differing by at most one (the partition `RowPartition` uses for MPI ranks).
/// Precondition: `n ≥ 0`, `0 ≤ t < T`.
@inlinable
public func batchSlice(_ n: Int, thread t: Int, of threads: Int) -> Range<Int> {
    // n·t fits: n is a batch size (an allocated array's count) and t < threads ≤ 1024.
    (n * t / threads)..<(n * (t + 1) / threads)
}

/// Batch-split training within one process: `T` threads each run forward and backward on a
/// contiguous slice of every batch on their own replica of the model, with single-threaded
/// BLAS calls side by side instead of one BLAS call split over threads (at batch 128 a 256×256
/// product is too small for OpenBLAS's own threading).
///
/// Per step, with a batch of `n` rows:
/// 1. The model's dense weights are packed for `DenseProducts` (the layers split over the
///    threads); the replicas' `Dense` layers read the model's packed weights and biases
///    (`Dense.parameterSource`) instead of copies, and every other parameter value (ResidualMLP's
///    gates) is copied into replicas `1 … T−1` (thread 0 uses the model itself; its first
///    trainable layer's `computesInputGradient` is copied too). Every product runs on 1 thread.
/// 2. Thread `t` gathers rows `batchSlice(n, t, T)` of the batch, runs forward, softmax
///    cross-entropy with the gradient divided by `n` (`loss(logits:labels:meanOver:)`: each row's
///    gradient is bit for bit the one-thread value), and backward. A thread with no rows
///    (`n < T`) contributes zeros.
/// 3. The model's gradients become `g₀ + g₁ + … + g_{T−1}`, added in that fixed order element
///    by element (`((g₀ + g₁) + g₂) + …`), on the calling thread: the sum of the slices'
///    gradients is the gradient of the mean loss over the whole batch.
/// 4. The caller applies one optimizer step to the model.
///
/// Every thread's arithmetic is a pure function of its slice and the copied values, and the
/// sum's order is fixed, so the result does not depend on scheduling: for a given `T` (and BLAS
/// kernel) the weights are bitwise reproducible. Against `T = 1` they agree to rounding, not
/// bitwise: the weight-gradient products `dZᵀ·X` and the bias column sums add the batch rows in
/// `T` partial sums. The loss sum is `Σ_t Σ_{rows of t}` in Double.
final class BatchSplit: @unchecked Sendable {
    /// Pointers handed to `DispatchQueue.concurrentPerform` workers that write disjoint ranges.
    struct UnsafeSendable<T>: @unchecked Sendable {
        let value: T
        init(_ value: T) { self.value = value }
    }

    /// One thread's replica and buffers (touched only by that thread during a step).
    final class Worker: @unchecked Sendable {
        let model: any NetworkModel
        let parameters: [ModelParameter]
        var batch: Matrix<Float>
        var labels: [Int32] = []
        var loss = SoftmaxCrossEntropy()
        var rows = 0
        var lossSum = 0.0
        var correct = 0
        var error: (any Error)?
        init(model: any NetworkModel, features: Int) {
            self.model = model; parameters = model.parameters; batch = Matrix(rows: 0, columns: features)
        }

        func run(_ data: LabeledData, _ indices: ArraySlice<Int>, total: Int) {
            error = nil; lossSum = 0; correct = 0; rows = indices.count
            guard rows > 0 else { return }
            do {
                try Trainer.gather(data, indices, into: &batch, labels: &labels)
                let logits = try model.forward(batch)
                _ = try loss.loss(logits: logits, labels: labels[...], meanOver: total)
                lossSum = loss.lossSum; correct = loss.correct
                try model.backward(loss.gradient)
            } catch { self.error = error }
        }
    }

    let threads: Int
    let workers: [Worker]
    /// The model's dense layers (packed before every step).
    let denseLayers: [Dense]
    /// Per parameter index: whether replicas read it from the model (a `Dense` weight or bias).
    let shared: [Bool]

    /// Builds `threads − 1` replicas of `model` (thread 0 is the model itself).
    /// - Throws: `TrainingError.invalidHyperparameter` when `threads` is outside `1…1024` or the
    ///   model is not a `ReplicableModel`; `TrainingError.size` when the replicas' parameters
    ///   and gradients overflow or exceed the memory available; `.shapeMismatch` when a
    ///   replica's parameters differ from the model's.
    init(model: any NetworkModel, threads: Int, features: Int) throws {
        guard (1...BatchSplit.maximumThreads).contains(threads) else {
            throw TrainingError.invalidHyperparameter(name: "batch threads", value: Double(threads), rule: "must be in 1…\(BatchSplit.maximumThreads)")
        }
        var replicas: [any NetworkModel] = []
        if threads > 1 {
            guard let replicable = model as? any ReplicableModel else {
                throw TrainingError.invalidHyperparameter(name: "batch threads", value: Double(threads),
                                                          rule: "needs a model that can be replicated (Sequential, ResidualMLP); this \(type(of: model)) trains with 1")
            }
            do {   // values and gradients of every replica, checked before any is built
                let perReplica = try CheckedSize.product(model.parameterCount, 2 * MemoryLayout<Float>.stride, what: "a model replica")
                try CheckedSize.requireMemory(try CheckedSize.product(perReplica, threads - 1, what: "\(threads - 1) model replicas"),
                                              what: "\(threads - 1) model replicas for batch-split training")
            } catch { throw TrainingError.size(error) }
            let reference = model.parameters.map { ($0.name, $0.shape) }
            for _ in 1..<threads {
                let r = try replicable.makeReplica()
                let got = r.parameters.map { ($0.name, $0.shape) }
                guard got.count == reference.count, zip(got, reference).allSatisfy({ $0.0 == $1.0 && $0.1 == $1.1 }) else {
                    throw TrainingError.shapeMismatch("a replica of \(type(of: model)) has other parameters than the model")
                }
                replicas.append(r)
            }
        }
        self.threads = threads
        workers = ([model] + replicas).map { Worker(model: $0, features: features) }
        func dense(_ p: ModelParameter) -> Dense? { if case let .layer(l, _) = p.owner { return l as? Dense }; return nil }
        let masterParameters = workers[0].parameters
        var layers: [Dense] = []
        for p in masterParameters { if let d = dense(p), !layers.contains(where: { $0 === d }) { layers.append(d) } }
        denseLayers = layers
        shared = masterParameters.map { dense($0) != nil }
        for w in workers.dropFirst() {
            for (i, p) in w.parameters.enumerated() { if let d = dense(p), let m = dense(masterParameters[i]) { d.parameterSource = m } }
        }
    }

    /// Every worker's parameter buffers, `[worker][parameter]`, valid while `body` runs (each
    /// reached through `withBuffers`, nested; nothing else touches the models meanwhile).
    private func withAllBuffers(_ body: (UnsafeSendable<[[(value: UnsafeMutableBufferPointer<Float>, gradient: UnsafeMutableBufferPointer<Float>)]]>) -> Void) {
        let flat = workers.flatMap { w in w.parameters.map { p in p } }
        let perWorker = workers.first?.parameters.count ?? 0
        var collected: [(value: UnsafeMutableBufferPointer<Float>, gradient: UnsafeMutableBufferPointer<Float>)] = []
        collected.reserveCapacity(flat.count)
        func nest(_ j: Int) {
            guard j < flat.count else {
                let grouped = stride(from: 0, to: collected.count, by: max(1, perWorker)).map { Array(collected[$0..<min(collected.count, $0 + perWorker)]) }
                body(UnsafeSendable(perWorker == 0 ? workers.map { _ in [] } : grouped))
                return
            }
            flat[j].withBuffers { v, g in
                collected.append((v, g))
                nest(j + 1)
            }
        }
        nest(0)
    }

    /// The most batch threads accepted.
    static let maximumThreads = 1024

    /// One step's forward and backward over `indices` (the batch's rows of `data`), leaving the
    /// gradient of the mean loss in the model's gradients (see the type's documentation).
    /// - Returns: the loss summed over the batch rows (Double) and the correct count.
    /// - Throws: the first error of thread 0, 1, … (`TrainingError`, `MatrixError`).
    /// With `sum` false the gradients stay in the workers: `reduceAndUpdate` sums them and takes
    /// the optimizer step in one parallel pass.
    func step(_ data: LabeledData, _ indices: ArraySlice<Int>, sum: Bool = true) throws -> (lossSum: Double, correct: Int) {
        let n = indices.count, t = threads
        let workers = self.workers
        let master = workers[0]
        let inputGradient = master.model.firstParametricLayer?.computesInputGradient ?? false
        for w in workers.dropFirst() {
            w.model.firstParametricLayer?.computesInputGradient = inputGradient
        }
        // 1. Values of the parameters the replicas do not read from the model (ResidualMLP's gates)
        //    into the replicas that have rows; then the model's dense weights packed, the layers
        //    split over the threads (packing copies values: the split does not matter).
        let active = workers.indices.map { !batchSlice(n, thread: $0, of: t).isEmpty }
        if active.dropFirst().contains(true) {
            for (i, p) in master.parameters.enumerated() where !shared[i] {
                p.withBuffers { src, _ in
                    for k in 1..<t where active[k] { workers[k].parameters[i].withBuffers { dst, _ in dst.baseAddress!.update(from: src.baseAddress!, count: src.count) } }
                }
            }
        }
        for w in workers { for d in w.model.denseLayers { d.productThreads = 1 } }
        defer { for d in denseLayers { d.productThreads = nil } }
        let layers = UnsafeSendable(denseLayers)
        var owner = [Int](repeating: 0, count: denseLayers.count), load = [Int](repeating: 0, count: t)
        for (i, d) in denseLayers.enumerated() {          // largest first would balance better; the order is fixed either way
            let c = load.indices.min(by: { load[$0] < load[$1] })!
            owner[i] = c; load[c] += d.weight.count
        }
        let owners = owner
        DispatchQueue.concurrentPerform(iterations: t) { c in
            for (i, d) in layers.value.enumerated() where owners[i] == c { d.packIfNeeded(threads: 1) }
        }
        // 2. Forward and backward, one slice per thread.
        let start = indices.startIndex
        DispatchQueue.concurrentPerform(iterations: t) { k in
            let r = batchSlice(n, thread: k, of: t)
            workers[k].run(data, indices[(start + r.lowerBound)..<(start + r.upperBound)], total: n)
        }
        for w in workers { if let e = w.error { throw e } }
        var lossSum = 0.0, correct = 0
        for w in workers { lossSum += w.lossSum; correct += w.correct }
        if sum { reduce() }
        return (lossSum, correct)
    }

    /// Elements `range` of parameter `parameter`'s gradient in worker 0 become the sum over the
    /// workers with rows, in thread order (`g₀ + g₁ + …`; a worker without rows adds nothing, and
    /// worker 0's own slice counts as 0 when it had none). Returns worker 0's pointer at `range`.
    @discardableResult
    private static func sumGradients(_ buffers: [[(value: UnsafeMutableBufferPointer<Float>, gradient: UnsafeMutableBufferPointer<Float>)]],
                                     parameter i: Int, range r: Range<Int>, rows: [Int]) -> UnsafeMutablePointer<Float> {
        let d = buffers[0][i].gradient.baseAddress! + r.lowerBound
        if rows[0] == 0 { d.update(repeating: 0, count: r.count) }
        for k in 1..<buffers.count where rows[k] > 0 {
            let s = buffers[k][i].gradient.baseAddress! + r.lowerBound
            for j in 0..<r.count { d[j] += s[j] }
        }
        return d
    }

    /// Step 3: the model's gradients become `g₀ + g₁ + …` in thread order.
    func reduce() {
        let t = threads
        // 3. g₀ + g₁ + … in thread order, element by element (element ranges split over the threads;
        //    the order of the sum is the same for every split).
        let rows = workers.map(\.rows)
        withAllBuffers { b in
            DispatchQueue.concurrentPerform(iterations: t) { c in
                for i in b.value[0].indices {
                    let r = batchSlice(b.value[0][i].gradient.count, thread: c, of: t)
                    guard !r.isEmpty else { continue }
                    Self.sumGradients(b.value, parameter: i, range: r, rows: rows)
                }
            }
        }
    }

    /// Steps 3 and 4 in one pass: each thread takes its element range of every parameter, sums
    /// the workers' gradients there in thread order (as `reduce`) and applies `optimizer`'s
    /// update to the same range (elementwise, so the bytes are those of `reduce` followed by
    /// `optimizer.step(parameters: model.parameters, …)`). Call after `step(_:_:sum: false)`.
    func reduceAndUpdate(_ optimizer: Optimizer, learningRate: Double) {
        let t = threads, rows = workers.map(\.rows)
        let parameters = workers[0].parameters
        optimizer.prepare(parameters)
        let rates = parameters.map { learningRate * $0.slot.learningRateScale }
        let decays = parameters.map { $0.slot.decays ? optimizer.weightDecay : 0 }
        let opt = UnsafeSendable(optimizer)
        withAllBuffers { b in
            optimizer.withStatePointers { m, v in
                let moments = UnsafeSendable((m, v))
                DispatchQueue.concurrentPerform(iterations: t) { c in
                    for i in b.value[0].indices {
                        let r = batchSlice(b.value[0][i].gradient.count, thread: c, of: t)
                        guard !r.isEmpty else { continue }
                        let d = Self.sumGradients(b.value, parameter: i, range: r, rows: rows)
                        opt.value.update(b.value[0][i].value.baseAddress! + r.lowerBound, UnsafePointer(d),
                                         moments.value.0[i]! + r.lowerBound, moments.value.1[i]! + r.lowerBound,
                                         count: r.count, decay: decays[i], lr: rates[i])
                    }
                }
            }
        }
    }
}
