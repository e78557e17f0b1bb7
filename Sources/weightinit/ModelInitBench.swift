import Foundation
import WeightInit

/// `bench --only model-init`: `init --preset gpt2 --recipe gpt2` into a file, to the page cache
/// and with fsync, against `dd conv=fsync` of the same byte count, in one process.
enum ModelInitBench {
    /// One measurement. Times are medians over `repetitions` runs; the file is deleted between runs.
    struct Result: Encodable {
        var preset: String; var recipe: String; var dtype: String; var threads: Int; var repetitions: Int
        var parameters: Int; var bytes: Int
        /// Plan + create + size + map + fill + rename, no fsync (the page cache).
        var seconds: Double; var gbps: Double
        /// The same with fsync of the file and its directory before the rename.
        var fsyncSeconds: Double
        /// `dd if=/dev/zero of=FILE bs=4M count=… conv=fsync` of the same byte count (nil when dd cannot run).
        var ddFsyncSeconds: Double?
        /// fsync_seconds / dd_fsync_seconds (target ≤ 1.1).
        var ratioToDd: Double?
        var directory: String
    }

    static func run(quick: Bool, threads: Int, seed: UInt64, directory: String, verbose: Bool) throws -> Result {
        let preset = "gpt2", recipeName = "gpt2"
        let reps = quick ? 2 : 5
        let path = (directory as NSString).appendingPathComponent("weightinit-bench-\(getpid()).safetensors")
        defer { unlink(path) }
        func once(durable: Bool) throws -> (Double, Int, Int) {
            unlink(path)
            sync()
            let t0 = now()
            let spec = try ModelPreset.spec(preset)
            let plan = try InitRecipe.named(recipeName).plan(spec, seed: seed)
            let w = try writeModel(plan, to: path, threads: threads, durable: durable, progress: nil)
            let t = now() - t0
            return (t, w.fileBytes, try spec.elementCount())
        }
        var cached: [Double] = [], synced: [Double] = [], dd: [Double] = []
        var bytes = 0, parameters = 0
        _ = try once(durable: false)                  // warm-up (code pages, allocator)
        for _ in 0..<reps {
            let (t, b, p) = try once(durable: false); cached.append(t); bytes = b; parameters = p
        }
        for _ in 0..<reps {
            synced.append(try once(durable: true).0)
            unlink(path); sync()
            if let d = ddFsync(path: path, bytes: bytes) { dd.append(d) }
        }
        let ddMedian = dd.isEmpty ? nil : median(dd)
        let r = Result(preset: preset, recipe: recipeName, dtype: "F32", threads: threads, repetitions: reps, parameters: parameters, bytes: bytes,
                       seconds: median(cached), gbps: Double(bytes) / median(cached) / 1e9, fsyncSeconds: median(synced),
                       ddFsyncSeconds: ddMedian, ratioToDd: ddMedian.map { median(synced) / $0 }, directory: directory)
        return r
    }

    /// Seconds for `dd if=/dev/zero of=path bs=4M count=⌈bytes/4M⌉ conv=fsync` (the same byte count, rounded up to 4 MiB).
    static func ddFsync(path: String, bytes: Int) -> Double? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let block = 4 << 20
        p.arguments = ["dd", "if=/dev/zero", "of=\(path)", "bs=\(block)", "count=\((bytes + block - 1) / block)", "conv=fsync", "status=none"]
        p.standardError = FileHandle.nullDevice
        let t0 = now()
        do { try p.run() } catch { return nil }
        p.waitUntilExit()
        let t = now() - t0
        unlink(path)
        return p.terminationStatus == 0 ? t : nil
    }
}
