import MatrixModule

/// Bytes a model needs, estimated from its shape before anything is allocated, with every
/// product and sum overflow-checked (`CheckedSize`).
///
/// A `Dense` layer `in → out` holds its weight and weight gradient (`2·in·out` Floats), bias
/// and bias gradient (`2·out`), and per batch row its input copy, pre-activation, output,
/// output-gradient scratch and input gradient (`2·in + 3·out` Floats); its two packed copies of the
/// weight for `DenseProducts` (`⌈out/16⌉·16·in + ⌈in/16⌉·16·out` Floats) and, per batch row, the
/// packed input of `dW = dZᵀ·X` (`⌈in/16⌉·16` Floats). An optimizer keeps
/// `optimizerSlots` more copies of every parameter (SGD with momentum 1, Adam/AdamW 2). The
/// estimate counts the largest batch the model will see (training, evaluation or diagnostics);
/// it is a lower bound that ignores allocator overhead and temporaries of one layer.
public enum MemoryEstimate {
    /// Optimizer state per parameter: 0 for plain SGD, 1 with momentum, 2 for Adam/AdamW.
    public static func optimizerSlots(_ kind: Optimizer.Kind) -> Int {
        switch kind {
        case let .sgd(momentum, _): return momentum > 0 ? 1 : 0
        case .adam, .adamW: return 2
        }
    }

    /// Bytes for `layers` (pairs `(in, out)`) trained with batches of `batch` rows.
    /// - Throws: `SizeError.negative`/`.overflow`.
    public static func dense(layers: [(inputs: Int, outputs: Int)], batch: Int, optimizerSlots: Int) throws(SizeError) -> Int {
        var terms: [Int] = []
        for (i, o) in layers {
            let weights = try CheckedSize.product(i, o, what: "layer \(i)→\(o) weight")
            let parameters = try CheckedSize.sum([weights, o], what: "layer \(i)→\(o) parameters")
            let perRow = try CheckedSize.sum([try CheckedSize.product(i, 2, what: "layer input"), try CheckedSize.product(o, 3, what: "layer output")],
                                             what: "layer \(i)→\(o) activations")
            func pad16(_ n: Int) throws(SizeError) -> Int { try CheckedSize.product(n / 16 + (n % 16 == 0 ? 0 : 1), 16, what: "layer \(i)→\(o) packing") }
            let packs = try CheckedSize.sum([try CheckedSize.product(try pad16(o), i, what: "layer \(i)→\(o) packed weight"),
                                             try CheckedSize.product(try pad16(i), o, what: "layer \(i)→\(o) packed weight")], what: "layer \(i)→\(o) packed weights")
            terms.append(try CheckedSize.product(parameters, 2 + optimizerSlots, what: "layer \(i)→\(o) parameters and state"))
            terms.append(packs)
            terms.append(try CheckedSize.product(try CheckedSize.sum([perRow, try pad16(i)], what: "layer \(i)→\(o) per row"), batch,
                                                 what: "layer \(i)→\(o) activations for batch \(batch)"))
        }
        return try CheckedSize.product(try CheckedSize.sum(terms, what: "model size"), MemoryLayout<Float>.stride, what: "model bytes")
    }

    /// Bytes for an MLP with layer sizes `sizes` (input first), as `dense(layers:…)`.
    public static func sequential(sizes: [Int], batch: Int, optimizerSlots: Int) throws(SizeError) -> Int {
        try dense(layers: sizes.count < 2 ? [] : (0..<(sizes.count - 1)).map { (sizes[$0], sizes[$0 + 1]) }, batch: batch, optimizerSlots: optimizerSlots)
    }

    /// Bytes for a `ResidualMLP` (input layer, `depth` blocks of two `width → width` layers,
    /// output layer), as `dense(layers:…)`.
    public static func residual(inputSize: Int, width: Int, depth: Int, classes: Int, batch: Int, optimizerSlots: Int) throws(SizeError) -> Int {
        let block = try dense(layers: [(width, width), (width, width)], batch: batch, optimizerSlots: optimizerSlots)
        let ends = try dense(layers: [(inputSize, width), (width, classes)], batch: batch, optimizerSlots: optimizerSlots)
        guard depth >= 0 else { throw .negative(what: "depth", value: depth) }
        return try CheckedSize.sum([ends, try CheckedSize.product(block, depth, what: "\(depth) residual blocks of width \(width)")], what: "model bytes")
    }

    /// Bytes for a `ConvolutionalNetwork` over `inputShape` (`[C, H, W]`) with the layers `spec`,
    /// trained or evaluated with batches of at most `batch` rows on `threads` layer threads —
    /// walked layer by layer from the shapes alone, nothing allocated. It counts the buffers the
    /// layers really allocate (they are sized for the batch and kept between steps), in Floats:
    /// - `conv` `C→O`, kernel `kh×kw`, groups `G`, output `OH×OW = P`, reduction `K = (C/G)·kh·kw`
    ///   (`Conv2D.bufferFloats`, which mirrors `Conv2D`'s allocation): weight, gradient and
    ///   optimizer state `(O·K + O)·(2 + optimizerSlots)`; for `N` rows the padded input
    ///   `N·C·planeStride` (`planeStride = Hp·Wp + (kw − 1)·dw + 8`), pre-activation and output
    ///   `2·N·O·P`, input gradient `N·C·H·W`; on the im2col path (`K > 32`) the channel-major
    ///   gradient `N·O·P`, the bias partials `N·O`, and ONE `col`/product/packing block per
    ///   thread that runs blocks (`min(threads, blocks)` slots of about 2 MiB of `col` each — not
    ///   per row), the per-block weight gradients of one wave (`wave·O·K`, at most
    ///   `max(slots·O·K, 2²²)` Floats) and a col2im plane per thread (stride 1); on the direct path
    ///   (`K ≤ 32`) the accumulator `N·O·OH·accW`, the per-sample partial gradients
    ///   `N·(O·K + O)` and a scratch plane per thread;
    /// - max pooling: output, spare output, argmax indices (4-byte) `3·N·C·P` and input gradient
    ///   `N·C·H·W`; average pooling: output `N·C·P` and input gradient; global average pooling:
    ///   output `N·C` and input gradient; flatten: nothing (it passes its input on);
    /// - dense `in → out`: weight, gradient and optimizer state, the two packed copies of the weight
    ///   (`⌈out/16⌉·16·in + ⌈in/16⌉·16·out`), and for `N` rows the input copy, pre-activation,
    ///   output, output-gradient scratch and input gradient `N·(2·in + 3·out)` and the packed input
    ///   `N·⌈in/16⌉·16`;
    /// - the input batch `N·C·H·W` and the loss gradient `N·classes`;
    /// - plus the largest buffer sized by the batch once more: when the batch size changes
    ///   (training batch, probe batch, evaluation batch) each such buffer is reallocated, and for a
    ///   moment the old and the new one coexist.
    /// The layers hold their buffers at the largest batch they have seen last; a smaller batch
    /// reallocates smaller ones, so `batch` is the largest batch of the run. One network at a
    /// time: callers that build several networks in turn (`InitializationComparison`) pass the
    /// estimate of one. It ignores allocator overhead, the thread stacks and BLAS's own buffers
    /// (none on these paths: convolutions and dense layers run on the package's kernels).
    /// - Throws: `TrainingError.invalidHyperparameter` / `.shapeMismatch` when the layers do not fit
    ///   the input (a window larger than the image, as `ConvolutionalNetwork.init` would throw);
    ///   `SizeError.negative`/`.overflow`.
    public static func cnn(inputShape: [Int], spec: [LayerSpec], batch: Int, optimizerSlots: Int, threads: Int? = nil) throws -> Int {
        guard inputShape.count == 3, inputShape.allSatisfy({ $0 >= 1 }) else {
            throw TrainingError.invalidHyperparameter(name: "input shape", value: Double(inputShape.min() ?? 0), rule: "needs [C, H, W] with sizes ≥ 1 (got \(inputShape))")
        }
        guard batch >= 0 else { throw SizeError.negative(what: "batch", value: batch) }
        guard optimizerSlots >= 0 else { throw SizeError.negative(what: "optimizer slots", value: optimizerSlots) }
        let workers = max(1, threads ?? LayerThreads.workers)
        let n = batch
        var shape = inputShape
        var terms: [Int] = [try CheckedSize.elementCount([n] + inputShape, what: "CNN input batch")]
        var largest = terms[0]     // the largest buffer sized by the batch (reallocated when it changes)
        func p(_ a: Int...) throws -> Int { try CheckedSize.elementCount(a, what: "CNN layer size") }
        func buffers(fixed: [Int] = [], batch b: [Int]) throws {
            terms.append(try CheckedSize.sum(fixed + b, what: "CNN layer buffers"))
            largest = max(largest, b.max() ?? 0)
        }
        for (i, s) in spec.enumerated() {
            func image() throws -> (Int, Int, Int) {
                guard shape.count == 3 else { throw TrainingError.shapeMismatch("layer \(i) (\(s)) needs a C×H×W input, got \(shape)") }
                return (shape[0], shape[1], shape[2])
            }
            switch s {
            case let .conv(o, kernel, stride, padding, dilation, groups, _):
                let (c, h, w) = try image()
                guard o >= 1, groups >= 1, c % groups == 0, o % groups == 0 else {
                    throw TrainingError.invalidHyperparameter(name: "layer \(i) conv groups", value: Double(groups), rule: "must divide \(c) input and \(o) output channels (≥ 1)")
                }
                let g = try WindowGeometry(channels: c, height: h, width: w, kernel: (kernel, kernel), stride: (stride, stride),
                                           dilation: (dilation, dilation), padding: padding, layer: "layer \(i) conv")
                let k = try p(c / groups, kernel, kernel)
                let parameters = try CheckedSize.product(try CheckedSize.sum([try p(o, k), o], what: "conv parameters"), 2 + optimizerSlots,
                                                         what: "conv parameters and state")
                try buffers(fixed: [parameters], batch: Conv2D.bufferFloats(geometry: g, outputChannels: o, groups: groups, batch: n, workers: workers,
                                                               algorithm: k > Conv2D.directReductionLimit ? .im2col : .direct))
                shape = [o, g.outputHeight, g.outputWidth]
            case let .maxPool(kernel, stride), let .avgPool(kernel, stride):
                let (c, h, w) = try image()
                let g = try WindowGeometry(channels: c, height: h, width: w, kernel: (kernel, kernel), stride: (stride ?? kernel, stride ?? kernel),
                                           dilation: (1, 1), padding: .explicit(height: 0, width: 0), layer: "layer \(i) pooling", maxPadHalfKernel: true)
                let plane = try p(n, c, g.outputHeight, g.outputWidth)
                if case .maxPool = s { try buffers(batch: [plane, plane, plane, try p(n, c, h, w)]) } else { try buffers(batch: [plane, try p(n, c, h, w)]) }
                shape = [c, g.outputHeight, g.outputWidth]
            case .globalAveragePool:
                let (c, h, w) = try image()
                try buffers(batch: [try p(n, c), try p(n, c, h, w)])
                shape = [c]
            case .flatten:
                shape = [try CheckedSize.elementCount(shape, what: "flatten size")]
            case let .dense(units, _):
                guard shape.count == 1 else { throw TrainingError.shapeMismatch("layer \(i) (dense) needs a flat input, got \(shape)") }
                guard units >= 1 else { throw TrainingError.invalidHyperparameter(name: "dense units", value: Double(units), rule: "must be ≥ 1") }
                let inputs = shape[0]
                func pad16(_ v: Int) throws -> Int { try p(v / 16 + (v % 16 == 0 ? 0 : 1), 16) }
                let parameters = try CheckedSize.product(try CheckedSize.sum([try p(inputs, units), units], what: "dense parameters"), 2 + optimizerSlots,
                                                         what: "dense parameters and state")
                try buffers(fixed: [parameters, try p(try pad16(units), inputs), try p(try pad16(inputs), units)],
                            batch: [try p(n, inputs), try p(n, inputs), try p(n, units), try p(n, units), try p(n, units), try p(n, try pad16(inputs))])
                shape = [units]
            }
        }
        terms.append(try CheckedSize.elementCount([n] + shape, what: "CNN loss gradient"))
        terms.append(largest)
        return try CheckedSize.product(try CheckedSize.sum(terms, what: "CNN size"), MemoryLayout<Float>.stride, what: "CNN bytes")
    }

    /// The smallest side `s` of square single-channel images `[1, s, s]` that the layers `spec`
    /// accept (every window fits its padded input), searched in `1…limit`; nil when none does.
    public static func minimumSquareSide(spec: [LayerSpec], limit: Int = 1024) -> Int? {
        guard limit >= 1 else { return nil }
        return (1...limit).first { (try? cnn(inputShape: [1, $0, $0], spec: spec, batch: 0, optimizerSlots: 0)) != nil }
    }

    /// Layer sizes as `784-256×30-10` (runs of equal widths compressed), for messages.
    public static func describe(sizes: [Int]) -> String {
        var parts: [String] = []
        var i = 0
        while i < sizes.count {
            var j = i
            while j + 1 < sizes.count && sizes[j + 1] == sizes[i] { j += 1 }
            parts.append(j - i >= 2 ? "\(sizes[i])×\(j - i + 1)" : (i...j).map { "\(sizes[$0])" }.joined(separator: "-"))
            i = j + 1
        }
        return parts.joined(separator: "-")
    }
}
