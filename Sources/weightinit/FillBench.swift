import Dispatch
import Foundation
import WeightInit

/// The fill section of `weightinit bench`: every scheme against memset, in one process.
enum FillBench {
    struct Result: Encodable {
        var scheme: String
        var shape: String
        var dtype: String
        var threads: Int
        var seconds: Double
        var gbps: Double
        var ratioToMemset: Double
        /// The memset bandwidth this ratio uses: measured interleaved with the fill's own
        /// repetitions on the same buffer (4096² sizes), else the run's memset_gbps.
        var memsetGbps: Double
        var checksumsEqualAcrossThreads: Bool?
    }
    /// The process's peak virtual memory size in bytes (`VmPeak` in /proc/self/status; 0 elsewhere).
    static func peakVirtualBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("VmPeak:") {
            let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
            return kb * 1024
        }
        return 0
    }

    /// Growth of the peak virtual memory during an in-place 4096×4096 Float fill (64 MiB) of each
    /// random scheme, after a warm-up fill (which starts the worker threads). Any temporary buffer
    /// proportional to the tensor would raise the peak by ~64 MiB; in-place fills show 0.
    /// Run first, before other sections raise the peak.
    static func allocationCheck(threads: Int, seed: UInt64) throws -> [String: Int] {
        let n = 4096 * 4096
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: n)
        defer { buffer.deallocate() }
        buffer.initialize(repeating: 0)
        var out: [String: Int] = [:]
        for (name, scheme) in [("uniform", Initializer.uniform(low: -1, high: 1)), ("normal", .normal(mean: 0, std: 1)),
                               ("truncated-normal", .truncatedNormal(mean: 0, std: 1, a: -2, b: 2)), ("he-normal", .heNormal())] {
            try scheme.fill(buffer, shape: [4096, 4096], key: RandomKey(seed: seed), threads: threads)   // warm-up
            let before = peakVirtualBytes()
            try scheme.fill(buffer, shape: [4096, 4096], key: RandomKey(seed: seed), threads: threads)
            out[name] = peakVirtualBytes() - before
        }
        return out
    }

    struct OrthogonalResult: Encodable {
        var shape: String
        /// `Initializer.orthogonal` (Float): N(0,1) fill + blocked Householder QR + sign/gain pass.
        var seconds: Double
        /// LAPACK `sgeqrf` + `sorgqr` alone on the same Gaussian matrix (the previous method's core).
        var qrSeconds: Double
        var ratioToQr: Double
        /// `HouseholderQR.thinQ` alone on the same Gaussian matrix (median, interleaved with LAPACK's runs).
        var householderSeconds: Double
        /// `4mn² − 4n³/3` (= 8/3·n³ here) divided by `householderSeconds`.
        var householderGflops: Double
        /// `cblas_sgemm` n×n×n (up to 2048) in the same run: the rate the lower bound uses.
        var sgemmGflops: Double
        /// `8/3·n³ / sgemm rate`: the QR's flops at the gemm rate (no method doing these flops is faster).
        var lowerBoundSeconds: Double
        /// max |QᵀQ − I| of the Float result, computed in Double (dgemm).
        var maxOrthogonalityError: Double
        /// FNV-1a of the Float bytes (seed of the run).
        var checksum: String
        /// Whether `weightinit stats` in child processes with OPENBLAS_NUM_THREADS = each of
        /// `blasThreadsChecked` printed this same checksum (nil when not checked).
        var identicalAcrossBlasThreads: Bool?
        var blasThreadsChecked: [Int]
    }

    /// Parallel memset of `bytes` bytes over `threads` chunks (median GB/s of `repetitions`).
    static func measureMemset(bytes: Int, threads: Int, repetitions: Int) -> Double {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        defer { buffer.deallocate() }
        let p = RawBox(pointer: buffer)
        memset(buffer, 1, bytes)
        var times: [Double] = []
        for rep in 0..<(repetitions + 1) {
            let t0 = now()
            parallelMemset(p, bytes: bytes, threads: threads, value: Int32(rep & 0x7f))
            if rep > 0 { times.append(now() - t0) }
        }
        return Double(bytes) / median(times) / 1e9
    }

    struct RawBox: @unchecked Sendable { let pointer: UnsafeMutableRawPointer }

    static func schemes() -> [(String, Initializer, (Int) -> [Int])] {
        let square: (Int) -> [Int] = { [$0, $0] }
        let conv: (Int) -> [Int] = { [$0, $0, 1] }
        return [
            ("zeros", .zeros, square), ("constant", .constant(0.1), square),
            ("uniform", .uniform(low: -1, high: 1), square), ("normal", .normal(mean: 0, std: 1), square),
            ("truncated-normal", .truncatedNormal(mean: 0, std: 1, a: -2, b: 2), square),
            ("truncated-normal-matched", .truncatedNormalMatched(mean: 0, std: 0.02, k: 2), square),
            ("xavier-uniform", .xavierUniform(), square), ("xavier-normal", .xavierNormal(), square),
            ("he-uniform", .heUniform(), square), ("he-normal", .heNormal(), square),
            ("lecun-uniform", .lecunUniform(), square), ("lecun-normal", .lecunNormal(), square),
            ("identity", .identity(gain: 1), square), ("dirac", .dirac(groups: 1), conv),
            ("sparse", .sparse(sparsity: 0.9, std: 0.01), square),
        ]
    }

    /// Median seconds of one fill of `shape` (after a warm-up), and the checksum of the result.
    /// With `interleavedMemset`, every repetition also times a `threads`-way parallel memset of
    /// the same buffer just before the fill; the median memset bandwidth comes back as the
    /// third value (the VM's memory bandwidth drifts between seconds, so a fill is best compared
    /// with a memset measured alongside it).
    static func time<S: InitializerScalar>(_ scheme: Initializer, shape: [Int], type: S.Type, threads: Int, seed: UInt64, budget: Double,
                                           maxReps: Int, interleavedMemset: Bool = false) throws -> (Double, String, Double?) {
        let count = shape.reduce(1, *)
        let buffer = UnsafeMutableBufferPointer<S>.allocate(capacity: count)
        defer { buffer.deallocate() }
        buffer.initialize(repeating: 0)
        let bytes = count * MemoryLayout<S>.stride
        let raw = RawBox(pointer: UnsafeMutableRawPointer(buffer.baseAddress!))
        var times: [Double] = [], memsets: [Double] = []
        var spent = 0.0
        var rep = 0
        while rep < maxReps + 1 && (rep < 2 || spent < budget) {
            if interleavedMemset {
                let t0 = now()
                parallelMemset(raw, bytes: bytes, threads: threads, value: Int32(rep & 0x7f))
                if rep > 0 { memsets.append(now() - t0) }
            }
            let t0 = now()
            try scheme.fill(buffer, shape: shape, key: RandomKey(seed: seed), threads: threads)
            let dt = now() - t0
            if rep > 0 { times.append(dt) }
            spent += dt
            rep += 1
        }
        let memsetGBps = memsets.isEmpty ? nil : Double(bytes) / median(memsets) / 1e9
        return (median(times), TensorStatistics.checksum(UnsafeBufferPointer(buffer)), memsetGBps)
    }

    static func parallelMemset(_ p: RawBox, bytes: Int, threads: Int, value: Int32) {
        let chunk = (bytes + threads - 1) / threads
        if threads == 1 { memset(p.pointer, value, bytes); return }
        DispatchQueue.concurrentPerform(iterations: threads) { i in
            let s = i * chunk, e = min(bytes, s + chunk)
            if s < e { memset(p.pointer + s, value, e - s) }
        }
    }

    static func run(quick: Bool, threads: Int, memsetGBps: Double, seed: UInt64, verbose: Bool) throws -> [Result] {
        var results: [Result] = []
        let sizes = [256, 1024, 4096]
        if verbose { status("fill (Float unless noted; GB/s of tensor bytes written; ratio = GB/s ÷ memset GB/s):") }
        for (name, scheme, shapeOf) in schemes() {
            for n in sizes {
                if quick && name == "sparse" && n == 4096 { continue }   // ~1.5 s per fill; measured in the full run
                let shape = shapeOf(n)
                let slow = name == "sparse"
                let (sec, _, alongside) = try time(scheme, shape: shape, type: Float.self, threads: threads, seed: seed,
                                                   budget: quick ? 0.15 : 0.6, maxReps: slow ? 2 : (quick ? 9 : 25),
                                                   interleavedMemset: n == 4096 && !slow)
                let memsetHere = alongside ?? memsetGBps
                let bytes = Double(shape.reduce(1, *) * MemoryLayout<Float>.size)
                var equal: Bool?
                if n == 4096 && ["uniform", "normal", "truncated-normal", "he-normal", "sparse"].contains(name) {
                    let sums = try [1, 2, 8].map { t in try time(scheme, shape: shape, type: Float.self, threads: t, seed: seed, budget: 0, maxReps: 1).1 }
                    equal = Set(sums).count == 1
                }
                let r = Result(scheme: name, shape: shape.map(String.init).joined(separator: "x"), dtype: "float32", threads: threads,
                               seconds: sec, gbps: bytes / sec / 1e9, ratioToMemset: bytes / sec / 1e9 / memsetHere,
                               memsetGbps: memsetHere, checksumsEqualAcrossThreads: equal)
                results.append(r)
                if verbose {
                    status("  \(name.padding(toLength: 25, withPad: " ", startingAt: 0)) \(r.shape.padding(toLength: 12, withPad: " ", startingAt: 0)) \(fmt(sec * 1e3, 3)) ms  \(fmt(r.gbps, 2)) GB/s  ratio \(fmt(r.ratioToMemset, 3))\(alongside.map { " (memset alongside \(fmt($0, 1)) GB/s)" } ?? "")\(equal.map { $0 ? "  bytes equal for 1/2/8 threads" : "  BYTES DIFFER ACROSS THREADS" } ?? "")")
                }
            }
        }
        for (name, scheme) in [("uniform", Initializer.uniform(low: -1, high: 1)), ("normal", .normal(mean: 0, std: 1)),
                               ("truncated-normal", .truncatedNormal(mean: 0, std: 1, a: -2, b: 2))] {
            let shape = [4096, 4096]
            let (sec, _, alongside) = try time(scheme, shape: shape, type: Double.self, threads: threads, seed: seed, budget: quick ? 0.2 : 0.6,
                                               maxReps: quick ? 5 : 15, interleavedMemset: true)
            let memsetHere = alongside ?? memsetGBps
            let bytes = Double(4096 * 4096 * 8)
            let r = Result(scheme: name, shape: "4096x4096", dtype: "float64", threads: threads, seconds: sec, gbps: bytes / sec / 1e9,
                           ratioToMemset: bytes / sec / 1e9 / memsetHere, memsetGbps: memsetHere, checksumsEqualAcrossThreads: nil)
            results.append(r)
            if verbose { status("  \(name.padding(toLength: 25, withPad: " ", startingAt: 0)) 4096x4096 f64 \(fmt(sec * 1e3, 3)) ms  \(fmt(r.gbps, 2)) GB/s  ratio \(fmt(r.ratioToMemset, 3)) (memset alongside \(fmt(memsetHere, 1)) GB/s)") }
        }
        return results
    }

    /// Orthogonal init (blocked Householder, thread-invariant) against LAPACK `sgeqrf` + `sorgqr`
    /// alone and `cblas_sgemm`'s rate, with the orthogonality error and a byte comparison across
    /// OpenBLAS thread counts made in CHILD processes (`OPENBLAS_NUM_THREADS` set per process; this
    /// process never changes its own OpenBLAS thread count).
    static func runOrthogonal(quick: Bool, threads: Int, seed: UInt64, verbose: Bool) throws -> [OrthogonalResult] {
        var out: [OrthogonalResult] = []
        if verbose { status("orthogonal vs LAPACK geqrf+orgqr alone:") }
        let sgemm = sgemmGflops(n: quick ? 1024 : 2048)
        for n in (quick ? [1024, 2048] : [1024, 4096]) {
            // Median of 7 fills at 1024² (one takes ~0.03 s: a single one is noise on a shared machine), 3 at 4096², after a warm-up.
            let (sec, checksum, _) = try time(Initializer.orthogonal(gain: 1), shape: [n, n], type: Float.self, threads: threads, seed: seed,
                                              budget: n <= 1024 ? 2 : 20, maxReps: n <= 1024 ? 7 : 3)
            var g = [Float](repeating: 0, count: n * n)
            var lapack: [Double] = [], ours: [Double] = []
            let reps = n <= 1024 ? 5 : 2
            for _ in 0..<reps {
                try Initializer.normal(mean: 0, std: 1).fill(&g, shape: [n, n], key: RandomKey(seed: seed), threads: threads)
                var t0 = now()
                _ = try g.withUnsafeMutableBufferPointer { p in try LAPACK.thinQR(p, rows: n, columns: n) }
                lapack.append(now() - t0)
                try Initializer.normal(mean: 0, std: 1).fill(&g, shape: [n, n], key: RandomKey(seed: seed), threads: threads)
                t0 = now()
                _ = try g.withUnsafeMutableBufferPointer { p in try HouseholderQR.thinQ(p, rows: n, columns: n) }
                ours.append(now() - t0)
            }
            // Orthogonality of the initializer's Float output, in Double.
            var w = [Float](repeating: 0, count: n * n)
            try Initializer.orthogonal(gain: 1).fill(&w, shape: [n, n], key: RandomKey(seed: seed), threads: threads)
            let q = try Matrix<Double>(rows: n, columns: n, elements: w.map(Double.init))
            let gram = try q.multiplied(by: q, transposeSelf: true)
            var dev = 0.0
            for i in 0..<n { for j in 0..<n { dev = max(dev, abs(gram[i, j] - (i == j ? 1 : 0))) } }
            let blasThreads = quick && n > 1024 ? [] : [1, 2, 4, 8]
            var identical: Bool? = nil
            if !blasThreads.isEmpty {
                let sums = blasThreads.map { childChecksum(n: n, seed: seed, blasThreads: $0) }
                identical = sums.allSatisfy { $0 == checksum }
                if verbose { status("  \(n)x\(n): checksum here \(checksum); children (OPENBLAS_NUM_THREADS \(blasThreads)): \(sums.map { $0 ?? "failed" })") }
            }
            let flops = 8.0 / 3 * Double(n) * Double(n) * Double(n)
            let r = OrthogonalResult(shape: "\(n)x\(n)", seconds: sec, qrSeconds: median(lapack), ratioToQr: sec / median(lapack),
                                     householderSeconds: median(ours), householderGflops: flops / median(ours) / 1e9, sgemmGflops: sgemm,
                                     lowerBoundSeconds: flops / (sgemm * 1e9), maxOrthogonalityError: dev, checksum: checksum,
                                     identicalAcrossBlasThreads: identical, blasThreadsChecked: blasThreads)
            out.append(r)
            if verbose {
                status("  \(r.shape): orthogonal \(fmt(sec, 3)) s, Householder QR alone \(fmt(r.householderSeconds, 3)) s (\(fmt(r.householderGflops, 1)) GFLOP/s), LAPACK alone \(fmt(r.qrSeconds, 3)) s, bound \(fmt(r.lowerBoundSeconds, 3)) s at sgemm \(fmt(sgemm, 1)) GFLOP/s; max |QᵀQ − I| \(dev)")
            }
        }
        return out
    }

    /// Median GFLOP/s of `cblas_sgemm` on n×n×n (3 runs after a warm-up).
    static func sgemmGflops(n: Int) -> Double {
        let a = [Float](repeating: 0.5, count: n * n), b = [Float](repeating: 0.25, count: n * n)
        var c = [Float](repeating: 0, count: n * n)
        var times: [Double] = []
        for rep in 0..<4 {
            let t0 = now()
            a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
                BLASBackend.rawSgemmForBenchmark(n: n, a: pa, b: pb, c: pc) } } }
            if rep > 0 { times.append(now() - t0) }
        }
        return 2 * Double(n) * Double(n) * Double(n) / median(times) / 1e9
    }

    /// The checksum `weightinit stats --scheme orthogonal --shape n×n` prints in a child process
    /// started with `OPENBLAS_NUM_THREADS=blasThreads` (nil when the child fails).
    static func childChecksum(n: Int, seed: UInt64, blasThreads: Int) -> String? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
        p.arguments = ["stats", "--scheme", "orthogonal", "--shape", "\(n)x\(n)", "--seed", "\(seed)", "--json"]
        var env = ProcessInfo.processInfo.environment
        env["OPENBLAS_NUM_THREADS"] = "\(blasThreads)"
        p.environment = env
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0, let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        return obj["checksum"] as? String
    }
}
