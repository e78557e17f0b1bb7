import Foundation
import WeightInit

/// The `fresh` section of `weightinit bench`: He-normal into a NEW 1 GiB Float matrix (page
/// faults included) against the same fill of a matrix already in memory (steady state), for the
/// three ways to get the new buffer: zeros first then fill (what `Matrix(rows:columns:)` +
/// `fill` costs), no zeroing with the first touch in the fill threads, and that plus
/// transparent huge pages (what `Initializer.matrix` does).
enum FreshBench {
    struct Result: Encodable {
        var shape: String; var bytes: Int; var threads: Int; var repetitions: Int
        /// Fill of an already-touched matrix (median seconds) and its GB/s.
        var steadySeconds: Double; var steadyGbps: Double
        /// `Matrix(rows:columns:)` (zeros, one thread) then the fill.
        var zerosThenFillSeconds: Double
        /// `Matrix.uninitialized(hugePages: false)`: the fill threads take the 4 KiB faults.
        var firstTouchSeconds: Double
        /// `Initializer.matrix` (no zeros, MADV_HUGEPAGE on the buffer).
        var hugePagesSeconds: Double
        /// GB/s of each fresh variant ÷ steady GB/s.
        var zerosThenFillRatio: Double; var firstTouchRatio: Double; var hugePagesRatio: Double
        /// `/sys/kernel/mm/transparent_hugepage/enabled` as read (e.g. "always [madvise] never").
        var transparentHugePages: String
    }

    static func run(quick: Bool, threads: Int, seed: UInt64) throws -> Result {
        let rows = 16384, columns = 16384                       // 1 GiB of Float
        let bytes = rows * columns * MemoryLayout<Float>.stride
        let scheme = Initializer.heNormal(), key = RandomKey(seed: seed)
        let reps = quick ? 2 : 3
        var steady: [Double] = [], zeros: [Double] = [], touch: [Double] = [], huge: [Double] = []
        do {
            var m = try Initializer.zeros.matrix(rows: rows, columns: columns, of: Float.self, key: key, threads: threads)
            try scheme.fill(&m, key: key, threads: threads)                              // warm-up
            for _ in 0..<reps {
                let t0 = now(); try scheme.fill(&m, key: key, threads: threads); steady.append(now() - t0)
            }
        }
        for _ in 0..<reps {
            do {
                let t0 = now()
                var m = Matrix<Float>(rows: rows, columns: columns)
                try scheme.fill(&m, key: key, threads: threads)
                zeros.append(now() - t0)
                precondition(m.count == rows * columns)
            }
            do {
                let t0 = now()
                let m = try Matrix<Float>.uninitialized(rows: rows, columns: columns, hugePages: false) { (p) throws(InitializationError) in
                    try scheme.fill(p, shape: [rows, columns], key: key, threads: threads)
                }
                touch.append(now() - t0)
                precondition(m.count == rows * columns)
            }
            do {
                let t0 = now()
                let m = try scheme.matrix(rows: rows, columns: columns, of: Float.self, key: key, threads: threads)
                huge.append(now() - t0)
                precondition(m.count == rows * columns)
            }
        }
        let s = median(steady)
        let thp = (try? String(contentsOfFile: "/sys/kernel/mm/transparent_hugepage/enabled", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "unavailable"
        return Result(shape: "\(rows)x\(columns)", bytes: bytes, threads: threads, repetitions: reps,
                      steadySeconds: s, steadyGbps: Double(bytes) / s / 1e9,
                      zerosThenFillSeconds: median(zeros), firstTouchSeconds: median(touch), hugePagesSeconds: median(huge),
                      zerosThenFillRatio: s / median(zeros), firstTouchRatio: s / median(touch), hugePagesRatio: s / median(huge),
                      transparentHugePages: thp)
    }
}
