// Orthogonal init's bytes do not depend on OpenBLAS's thread count (issue 14). The thread count is
// process-wide state, so it is never changed in the test process: each count runs in a child
// process (`weightinit stats`, started with OPENBLAS_NUM_THREADS = 1, 2, 4, 8; one more with
// `--threads 3`, which sets both the fill threads and OpenBLAS's count in that child) and the
// FNV-1a checksums of the tensor bytes it prints are compared.
import Foundation
import Testing

@Suite("orthogonal bytes across OpenBLAS thread counts (child processes)")
struct OrthogonalThreadInvarianceTests {
    /// Shapes with several 128-column blocks, gemm calls big enough for OpenBLAS to use its
    /// threaded driver, inner dimensions above 128 (split by InvariantGEMM) and ragged edges.
    @Test("stats checksum identical for OPENBLAS_NUM_THREADS 1/2/4/8 and --threads 3",
          arguments: [("600x500", "float32"), ("300x700", "float32"), ("64x40x3x3", "float32"), ("520x300", "float64")])
    func checksums(_ shape: String, _ dtype: String) throws {
        var sums: [String: String] = [:]
        let runs: [(label: String, environment: [String: String], extra: [String])] = [
            ("1", ["OPENBLAS_NUM_THREADS": "1"], []), ("2", ["OPENBLAS_NUM_THREADS": "2"], []),
            ("4", ["OPENBLAS_NUM_THREADS": "4"], []), ("8", ["OPENBLAS_NUM_THREADS": "8"], []),
            ("--threads 3", [:], ["--threads", "3"]),
        ]
        for (label, env, extra) in runs {
            let (status, out, err) = try runTool(["stats", "--scheme", "orthogonal", "--shape", shape, "--dtype", dtype, "--seed", "11", "--gain", "1.5", "--json"] + extra,
                                                 environment: env)
            #expect(status == 0, "\(shape) \(dtype) OpenBLAS threads \(label): exit \(status), \(err)")
            let j = try json(out)
            sums[label] = try #require(j["checksum"] as? String)
            if let e = j["orthogonality_error"] as? Double { #expect(e < (dtype == "float32" ? 1e-5 : 1e-12), "\(shape) \(dtype): \(e)") }
        }
        print("orthogonal \(shape) \(dtype): checksums by OpenBLAS threads \(sums.sorted { $0.key < $1.key })")
        #expect(Set(sums.values).count == 1, "\(shape) \(dtype): \(sums)")
    }
}

/// D2: `stats --scheme orthogonal` reported an orthogonality_error that changed with --threads
/// (8.9e-7 vs 6.0e-7 at 129x257, a Float Gram through OpenBLAS); now computed in Double in a
/// fixed order: the same number for every thread count, with the same bytes.
@Suite("stats orthogonality_error across --threads (child processes)")
struct OrthogonalityErrorCLITests {
    @Test("orthogonality_error identical for --threads 1, 2, 3 at 129x257 and 257x129")
    func threads() throws {
        for shape in ["129x257", "257x129"] {
            var errors: [String: Double] = [:], sums: Set<String> = []
            for t in ["1", "2", "3"] {
                let (status, out, err) = try runTool(["stats", "--scheme", "orthogonal", "--shape", shape, "--seed", "3", "--threads", t, "--json"])
                #expect(status == 0, "\(shape) --threads \(t): exit \(status), \(err)")
                let j = try json(out)
                errors[t] = try #require(j["orthogonality_error"] as? Double)
                sums.insert(try #require(j["checksum"] as? String))
            }
            print("stats orthogonal \(shape): orthogonality_error by --threads \(errors.sorted { $0.key < $1.key })")
            #expect(sums.count == 1 && Set(errors.values.map(\.bitPattern)).count == 1, "\(shape): \(errors), checksums \(sums)")
            #expect(errors.values.allSatisfy { $0 > 0 && $0 < 1e-5 }, "\(shape): \(errors)")
        }
    }
}
