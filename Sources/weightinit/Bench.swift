import ArgumentParser
import Foundation
import WeightInit

/// `weightinit bench`: the machine's limits and this package against them, in one process.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure memset bandwidth and raw cblas_sgemm, and this package against them (ratios in one process).",
        discussion: """
        Sections: memset bandwidth; gemm (raw cblas_sgemm vs the same product through Matrix, n = 256…2048,
        median of several runs after a warm-up, GFLOP/s = 2n³/time); backend. Times are wall-clock medians;
        the machine may be noisy, so compare ratios measured in the same run.
        JSON keys: memset_gbps, fill, gemm, dense, train, backend.
        """)

    @OptionGroup var common: CommonOptions

    @Flag(help: "Fewer repetitions and sizes (about a minute).")
    var quick = false

    struct GemmResult: Encodable { var n: Int; var gflopsCblas: Double; var gflopsMatrix: Double; var ratio: Double }
    struct Backend: Encodable { var openblasVersion: String; var core: String; var kernelOk: Bool; var threads: Int; var fillThreads: Int }
    struct Report: Encodable {
        var memsetGbps: Double
        var fill: [FillBench.Result]
        var orthogonal: [FillBench.OrthogonalResult]
        var gemm: [GemmResult]
        var dense: [String]
        var train: [String]
        var backend: Backend
    }

    func run() throws {
        if let t = common.threads { BLASBackend.threads = t }
        let fillThreads = common.threads ?? ProcessInfo.processInfo.activeProcessorCount
        let memset = FillBench.measureMemset(bytes: 64 << 20, threads: fillThreads, repetitions: quick ? 5 : 9)
        if !common.json { print("memset: \(fmt(memset, 2)) GB/s (64 MiB, \(fillThreads) threads)\n") }
        let fills = try FillBench.run(quick: quick, threads: fillThreads, memsetGBps: memset, seed: common.seed, verbose: !common.json)
        let orth = try FillBench.runOrthogonal(quick: quick, threads: fillThreads, seed: common.seed, verbose: !common.json)
        let gemm = benchGemm()
        let check = BLASBackend.kernelCheck()
        let report = Report(memsetGbps: memset, fill: fills, orthogonal: orth, gemm: gemm, dense: [], train: [],
                            backend: Backend(openblasVersion: BLASBackend.version, core: check.core, kernelOk: check.kernelOK,
                                             threads: BLASBackend.threads, fillThreads: fillThreads))
        if common.json { try printJSON(report); return }
        print("\nbackend: OpenBLAS \(report.backend.openblasVersion), core \(report.backend.core)\(check.kernelOK ? "" : " (generic fallback: \(check.advice))"), \(report.backend.threads) BLAS threads")
    }

    func benchGemm() -> [GemmResult] {
        let sizes = [256, 512, 1024, 2048]
        var results: [GemmResult] = []
        if !common.json { status("gemm: raw cblas_sgemm vs Matrix.gemm (same buffers' sizes, C = A·B)") }
        for n in sizes {
            var state: UInt64 = 0x9E37_79B9_7F4A_7C15 &+ UInt64(n)
            func next() -> Float {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return Float(Int64(bitPattern: state >> 11) % 2001 - 1000) / 1000
            }
            let a = try! Matrix<Float>(rows: n, columns: n, elements: (0..<(n * n)).map { _ in next() })
            let b = try! Matrix<Float>(rows: n, columns: n, elements: (0..<(n * n)).map { _ in next() })
            var c = Matrix<Float>(rows: n, columns: n)
            var rawC = [Float](repeating: 0, count: n * n)
            let reps = quick ? max(3, min(15, (1 << 30) / (n * n * n))) : max(5, min(31, (1 << 32) / (n * n * n)))
            var rawTimes: [Double] = [], matTimes: [Double] = []
            for rep in 0..<(reps + 1) {   // first iteration is the warm-up
                let t0 = now()
                a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in rawC.withUnsafeMutableBufferPointer { pc in
                    BLASBackend.rawSgemmForBenchmark(n: n, a: pa, b: pb, c: pc) } } }
                let t1 = now()
                try! Matrix.gemm(a, b, into: &c)
                let t2 = now()
                if rep > 0 { rawTimes.append(t1 - t0); matTimes.append(t2 - t1) }
            }
            precondition(c.elements == rawC, "Matrix.gemm and cblas_sgemm disagree at n = \(n)")
            let flops = 2 * Double(n) * Double(n) * Double(n)
            let r = GemmResult(n: n, gflopsCblas: flops / median(rawTimes) / 1e9, gflopsMatrix: flops / median(matTimes) / 1e9,
                               ratio: median(rawTimes) / median(matTimes))
            results.append(r)
            if !common.json { status("  n=\(n): cblas \(fmt(r.gflopsCblas, 1)) GFLOP/s, Matrix \(fmt(r.gflopsMatrix, 1)) GFLOP/s, ratio \(fmt(r.ratio, 3))  (\(reps) runs)") }
        }
        return results
    }
}
