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
    /// trained with batches of `batch` rows — walked layer by layer from the shapes alone, nothing
    /// allocated. Per layer, in Floats:
    /// - `conv` `C→O`, kernel `kh×kw`, groups `G`, output `OH×OW = P`, reduction `K = (C/G)·kh·kw`:
    ///   weight, gradient and optimizer state `(O·K + O)·(2 + optimizerSlots)`; per row the padded
    ///   input `C·(H+pt+pb)·(W+pl+pr)`, pre-activation and output `2·O·P`, input gradient `C·H·W`,
    ///   and for the im2col path (`K > Conv2D.directReductionLimit`) the column and product
    ///   blocks `2·(C·kh·kw·P + O·P)` (the layer holds one block of `B` rows per thread, at most
    ///   `min(threads, blocks)·B < N + B ≤ 2N` rows), the per-block weight gradients `O·K` (at most
    ///   one block per row), the channel-major gradient `O·P` and the bias partials `O` (the
    ///   packed-panel workspace of its products, `≤ (128 + max(O/G, K) + 6)·256` Floats per
    ///   thread, is left out like BLAS's own buffers); for the
    ///   direct path (`K ≤ 32`) the accumulator `O·OH·(W+pl+pr)` and the per-sample partial
    ///   gradients `O·K + O`;
    /// - max/avg pooling: output and spare output `2·C·P`, argmax indices `C·P` (4-byte), input
    ///   gradient `C·H·W`; global average pooling: output `C`, input gradient `C·H·W`; flatten:
    ///   output and input gradient `2·C·H·W`;
    /// - dense: as `dense(layers:…)` (with its packed weights and packed input);
    /// - plus the input batch itself (`C·H·W` per row).
    /// Like the other estimates it ignores allocator overhead and BLAS's own buffers.
    /// - Throws: `TrainingError.invalidHyperparameter` / `.shapeMismatch` when the layers do not fit
    ///   the input (a window larger than the image, as `ConvolutionalNetwork.init` would throw);
    ///   `SizeError.negative`/`.overflow`.
    public static func cnn(inputShape: [Int], spec: [LayerSpec], batch: Int, optimizerSlots: Int) throws -> Int {
        guard inputShape.count == 3, inputShape.allSatisfy({ $0 >= 1 }) else {
            throw TrainingError.invalidHyperparameter(name: "input shape", value: Double(inputShape.min() ?? 0), rule: "needs [C, H, W] with sizes ≥ 1 (got \(inputShape))")
        }
        guard batch >= 0 else { throw SizeError.negative(what: "batch", value: batch) }
        var shape = inputShape
        var parameters: [Int] = [], perRow: [Int] = [try CheckedSize.elementCount(inputShape, what: "input elements")]
        var packed: [Int] = []
        func p(_ a: Int...) throws -> Int { try CheckedSize.elementCount(a, what: "CNN layer size") }
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
                let k = try p(c / groups, kernel, kernel), plane = try p(g.outputHeight, g.outputWidth)
                let paddedW = w + g.padLeft + g.padRight, paddedH = h + g.padTop + g.padBottom
                parameters.append(try CheckedSize.sum([try p(o, k), o], what: "conv parameters"))
                var row = [try p(c, paddedH, paddedW + kernel * dilation + 8), try p(2, o, plane), try p(c, h, w)]
                if k > Conv2D.directReductionLimit {
                    row += [try p(2, c, kernel, kernel, plane), try p(2, o, plane), try p(o, k), try p(o, plane), o]
                } else {
                    row += [try p(o, g.outputHeight, paddedW), try CheckedSize.sum([try p(o, k), o], what: "conv partials")]
                }
                perRow.append(try CheckedSize.sum(row, what: "conv activations"))
                shape = [o, g.outputHeight, g.outputWidth]
            case let .maxPool(kernel, stride), let .avgPool(kernel, stride):
                let (c, h, w) = try image()
                let g = try WindowGeometry(channels: c, height: h, width: w, kernel: (kernel, kernel), stride: (stride ?? kernel, stride ?? kernel),
                                           dilation: (1, 1), padding: .explicit(height: 0, width: 0), layer: "layer \(i) pooling", maxPadHalfKernel: true)
                let plane = try p(c, g.outputHeight, g.outputWidth)
                perRow.append(try CheckedSize.sum([try p(3, plane), try p(c, h, w)], what: "pooling activations"))
                shape = [c, g.outputHeight, g.outputWidth]
            case .globalAveragePool:
                let (c, h, w) = try image()
                perRow.append(try CheckedSize.sum([c, try p(c, h, w)], what: "pooling activations"))
                shape = [c]
            case .flatten:
                let n = try CheckedSize.elementCount(shape, what: "flatten size")
                perRow.append(try p(2, n))
                shape = [n]
            case let .dense(units, _):
                guard shape.count == 1 else { throw TrainingError.shapeMismatch("layer \(i) (dense) needs a flat input, got \(shape)") }
                guard units >= 1 else { throw TrainingError.invalidHyperparameter(name: "dense units", value: Double(units), rule: "must be ≥ 1") }
                parameters.append(try CheckedSize.sum([try p(shape[0], units), units], what: "dense parameters"))
                func pad16(_ n: Int) throws -> Int { try p(n / 16 + (n % 16 == 0 ? 0 : 1), 16) }
                perRow.append(try CheckedSize.sum([try p(2, shape[0]), try p(3, units), try pad16(shape[0])], what: "dense activations"))
                packed.append(try CheckedSize.sum([try p(try pad16(units), shape[0]), try p(try pad16(shape[0]), units)], what: "dense packed weights"))
                shape = [units]
            }
        }
        let state = try CheckedSize.sum([try CheckedSize.product(try CheckedSize.sum(parameters, what: "CNN parameters"), 2 + optimizerSlots, what: "CNN parameters and state"),
                                         try CheckedSize.sum(packed, what: "CNN packed dense weights")], what: "CNN parameters, state and packed weights")
        let activations = try CheckedSize.product(try CheckedSize.sum(perRow, what: "CNN activations per row"), batch, what: "CNN activations for batch \(batch)")
        return try CheckedSize.product(try CheckedSize.sum([state, activations], what: "CNN size"), MemoryLayout<Float>.stride, what: "CNN bytes")
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
