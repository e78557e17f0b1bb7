import Foundation
import MatrixModule

/// Layer-synchronous batch-split training of a `Sequential` model: `T` threads (a `ThreadTeam`)
/// share one model and take one training step together, meeting at a barrier once per layer of
/// the backward pass — no replicas, no gradient sum.
///
/// Per step, with a batch of `n` rows and thread `t` owning rows `batchSlice(n, t, T)`:
/// 1. **Forward, loss, input gradients by rows.** Thread `t` gathers its rows, runs every layer's
///    forward product `Z = X·Wᵀ + b` (ReLU fused) on them, the softmax cross-entropy of its rows
///    (gradient divided by `n`), and in the backward pass `dX = dZ·W` (gated by the ReLU below)
///    for its rows. Each thread also copies its rows of every layer input into the packed layout
///    the weight-gradient product reads.
/// 2. **Weight gradients over the whole batch, split by output features.** After the barrier that
///    completes layer `l`'s `dZ` (all `n` rows), thread `t` computes the rows `[16·p0, 16·p1)`
///    (panels `batchSlice(⌈out/16⌉, t, T)`) of `dW = dZᵀ·X` over all `n` rows and the same outputs'
///    bias gradient `db = Σ_rows dZ`, applies the optimizer's update to exactly those weight and
///    bias elements after the next barrier (once every thread has finished `dX = dZ·W`, which reads
///    `W` in place; the first layer's at once, it has no `dX`), one contiguous block of `W`, and
///    packs its updated rows for the next step's forward product.
///
/// **Bytes.** Every element of `Z`, `dX`, `dW` is one fused-multiply-add chain over its whole inner
/// dimension in index order (`DenseKernels`), `db` is the row-order sum from 0, each row's loss
/// gradient is `SoftmaxCrossEntropy.row`, and the update is the optimizer's elementwise update, so
/// nothing depends on `T` or on which thread computes what: the weights after any number of steps
/// are bitwise those of `T = 1` (the single-threaded `Sequential` path). The loss is the Double
/// sum of the rows' losses in row order (as `SoftmaxCrossEntropy`).
///
/// A batch whose loss is not finite changes nothing (no update, the optimizer's step count
/// restored); the trainer then stops with `TrainingError.nonFiniteLoss`. The layer objects' own
/// forward buffers (`Dense.preactivation`, `output`) are not written; their `weightGradient` and
/// `biasGradient` receive the step's gradients. The first layer's input gradient is never computed.
final class LayerSync: @unchecked Sendable {
    let team: ThreadTeam
    let threads: Int
    let layers: [Dense]
    /// Most rows per batch the buffers hold.
    let capacity: Int
    let features: Int
    /// Per layer: input and output features and activation (read without touching the layers'
    /// weights, which are being modified in place while the team runs).
    private let ins: [Int], outs: [Int], activations: [Activation]

    /// Every buffer below, freed in `deinit`.
    private var allocations: [UnsafeMutableRawPointer] = []
    /// The gathered batch, `[capacity, features]` row-major.
    private let x: UnsafeMutablePointer<Float>
    /// Per layer `[capacity, out]` row-major: pre-activation, output, and `∂L/∂Z`.
    private let z: [UnsafeMutablePointer<Float>], y: [UnsafeMutablePointer<Float>], dz: [UnsafeMutablePointer<Float>]
    /// Per layer: its input `[n, in]` packed as the A operand of `dW` (panels of 16 features, `n` positions).
    private let packedInput: [UnsafeMutablePointer<Float>]
    /// Per layer: `W` packed for the forward product (op(A) = W); `dX` reads `W` in place.
    private let forwardPacked: [UnsafeMutablePointer<Float>]
    /// Per layer `l ≥ 1` whose lower layer's activation is not ReLU: `dX` before that activation's backward.
    private let dx: [UnsafeMutablePointer<Float>?]
    /// The top layer's `∂L/∂Y` when its activation is not the identity.
    private let dyTop: UnsafeMutablePointer<Float>?
    private var rowLoss: [Float]
    private var rowHit: [UInt8]
    private var labels: [Int32]
    /// The `Dense.weightVersion` each layer's packed copies were made from (nil: never packed).
    private var packedVersions: [UInt64?]

    /// - Throws: `TrainingError.invalidHyperparameter` when `threads` is outside `1…1024`, the
    ///   batch or feature count is negative, the model's input size differs from `features`, or
    ///   the threads cannot be started; `TrainingError.size` when the buffers overflow or exceed
    ///   the memory available.
    init(model: Sequential, threads: Int, batch: Int, features: Int) throws {
        guard (1...BatchSplit.maximumThreads).contains(threads) else {
            throw TrainingError.invalidHyperparameter(name: "batch threads", value: Double(threads), rule: "must be in 1…\(BatchSplit.maximumThreads)")
        }
        guard batch >= 1 else { throw TrainingError.invalidHyperparameter(name: "batch size", value: Double(batch), rule: "must be ≥ 1") }
        guard features == model.inputSize else {
            throw TrainingError.shapeMismatch("the data has \(features) features per sample, the model expects \(model.inputSize)")
        }
        layers = model.layers
        ins = layers.map(\.inputSize); outs = layers.map(\.outputSize); activations = layers.map(\.activation)
        capacity = batch; self.features = features; self.threads = threads
        let mr = DenseKernels.panelRows
        // Element counts, overflow-checked, then the total against the memory available.
        var counts: [Int] = []
        do {
            counts.append(try CheckedSize.product(batch, features, what: "the gathered batch"))
            for (l, d) in layers.enumerated() {
                let rowsOut = try CheckedSize.product(batch, d.outputSize, what: "a layer's activations")
                counts += [rowsOut, rowsOut, rowsOut]
                counts.append(try CheckedSize.product(try CheckedSize.product((d.inputSize + mr - 1) / mr, mr, what: "packed input"), batch, what: "a packed layer input"))
                counts.append(try CheckedSize.product(try CheckedSize.product((d.outputSize + mr - 1) / mr, mr, what: "packed weight"), d.inputSize, what: "a packed weight"))
                counts.append(l > 0 && layers[l - 1].activation != .relu ? try CheckedSize.product(batch, d.inputSize, what: "an input gradient") : 0)
            }
            if let top = layers.last, top.activation != .identity {
                counts.append(try CheckedSize.product(batch, top.outputSize, what: "the top layer's output gradient"))
            } else {
                counts.append(0)
            }
            let total = try CheckedSize.sum(counts.map { max(1, $0) }, what: "layer-synchronous training buffers")
            try CheckedSize.requireMemory(try CheckedSize.product(total, MemoryLayout<Float>.stride, what: "layer-synchronous training buffers"),
                                          what: "layer-synchronous training buffers")
        } catch { throw TrainingError.size(error) }
        guard let team = ThreadTeam(size: threads) else {
            throw TrainingError.invalidHyperparameter(name: "batch threads", value: Double(threads), rule: "could not start \(threads) threads")
        }
        self.team = team
        var allocations: [UnsafeMutableRawPointer] = []
        var next = 0
        func buffer() -> UnsafeMutablePointer<Float> {
            let n = max(1, counts[next]); next += 1
            let raw = UnsafeMutableRawPointer.allocate(byteCount: n * MemoryLayout<Float>.stride, alignment: 64)
            raw.initializeMemory(as: Float.self, repeating: 0, count: n)
            allocations.append(raw)
            return raw.assumingMemoryBound(to: Float.self)
        }
        x = buffer()
        var z: [UnsafeMutablePointer<Float>] = [], y = z, dz = z, pi = z, fw = z
        var dx: [UnsafeMutablePointer<Float>?] = []
        for _ in layers {
            z.append(buffer()); y.append(buffer()); dz.append(buffer())
            pi.append(buffer()); fw.append(buffer())
            let needsDX = counts[next] > 0
            let b = buffer()
            dx.append(needsDX ? b : nil)
        }
        let top = counts[next] > 0
        let t = buffer()
        dyTop = top ? t : nil
        self.z = z; self.y = y; self.dz = dz; packedInput = pi; forwardPacked = fw; self.dx = dx
        self.allocations = allocations
        rowLoss = [Float](repeating: 0, count: batch)
        rowHit = [UInt8](repeating: 0, count: batch)
        labels = [Int32](repeating: 0, count: batch)
        packedVersions = [UInt64?](repeating: nil, count: layers.count)
    }

    deinit { for a in allocations { a.deallocate() } }

    /// Packs layer `l`'s weight whole for the forward product on the calling thread.
    private func packAll(_ l: Int) {
        let d = layers[l], inn = d.inputSize, out = d.outputSize, mr = DenseKernels.panelRows
        d.weight.withUnsafeBufferPointer { w in
            guard let wp = w.baseAddress, inn > 0, out > 0 else { return }
            DenseKernels.pack(transposed: true, m: out, panels: 0..<((out + mr - 1) / mr), positions: 0..<inn, total: inn, a: wp, lda: inn, into: forwardPacked[l])
        }
    }

    /// Pointers the team reads during a step (copied into every member).
    private struct Step: @unchecked Sendable {
        var n = 0
        var inputs: UnsafePointer<Float>
        var indices: UnsafePointer<Int>
        var w: [UnsafeMutablePointer<Float>] = [], gw: [UnsafeMutablePointer<Float>] = []
        var b: [UnsafeMutablePointer<Float>] = [], gb: [UnsafeMutablePointer<Float>] = []
        var m: [UnsafeMutablePointer<Float>?] = [], v: [UnsafeMutablePointer<Float>?] = []
        var rates: [Double] = [], decays: [Double] = []
        var rowLoss: UnsafeMutablePointer<Float>
        var rowHit: UnsafeMutablePointer<UInt8>
        var labels: UnsafePointer<Int32>
        /// The next step's rows (prefetched during this one), possibly none.
        var next: UnsafePointer<Int>? = nil
        var nextCount = 0
    }

    /// One training step over rows `indices` of `data`: forward, loss, backward and `optimizer`'s
    /// update of every parameter of `parameters` (the model's `parameters`, in order) with
    /// `learningRate` times each parameter's scale (see the type's documentation).
    /// - Returns: the loss summed over the rows (Double, row order) and the correct count; when
    ///   the sum is not finite nothing was updated.
    /// - Throws: `TrainingError.invalidHyperparameter` for an index outside the data, more rows
    ///   than the capacity or no rows; `.invalidLabels` for a label outside `0..<classes`;
    ///   `.shapeMismatch` when `parameters` are not the model's.
    /// `next` (optional) names the rows the following step will read: each member prefetches its
    /// share of them into the caches during this step (indices outside the data are ignored).
    func step(_ data: LabeledData, _ indices: ArraySlice<Int>, optimizer: Optimizer, parameters: [ModelParameter],
              learningRate: Double, next: ArraySlice<Int> = []) throws -> (lossSum: Double, correct: Int) {
        let n = indices.count, L = layers.count
        guard n >= 1, n <= capacity else {
            throw TrainingError.invalidHyperparameter(name: "batch rows", value: Double(n), rule: "must be in 1…\(capacity)")
        }
        guard data.features == features else { throw TrainingError.shapeMismatch("the data has \(data.features) features per sample, the model expects \(features)") }
        guard layers.indices.allSatisfy({ layers[$0].inputSize == ins[$0] && layers[$0].outputSize == outs[$0] }) else {
            throw TrainingError.shapeMismatch("a layer's weight changed shape since training started")
        }
        guard parameters.count == 2 * L else { throw TrainingError.shapeMismatch("\(parameters.count) parameters for \(L) dense layers") }
        if let bad = indices.first(where: { $0 < 0 || $0 >= data.count }) {
            throw TrainingError.invalidHyperparameter(name: "sample index", value: Double(bad), rule: "must be in 0..<\(data.count)")
        }
        let classes = layers.last?.outputSize ?? features
        for (r, i) in indices.enumerated() {
            let label = data.labels[i]
            guard label >= 0, Int(label) < classes else { throw TrainingError.invalidLabels("label \(label) outside 0..<\(classes)") }
            labels[r] = label
        }
        for l in 0..<L where packedVersions[l] != layers[l].weightVersion { packAll(l) }
        optimizer.prepare(parameters)
        var finite = true
        let contiguous = Array(indices), upcoming = next.filter { $0 >= 0 && $0 < data.count }
        data.inputs.withUnsafeBufferPointer { inputs in
            upcoming.withUnsafeBufferPointer { nx in
            contiguous.withUnsafeBufferPointer { idx in
                rowLoss.withUnsafeMutableBufferPointer { rl in
                    rowHit.withUnsafeMutableBufferPointer { rh in
                        labels.withUnsafeBufferPointer { lb in
                            var s = Step(n: n, inputs: inputs.baseAddress ?? UnsafePointer(x), indices: idx.baseAddress!,
                                         rowLoss: rl.baseAddress!, rowHit: rh.baseAddress!, labels: lb.baseAddress!)
                            s.next = nx.baseAddress; s.nextCount = nx.count
                            s.rates = parameters.map { learningRate * $0.slot.learningRateScale }
                            s.decays = parameters.map { $0.slot.decays ? optimizer.weightDecay : 0 }
                            func nest(_ l: Int) {
                                if l == L {
                                    optimizer.withStatePointers { m, v in
                                        s.m = m; s.v = v
                                        let frozen = s
                                        team.run { t in self.work(t, frozen, optimizer) }
                                    }
                                    return
                                }
                                layers[l].withParameter(0) { w, g in
                                    layers[l].withParameter(1) { b, gb in
                                        var dummy: Float = 0
                                        let fallback = withUnsafeMutablePointer(to: &dummy) { $0 }   // never dereferenced: empty buffers are not read
                                        s.w.append(w.baseAddress ?? fallback); s.gw.append(g.baseAddress ?? fallback)
                                        s.b.append(b.baseAddress ?? fallback); s.gb.append(gb.baseAddress ?? fallback)
                                        nest(l + 1)
                                    }
                                }
                            }
                            nest(0)
                            finite = (0..<n).allSatisfy { rl[$0].isFinite }
                        }
                    }
                }
            }
            }
        }
        for l in 0..<L { packedVersions[l] = layers[l].weightVersion }
        if !finite { optimizer.cancelPreparedStep() }
        var total = 0.0, correct = 0
        for r in 0..<n { total += Double(rowLoss[r]); correct += Int(rowHit[r]) }
        return (total, correct)
    }

    /// The outputs (rows of `W`) whose weight gradient, bias gradient and update member `t` owns:
    /// whole 16-row panels, `batchSlice(⌈out/16⌉, t, T)`, so each packed forward panel has one writer.
    private func ownedOutputs(_ out: Int, _ t: Int) -> Range<Int> {
        let mr = DenseKernels.panelRows, p = batchSlice((out + mr - 1) / mr, thread: t, of: threads)
        return min(out, p.lowerBound * mr)..<min(out, p.upperBound * mr)
    }

    /// The optimizer's update of member `t`'s output rows of layer `l` (weights and biases), then
    /// those rows packed for the next step's forward product.
    private func update(_ l: Int, _ t: Int, _ s: Step, _ optimizer: Optimizer) {
        let inn = ins[l], out = outs[l], owned = ownedOutputs(out, t), mr = DenseKernels.panelRows
        guard !owned.isEmpty else { return }
        let o0 = owned.lowerBound, wi = 2 * l, bi = 2 * l + 1, w = s.w[l]
        if inn > 0 {
            optimizer.update(w + o0 * inn, UnsafePointer(s.gw[l] + o0 * inn), s.m[wi]! + o0 * inn, s.v[wi]! + o0 * inn,
                             count: owned.count * inn, decay: s.decays[wi], lr: s.rates[wi])
            DenseKernels.pack(transposed: true, m: out, panels: (o0 / mr)..<((owned.upperBound + mr - 1) / mr), positions: 0..<inn, total: inn,
                              a: w, lda: inn, into: forwardPacked[l])
        }
        optimizer.update(s.b[l] + o0, UnsafePointer(s.gb[l] + o0), s.m[bi]! + o0, s.v[bi]! + o0, count: owned.count, decay: s.decays[bi], lr: s.rates[bi])
    }

    /// Member `t`'s part of a step (see the type's documentation).
    private func work(_ t: Int, _ s: Step, _ optimizer: Optimizer) {
        let n = s.n, T = threads, L = layers.count, mr = DenseKernels.panelRows
        let rows = batchSlice(n, thread: t, of: T), r0 = rows.lowerBound, nr = rows.count
        // Gather and pack the first layer's input rows.
        let f = features
        for r in rows where f > 0 { (x + r * f).update(from: s.inputs + s.indices[r] * f, count: f) }
        if nr > 0, L > 0 {
            DenseKernels.pack(transposed: false, m: ins[0], panels: 0..<((ins[0] + mr - 1) / mr), positions: rows, total: n,
                              a: x, lda: f, into: packedInput[0])
        }
        // Forward on this member's rows.
        var input = UnsafePointer(x)
        for l in 0..<L {
            let act = activations[l], inn = ins[l], out = outs[l]
            if nr > 0 && out > 0 {
                let relu = act == .relu
                // ReLU layers keep only Y: the backward gate Z > 0 is Y > 0 (Y = Z > 0 ? Z : +0); their
                // rows are packed for the next layer's dW panel by panel inside the product.
                let fused = relu && l + 1 < L
                DenseKernels.product(m: out, n: nr, k: inn, packedA: forwardPacked[l], b: input + r0 * inn, bsp: 1, bsj: inn,
                                     c: (relu ? y[l] : z[l]) + r0 * out, ldc: out, epilogue: relu ? .biasReLU : .bias, bias: s.b[l],
                                     packInto: fused ? packedInput[l + 1] + r0 * mr : nil, total: n)
                if !relu && !(l == L - 1 && act == .identity) {
                    act.forward(z[l] + r0 * out, y[l] + r0 * out, count: nr * out)
                }
                if l + 1 < L && !fused {
                    DenseKernels.pack(transposed: false, m: out, panels: 0..<((out + mr - 1) / mr), positions: rows, total: n,
                                      a: y[l], lda: out, into: packedInput[l + 1])
                }
            }
            input = UnsafePointer(y[l])
        }
        // Loss of this member's rows: ∂L/∂logits into the top layer's dZ (or its dY first).
        if L > 0 {
            let c = outs[L - 1], topActivation = activations[L - 1], identity = topActivation == .identity
            let logits = identity ? z[L - 1] : y[L - 1]
            let g = identity ? dz[L - 1] : dyTop!
            let scale = 1 / Float(n)
            for r in rows {
                let (loss, arg) = SoftmaxCrossEntropy.row(logits + r * c, classes: c, label: Int(s.labels[r]), scale: scale, gradient: g + r * c)
                s.rowLoss[r] = loss
                s.rowHit[r] = arg == Int(s.labels[r]) ? 1 : 0
            }
            if !identity && nr > 0 {
                topActivation.backward(z: (topActivation == .relu ? y[L - 1] : z[L - 1]) + r0 * c, y: y[L - 1] + r0 * c, dy: g + r0 * c, dz: dz[L - 1] + r0 * c, count: nr * c)
            }
        }
        // The next batch's rows (random rows of the data set, mostly not cached) are fetched while
        // the backward pass computes.
        if let next = s.next, f > 0 {
            for r in batchSlice(s.nextCount, thread: t, of: T) { DenseKernels.prefetch(s.inputs + next[r] * f, count: f) }
        }
        team.barrier()
        // Every member sees every row's loss: a non-finite batch stops here, on every member alike.
        for r in 0..<n where !s.rowLoss[r].isFinite { return }
        // Backward, top layer first.
        for l in stride(from: L - 1, through: 0, by: -1) {
            if l < L - 1 { team.barrier() }
            let inn = ins[l], out = outs[l]
            // Every member has finished layer l+1's dX, which read its W in place: update my rows of it.
            if l + 1 < L { update(l + 1, t, s, optimizer) }
            // dX for my rows (the lower layer's dZ), op(A) = Wᵀ read in place: (i, p) at W[p·in + i].
            if l > 0 && nr > 0 && inn > 0 {
                let below = activations[l - 1]
                if below == .relu {
                    DenseKernels.product(m: inn, n: nr, k: out, packedA: s.w[l], lda: inn, b: dz[l] + r0 * out, bsp: 1, bsj: out,
                                         c: dz[l - 1] + r0 * inn, ldc: inn, epilogue: .reluGate, gate: y[l - 1] + r0 * inn)
                } else {
                    let scratch = dx[l]!
                    DenseKernels.product(m: inn, n: nr, k: out, packedA: s.w[l], lda: inn, b: dz[l] + r0 * out, bsp: 1, bsj: out,
                                         c: scratch + r0 * inn, ldc: inn, epilogue: .store)
                    below.backward(z: z[l - 1] + r0 * inn, y: y[l - 1] + r0 * inn, dy: scratch + r0 * inn, dz: dz[l - 1] + r0 * inn, count: nr * inn)
                }
            }
            // dW and db for my output rows over the whole batch.
            let owned = ownedOutputs(out, t)
            if !owned.isEmpty {
                let o0 = owned.lowerBound
                if inn > 0 {
                    DenseKernels.product(m: inn, n: owned.count, k: n, packedA: packedInput[l], b: dz[l] + o0, bsp: out, bsj: 1,
                                         c: s.gw[l] + o0 * inn, ldc: inn, epilogue: .store)
                }
                // db: Σ over the rows in order from 0 (Matrix.columnSums's order).
                let gb = s.gb[l], src = UnsafePointer(dz[l])
                for o in owned { gb[o] = 0 }
                for r in 0..<n { let row = src + r * out; for o in owned { gb[o] += row[o] } }
            }
            if l == 0 { update(0, t, s, optimizer) }   // the first layer has no dX: nobody reads its W now
        }
    }
}
