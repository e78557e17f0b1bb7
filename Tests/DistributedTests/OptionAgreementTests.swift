// Issue 13: ranks started with different training options used to hang (one rank finished its
// epochs and the other waited in an all-reduce forever) or silently train with a per-rank
// learning rate. The start-up agreement check (`Communicator.requireAgreement`) refuses every
// option that must agree, on every rank, before any work: mpirun ends within seconds with exit
// 64 (a bad combination of values) and the message names the option and each rank's value.
import Foundation
import Testing

extension MPISuite {
    @Suite("train --distributed: every rank must be given the same options")
    struct OptionAgreement {
        @Test("different --epochs, --max-steps (with --checkpoint), --learning-rate, --activation or --no-standardize per rank: exit 64 in < 15 s naming the option, no hang",
              arguments: [(["--epochs", "1"], ["--epochs", "2"], "--epochs"),
                          (["--max-steps", "2"], ["--max-steps", "3"], "--max-steps"),
                          (["--learning-rate", "0.05"], ["--learning-rate", "0.1"], "--learning-rate"),
                          (["--activation", "relu"], ["--activation", "tanh"], "--activation"),
                          (["--standardize"], ["--no-standardize"], "--standardize")])
        func mismatch(rank0: [String], rank1: [String], option: String) throws {
            guard mpiAvailable("train option agreement") else { return }
            let dir = try temporaryDirectory("idx")
            defer { try? FileManager.default.removeItem(at: dir) }
            try writeTinyIDX(in: dir)
            let tool = try builtExecutable("weightinit")
            var common = ["train", "--distributed", "--data", dir.path, "--hidden", "8", "--batch-size", "50"]
            if option == "--max-steps" { common += ["--checkpoint", dir.appendingPathComponent("ck").path, "--epochs", "2"] }
            let r = try mpirunBlocks(tool, [(1, common + rank0), (1, common + rank1)], timeout: 40)
            let line = r.stderr.split(separator: "\n").first { $0.contains("disagree") } ?? ""
            print("\(option) \(rank0.last ?? "") vs \(rank1.last ?? ""): mpirun exit \(r.status) in \(String(format: "%.2f", r.seconds)) s: \(line)")
            #expect(!r.timedOut && r.seconds < 15, "hung: \(r.stderr)")
            #expect(r.status == 64, "stderr: \(r.stderr)")
            #expect(r.stderr.contains("disagree on \(option)") && r.stderr.contains("rank 1 has"), "stderr: \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("ck/checkpoint.safetensors").path), "nothing trained")
        }
    }
}
