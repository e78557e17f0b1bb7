import Foundation
import Testing

extension MPISuite {
    @Suite("weightinit init under mpirun")
    struct InitCommand {
        /// A small GPT-2-shaped model (2 blocks of width 32, vocabulary 100: rows 100, 16, 32, 96,
        /// 128 — not divisible by 3) by the gpt2 recipe, written by 1…4 ranks.
        @Test("mpirun -np N weightinit init --out F.safetensors: SHA-256 equals the single-process file for N = 1, 2, 3, 4 (F32 and BF16)")
        func sameFile() throws {
            guard mpiAvailable("init --out") else { return }
            let dir = try temporaryDirectory("init")
            defer { try? FileManager.default.removeItem(at: dir) }
            let tool = try builtExecutable("weightinit")
            for dtype in ["f32", "bf16"] {
                let args = ["init", "--preset", "gpt2:layers=2,dim=32,heads=2,vocab=100,positions=16", "--recipe", "gpt2", "--seed", "3", "--dtype", dtype, "--json"]
                let single = dir.appendingPathComponent("single-\(dtype).safetensors")
                let s = try run(tool.path, args + ["--out", single.path], environment: ["OPENBLAS_NUM_THREADS": "1"], timeout: 60)
                #expect(s.status == 0, "stderr: \(s.stderr)")
                let expected = try sha256(try Data(contentsOf: single))
                for n in 1...4 {
                    let out = dir.appendingPathComponent("n\(n)-\(dtype).safetensors")
                    let r = try mpirun(n, tool, args + ["--out", out.path], timeout: 60)
                    #expect(r.status == 0 && !r.timedOut, "stderr: \(r.stderr)")
                    #expect(r.stdout.split(separator: "\n").count == 1, "one JSON object from rank 0: \(r.stdout)")
                    #expect(try jsonObject(r.stdout)["world_size"] as? Int == n)
                    let got = try sha256(try Data(contentsOf: out))
                    #expect(got == expected, "N=\(n) \(dtype)")
                    print("init --out N=\(n) \(dtype): sha256 \(got) (single process \(expected)), \(String(format: "%.2f", r.seconds)) s")
                }
            }
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains(".tmp-") }
            #expect(leftovers.isEmpty, "temporary files left: \(leftovers)")
        }
    }
}
