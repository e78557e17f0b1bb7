// Loss: softmax cross-entropy against a naive Double computation and finite differences,
// extreme logits, label errors, the `correct` count; mean squared error value and gradient.
import Foundation
import Testing
import MatrixModule
import NeuralNetwork

/// Naive mean softmax cross-entropy in Double (log-sum-exp with the row max subtracted).
private func naiveCrossEntropy(_ z: [Double], labels: [Int], classes c: Int) -> (loss: Double, grad: [Double]) {
    let b = labels.count
    var total = 0.0
    var grad = [Double](repeating: 0, count: z.count)
    for r in 0..<b {
        let row = Array(z[(r * c)..<((r + 1) * c)])
        let m = row.max()!
        let s = row.reduce(0) { $0 + exp($1 - m) }
        total += log(s) + m - row[labels[r]]
        for j in 0..<c { grad[r * c + j] = (exp(row[j] - m) / s - (j == labels[r] ? 1 : 0)) / Double(b) }
    }
    return (total / Double(b), grad)
}

@Suite("Loss")
struct LossTests {
    @Test("softmax cross-entropy equals the naive Double computation", arguments: [(1, 2), (6, 5), (17, 10), (3, 1)])
    func crossEntropyMatchesNaive(_ shape: (Int, Int)) throws {
        let (b, c) = shape
        let logits = randomMatrix(rows: b, columns: c, seed: UInt64(b * 31 + c), -4, 4)
        var g = SplitMix64(seed: 5)
        let labels = (0..<b).map { _ in Int(g.next() % UInt64(c)) }
        var loss = SoftmaxCrossEntropy()
        let l = try loss.loss(logits: logits, labels: labels.map(Int32.init)[...])
        let ref = naiveCrossEntropy(doubles(logits), labels: labels, classes: c)
        #expect(close(Double(l), ref.loss, abs: 1e-6, rel: 1e-5), "loss \(l) vs \(ref.loss)")
        #expect(loss.gradient.rows == b && loss.gradient.columns == c)
        #expect(worstRatio(doubles(loss.gradient), ref.grad, abs: 1e-7, rel: 1e-5) <= 1)
        // Each gradient row sums to 0.
        for r in 0..<b { #expect(abs(loss.gradient.row(r).reduce(0, +)) < 1e-6) }
    }

    @Test("the gradient equals finite differences of the naive loss")
    func crossEntropyGradientFiniteDifferences() throws {
        let b = 4, c = 3
        let logits = randomMatrix(rows: b, columns: c, seed: 77, -3, 3)
        let labels = [2, 0, 1, 1]
        var loss = SoftmaxCrossEntropy()
        _ = try loss.loss(logits: logits, labels: labels.map(Int32.init)[...])
        let z = doubles(logits), h = 1e-6
        for i in 0..<(b * c) {
            var zp = z, zm = z
            zp[i] += h; zm[i] -= h
            let fd = (naiveCrossEntropy(zp, labels: labels, classes: c).loss - naiveCrossEntropy(zm, labels: labels, classes: c).loss) / (2 * h)
            let got = Double(loss.gradient[i / c, i % c])
            #expect(close(got, fd, abs: 1e-6, rel: 1e-4), "∂L/∂z[\(i)] = \(got), finite difference \(fd)")
        }
    }

    @Test("logits ±1e4 give finite, exact loss and gradient")
    func extremeLogits() throws {
        var loss = SoftmaxCrossEntropy()
        let z = matrix([[1e4, -1e4]])
        #expect(try loss.loss(logits: z, labels: [0]) == 0)
        #expect(loss.gradient == matrix([[0, 0]]))
        #expect(try loss.loss(logits: z, labels: [1]) == 2e4)
        #expect(loss.gradient == matrix([[1, -1]]))
        // Batch of two: mean over the batch, gradient divided by B.
        let z2 = matrix([[1e4, -1e4, 0], [-1e4, -1e4, 1e4]])
        let l = try loss.loss(logits: z2, labels: [1, 2])
        #expect(l == 1e4)
        #expect(loss.gradient.isFinite)
        #expect(loss.gradient == matrix([[0.5, -0.5, 0], [0, 0, 0]]))
        // Equal huge logits: log 2 (no overflow to inf − inf).
        let l2 = try loss.loss(logits: matrix([[1e4, 1e4]]), labels: [0])
        #expect(l2.isFinite)
        // Regression (was a known issue): Loss.swift evaluates log(s) + m − z[label] left to right in Float: log 2 + 1e4 rounds to 10000.693359375, so the loss is 0.6933594 instead of log 2 = 
        #expect(close(Double(l2), log(2.0), abs: 0, rel: 1e-6), "loss(1e4, 1e4 | 0) = \(l2)")
        #expect(loss.gradient == matrix([[-0.5, 0.5]]))
        // The same absorption at moderate logits: [100, 100] should give log 2 to ~1e-7.
        let l3 = try loss.loss(logits: matrix([[100, 100]]), labels: [1])
        // Regression (was a known issue): same rounding: log 2 + 100 in Float loses 6 bits
        #expect(close(Double(l3), log(2.0), abs: 0, rel: 1e-6), "loss(100, 100 | 1) = \(l3)")
    }

    @Test("labels outside 0..<classes or a count mismatch throw invalidLabels")
    func invalidLabels() throws {
        let z = randomMatrix(rows: 3, columns: 4, seed: 1)
        for labels: [Int32] in [[0, 4, 1], [0, 1, -1], [0, 1], [0, 1, 2, 3], [Int32.max, 0, 0]] {
            var loss = SoftmaxCrossEntropy()
            #expect {
                _ = try loss.loss(logits: z, labels: labels[...])
            } throws: { error in
                guard case .invalidLabels = error as? TrainingError else { return false }
                return true
            }
        }
        // Zero classes: every label is invalid.
        var loss = SoftmaxCrossEntropy()
        #expect(throws: TrainingError.self) { _ = try loss.loss(logits: Matrix(rows: 1, columns: 0), labels: [0]) }
    }

    @Test("an ArraySlice with a non-zero start index is read from its start")
    func sliceLabels() throws {
        let all: [Int32] = [9, 9, 1, 0]
        let z = matrix([[0, 5], [5, 0]])
        var loss = SoftmaxCrossEntropy()
        let l = try loss.loss(logits: z, labels: all[2...])
        #expect(close(Double(l), log(1 + exp(-5.0)), abs: 0, rel: 1e-5))
        #expect(loss.correct == 2)
    }

    @Test("correct counts rows whose arg-max equals the label (first maximum wins)")
    func correctCount() throws {
        let z = matrix([[1, 2, 3], [3, 2, 1], [0, 5, 5], [2, 2, 1], [-1, -3, -2]])
        var loss = SoftmaxCrossEntropy()
        _ = try loss.loss(logits: z, labels: [2, 0, 2, 0, 0])
        // Rows 0, 1, 3 (tie → first), 4 are hits; row 2 ties 1/2 and the first (1) wins.
        #expect(loss.correct == 4)
        _ = try loss.loss(logits: z, labels: [0, 1, 0, 2, 1])
        #expect(loss.correct == 0)
    }

    @Test("an empty batch gives loss 0 and an empty gradient")
    func emptyBatch() throws {
        var loss = SoftmaxCrossEntropy()
        #expect(try loss.loss(logits: Matrix(rows: 0, columns: 3), labels: []) == 0)
        #expect(loss.gradient.rows == 0 && loss.gradient.columns == 3)
        #expect(loss.correct == 0)
    }

    @Test("mean squared error: value and gradient 2(y − t)/n")
    func meanSquaredError() throws {
        var mse = MeanSquaredError()
        let y = matrix([[1, 2], [3, 4], [5, 6]]), t = matrix([[1, 0], [4, 4], [2, 8]])
        // Differences 0, 2, −1, 0, 3, −2: squares sum 18, n = 6.
        #expect(try mse.loss(predictions: y, targets: t) == 3)
        #expect(mse.gradient == matrix([[0, 2.0 / 3], [-1.0 / 3, 0], [1, -2.0 / 3]]))

        let p = randomMatrix(rows: 7, columns: 5, seed: 8), q = randomMatrix(rows: 7, columns: 5, seed: 9)
        let l = try mse.loss(predictions: p, targets: q)
        let d = zip(doubles(p), doubles(q)).map { $0 - $1 }
        let ref = d.reduce(0) { $0 + $1 * $1 } / 35
        #expect(close(Double(l), ref, abs: 1e-7, rel: 1e-5))
        #expect(worstRatio(doubles(mse.gradient), d.map { 2 * $0 / 35 }, abs: 1e-7, rel: 1e-5) <= 1)
        // Finite differences of the Double loss.
        let h = 1e-6
        for i in [0, 7, 34] {
            var dp = d, dm = d
            dp[i] += h; dm[i] -= h
            let fd = (dp.reduce(0) { $0 + $1 * $1 } - dm.reduce(0) { $0 + $1 * $1 }) / 35 / (2 * h)
            #expect(close(Double(mse.gradient[i / 5, i % 5]), fd, abs: 1e-6, rel: 1e-4))
        }
    }

    @Test("mean squared error: shape mismatch throws, empty gives 0")
    func meanSquaredErrorEdges() throws {
        var mse = MeanSquaredError()
        #expect(throws: MatrixError.self) { _ = try mse.loss(predictions: Matrix(rows: 2, columns: 3), targets: Matrix(rows: 3, columns: 2)) }
        #expect(try mse.loss(predictions: Matrix(rows: 0, columns: 3), targets: Matrix(rows: 0, columns: 3)) == 0)
    }

    @Test("TrainingError descriptions name the values")
    func errorDescriptions() {
        let e = TrainingError.nonFiniteLoss(epoch: 2, step: 7, lastFiniteLoss: 1.5)
        #expect(e.description.contains("epoch 2") && e.description.contains("step 7") && e.description.contains("1.5"))
        let h = TrainingError.invalidHyperparameter(name: "momentum", value: 1, rule: "must be in [0, 1)")
        #expect(h.description.contains("momentum") && h.description.contains("[0, 1)"))
    }
}
