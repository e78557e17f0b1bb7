import Foundation
import MatrixModule

/// Softmax cross-entropy fused with the softmax, averaged over the batch.
///
/// `L = −(1/B) Σ_b log softmax(z_b)[y_b]`, computed as `logsumexp(z_b) − z_b[y_b]` with the row
/// maximum subtracted first, so logits of ±1e4 give finite, exact results. The gradient is
/// `(softmax(z) − onehot(y))/B`. Matches PyTorch `nn.CrossEntropyLoss` (mean reduction).
public struct SoftmaxCrossEntropy {
    /// The gradient `∂L/∂logits` from the last `loss` call, `[batch, classes]`.
    public private(set) var gradient = Matrix<Float>(rows: 0, columns: 0)
    /// Rows of the last batch whose arg-max equals the label.
    public private(set) var correct = 0
    /// `Σ_b (logsumexp(z_b) − z_b[y_b])` over the rows of the last batch, accumulated in Double
    /// in row order (the loss before the division by the batch size; 0 for an empty batch).
    public private(set) var lossSum = 0.0

    public init() {}

    /// The mean loss over the batch; also computes `gradient` and `correct`.
    /// - Parameters: `logits` `[batch, classes]`; `labels` `batch` class indices in `0..<classes`.
    /// - Throws: `TrainingError.invalidLabels` for a label outside `0..<classes` or a count mismatch.
    public mutating func loss(logits: Matrix<Float>, labels: ArraySlice<Int32>) throws -> Float {
        try loss(logits: logits, labels: labels, meanOver: max(1, logits.rows))
    }

    /// The loss of a slice of a larger batch: `lossSum / meanOver`, and the gradient
    /// `(softmax(z) − onehot(y)) / meanOver` — each row's gradient exactly (bit for bit) what
    /// `loss(logits:labels:)` gives that row inside the whole batch of `meanOver` rows, so slices of
    /// one batch (batch-split and data-parallel training) sum to the whole batch's mean gradient.
    /// `meanOver == logits.rows` is `loss(logits:labels:)`.
    /// - Throws: `TrainingError.invalidLabels` (as `loss(logits:labels:)`);
    ///   `.invalidHyperparameter` when `meanOver < max(1, logits.rows)`.
    public mutating func loss(logits: Matrix<Float>, labels: ArraySlice<Int32>, meanOver: Int) throws -> Float {
        let b = logits.rows, c = logits.columns
        guard labels.count == b else { throw TrainingError.invalidLabels("\(labels.count) labels for a batch of \(b)") }
        guard meanOver >= max(1, b) else {
            throw TrainingError.invalidHyperparameter(name: "loss normalizer", value: Double(meanOver), rule: "must be ≥ the \(b) rows of the batch and ≥ 1")
        }
        if gradient.rows != b || gradient.columns != c { gradient = Matrix(rows: b, columns: c) }
        guard b > 0 else { correct = 0; lossSum = 0; return 0 }
        var total = 0.0
        var hits = 0
        var bad: Int32?
        let inv = 1 / Float(meanOver)
        logits.withUnsafeBufferPointer { z in
            gradient.withUnsafeMutableBufferPointer { g in
                var li = labels.startIndex
                for r in 0..<b {
                    let label = labels[li]; li += 1
                    guard label >= 0, Int(label) < c else { bad = label; return }
                    let row = r * c
                    let (l, arg) = SoftmaxCrossEntropy.row(z.baseAddress! + row, classes: c, label: Int(label), scale: inv, gradient: g.baseAddress! + row)
                    total += Double(l)
                    if arg == Int(label) { hits += 1 }
                }
            }
        }
        if let bad { throw TrainingError.invalidLabels("label \(bad) outside 0..<\(c)") }
        correct = hits
        lossSum = total
        return Float(total / Double(meanOver))
    }
}

extension SoftmaxCrossEntropy {
    /// One row of the loss: the row's `logsumexp(z) − z[label]` in Float (the maximum subtracted
    /// first) and its arg-max (the first maximal index), with `gradient[j] = softmax(z)[j]·scale`
    /// minus `scale` at `label` — every row of `loss(logits:labels:meanOver:)` (`scale = 1/meanOver`)
    /// and of the layer-synchronous training step, so the two give the same bytes.
    /// Precondition: `classes ≥ 1`, `0 ≤ label < classes`.
    @inline(__always)
    static func row(_ z: UnsafePointer<Float>, classes c: Int, label: Int, scale inv: Float,
                    gradient g: UnsafeMutablePointer<Float>) -> (loss: Float, argmax: Int) {
        var m = -Float.infinity, arg = 0
        for j in 0..<c where z[j] > m { m = z[j]; arg = j }
        var s: Float = 0
        for j in 0..<c { let e = Foundation.exp(z[j] - m); g[j] = e; s += e }
        let invS = 1 / s
        for j in 0..<c { g[j] *= invS * inv }
        g[label] -= inv
        return (Foundation.log(s) + (m - z[label]), arg)
    }
}

/// Mean squared error `L = (1/n) Σ (y − t)²` over all `n` elements (PyTorch `MSELoss`, mean),
/// gradient `2(y − t)/n`.
public struct MeanSquaredError {
    /// `∂L/∂y` from the last `loss` call.
    public private(set) var gradient = Matrix<Float>(rows: 0, columns: 0)
    public init() {}

    /// The mean loss. - Throws: `MatrixError.shapeMismatch` when shapes differ.
    public mutating func loss(predictions: Matrix<Float>, targets: Matrix<Float>) throws(MatrixError) -> Float {
        guard predictions.rows == targets.rows, predictions.columns == targets.columns else {
            throw .shapeMismatch(operation: "MeanSquaredError", lhs: predictions.shapeDescription, rhs: targets.shapeDescription)
        }
        let n = predictions.count
        if gradient.rows != predictions.rows || gradient.columns != predictions.columns {
            gradient = Matrix(rows: predictions.rows, columns: predictions.columns)
        }
        guard n > 0 else { return 0 }
        var total = 0.0
        let scale = 2 / Float(n)
        predictions.withUnsafeBufferPointer { y in
            targets.withUnsafeBufferPointer { t in
                gradient.withUnsafeMutableBufferPointer { g in
                    for i in 0..<n { let d = y[i] - t[i]; total += Double(d * d); g[i] = scale * d }
                }
            }
        }
        return Float(total / Double(n))
    }
}

/// Errors from training.
public enum TrainingError: Error, Equatable, CustomStringConvertible {
    /// Labels that do not fit the model's output.
    case invalidLabels(String)
    /// The loss became NaN or infinite.
    case nonFiniteLoss(epoch: Int, step: Int, lastFiniteLoss: Float?)
    /// A hyper-parameter outside its domain.
    case invalidHyperparameter(name: String, value: Double, rule: String)
    /// Data whose shape does not match the model.
    case shapeMismatch(String)
    /// A size that overflows `Int` or does not fit in the memory available (see `SizeError`).
    case size(SizeError)
    /// Training data with no samples.
    case emptyTrainingSet

    public var description: String {
        switch self {
        case let .invalidLabels(m): return "invalid labels: \(m)"
        case let .nonFiniteLoss(epoch, step, last):
            return "the loss became non-finite at epoch \(epoch), step \(step); last finite loss: \(last.map { "\($0)" } ?? "none") — lower the learning rate or use a smaller-scale initialization"
        case let .invalidHyperparameter(name, value, rule): return "\(name) = \(CheckedSize.describeValue(value)) is invalid: \(rule)"
        case let .size(error): return error.description
        case .emptyTrainingSet: return "the training set has no samples: nothing to train on"
        case let .shapeMismatch(m): return "shape mismatch: \(m)"
        }
    }
}
