import MatrixModule

/// Bytes a model needs, estimated from its shape before anything is allocated, with every
/// product and sum overflow-checked (`CheckedSize`).
///
/// A `Dense` layer `in → out` holds its weight and weight gradient (`2·in·out` Floats), bias
/// and bias gradient (`2·out`), and per batch row its input copy, pre-activation, output,
/// output-gradient scratch and input gradient (`2·in + 3·out` Floats). An optimizer keeps
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
            terms.append(try CheckedSize.product(parameters, 2 + optimizerSlots, what: "layer \(i)→\(o) parameters and state"))
            terms.append(try CheckedSize.product(perRow, batch, what: "layer \(i)→\(o) activations for batch \(batch)"))
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
