import Foundation
import Testing
@testable import Datasets

// Oracles: tiny data sets written byte by byte, statistics worked out by hand, naive loops over
// the real files, and the published facts of Fashion-MNIST (Xiao, Rasul & Vollgraf 2017:
// 60 000 training and 10 000 test images of 28×28 pixels, 10 classes, 6 000 / 1 000 per class).

let realDataDirectory = MNISTDataset.defaultDirectory
let realDataAvailable = FileManager.default.fileExists(atPath: realDataDirectory + "/train-images-idx3-ubyte.gz")
    || FileManager.default.fileExists(atPath: realDataDirectory + "/train-images-idx3-ubyte")

/// Loaded once for all real-data tests.
let realTrain: Result<MNISTDataset, any Error> = Result { try MNISTDataset.load(split: .train) }

/// Writes a 3-image 2×2 training split: images plain, labels gzip-compressed (when gzip exists).
/// Pixels of image n: [0, 255, 51*n, 102]; labels [3, 0, 9].
func writeTinyDataSet(in dir: String, labels: [UInt8] = [3, 0, 9], imageCount: UInt32 = 3) throws {
    var images = idxHeader(type: 0x08, dimensions: [imageCount, 2, 2])
    for n in 0..<Int(imageCount) { images += [0, 255, UInt8(51 * n), 102] }
    try writeFile(images, to: dir + "/train-images-idx3-ubyte")
    let labelFile = idxHeader(type: 0x08, dimensions: [UInt32(labels.count)]) + labels
    if gzipExecutable != nil {
        try writeFile(try gzipped(labelFile, in: dir), to: dir + "/train-labels-idx1-ubyte.gz")
    } else {
        try writeFile(labelFile, to: dir + "/train-labels-idx1-ubyte")
    }
}

@Suite("MNIST-family loader")
struct FashionMNISTTests {
    @Test("a tiny hand-written data set loads with pixels scaled to [0, 1]")
    func tinyDataSet() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try writeTinyDataSet(in: dir)
        let data = try MNISTDataset.load(directory: dir, split: .train)
        #expect(data.count == 3)
        #expect(data.rows == 2 && data.columns == 2 && data.features == 4)
        #expect(data.labels == [3, 0, 9])
        let expected: [Float] = [0, 1, 0, 0.4, 0, 1, 0.2, 0.4, 0, 1, 0.4, 0.4]
        #expect(data.images.count == 12)
        for (a, b) in zip(data.images, expected) { #expect(abs(a - b) <= 1e-6, "\(a) vs \(b)") }
        #expect(data.split == .train)
        #expect(data.classCounts() == [1, 0, 0, 1, 0, 0, 0, 0, 0, 1])

        let first2 = try MNISTDataset.load(directory: dir, split: .train, limit: 2)
        #expect(first2.count == 2 && first2.labels == [3, 0] && first2.images == Array(data.images.prefix(8)))
    }

    @Test("statistics and standardization, worked out by hand")
    func statistics() throws {
        // Pixels 0, 1, 2, 3 (two 1×2 images): mean 1.5, population variance 1.25.
        let data = try MNISTDataset(images: [0, 1, 2, 3], rows: 1, columns: 2, labels: [0, 1])
        let stats = data.statistics()
        #expect(abs(stats.mean - 1.5) <= 1e-6)
        #expect(abs(stats.std - Float(1.25).squareRoot()) <= 1e-6)
        let z = try data.standardized(using: stats)
        let s = Float(1.25).squareRoot()
        for (a, b) in zip(z.images, [-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s]) { #expect(abs(a - b) <= 1e-6) }
        #expect(z.labels == data.labels)
        // A test set is transformed with the training statistics, not its own.
        let other = try MNISTDataset(images: [10, 20], rows: 1, columns: 2, labels: [5], split: .test)
        let zo = try other.standardized(mean: 1.5, std: 2)
        #expect(zo.images == [4.25, 9.25])

        for bad in [(0, 0), (0, -1), (0, .nan), (0, .infinity), (.nan, 1)] as [(Float, Float)] {
            expectDatasetError({ if case .invalidParameter = $0 { true } else { false } }) {
                _ = try data.standardized(mean: bad.0, std: bad.1)
            }
        }
    }

    @Test("in-memory initializer validates its inputs")
    func initializerChecks() {
        expectDatasetError({ if case .invalidParameter("images.count", _, _) = $0 { true } else { false } }) {
            _ = try MNISTDataset(images: [0, 1, 2], rows: 1, columns: 2, labels: [0, 1])
        }
        expectDatasetError({ if case .invalidParameter("rows", _, _) = $0 { true } else { false } }) {
            _ = try MNISTDataset(images: [], rows: 0, columns: 2, labels: [])
        }
        expectDatasetError({ $0 == .labelOutOfRange(path: "<memory>", index: 1, label: 10, classCount: 10) }) {
            _ = try MNISTDataset(images: [0, 0], rows: 1, columns: 1, labels: [0, 10])
        }
        expectDatasetError({ if case .labelOutOfRange(_, 0, -1, 10) = $0 { true } else { false } }) {
            _ = try MNISTDataset(images: [0], rows: 1, columns: 1, labels: [-1])
        }
    }

    @Test("a missing directory says how to install the data")
    func missingDirectory() {
        let dir = "/nonexistent/fashion-mnist-\(UUID().uuidString)"
        do {
            _ = try MNISTDataset.load(directory: dir, split: .train)
            Issue.record("no error")
        } catch let error as DatasetError {
            #expect(error == .directoryNotFound(path: dir))
            #expect(error.description.contains(dir))
            #expect(error.description.contains("apt-get install dataset-fashion-mnist"))
            #expect(error.description.contains("--data DIR"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("a missing file is reported with the candidate names")
    func missingFile() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try writeTinyDataSet(in: dir)
        expectDatasetError({ if case .missingFile(dir, let names) = $0 { names.contains("t10k-images-idx3-ubyte.gz") } else { false } }) {
            _ = try MNISTDataset.load(directory: dir, split: .test)
        }
        expectDatasetError({ if case .invalidParameter("limit", _, _) = $0 { true } else { false } }) {
            _ = try MNISTDataset.load(directory: dir, split: .train, limit: 0)
        }
    }

    @Test("label out of range, count mismatch and wrong ranks are typed errors")
    func badContents() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try writeTinyDataSet(in: dir, labels: [3, 10, 9])
        expectDatasetError({ if case .labelOutOfRange(_, 1, 10, 10) = $0 { true } else { false } }) {
            _ = try MNISTDataset.load(directory: dir, split: .train)
        }
        let dir2 = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir2) }
        try writeTinyDataSet(in: dir2, labels: [3, 0, 9, 1])
        expectDatasetError({ if case .countMismatch(_, 3, _, 4) = $0 { true } else { false } }) {
            _ = try MNISTDataset.load(directory: dir2, split: .train)
        }
        // Images stored 2-D.
        try writeFile(idxHeader(type: 0x08, dimensions: [3, 4]) + [UInt8](repeating: 1, count: 12), to: dir2 + "/train-images-idx3-ubyte")
        expectDatasetError({ if case .unexpectedShape(_, _, [3, 4], "uint8") = $0 { true } else { false } }) {
            _ = try MNISTDataset.load(directory: dir2, split: .train)
        }
        // Labels stored as int16.
        let dir3 = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir3) }
        try writeTinyDataSet(in: dir3)
        try? FileManager.default.removeItem(atPath: dir3 + "/train-labels-idx1-ubyte.gz")
        try writeFile(idxHeader(type: 0x0B, dimensions: [3]) + [0, 1, 0, 2, 0, 3], to: dir3 + "/train-labels-idx1-ubyte")
        expectDatasetError({ if case .unexpectedShape(_, _, [3], "int16") = $0 { true } else { false } }) {
            _ = try MNISTDataset.load(directory: dir3, split: .train)
        }
        // Empty data set.
        let dir4 = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir4) }
        try writeTinyDataSet(in: dir4, labels: [], imageCount: 0)
        expectDatasetError({ if case .unexpectedShape = $0 { true } else { false } }) {
            _ = try MNISTDataset.load(directory: dir4, split: .train)
        }
    }

    @Test("Fashion-MNIST class names (Xiao et al. 2017)")
    func classNames() {
        #expect(MNISTDataset.fashionMNISTClassNames.count == MNISTDataset.classCount)
        #expect(MNISTDataset.fashionMNISTClassNames[0] == "T-shirt/top")
        #expect(MNISTDataset.fashionMNISTClassNames[9] == "Ankle boot")
    }

    @Test("real Fashion-MNIST training set: 60000×28×28, 6000 per class, pixels in [0, 1]", .enabled(if: realDataAvailable))
    func realTrainingSet() throws {
        let train = try realTrain.get()
        #expect(train.count == 60_000 && train.rows == 28 && train.columns == 28 && train.features == 784)
        #expect(train.images.count == 60_000 * 784)
        var counts = [Int](repeating: 0, count: 10)
        for l in train.labels {
            #expect((0..<10).contains(l))
            counts[Int(l)] += 1
        }
        #expect(counts == [Int](repeating: 6000, count: 10))
        var lo = Float.infinity, hi = -Float.infinity
        for x in train.images { lo = min(lo, x); hi = max(hi, x) }
        #expect(lo == 0 && hi == 1, "range [\(lo), \(hi)]")
    }

    @Test("real Fashion-MNIST test set: 10000×28×28, 1000 per class", .enabled(if: realDataAvailable))
    func realTestSet() throws {
        let test = try MNISTDataset.load(split: .test)
        #expect(test.count == 10_000 && test.rows == 28 && test.columns == 28)
        #expect(test.images.count == 10_000 * 784)
        #expect(test.classCounts() == [Int](repeating: 1000, count: 10))
        #expect(test.labels.allSatisfy { (0..<10).contains($0) })
        #expect(test.images.allSatisfy { $0 >= 0 && $0 <= 1 })
    }

    @Test("standardized training images have mean 0 and std 1 (naive loop)", .enabled(if: realDataAvailable))
    func realStandardization() throws {
        let train = try realTrain.get()
        let stats = train.statistics()
        // Known values for Fashion-MNIST scaled to [0, 1]: mean ≈ 0.2860, std ≈ 0.3530.
        #expect(abs(stats.mean - 0.2860) < 1e-3, "mean \(stats.mean)")
        #expect(abs(stats.std - 0.3530) < 1e-3, "std \(stats.std)")
        let z = try train.standardized(using: stats)
        var sum = 0.0, sumSquares = 0.0
        for x in z.images {
            sum += Double(x)
            sumSquares += Double(x) * Double(x)
        }
        let n = Double(z.images.count)
        let mean = sum / n
        let std = (sumSquares / n - mean * mean).squareRoot()
        #expect(abs(mean) < 1e-3, "mean \(mean)")
        #expect(abs(std - 1) < 1e-3, "std \(std)")
    }
}
