// Loader for the MNIST family of image-classification data sets stored as IDX files
// (MNIST: LeCun, Cortes & Burges 1998; Fashion-MNIST: Xiao, Rasul & Vollgraf 2017,
// "Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine Learning Algorithms",
// arXiv:1708.07747). On Debian the Fashion-MNIST files come from the package
// `dataset-fashion-mnist`, installed under /usr/share/datasets/fashion-mnist.

import Foundation

/// An MNIST-family data set split (MNIST, Fashion-MNIST, KMNIST …): grey-scale images with
/// integer class labels, loaded from the four standard IDX files.
///
/// Layout: ``images`` is row-major `[count, features]` Float, `features = rows * columns`, each row
/// one image in row-major pixel order (the file's order). After ``load(directory:split:limit:)``
/// pixels are scaled from bytes `0...255` to `[0, 1]` by dividing by 255; after
/// ``standardized(mean:std:)`` they are `(x - mean) / std`.
///
/// Sources: IDX format from LeCun et al.'s MNIST page (http://yann.lecun.com/exdb/mnist/);
/// Fashion-MNIST from Xiao, Rasul & Vollgraf 2017 (arXiv:1708.07747).
public struct MNISTDataset: Sendable {
    /// Which half of the data set: the standard training set or the standard test set.
    public enum Split: String, Sendable, CaseIterable, CustomStringConvertible {
        /// Files `train-images-idx3-ubyte` and `train-labels-idx1-ubyte` (60 000 examples in MNIST and Fashion-MNIST).
        case train
        /// Files `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte` (10 000 examples).
        case test

        /// The file-name prefix: `train` or `t10k`.
        public var filePrefix: String { self == .train ? "train" : "t10k" }

        /// `train` or `test`.
        public var description: String { rawValue }
    }

    /// Mean and standard deviation of all pixels of a data set (one scalar each, not per pixel).
    public struct Statistics: Sendable, Equatable {
        /// Arithmetic mean of all `count * features` pixel values.
        public var mean: Float
        /// Population standard deviation (divisor `N`) of all pixel values.
        public var std: Float

        /// Creates statistics from given values.
        public init(mean: Float, std: Float) {
            self.mean = mean
            self.std = std
        }
    }

    /// Default data directory: `/usr/share/datasets/fashion-mnist` (Debian package `dataset-fashion-mnist`).
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"

    /// Number of classes in the MNIST family (labels are `0..<10`).
    public static let classCount = 10

    /// Fashion-MNIST class names indexed by label (Xiao, Rasul & Vollgraf 2017, Table 1):
    /// 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker, 8 Bag, 9 Ankle boot.
    public static let fashionMNISTClassNames = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ]

    /// Which split these examples came from.
    public let split: Split
    /// Number of examples.
    public let count: Int
    /// Image height in pixels (28 for MNIST and Fashion-MNIST).
    public let rows: Int
    /// Image width in pixels (28 for MNIST and Fashion-MNIST).
    public let columns: Int
    /// Pixels per image, `rows * columns` (784 for MNIST and Fashion-MNIST).
    public var features: Int { rows * columns }
    /// Images, row-major `[count, features]`; scaled to `[0, 1]` after loading, or standardized.
    public let images: [Float]
    /// Class labels, `[count]`, each in `0..<classCount`.
    public let labels: [Int32]
    /// Paths of the image and label files the data was read from (empty for in-memory data sets).
    public let sourceFiles: [String]

    /// Creates a data set from in-memory arrays (for synthetic data and tests).
    ///
    /// - Parameters:
    ///   - images: row-major `[count, rows * columns]` pixel values (used as given, no scaling).
    ///   - rows: image height, ≥ 1.
    ///   - columns: image width, ≥ 1.
    ///   - labels: `[count]` labels in `0..<classCount`.
    ///   - split: recorded split (default `.train`).
    /// - Throws: ``DatasetError/invalidParameter(name:value:rule:)`` if `rows`/`columns` < 1 or
    ///   `images.count != labels.count * rows * columns`;
    ///   ``DatasetError/labelOutOfRange(path:index:label:classCount:)`` for a bad label.
    public init(images: [Float], rows: Int, columns: Int, labels: [Int32], split: Split = .train) throws {
        guard rows >= 1 else { throw DatasetError.invalidParameter(name: "rows", value: "\(rows)", rule: "must be ≥ 1") }
        guard columns >= 1 else { throw DatasetError.invalidParameter(name: "columns", value: "\(columns)", rule: "must be ≥ 1") }
        let (features, o1) = rows.multipliedReportingOverflow(by: columns)
        let (expected, o2) = labels.count.multipliedReportingOverflow(by: features)
        guard !o1, !o2, images.count == expected else {
            throw DatasetError.invalidParameter(
                name: "images.count", value: "\(images.count)",
                rule: "must equal labels.count × rows × columns = \(labels.count) × \(rows) × \(columns)")
        }
        if let i = labels.firstIndex(where: { $0 < 0 || Int($0) >= Self.classCount }) {
            throw DatasetError.labelOutOfRange(path: "<memory>", index: i, label: Int(labels[i]), classCount: Self.classCount)
        }
        self.init(unchecked: images, rows: rows, columns: columns, labels: labels, split: split, sourceFiles: [])
    }

    private init(unchecked images: [Float], rows: Int, columns: Int, labels: [Int32], split: Split, sourceFiles: [String]) {
        self.images = images
        self.rows = rows
        self.columns = columns
        self.labels = labels
        self.count = labels.count
        self.split = split
        self.sourceFiles = sourceFiles
    }

    /// Loads one split of an MNIST-family data set from `directory`.
    ///
    /// Looks for `<prefix>-images-idx3-ubyte` and `<prefix>-labels-idx1-ubyte`, each plain or with a
    /// `.gz` suffix (also the `images.idx3-ubyte` spelling of some mirrors), where prefix is
    /// `train` or `t10k`. Checks: images are a 3-D UInt8 array `[count, rows, columns]`, labels a 1-D
    /// UInt8 array `[count]`, the counts match, every label is `< 10`, count ≥ 1. Pixels are scaled to
    /// `[0, 1]` (byte / 255).
    ///
    /// - Parameters:
    ///   - directory: data directory (default ``defaultDirectory``, `/usr/share/datasets/fashion-mnist`).
    ///   - split: `.train` or `.test`.
    ///   - limit: keep only the first `limit` examples (default: all); must be ≥ 1.
    /// - Throws: ``DatasetError``: `.directoryNotFound` (with the hint to install
    ///   `dataset-fashion-mnist` or pass `--data DIR`), `.missingFile`, any IDX reading error
    ///   (see ``IDXArray/read(contentsOf:maximumDataBytes:)``), `.unexpectedShape`, `.countMismatch`,
    ///   `.labelOutOfRange`, `.invalidParameter` (bad `limit`).
    public static func load(directory: String = defaultDirectory, split: Split, limit: Int? = nil) throws -> MNISTDataset {
        if let limit, limit < 1 {
            throw DatasetError.invalidParameter(name: "limit", value: "\(limit)", rule: "must be ≥ 1")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DatasetError.directoryNotFound(path: directory)
        }
        let imagesPath = try findFile(directory: directory, stems: ["\(split.filePrefix)-images-idx3-ubyte", "\(split.filePrefix)-images.idx3-ubyte"])
        let labelsPath = try findFile(directory: directory, stems: ["\(split.filePrefix)-labels-idx1-ubyte", "\(split.filePrefix)-labels.idx1-ubyte"])

        let imageArray = try IDXArray.read(contentsOf: imagesPath)
        guard imageArray.dimensions.count == 3, let pixels = imageArray.uint8Values else {
            throw DatasetError.unexpectedShape(
                path: imagesPath, expected: "a 3-D uint8 array [count, rows, columns]",
                dimensions: imageArray.dimensions, elementType: imageArray.elementType.description)
        }
        let labelArray = try IDXArray.read(contentsOf: labelsPath)
        guard labelArray.dimensions.count == 1, let labelBytes = labelArray.uint8Values else {
            throw DatasetError.unexpectedShape(
                path: labelsPath, expected: "a 1-D uint8 array [count]",
                dimensions: labelArray.dimensions, elementType: labelArray.elementType.description)
        }
        let imageCount = imageArray.dimensions[0]
        let rows = imageArray.dimensions[1]
        let columns = imageArray.dimensions[2]
        guard imageCount == labelBytes.count else {
            throw DatasetError.countMismatch(imagesPath: imagesPath, images: imageCount, labelsPath: labelsPath, labels: labelBytes.count)
        }
        guard imageCount >= 1, rows >= 1, columns >= 1 else {
            throw DatasetError.unexpectedShape(
                path: imagesPath, expected: "a non-empty 3-D uint8 array [count ≥ 1, rows ≥ 1, columns ≥ 1]",
                dimensions: imageArray.dimensions, elementType: imageArray.elementType.description)
        }
        if let i = labelBytes.firstIndex(where: { Int($0) >= classCount }) {
            throw DatasetError.labelOutOfRange(path: labelsPath, index: i, label: Int(labelBytes[i]), classCount: classCount)
        }
        let count = min(imageCount, limit ?? imageCount)
        let n = count * rows * columns
        let scale = Float(1) / 255
        let images = [Float](unsafeUninitializedCapacity: n) { out, initialized in
            pixels.withUnsafeBufferPointer { src in
                for i in 0..<n { out[i] = Float(src[i]) * scale }
            }
            initialized = n
        }
        let labels = labelBytes[0..<count].map { Int32($0) }
        return MNISTDataset(unchecked: images, rows: rows, columns: columns, labels: labels, split: split,
                            sourceFiles: [imagesPath, labelsPath])
    }

    private static func findFile(directory: String, stems: [String]) throws -> String {
        var candidates: [String] = []
        for stem in stems {
            for name in [stem, stem + ".gz"] {
                candidates.append(name)
                let path = (directory as NSString).appendingPathComponent(name)
                if FileManager.default.fileExists(atPath: path) { return path }
            }
        }
        throw DatasetError.missingFile(directory: directory, candidates: candidates)
    }

    /// Scalar mean and population standard deviation of all pixels (accumulated in `Double`).
    ///
    /// Compute these on the training set and pass them to ``standardized(using:)`` for both the
    /// training and the test set, so the test set is transformed with the training statistics.
    /// For Fashion-MNIST scaled to `[0, 1]` the training values are about mean 0.2860, std 0.3530.
    public func statistics() -> Statistics {
        let n = images.count
        guard n > 0 else { return Statistics(mean: 0, std: 0) }
        var sum = 0.0
        images.withUnsafeBufferPointer { p in
            for x in p { sum += Double(x) }
        }
        let mean = sum / Double(n)
        var squares = 0.0
        images.withUnsafeBufferPointer { p in
            for x in p {
                let d = Double(x) - mean
                squares += d * d
            }
        }
        return Statistics(mean: Float(mean), std: Float((squares / Double(n)).squareRoot()))
    }

    /// A copy with every pixel replaced by `(x - mean) / std`; labels unchanged.
    ///
    /// - Parameters:
    ///   - mean: value subtracted from every pixel (finite).
    ///   - std: divisor (finite and > 0).
    /// - Throws: ``DatasetError/invalidParameter(name:value:rule:)`` if `mean` is not finite or
    ///   `std` is not finite and positive (e.g. a constant data set has std 0).
    public func standardized(mean: Float, std: Float) throws -> MNISTDataset {
        guard mean.isFinite else {
            throw DatasetError.invalidParameter(name: "mean", value: "\(mean)", rule: "must be finite")
        }
        guard std.isFinite, std > 0 else {
            throw DatasetError.invalidParameter(name: "std", value: "\(std)", rule: "must be finite and > 0")
        }
        let inverse = 1 / std
        let n = images.count
        let out = [Float](unsafeUninitializedCapacity: n) { dst, initialized in
            images.withUnsafeBufferPointer { src in
                for i in 0..<n { dst[i] = (src[i] - mean) * inverse }
            }
            initialized = n
        }
        return MNISTDataset(unchecked: out, rows: rows, columns: columns, labels: labels, split: split, sourceFiles: sourceFiles)
    }

    /// A copy standardized with given statistics (usually the training set's ``statistics()``).
    ///
    /// - Throws: as ``standardized(mean:std:)``.
    public func standardized(using statistics: Statistics) throws -> MNISTDataset {
        try standardized(mean: statistics.mean, std: statistics.std)
    }

    /// Number of examples of each class, indexed by label (`classCount` entries).
    public func classCounts() -> [Int] {
        var counts = [Int](repeating: 0, count: Self.classCount)
        for l in labels { counts[Int(l)] += 1 }
        return counts
    }
}
