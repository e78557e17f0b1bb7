// Shared test helpers: a seeded generator, naive Double oracles, byte comparison and a gate
// that keeps tests which change the process-wide BLAS thread count away from other BLAS work.
import Foundation
import Testing
@testable import MatrixModule

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, seeded, reproducible input generator.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [lo, hi), 53-bit resolution.
    mutating func uniform(_ lo: Double = -1, _ hi: Double = 1) -> Double {
        lo + (hi - lo) * Double(next() >> 11) * 0x1.0p-53
    }
}

/// A `rows × columns` matrix of seeded uniform values in [-1, 1).
func randomMatrix<S: BLASScalar>(_: S.Type = S.self, rows: Int, columns: Int, seed: UInt64) -> Matrix<S> {
    var g = SplitMix64(seed: seed)
    let e = (0..<(rows * columns)).map { _ in S(g.uniform()) }
    return try! Matrix(rows: rows, columns: columns, elements: e)
}

func randomArray<S: BLASScalar>(_: S.Type = S.self, count: Int, seed: UInt64) -> [S] {
    var g = SplitMix64(seed: seed)
    return (0..<count).map { _ in S(g.uniform()) }
}

func doubles<S: BLASScalar>(_ m: Matrix<S>) -> [Double] { m.elements.map { Double($0) } }

/// Naive triple loop in Double: `op(A)·op(B)` and `|op(A)|·|op(B)|` (row-major, m × n),
/// reading A (stored `aRows × aCols`, leading dimension `lda`) and B the same way.
func naiveProduct(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                  a: [Double], lda: Int, b: [Double], ldb: Int) -> (ab: [Double], absAB: [Double]) {
    var ab = [Double](repeating: 0, count: m * n), abs = ab
    for i in 0..<m {
        for j in 0..<n {
            var s = 0.0, t = 0.0
            for p in 0..<k {
                let x = transposeA ? a[p * lda + i] : a[i * lda + p]
                let y = transposeB ? b[j * ldb + p] : b[p * ldb + j]
                s += x * y
                t += Swift.abs(x * y)
            }
            ab[i * n + j] = s
            abs[i * n + j] = t
        }
    }
    return (ab, abs)
}

/// Naive row-major product of two Double matrices given as arrays.
func naiveMultiply(_ a: [Double], _ ar: Int, _ ac: Int, _ b: [Double], _ bc: Int) -> [Double] {
    naiveProduct(transposeA: false, transposeB: false, m: ar, n: bc, k: ac, a: a, lda: ac, b: b, ldb: bc).ab
}

func eps<S: BLASScalar>(_: S.Type) -> Double { Double(S.ulpOfOne) }

/// Byte-for-byte equality of the elements of two matrices.
func bitwiseEqual<S: BLASScalar>(_ x: Matrix<S>, _ y: Matrix<S>) -> Bool {
    guard x.rows == y.rows, x.columns == y.columns else { return false }
    return x.withUnsafeBufferPointer { p in
        y.withUnsafeBufferPointer { q in
            p.count == 0 || memcmp(p.baseAddress!, q.baseAddress!, p.count * MemoryLayout<S>.stride) == 0
        }
    }
}

/// FNV-1a 64 of the element bytes (for logging / comparing results compactly).
func fnv1a<S: BLASScalar>(_ m: Matrix<S>) -> UInt64 {
    m.withUnsafeBufferPointer { p in
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in UnsafeRawBufferPointer(p) { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return h
    }
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let t0 = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
}

// MARK: - BLAS thread-setting gate

/// Readers/writer gate: tests that change `BLASBackend.threads` (process-wide, documented as
/// "set from one thread before starting parallel work") or need bitwise run-to-run equality
/// take it exclusively; other BLAS/LAPACK tests take it shared.
actor BLASGate {
    static let shared = BLASGate()
    /// Taken exclusively by the tests that flip `InvariantGEMM.forcePortable` (a process-wide
    /// switch), so one test's "native" leg never runs while another has forced the portable kernel.
    static let kernelPath = BLASGate()
    private var readers = 0
    private var writer = false
    private var queue: [(exclusive: Bool, continuation: CheckedContinuation<Void, Never>)] = []

    private func grantable(_ exclusive: Bool) -> Bool { exclusive ? (!writer && readers == 0) : !writer }
    private func take(_ exclusive: Bool) { if exclusive { writer = true } else { readers += 1 } }

    func acquire(exclusive: Bool) async {
        if queue.isEmpty && grantable(exclusive) { take(exclusive); return }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in queue.append((exclusive, c)) }
    }

    func release(exclusive: Bool) {
        if exclusive { writer = false } else { readers -= 1 }
        while let first = queue.first, grantable(first.exclusive) {
            queue.removeFirst()
            take(first.exclusive)
            first.continuation.resume()
        }
    }
}

struct BLASAccessTrait: TestTrait, SuiteTrait, TestScoping {
    let exclusive: Bool
    var isRecursive: Bool { true }
    func scopeProvider(for test: Test, testCase: Test.Case?) -> BLASAccessTrait? {
        testCase == nil ? nil : self
    }
    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        await BLASGate.shared.acquire(exclusive: exclusive)
        do { try await function() } catch {
            await BLASGate.shared.release(exclusive: exclusive)
            throw error
        }
        await BLASGate.shared.release(exclusive: exclusive)
    }
}

extension Trait where Self == BLASAccessTrait {
    /// Runs alongside other BLAS users, never while the thread count is being changed.
    static var sharedBLAS: Self { BLASAccessTrait(exclusive: false) }
    /// Runs alone among BLAS users (changes or depends on the process-wide thread setting).
    static var exclusiveBLAS: Self { BLASAccessTrait(exclusive: true) }
}

/// Scopes a test to run alone among the tests that flip the process-wide portable-kernel switch.
struct KernelPathTrait: TestTrait, TestScoping {
    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        await BLASGate.kernelPath.acquire(exclusive: true)
        do { try await function() } catch {
            await BLASGate.kernelPath.release(exclusive: true)
            throw error
        }
        await BLASGate.kernelPath.release(exclusive: true)
    }
}

extension Trait where Self == KernelPathTrait {
    /// For tests that call `InvariantGEMM.forcePortable`: none of them overlap.
    static var flipsKernelPath: Self { KernelPathTrait() }
}

/// A value behind an `NSLock`, for counters shared by worker threads.
final class Locked<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: T
    init(_ value: T) { self.value = value }
    func withLock<R>(_ body: (inout T) -> R) -> R { lock.lock(); defer { lock.unlock() }; return body(&value) }
}
