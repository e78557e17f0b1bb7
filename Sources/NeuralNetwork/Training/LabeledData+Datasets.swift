import Datasets
import Initializers
import MatrixModule

extension LabeledData {
    /// The examples of a loaded MNIST-family split as training data: `inputs` are the data set's
    /// `images` (row-major `[count, rows·columns]`, used as they are — scaled to [0, 1] after
    /// `MNISTDataset.load`, or standardized), `labels` its labels, `features = rows·columns`.
    ///
    /// ```swift
    /// let train = LabeledData(try MNISTDataset.load(split: .train))
    /// ```
    public init(_ dataset: MNISTDataset) {
        // MNISTDataset guarantees images.count == count × features; the throwing init only checks that.
        self = try! LabeledData(features: dataset.features, inputs: dataset.images, labels: dataset.labels)
    }

    /// Fashion-MNIST (or any MNIST-format IDX directory) in one call, as `weightinit train` loads it:
    /// both splits read from `directory`, pixels scaled to [0, 1], then — when `standardize` is
    /// true (default) — both splits transformed with the TRAINING split's scalar mean and std,
    /// `x ↦ (x − mean)/std` (the test split never contributes to the statistics).
    ///
    /// - Parameters:
    ///   - directory: the IDX directory (default `/usr/share/datasets/fashion-mnist`, Debian package
    ///     `dataset-fashion-mnist`).
    ///   - trainLimit: keep only the first `trainLimit` training examples (default all, ≥ 1).
    ///   - testLimit: keep only the first `testLimit` test examples (default all, ≥ 1).
    ///   - standardize: standardize with the training statistics (default true).
    /// - Returns: `train` `[≤ 60000, 784]` and `test` `[≤ 10000, 784]` for Fashion-MNIST.
    /// - Throws: `DatasetError` from `MNISTDataset.load` (missing directory or file, malformed IDX,
    ///   a limit < 1) or from standardization (a constant training set has std 0).
    public static func mnist(directory: String = MNISTDataset.defaultDirectory, trainLimit: Int? = nil, testLimit: Int? = nil,
                             standardize: Bool = true) throws -> (train: LabeledData, test: LabeledData) {
        var train = try MNISTDataset.load(directory: directory, split: .train, limit: trainLimit)
        var test = try MNISTDataset.load(directory: directory, split: .test, limit: testLimit)
        if standardize {
            let statistics = train.statistics()
            train = try train.standardized(using: statistics)
            test = try test.standardized(using: statistics)
        }
        return (LabeledData(train), LabeledData(test))
    }

    /// A calibration batch for data-based initialization (LSUV, data-dependent, layer-ratio,
    /// MetaInit): `min(count, self.count)` examples as a `[n, features]` matrix.
    ///
    /// - With `seed == nil`: the first `n` examples, in order.
    /// - With a seed: a uniformly random subset without replacement — the first `n` positions of
    ///   `Trainer.order(count: self.count, seed: seed, epoch: 0)` (a Fisher–Yates shuffle driven by
    ///   `PhiloxGenerator(key: RandomKey(seed: seed).folding(in: 0))`), so it is the same batch
    ///   `weightinit train --init lsuv --seed S` calibrates on (training epochs are numbered from
    ///   1, so epoch 0's order is used by no epoch).
    /// - Throws: `TrainingError.invalidHyperparameter` when `count < 1`.
    public func calibrationBatch(count: Int, seed: UInt64? = nil) throws -> Matrix<Float> {
        guard count >= 1 else { throw TrainingError.invalidHyperparameter(name: "calibration batch size", value: Double(count), rule: "must be ≥ 1") }
        let n = Swift.min(count, self.count)
        var batch = Matrix<Float>(rows: 0, columns: features)
        var labels: [Int32] = []
        if let seed {
            let order = try Trainer.order(count: self.count, seed: seed, epoch: 0)
            try Trainer.gather(self, order[0..<n], into: &batch, labels: &labels)
        } else {
            try Trainer.gather(self, Array(0..<n)[...], into: &batch, labels: &labels)
        }
        return batch
    }

    /// Examples `range` (positions in the data set) as a new data set.
    /// - Throws: `TrainingError.invalidHyperparameter` when `range` is not within `0..<count`.
    public func subset(_ range: Range<Int>) throws -> LabeledData {
        guard range.lowerBound >= 0, range.upperBound <= count else {
            throw TrainingError.invalidHyperparameter(name: "subset upper bound", value: Double(range.upperBound), rule: "must be within 0...\(count)")
        }
        return try LabeledData(features: features, inputs: Array(inputs[(range.lowerBound * features)..<(range.upperBound * features)]),
                               labels: Array(labels[range]))
    }
}
