// RandomKey, Philox.block and PhiloxGenerator against the Random123 known-answer vectors and an
// independent Swift Philox4x32-10.
import Foundation
import Testing
import Initializers

@Suite("RandomKey and Philox")
struct RandomKeyTests {
    /// Random123 kat_vectors for philox4x32_10.
    static let kat: [((UInt32, UInt32, UInt32, UInt32), (UInt32, UInt32), [UInt32])] = [
        ((0, 0, 0, 0), (0, 0), [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]),
        ((0xffff_ffff, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff), (0xffff_ffff, 0xffff_ffff), [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]),
        ((0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344), (0xa409_3822, 0x299f_31d0), [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1]),
    ]

    @Test("Philox.block matches the Random123 known-answer vectors", arguments: 0..<3)
    func knownAnswers(_ i: Int) {
        let (c, k, expected) = Self.kat[i]
        let o = Philox.block(counter: c, key: RandomKey(k0: k.0, k1: k.1))
        #expect([o.0, o.1, o.2, o.3] == expected, "vector \(i): got \([o.0, o.1, o.2, o.3].map { String($0, radix: 16) })")
        // The test's own Philox must agree too (it is the oracle of the element-mapping tests).
        #expect(refPhilox(c, k) == expected)
    }

    @Test("Philox.block equals an independent implementation on 2000 random counters and keys")
    func randomCounters() {
        var g = SplitMix64(seed: 11)
        for _ in 0..<2000 {
            let a = g.next(), b = g.next(), c = g.next()
            let ctr = (UInt32(truncatingIfNeeded: a), UInt32(truncatingIfNeeded: a >> 32), UInt32(truncatingIfNeeded: b), UInt32(truncatingIfNeeded: b >> 32))
            let key = (UInt32(truncatingIfNeeded: c), UInt32(truncatingIfNeeded: c >> 32))
            let o = Philox.block(counter: ctr, key: RandomKey(k0: key.0, k1: key.1))
            let r = refPhilox(ctr, key)
            if [o.0, o.1, o.2, o.3] != r { Issue.record("mismatch for counter \(ctr) key \(key)"); return }
        }
    }

    @Test("RandomKey(seed:) splits the seed into low and high words; seedValue inverts it")
    func seedWords() {
        let k = RandomKey(seed: 0x0123_4567_89AB_CDEF)
        #expect(k.k0 == 0x89AB_CDEF && k.k1 == 0x0123_4567)
        #expect(k.seedValue == 0x0123_4567_89AB_CDEF)
        #expect(RandomKey(seed: 0) == RandomKey(k0: 0, k1: 0))
        #expect(RandomKey(k0: 7, k1: 9).seedValue == 9 << 32 | 7)
        #expect(RandomKey(seed: .max).k0 == .max && RandomKey(seed: .max).k1 == .max)
        #expect(k.description.contains("123456789abcdef"), "\(k.description)")
    }

    @Test("folding(in:) is the first two words of Philox((data lo, data hi, 0, 0xF01DF01D), key)")
    func foldingDefinition() {
        for (seed, data) in [(UInt64(0), UInt64(0)), (42, 1), (42, 0x1_0000_0000), (0xDEAD_BEEF_0000_0001, .max)] {
            let key = RandomKey(seed: seed)
            let r = refPhilox((UInt32(truncatingIfNeeded: data), UInt32(truncatingIfNeeded: data >> 32), 0, 0xF01D_F01D), (key.k0, key.k1))
            let f = key.folding(in: data)
            #expect(f.k0 == r[0] && f.k1 == r[1], "seed \(seed) data \(data)")
        }
    }

    @Test("folding(in:) gives distinct keys for distinct data, parents and high words")
    func foldingDistinct() {
        let root = RandomKey(seed: 42)
        var seen = Set<RandomKey>()
        for d in 0..<20_000 as Range<UInt64> { seen.insert(root.folding(in: d)) }
        #expect(seen.count == 20_000)
        #expect(!seen.contains(root))
        #expect(root.folding(in: 0) != root.folding(in: 1 << 32))
        #expect(root.folding(in: 5) != RandomKey(seed: 43).folding(in: 5))
        // Deterministic: the same call twice gives the same key.
        #expect(root.folding(in: 3) == root.folding(in: 3))
        // Different keys fill differently.
        let a: [Float] = try! filled(.normal(), shape: [4, 8], key: root.folding(in: 0))
        let b: [Float] = try! filled(.normal(), shape: [4, 8], key: root.folding(in: 1))
        let same = sameBytes(a, b)
        #expect(!same)
    }

    @Test("PhiloxGenerator: block b gives (w1<<32|w0) then (w3<<32|w2) with counter (b lo, b hi, 0, stream)")
    func generatorSequence() {
        var g = PhiloxGenerator(seed: 77)
        let key = RandomKey(seed: 77)
        #expect(g.key == key && g.stream == 0x5EC0_0000 && g.blockIndex == 0)
        for b in 0..<50 as Range<UInt32> {
            let r = refPhilox((b, 0, 0, 0x5EC0_0000), (key.k0, key.k1))
            #expect(g.next() == UInt64(r[1]) << 32 | UInt64(r[0]))
            #expect(g.next() == UInt64(r[3]) << 32 | UInt64(r[2]))
        }
        #expect(g.blockIndex == 50)
        var custom = PhiloxGenerator(key: key, stream: 9)
        let r = refPhilox((0, 0, 0, 9), (key.k0, key.k1))
        #expect(custom.next() == UInt64(r[1]) << 32 | UInt64(r[0]))
    }

    @Test("PhiloxGenerator works as a RandomNumberGenerator")
    func generatorAsRNG() {
        var g = PhiloxGenerator(seed: 5)
        var counts = [Int](repeating: 0, count: 14)
        let n = 140_000
        for _ in 0..<n {
            let v = Int.random(in: 3..<17, using: &g)
            #expect((3..<17).contains(v))
            counts[v - 3] += 1
        }
        // Each value has probability 1/14: binomial std √(n p (1−p)); 6σ band.
        let p = 1.0 / 14, sd = (Double(n) * p * (1 - p)).squareRoot()
        for c in counts { #expect(abs(Double(c) - Double(n) * p) <= 6 * sd, "counts \(counts)") }
        var sum = 0.0
        let m = 100_000
        for _ in 0..<m { sum += Double.random(in: 0..<1, using: &g) }
        let mean = sum / Double(m)
        #expect(abs(mean - 0.5) <= 6 * (1.0 / 12).squareRoot() / Double(m).squareRoot(), "mean \(mean)")
        var a = PhiloxGenerator(seed: 5), b = PhiloxGenerator(seed: 5)
        var x = [1, 2, 3, 4, 5, 6, 7, 8], y = x
        x.shuffle(using: &a); y.shuffle(using: &b)
        #expect(x == y)
    }

    @Test("RandomKey is Codable and Hashable")
    func codable() throws {
        let k = RandomKey(seed: 0xFEED_FACE_CAFE_BEEF)
        let data = try JSONEncoder().encode(k)
        #expect(try JSONDecoder().decode(RandomKey.self, from: data) == k)
    }
}
