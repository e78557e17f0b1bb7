// Issue 13 regression: a finite value that overflows the tensor's dtype (stored as inf) is
// rejected by SafetensorsWriter before anything is written. Oracles: the IEEE binary16 and
// bfloat16 limits worked by hand (65504 = 0x7BFF; 65520 is the tie that rounds to inf;
// 0x7F7F0000 as a Float is the largest bfloat16).
import Foundation
import Testing
@testable import TensorFiles

@Suite("safetensors: values beyond the dtype's range (issue 13)")
struct HalfOverflowTests {
    @Test("roundsFinite against hand-worked limits")
    func limits() {
        #expect(TensorConvert.roundsFinite(65504, to: .F16))
        #expect(TensorConvert.roundsFinite(65519.99, to: .F16))
        #expect(!TensorConvert.roundsFinite(65520, to: .F16))
        #expect(!TensorConvert.roundsFinite(-1e5, to: .F16))
        #expect(TensorConvert.roundsFinite(Double(Float(bitPattern: 0x7F7F_0000)), to: .BF16))
        #expect(!TensorConvert.roundsFinite(3.4e38, to: .BF16))
        #expect(!TensorConvert.roundsFinite(1e39, to: .F32))
        #expect(TensorConvert.roundsFinite(1e300, to: .F64))
        #expect(TensorConvert.roundsFinite(.infinity, to: .F16), "inf is stored as inf, not an overflow")
        #expect(TensorConvert.largestFinite(.F16) == 65504)
    }

    @Test("write(floats:) and write(doubles:) reject 65520 in F16 and 3.4e38 in BF16; the target is not created")
    func writerRejects() throws {
        let dir = NSTemporaryDirectory() + "wi-half-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (dtype, value) in [(DType.F16, Float(65520)), (.BF16, Float(3.4e38))] {
            let path = dir + "/\(dtype).safetensors"
            do {
                try SafetensorsWriter.write(path: path, tensors: [(name: "w", dtype: dtype, shape: [2], values: [1, value])])
                Issue.record("\(value) in \(dtype) was written")
            } catch let e as TensorFileError {
                #expect(e.rule == .notRepresentable, "\(e)")
                #expect("\(e)".contains("\(dtype)") && "\(e)".contains("element 1"), "\(e)")
            }
            #expect(!FileManager.default.fileExists(atPath: path))
            let w = try SafetensorsWriter(path: path, tensors: [TensorSpec(name: "w", dtype: dtype, shape: [2])])
            #expect(throws: TensorFileError.self) { try w.write("w", doubles: [0, Double(value)]) }
            w.discard()
        }
    }
}
