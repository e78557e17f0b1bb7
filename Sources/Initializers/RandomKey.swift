import CFillKernels

/// The key of the package's counter-based generator, Philox4x32-10 (Salmon, Moraes, Dror &
/// Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC 2011 — the generator behind
/// PyTorch's CUDA RNG and `jax.random`'s `rbg` variants).
///
/// Every random fill is a pure function of `(key, element index)`: the bytes do not depend on
/// the thread count or on how the tensor is split into shards. Derive one key per layer with
/// `folding(in:)` so adding a layer leaves the others' weights unchanged:
///
/// ```swift
/// let root = RandomKey(seed: 42)
/// let layer0 = root.folding(in: 0), layer1 = root.folding(in: 1)
/// ```
public struct RandomKey: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The two 32-bit Philox key words.
    public var k0: UInt32, k1: UInt32

    /// The key whose words are the low and high halves of `seed` (seed 0 is key (0, 0)).
    public init(seed: UInt64) {
        k0 = UInt32(truncatingIfNeeded: seed)
        k1 = UInt32(truncatingIfNeeded: seed >> 32)
    }

    /// A key from its two words.
    public init(k0: UInt32, k1: UInt32) { self.k0 = k0; self.k1 = k1 }

    /// A new key derived from this key and `data`: the first two words of
    /// Philox4x32-10(counter = (data low, data high, 0, 0xF01D_F01D), key = self). Distinct
    /// `data` give independent keys (the analogue of `jax.random.fold_in`).
    public func folding(in data: UInt64) -> RandomKey {
        let out = Philox.block(counter: (UInt32(truncatingIfNeeded: data), UInt32(truncatingIfNeeded: data >> 32), 0, 0xF01D_F01D), key: self)
        return RandomKey(k0: out.0, k1: out.1)
    }

    /// A 64-bit value that identifies the key (`k1 << 32 | k0`), e.g. for serialization.
    public var seedValue: UInt64 { UInt64(k1) << 32 | UInt64(k0) }

    public var description: String { "RandomKey(0x\(String(seedValue, radix: 16)))" }
}

/// The Philox4x32-10 block function and a sequential generator over it.
public enum Philox {
    /// One Philox4x32-10 block: 10 rounds with multipliers `0xD2511F53`, `0xCD9E8D57` and
    /// Weyl key increments `0x9E3779B9`, `0xBB67AE85`. Matches the Random123 known-answer vectors.
    public static func block(counter: (UInt32, UInt32, UInt32, UInt32), key: RandomKey) -> (UInt32, UInt32, UInt32, UInt32) {
        var ctr = counter
        var k = (key.k0, key.k1)
        var out: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
        withUnsafeMutablePointer(to: &ctr) { cp in
            withUnsafeMutablePointer(to: &k) { kp in
                withUnsafeMutablePointer(to: &out) { op in
                    cp.withMemoryRebound(to: UInt32.self, capacity: 4) { c in
                        kp.withMemoryRebound(to: UInt32.self, capacity: 2) { kk in
                            op.withMemoryRebound(to: UInt32.self, capacity: 4) { o in wi_philox4x32_10(c, kk, o) }
                        }
                    }
                }
            }
        }
        return out
    }
}

/// A sequential `RandomNumberGenerator` over Philox4x32-10: block `b` is
/// Philox(counter = (b low, b high, 0, stream), key); each block yields two `UInt64`s.
/// Use it where code expects a Swift generator; the fills themselves are keyed, not sequential.
public struct PhiloxGenerator: RandomNumberGenerator, Sendable {
    /// The key.
    public let key: RandomKey
    /// The stream tag placed in counter word 3 (default `0x5EC0_0000`, distinct from the fills').
    public let stream: UInt32
    /// Index of the next block.
    public private(set) var blockIndex: UInt64 = 0
    private var buffered: UInt64 = 0
    private var hasBuffered = false

    /// A generator over `key`, starting at block 0.
    public init(key: RandomKey, stream: UInt32 = 0x5EC0_0000) { self.key = key; self.stream = stream }
    /// A generator over `RandomKey(seed: seed)`.
    public init(seed: UInt64) { self.init(key: RandomKey(seed: seed)) }

    public mutating func next() -> UInt64 {
        if hasBuffered { hasBuffered = false; return buffered }
        let o = Philox.block(counter: (UInt32(truncatingIfNeeded: blockIndex), UInt32(truncatingIfNeeded: blockIndex >> 32), 0, stream), key: key)
        blockIndex &+= 1
        buffered = UInt64(o.3) << 32 | UInt64(o.2)
        hasBuffered = true
        return UInt64(o.1) << 32 | UInt64(o.0)
    }
}
