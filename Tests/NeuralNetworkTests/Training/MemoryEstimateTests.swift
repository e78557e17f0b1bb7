// D1: MemoryEstimate.cnn against a byte count worked out by hand for a small CNN, and
// Conv2D.bufferFloats against what a Conv2D really holds after a forward and backward pass.
// (Peak RSS against the estimate for whole runs was measured with /usr/bin/time -v; see the commit.)
import Foundation
import Testing
import MatrixModule
@testable import NeuralNetwork

@Suite("MemoryEstimate.cnn (D1)")
struct MemoryEstimateTests {
    /// [1, 6, 6] → conv 4 3×3 p1 (K = 9: direct) → conv 8 3×3 p1 (K = 36: im2col) → max-pool 2 →
    /// flatten → dense 3; batch 5, 2 threads, SGD with momentum (1 slot).
    static let spec: [LayerSpec] = [.conv(channels: 4, kernel: 3, padding: .symmetric(1)), .conv(channels: 8, kernel: 3, padding: .symmetric(1)),
                                    .maxPool(kernel: 2), .flatten, .dense(units: 3, activation: .identity)]

    @Test("a small CNN: the estimate equals the hand-computed Float count × 4")
    func handCount() throws {
        func r16(_ v: Int) -> Int { (v + 15) / 16 * 16 }
        // The SerialGEMM workspace of the im2col layer's three products (block of 5 samples: ld = 5·36 = 180),
        // the kernel's own documented requirement.
        let ws = r16(max(SerialGEMM.workspaceCount(m: 8, n: 180, k: 36), SerialGEMM.workspaceCount(m: 8, n: 36, k: 180),
                         SerialGEMM.workspaceCount(m: 36, n: 180, k: 8)))
        let input = 5 * 36                                         // the batch [5, 1·6·6]
        // conv 1→4, 6×6 out (P = 36), K = 9, padded plane 8×8 + 2 + 8 = 74, accumulator rows 8 wide.
        let conv1Fixed = (4 * 9 + 4) * 3                           // weight+bias, gradient, momentum
        let conv1 = [5 * 1 * 74, 5 * 4 * 36, 5 * 4 * 36, 5 * 1 * 36,   // padded, Z, Y, dX
                     5 * 4 * 6 * 8, 5 * (4 * 9 + 4), 2 * 74]           // accumulator, per-sample dW/db, 2 scratch planes
        // conv 4→8, K = 36: one block of 5 samples (col ≈ 26 KB ≪ 2 MiB), one slot, one wave.
        let conv2Fixed = (8 * 36 + 8) * 3
        let conv2 = [5 * 4 * 74, 5 * 8 * 36, 5 * 8 * 36, 5 * 4 * 36,   // padded, Z, Y, dX
                     r16(36 * 180 + 8), r16(8 * 180), ws, 8 * 36,        // col, product, workspace (1 slot), dW of 1 block
                     8 * 5 * 36, 5 * 8, 2 * 74]                        // channel-major dZ, bias partials, 2 col2im planes
        let pool = [5 * 8 * 9, 5 * 8 * 9, 5 * 8 * 9, 5 * 8 * 36]     // output, spare, argmax, dX
        // dense 72 → 3: packed weights ⌈3/16⌉·16·72 + ⌈72/16⌉·16·3; per row input, dX, Z, Y, dZ, packed input (80).
        let denseFixed = (72 * 3 + 3) * 3 + 16 * 72 + 80 * 3
        let dense = [5 * 72, 5 * 72, 5 * 3, 5 * 3, 5 * 3, 5 * 80]
        let loss = 5 * 3
        let batchSized = [input] + conv1 + conv2 + pool + dense
        let floats = conv1Fixed + conv2Fixed + denseFixed + batchSized.reduce(0, +) + loss + batchSized.max()!
        let estimate = try MemoryEstimate.cnn(inputShape: [1, 6, 6], spec: Self.spec, batch: 5, optimizerSlots: 1, threads: 2)
        print("MemoryEstimate.cnn small config: \(estimate) bytes, hand count \(floats * 4)")
        #expect(estimate == floats * 4)
    }

    @Test("Conv2D.bufferFloats equals the Floats a Conv2D holds after forward and backward (both paths, 1 and 3 threads, several blocks)")
    func matchesAllocation() throws {
        for (c, o, k, stride, n) in [(1, 4, 3, 1, 5), (4, 8, 3, 1, 5), (16, 32, 3, 2, 40), (8, 24, 5, 1, 100)] {
            for threads in [1, 3] {
                let layer = try Conv2D(inputChannels: c, outputChannels: o, kernelSize: k, stride: stride, padding: .symmetric(1),
                                       activation: .relu, inputHeight: 12, inputWidth: 12)
                layer.threads = threads
                let x = Matrix<Float>(rows: n, columns: c * 144, repeating: 0.5)
                let y = try layer.forward(x)
                _ = try layer.backward(Matrix<Float>(rows: n, columns: y.columns, repeating: 1))
                let expected = try Conv2D.bufferFloats(geometry: layer.geometry, outputChannels: o, groups: 1, batch: n, workers: threads,
                                                       algorithm: layer.resolvedAlgorithm).reduce(0, +)
                #expect(layer.allocatedBufferFloats == expected, "C\(c) O\(o) k\(k) s\(stride) n\(n) threads \(threads): holds \(layer.allocatedBufferFloats), estimated \(expected)")
            }
        }
    }
}
