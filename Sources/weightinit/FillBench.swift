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
        var seconds: Double
        var qrSeconds: Double
        var ratioToQr: Double
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

    /// Orthogonal init against the LAPACK QR alone (geqrf + orgqr on the same Gaussian matrix).
    static func runOrthogonal(quick: Bool, threads: Int, seed: UInt64, verbose: Bool) throws -> [OrthogonalResult] {
        var out: [OrthogonalResult] = []
        if verbose { status("orthogonal vs the LAPACK QR alone:") }
        for n in (quick ? [1024, 2048] : [1024, 4096]) {
            let (sec, _, _) = try time(Initializer.orthogonal(gain: 1), shape: [n, n], type: Float.self, threads: threads, seed: seed, budget: 0, maxReps: 1)
            var g = [Float](repeating: 0, count: n * n)
            var qr: [Double] = []
            for _ in 0..<2 {
                try Initializer.normal(mean: 0, std: 1).fill(&g, shape: [n, n], key: RandomKey(seed: seed), threads: threads)
                let t0 = now()
                _ = try g.withUnsafeMutableBufferPointer { p in try LAPACK.thinQR(p, rows: n, columns: n) }
                qr.append(now() - t0)
            }
            let r = OrthogonalResult(shape: "\(n)x\(n)", seconds: sec, qrSeconds: qr.min()!, ratioToQr: sec / qr.min()!)
            out.append(r)
            if verbose { status("  \(r.shape): orthogonal \(fmt(sec, 3)) s, QR alone \(fmt(r.qrSeconds, 3)) s, ratio \(fmt(r.ratioToQr, 3))") }
        }
        return out
    }
}
