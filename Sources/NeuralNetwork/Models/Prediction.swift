import Foundation
import MatrixModule

/// What a classifier predicts for a batch: class probabilities and the most probable class.
public struct Predictions: Sendable {
    /// `softmax(logits)` per row, `[batch, classes]`: `p_ij = exp(z_ij − max_k z_ik) / Σ_k exp(z_ik − max_k z_ik)`
    /// (the row maximum is subtracted first, so logits of ±1e4 give finite probabilities).
    /// Matches `torch.softmax(model(x), dim=1)`.
    public var probabilities: Matrix<Float>
    /// `argmax_j z_ij` per row, `[batch]`: the first index of the largest logit (ties go to the
    /// lower class index, as `torch.argmax`). A row whose logits are all NaN gets class 0.
    public var classes: [Int]
}

extension NetworkModel {
    /// Class probabilities and arg-max classes for `x` `[batch, inputs]` (one forward pass).
    ///
    /// The model's forward caches are overwritten (as by any forward pass); gradients are not touched.
    /// - Throws: `MatrixError.shapeMismatch` when `x.columns` is not the model's input size.
    public func predict(_ x: Matrix<Float>) throws(MatrixError) -> Predictions {
        let logits = try forward(x)
        return Self.softmaxArgmax(logits)
    }

    /// Predictions for every example of `data`, in batches of `batchSize` rows (default 1000), so
    /// memory is `O(batchSize)` beyond the `[count, classes]` result.
    /// - Throws: `TrainingError.invalidHyperparameter` for `batchSize < 1`; `TrainingError.shapeMismatch`
    ///   when `data.features` is not the model's input size.
    public func predict(_ data: LabeledData, batchSize: Int = 1000) throws -> Predictions {
        guard batchSize >= 1 else { throw TrainingError.invalidHyperparameter(name: "batch size", value: Double(batchSize), rule: "must be ≥ 1") }
        guard data.features == inputSize else {
            throw TrainingError.shapeMismatch("the data has \(data.features) features per sample, the model expects \(inputSize)")
        }
        var probabilities: [Float] = []
        var classes: [Int] = []
        classes.reserveCapacity(data.count)
        var batch = Matrix<Float>(rows: 0, columns: data.features)
        var labels: [Int32] = []
        var columns = 0
        var start = 0
        while start < data.count {
            let end = Swift.min(data.count, start + batchSize)
            try Trainer.gather(data, Array(start..<end)[...], into: &batch, labels: &labels)
            let p = try predict(batch)
            columns = p.probabilities.columns
            probabilities += p.probabilities.elements
            classes += p.classes
            start = end
        }
        if data.count == 0 { columns = try forward(Matrix(rows: 0, columns: data.features)).columns }
        return Predictions(probabilities: try Matrix(rows: data.count, columns: columns, elements: probabilities), classes: classes)
    }

    static func softmaxArgmax(_ logits: Matrix<Float>) -> Predictions {
        let b = logits.rows, c = logits.columns
        var p = Matrix<Float>(rows: b, columns: c)
        var classes = [Int](repeating: 0, count: b)
        logits.withUnsafeBufferPointer { z in
            p.withUnsafeMutableBufferPointer { out in
                for r in 0..<b {
                    let row = r * c
                    var m = -Float.infinity, arg = 0
                    for j in 0..<c where z[row + j] > m { m = z[row + j]; arg = j }
                    classes[r] = arg
                    var s: Float = 0
                    for j in 0..<c { let e = Foundation.exp(z[row + j] - m); out[row + j] = e; s += e }
                    let inv = 1 / s
                    for j in 0..<c { out[row + j] *= inv }
                }
            }
        }
        return Predictions(probabilities: p, classes: classes)
    }
}
