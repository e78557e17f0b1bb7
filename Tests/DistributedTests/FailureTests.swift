import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension MPISuite {
    /// One rank fails while the others wait for it in an all-reduce loop (20 ms per iteration,
    /// 100 000 iterations: they would run for half an hour on their own). Every rank must end,
    /// non-zero, within 10 s, and the output must name the failing rank.
    @Suite("failures")
    struct Failures {
        @Test("one rank fails (typed error + abort, plain exit(3), SIGKILL) → mpirun ends every rank non-zero within 10 s, naming the rank",
              arguments: ["error", "exit", "kill"])
        func oneRankFails(mode: String) throws {
            guard mpiAvailable("failure \(mode)") else { return }
            let r = try mpirun(3, try builtExecutable("DistributedHarness"), ["fail", mode, "1"], timeout: 30)
            print("failure \(mode): mpirun exit \(r.status)\(r.signaled ? " (signal)" : ""), \(String(format: "%.2f", r.seconds)) s; stderr: \(r.stderr.split(separator: "\n").filter { !$0.hasPrefix("-") && !$0.isEmpty }.prefix(3).joined(separator: " | "))")
            #expect(!r.timedOut)
            #expect(r.status != 0)
            #expect(r.seconds < 10)
            #expect(r.stderr.contains("rank 1"), "stderr names the rank: \(r.stderr)")
            switch mode {
            case "error": #expect(r.stderr.contains("injected failure"))
            case "exit": #expect(r.stderr.contains("exiting with status 3"))
            default: #expect(r.stderr.contains("signal 9") || r.stderr.contains("Killed"))
            }
            #expect(!r.stdout.contains("no rank failed"))
        }
    }
}
