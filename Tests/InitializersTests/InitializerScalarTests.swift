// InitializerScalar: the C kernels behind Float/Double, FillKernel levels (identical bytes on
// every SIMD path) and FillThreads.
import Foundation
import Testing
import Initializers

@Suite("FillKernel levels and threads")
struct InitializerScalarTests {
    /// Everything a fill can reach, at sizes that cover full chunks, partial chunks and retries.
    static func snapshot<S: InitializerScalar>(_: S.Type) throws -> [[S]] {
        let key = RandomKey(seed: 0xABCD)
        let n = 100_003
        var out: [[S]] = []
        for start in [0, 29] {
            for c in [DistributionCase(kind: .uniform(-3, 5)), DistributionCase(kind: .normal(0.25, 1.5)),
                      DistributionCase(kind: .truncated(0, 1, -1, 1.5)), DistributionCase(kind: .truncated(0, 1, -0.1, 0.2)),
                      DistributionCase(kind: .truncated(0, 1, 3, 9))] {
                out.append(try c.array(S.self, count: n, key: key, start: start, threads: 2))
            }
        }
        out.append(try filled(.sparse(sparsity: 0.3, std: 0.5), S.self, shape: [101, 99], key: key))
        out.append(try filled(.orthogonal(gain: 1), S.self, shape: [40, 60], key: key))
        out.append(try filled(.heNormal(), S.self, shape: [300, 333], key: key))
        return out
    }

    @Test("every kernel level 0…maximumLevel gives identical bytes (Float and Double)")
    func levelsIdentical() throws {
        defer { FillKernel.setLevel(-1) }
        let maxLevel = FillKernel.maximumLevel
        print("FillKernel.maximumLevel = \(maxLevel)")
        #expect((0...2).contains(maxLevel))
        FillKernel.setLevel(0)
        #expect(FillKernel.level == 0 && FillKernel.levelName == "portable")
        let refF = try Self.snapshot(Float.self), refD = try Self.snapshot(Double.self)
        for level in 1...max(1, maxLevel) where level <= maxLevel {
            FillKernel.setLevel(level)
            #expect(FillKernel.level == level)
            #expect(FillKernel.levelName == ["portable", "avx2", "avx512"][level])
            let f = try Self.snapshot(Float.self), d = try Self.snapshot(Double.self)
            for i in refF.indices { expectSameBytes(refF[i], f[i], "level \(level) Float fill \(i): \(firstDifference(refF[i], f[i]))") }
            for i in refD.indices { expectSameBytes(refD[i], d[i], "level \(level) Double fill \(i): \(firstDifference(refD[i], d[i]))") }
        }
        // Out-of-range requests clamp to the best level; −1 restores automatic selection.
        FillKernel.setLevel(99)
        #expect(FillKernel.level == maxLevel)
        FillKernel.setLevel(-1)
        #expect(FillKernel.level == maxLevel)
    }

    @Test("FillThreads.defaultCount is the number of active processors")
    func defaultThreads() {
        #expect(FillThreads.defaultCount == ProcessInfo.processInfo.activeProcessorCount)
        #expect(FillThreads.defaultCount >= 1)
    }

    @Test("threads 0 or negative are rejected with a typed error; a huge count gives the same bytes")
    func oddThreadCounts() throws {
        let ref: [Float] = try filled(.normal(), shape: [300, 300], key: RandomKey(seed: 1), threads: 1)
        for t in [0, -3] {
            #expect(throws: InitializationError.invalidParameter(name: "threads", value: Double(t), rule: "must be ≥ 1")) {
                let _: [Float] = try filled(.normal(), shape: [300, 300], key: RandomKey(seed: 1), threads: t)
            }
        }
        let x: [Float] = try filled(.normal(), shape: [300, 300], key: RandomKey(seed: 1), threads: 64)
        expectSameBytes(ref, x, "threads 64")
    }

    @Test("values beyond the element type's finite range are rejected, not filled with inf")
    func notRepresentable() throws {
        for scheme: Initializer in [.constant(1e300), .normal(mean: 0, std: 1e39), .uniform(low: -1e39, high: 1)] {
            #expect(throws: InitializationError.self) { let _: [Float] = try filled(scheme, shape: [4, 4], key: RandomKey(seed: 1)) }
        }
        let d: [Double] = try filled(.constant(1e300), shape: [4, 4], key: RandomKey(seed: 1))
        #expect(d.allSatisfy { $0 == 1e300 })
    }
}
