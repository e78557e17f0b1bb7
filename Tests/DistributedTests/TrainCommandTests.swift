import Foundation
import Testing

/// Writes a small MNIST-format data set (8×8 images, 10 classes: the label is the row of the
/// brightest pixel plus a little noise) as the four uncompressed IDX files `weightinit` reads.
func writeTinyIDX(in dir: URL, train: Int = 400, test: Int = 120) throws {
    var state: UInt64 = 0x1234_5678
    func next() -> UInt8 { state = state &* 6364136223846793005 &+ 1442695040888963407; return UInt8(truncatingIfNeeded: state >> 56) }
    func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
    for (prefix, count) in [("train", train), ("t10k", test)] {
        var images = be(0x0803) + be(UInt32(count)) + be(8) + be(8), labels = be(0x0801) + be(UInt32(count))
        for _ in 0..<count {
            var px = (0..<64).map { _ in next() / 4 }
            let label = Int(next() % 10)
            px[(label % 8) * 8 + label / 2] = 255
            images += px; labels.append(UInt8(label))
        }
        try Data(images).write(to: dir.appendingPathComponent("\(prefix)-images-idx3-ubyte"))
        try Data(labels).write(to: dir.appendingPathComponent("\(prefix)-labels-idx1-ubyte"))
    }
}

extension MPISuite {
    @Suite("weightinit train --distributed")
    struct TrainCommand {
        @Test("mpirun -np 2 weightinit train --distributed --json: one JSON object (rank 0 only) with world_size 2; loss follows the single-process run")
        func twoRanks() throws {
            guard mpiAvailable("train --distributed") else { return }
            let dir = try temporaryDirectory("idx")
            defer { try? FileManager.default.removeItem(at: dir) }
            try writeTinyIDX(in: dir)
            let tool = try builtExecutable("weightinit")
            let args = ["train", "--data", dir.path, "--hidden", "16", "--epochs", "2", "--batch-size", "50", "--json", "--bucket-mb", "0.001"]
            let r = try mpirun(2, tool, args + ["--distributed"], timeout: 90)
            #expect(r.status == 0 && !r.timedOut, "stderr: \(r.stderr)")
            #expect(r.stdout.split(separator: "\n").count == 1, "stdout: \(r.stdout)")
            let o = try jsonObject(r.stdout)
            #expect(o["world_size"] as? Int == 2)
            let params = try #require(o["parameters"] as? Int)
            #expect(params == 64 * 16 + 16 + 16 * 10 + 10)
            let allreduce = try #require(o["allreduce"] as? [String: Any])
            #expect(allreduce["bytes_per_step"] as? Int == (params + 2) * 4)
            #expect(allreduce["calls_per_step"] as? Int == ((params + 2) * 4 + 1047) / 1048)     // 0.001 MiB = 1048 bytes → 262 floats per bucket
            let single = try run(tool.path, args, environment: ["OPENBLAS_NUM_THREADS": "1"], timeout: 60)
            #expect(single.status == 0, "stderr: \(single.stderr)")
            let s = try jsonObject(single.stdout)
            #expect(s["world_size"] as? Int == 1)
            let lossD = try #require((o["epochs"] as? [[String: Any]])?.last?["train_loss"] as? Double)
            let lossS = try #require((s["epochs"] as? [[String: Any]])?.last?["train_loss"] as? Double)
            #expect(abs(lossD - lossS) <= 1e-4 * abs(lossS))
            print("train --distributed N=2: train loss \(lossD) vs single-process \(lossS); test accuracy \(o["test_accuracy"] ?? "") vs \(s["test_accuracy"] ?? ""); \(String(format: "%.2f", r.seconds)) s")
        }

        @Test("bad --data on rank 1 only: every rank ends non-zero within 10 s and the message names rank 1 and the missing file")
        func badDataOnOneRank() throws {
            guard mpiAvailable("train bad data") else { return }
            let dir = try temporaryDirectory("idx")
            defer { try? FileManager.default.removeItem(at: dir) }
            try writeTinyIDX(in: dir, train: 2000)
            let tool = try builtExecutable("weightinit")
            let common = ["train", "--distributed", "--hidden", "16", "--epochs", "200", "--batch-size", "50"]
            let r = try mpirunBlocks(tool, [(1, common + ["--data", dir.path]), (1, common + ["--data", dir.path + "/no-such-directory"])], timeout: 30)
            print("train bad data on rank 1: mpirun exit \(r.status), \(String(format: "%.2f", r.seconds)) s; \(r.stderr.split(separator: "\n").filter { $0.contains("rank") }.prefix(2).joined(separator: " | "))")
            #expect(!r.timedOut && r.status != 0 && r.seconds < 10)
            #expect(r.stderr.contains("rank 1 of 2") && r.stderr.contains("no-such-directory"), "stderr: \(r.stderr)")
        }

        @Test("different --seed on one rank: the start-up option agreement stops every rank (exit 64) with a message naming --seed and each rank's value (the model checksum behind it remains for what options cannot show; requireIdentical's mismatch is covered by the collectives harness)")
        func modelMismatch() throws {
            guard mpiAvailable("train mismatch") else { return }
            let dir = try temporaryDirectory("idx")
            defer { try? FileManager.default.removeItem(at: dir) }
            try writeTinyIDX(in: dir)
            let tool = try builtExecutable("weightinit")
            let common = ["train", "--distributed", "--data", dir.path, "--hidden", "16", "--epochs", "1"]
            let r = try mpirunBlocks(tool, [(1, common + ["--seed", "1"]), (1, common + ["--seed", "2"])], timeout: 30)
            #expect(!r.timedOut && r.status != 0 && r.seconds < 10)
            #expect(r.status == 64 && r.stderr.contains("the ranks disagree on --seed") && r.stderr.contains("rank 0 has 1, rank 1 has 2"), "stderr: \(r.stderr)")
        }
    }
}
