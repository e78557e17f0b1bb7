import Distributed
import Foundation
import Initializers
import TensorFiles
import Testing

/// The harness's `write` tensors, written by one process with the TensorFiles writer.
func singleProcessSafetensors(to path: String) throws {
    let cases: [(String, DType, [Int], Initializer, UInt64)] = [
        ("layers.0.weight", .F32, [13, 300], .heUniform(), 1), ("layers.0.bias", .F32, [13], .normal(mean: 0, std: 0.02), 2),
        ("layers.1.weight", .BF16, [7, 5], .xavierNormal(), 3), ("head.weight", .F16, [2, 9], .truncatedNormal(mean: 0, std: 0.5, a: -1, b: 1), 4),
        ("scale", .F32, [], .constant(0.5), 5), ("embed", .F32, [1, 6], .normal(), 6), ("conv", .F32, [5, 4, 3, 3], .lecunNormal(), 7),
    ]
    var tensors: [(name: String, dtype: DType, shape: [Int], values: [Float])] = []
    for (name, dtype, shape, initializer, key) in cases {
        var v = [Float](repeating: 0, count: shape.reduce(1, *))
        try initializer.fill(&v, shape: shape.isEmpty ? [1] : shape, key: RandomKey(seed: 7).folding(in: key))
        tensors.append((name, dtype, shape, v))
    }
    try SafetensorsWriter.write(path: path, tensors: tensors)
}

extension MPISuite {
    @Suite("one safetensors file from many ranks")
    struct ShardedWrite {
        @Test("mpirun -np N (1, 2, 3, 4) ShardedSafetensors.write: SHA-256 equals the single-process file (F32, BF16, F16, a scalar, fewer rows than ranks; 100-byte chunks)")
        func sameFile() throws {
            guard mpiAvailable("sharded write") else { return }
            let dir = try temporaryDirectory("st")
            defer { try? FileManager.default.removeItem(at: dir) }
            let reference = dir.appendingPathComponent("single.safetensors")
            try singleProcessSafetensors(to: reference.path)
            let expected = try sha256(try Data(contentsOf: reference))
            for n in 1...4 {
                let out = dir.appendingPathComponent("n\(n).safetensors")
                let r = try mpirun(n, try builtExecutable("DistributedHarness"), ["write", out.path, "100"], timeout: 60)
                #expect(r.status == 0 && !r.timedOut, "stderr: \(r.stderr)")
                let got = try sha256(try Data(contentsOf: out))
                #expect(got == expected, "N=\(n)")
                print("sharded safetensors N=\(n): sha256 \(got) (single process \(expected)), \(String(format: "%.2f", r.seconds)) s")
            }
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains(".tmp-") }
            #expect(leftovers.isEmpty, "temporary files left: \(leftovers)")
        }

        @Test("the target is a directory: every rank fails with the reason, nothing is written, no rank hangs")
        func refusedTarget() throws {
            guard mpiAvailable("sharded write refused") else { return }
            let dir = try temporaryDirectory("st-bad")
            defer { try? FileManager.default.removeItem(at: dir) }
            let target = dir.appendingPathComponent("a-directory")
            try FileManager.default.createDirectory(at: target, withIntermediateDirectories: false)
            let r = try mpirun(3, try builtExecutable("DistributedHarness"), ["write", target.path, "100"], timeout: 30)
            #expect(!r.timedOut && r.status != 0 && r.seconds < 10)
            #expect(r.stderr.contains("rank 0"), "stderr: \(r.stderr)")
            var isDirectory: ObjCBool = false
            #expect(FileManager.default.fileExists(atPath: target.path, isDirectory: &isDirectory) && isDirectory.boolValue)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["a-directory"])
        }
    }
}
