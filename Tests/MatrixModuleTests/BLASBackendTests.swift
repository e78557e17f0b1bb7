import Foundation
import Testing
@testable import MatrixModule

let avx512Features: Set<String> = ["sse2", "sse3", "ssse3", "sse4_1", "sse4_2", "avx", "avx2", "fma",
                                   "avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl"]
let haswellFeatures: Set<String> = ["sse2", "sse3", "ssse3", "sse4_1", "sse4_2", "avx", "avx2", "fma"]

@Suite("BLASBackend kernel check (pure)")
struct BLASBackendCheckTests {
    @Test("Prescott on an AVX-512 CPU without OPENBLAS_CORETYPE: not OK, SkylakeX recommended")
    func prescottOnAVX512() {
        let r = BLASBackend.check(core: "Prescott", features: avx512Features, environment: nil)
        #expect(r.kernelOK == false)
        #expect(r.recommendedCore == "SkylakeX")
        #expect(r.core == "Prescott")
        #expect(r.environmentCoreType == nil)
        #expect(r.advice.contains("OPENBLAS_CORETYPE"), "\(r.advice)")
        #expect(r.advice.contains("SkylakeX"), "\(r.advice)")
    }

    @Test("Haswell kernel on a Haswell CPU is OK with empty advice")
    func haswellOK() {
        let r = BLASBackend.check(core: "Haswell", features: haswellFeatures, environment: nil)
        #expect(r.kernelOK)
        #expect(r.recommendedCore == "Haswell")
        #expect(r.advice.isEmpty)
    }

    @Test("OPENBLAS_CORETYPE set in the environment: advice says it is left alone")
    func environmentLeftAlone() {
        let r = BLASBackend.check(core: "Prescott", features: avx512Features, environment: "Prescott")
        #expect(r.kernelOK == false)
        #expect(r.environmentCoreType == "Prescott")
        #expect(r.advice.contains("left alone"), "\(r.advice)")
        #expect(r.advice.contains("OPENBLAS_CORETYPE=Prescott"), "\(r.advice)")
    }

    @Test("ranking: better or equal kernels are OK, weaker ones are not", arguments: [
        ("SkylakeX", avx512Features, true, "SkylakeX"),
        ("skylakex", avx512Features, true, "SkylakeX"),
        ("Cooperlake", avx512Features, true, "SkylakeX"),
        ("Haswell", avx512Features, false, "SkylakeX"),
        ("Zen", haswellFeatures, true, "Haswell"),
        ("Sandybridge", haswellFeatures, false, "Haswell"),
        ("Nehalem", Set(["sse2", "avx"]), false, "Sandybridge"),
        ("Sandybridge", Set(["sse2", "avx"]), true, "Sandybridge"),
        ("SkylakeX", haswellFeatures, true, "Haswell"),
    ] as [(String, Set<String>, Bool, String)])
    func ranking(core: String, features: Set<String>, ok: Bool, recommended: String) {
        let r = BLASBackend.check(core: core, features: features, environment: nil)
        #expect(r.kernelOK == ok)
        #expect(r.recommendedCore == recommended)
        #expect(r.advice.isEmpty == ok)
    }

    @Test("no known SIMD features: nothing recommended, always OK; AVX-512 needs all of F/DQ/BW/VL")
    func noFeatures() {
        let r = BLASBackend.check(core: "Prescott", features: ["sse2"], environment: nil)
        #expect(r.recommendedCore == nil && r.kernelOK && r.advice.isEmpty)
        let partial = BLASBackend.check(core: "Prescott", features: haswellFeatures.union(["avx512f", "avx512dq", "avx512bw"]), environment: nil)
        #expect(partial.recommendedCore == "Haswell")
        #expect(partial.kernelOK == false)
    }

    @Test("live: version, core name, configuration and features are reported")
    func live() {
        let version = BLASBackend.version
        #expect(!version.isEmpty)
        #expect(!BLASBackend.coreName.isEmpty)
        #expect(BLASBackend.configuration.lowercased().contains("openblas"))
        let features = BLASBackend.cpuFeatures
        #expect(features == features.sorted())
        let check = BLASBackend.kernelCheck()
        #expect(check.core == BLASBackend.coreName)
        #expect(check.environmentCoreType == ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"])
        print("BLASBackend: version \(version), core \(BLASBackend.coreName), threads \(BLASBackend.threads), kernelOK \(check.kernelOK), features \(features)")
    }
}

@Suite("BLAS threads, thread safety and determinism (C21, C22)", .exclusiveBLAS, .serialized)
struct BLASThreadingTests {
    @Test("threads ≥ 1; setter clamps below 1; withThreads restores, also when the body throws")
    func threadsSetting() throws {
        let original = BLASBackend.threads
        defer { BLASBackend.threads = original }
        #expect(original >= 1)
        BLASBackend.threads = 0
        #expect(BLASBackend.threads == 1)
        BLASBackend.threads = original
        let inside = BLASBackend.withThreads(1) { BLASBackend.threads }
        #expect(inside == 1)
        #expect(BLASBackend.threads == original)
        struct Boom: Error {}
        #expect(throws: Boom.self) { try BLASBackend.withThreads(1) { throw Boom() } }
        #expect(BLASBackend.threads == original)
    }

    @Test("the same product computed twice is bitwise equal (Float, Double)")
    func productTwiceBitwise() throws {
        let a: Matrix<Float> = randomMatrix(rows: 200, columns: 150, seed: 41)
        let b: Matrix<Float> = randomMatrix(rows: 150, columns: 170, seed: 42)
        let p1 = try a.multiplied(by: b), p2 = try a.multiplied(by: b)
        #expect(bitwiseEqual(p1, p2))
        let ad: Matrix<Double> = randomMatrix(rows: 120, columns: 90, seed: 43)
        let q1 = try ad.multiplied(by: ad, transposeOther: true), q2 = try ad.multiplied(by: ad, transposeOther: true)
        #expect(bitwiseEqual(q1, q2))
    }

    @Test("C21a 8 application threads × 50 sgemm 256³ equal the serial reference bitwise")
    func c21aConcurrent() throws {
        let n = 256
        let a: Matrix<Float> = randomMatrix(rows: n, columns: n, seed: 2101)
        let b: Matrix<Float> = randomMatrix(rows: n, columns: n, seed: 2102)
        let reference = try a.multiplied(by: b)
        let refHash = fnv1a(reference)
        // sanity of the reference itself against the naive oracle on a few entries
        for (i, j) in [(0, 0), (17, 200), (255, 255)] {
            var s = 0.0, t = 0.0
            for p in 0..<n { s += Double(a[i, p]) * Double(b[p, j]); t += abs(Double(a[i, p]) * Double(b[p, j])) }
            #expect(abs(Double(reference[i, j]) - s) <= 3 * Double(n) * eps(Float.self) * t)
        }
        let mismatches = Locked(0), errors = Locked(0)
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<50 {
                do {
                    let c = try a.multiplied(by: b)
                    if !bitwiseEqual(c, reference) { mismatches.withLock { $0 += 1 } }
                } catch { errors.withLock { $0 += 1 } }
            }
        }
        #expect(mismatches.withLock { $0 } == 0, "results differing from the serial reference (hash \(String(refHash, radix: 16)))")
        #expect(errors.withLock { $0 } == 0)
    }

    @Test("C21b threads = 1: reported 1, 10 runs bitwise identical; restored afterwards")
    func c21bSingleThread() throws {
        let original = BLASBackend.threads
        defer { BLASBackend.threads = original }
        let a: Matrix<Float> = randomMatrix(rows: 256, columns: 256, seed: 2111)
        let b: Matrix<Float> = randomMatrix(rows: 256, columns: 256, seed: 2112)
        BLASBackend.threads = 1
        #expect(BLASBackend.threads == 1)
        let first = try a.multiplied(by: b)
        var hashes: Set<UInt64> = [fnv1a(first)]
        for _ in 0..<9 {
            let c = try a.multiplied(by: b)
            #expect(bitwiseEqual(c, first))
            hashes.insert(fnv1a(c))
        }
        #expect(hashes.count == 1)
        #expect(BLASBackend.threads == 1)
        BLASBackend.threads = original
        #expect(BLASBackend.threads == original)
    }

    @Test("C22 parallel loop (cores workers × 20 sgemm 128³) inside withThreads(1): bitwise equal to forced single-thread, no deadlock",
          .timeLimit(.minutes(1)))
    func c22NestedParallelism() throws {
        let original = BLASBackend.threads
        defer { BLASBackend.threads = original }
        let workers = max(2, ProcessInfo.processInfo.activeProcessorCount)
        let n = 128
        var inputs: [(Matrix<Float>, Matrix<Float>)] = []
        for idx in 0..<(workers * 20) {
            let x: Matrix<Float> = randomMatrix(rows: n, columns: n, seed: UInt64(22_000 + 2 * idx))
            let y: Matrix<Float> = randomMatrix(rows: n, columns: n, seed: UInt64(22_001 + 2 * idx))
            inputs.append((x, y))
        }
        let frozen = inputs
        func parallelLoop() -> [UInt64] {
            let hashes = Locked([UInt64](repeating: 0, count: frozen.count))
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                for r in 0..<20 {
                    let idx = w * 20 + r
                    let c = try! frozen[idx].0.multiplied(by: frozen[idx].1)
                    let h = fnv1a(c)
                    hashes.withLock { $0[idx] = h }
                }
            }
            return hashes.withLock { $0 }
        }
        var capped: [UInt64] = []
        let tCapped = seconds { capped = BLASBackend.withThreads(1) { parallelLoop() } }
        #expect(BLASBackend.threads == original)
        BLASBackend.threads = 1
        var forced: [UInt64] = []
        let tForced = seconds { forced = parallelLoop() }
        BLASBackend.threads = original
        #expect(capped == forced)
        // independent spot check of one product against the naive loop
        let c = try inputs[5].0.multiplied(by: inputs[5].1)
        let ref = naiveProduct(transposeA: false, transposeB: false, m: n, n: n, k: n,
                               a: doubles(inputs[5].0), lda: n, b: doubles(inputs[5].1), ldb: n)
        var worst = 0.0
        for i in 0..<(n * n) { worst = max(worst, abs(Double(c.elements[i]) - ref.ab[i]) / (3 * Double(n) * eps(Float.self) * ref.absAB[i] + 1e-30)) }
        #expect(worst <= 1)
        print("C22: withThreads(1) loop \(tCapped) s, forced single-thread loop \(tForced) s, ratio \(tCapped / max(tForced, 1e-9)) (workers \(workers))")
    }

    @Test("rawSgemmForBenchmark computes C = A·B (vs naive)")
    func rawSgemm() {
        let n = 33
        let a: [Float] = randomArray(count: n * n, seed: 77), b: [Float] = randomArray(count: n * n, seed: 78)
        var c = [Float](repeating: .nan, count: n * n)
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
            BLASBackend.rawSgemmForBenchmark(n: n, a: pa, b: pb, c: pc)
        } } }
        let ref = naiveProduct(transposeA: false, transposeB: false, m: n, n: n, k: n,
                               a: a.map(Double.init), lda: n, b: b.map(Double.init), ldb: n)
        for i in 0..<(n * n) { #expect(abs(Double(c[i]) - ref.ab[i]) <= 3 * Double(n) * eps(Float.self) * ref.absAB[i]) }
    }
}
