import Dispatch
import Foundation
import MatrixModule

/// A pointer handed to Dispatch workers. Every use splits the work so that no two workers
/// write the same element, and every element is computed by the same sequence of operations
/// whatever the split: the bytes never depend on the number of workers.
struct SharedBuffer<T>: @unchecked Sendable {
    let base: UnsafeMutablePointer<T>
    init(_ base: UnsafeMutablePointer<T>) { self.base = base }
    init(_ base: UnsafePointer<T>) { self.base = UnsafeMutablePointer(mutating: base) }
    @inline(__always) subscript(_ i: Int) -> T {
        get { base[i] }
        nonmutating set { base[i] = newValue }
    }
    @inline(__always) static func + (lhs: SharedBuffer, rhs: Int) -> UnsafeMutablePointer<T> { lhs.base + rhs }
}

/// How the layers' own work (Conv2D's im2col blocks with their single-threaded products, im2col,
/// col2im, direct convolution, pooling, the layout changes with bias and activation) is split
/// over threads.
///
/// The worker count is OpenBLAS's thread count (`BLASBackend.threads`, which `--threads` sets),
/// capped by the active processors; it is only read, never changed. Work is cut into
/// independent items (blocks, samples, channels, planes, rows), each computed the same way
/// whichever thread runs it, so results are bitwise the same for any worker count.
enum LayerThreads {
    /// Workers for the layer passes: `min(BLASBackend.threads, active processors)`, at least 1.
    static var workers: Int { max(1, min(BLASBackend.threads, ProcessInfo.processInfo.activeProcessorCount)) }

    /// Runs `body(worker, range)` on contiguous sub-ranges of `0..<count`: at most `workers`
    /// of them (worker indices `0..<workers`), each at least `minimumPerWorker` items long
    /// (fewer workers when there is too little work). Runs inline with one worker.
    static func forEach(_ count: Int, workers: Int, minimumPerWorker: Int = 1, _ body: @Sendable (_ worker: Int, _ range: Range<Int>) -> Void) {
        guard count > 0 else { return }
        let t = max(1, min(workers, count / max(1, minimumPerWorker)))
        if t == 1 { body(0, 0..<count); return }
        DispatchQueue.concurrentPerform(iterations: t) { i in
            let s = count * i / t, e = count * (i + 1) / t
            if s < e { body(i, s..<e) }
        }
    }

    /// Runs `body(slot, item)` once for every item of `0..<count` on at most `workers` threads
    /// (`slot` in `0..<min(workers, count)` names the thread's private buffers): items are
    /// handed out in increasing order by `queue` to whichever thread is free, so a slow core
    /// does not hold up the others. The caller's results must not depend on which slot runs an
    /// item. After the first error no further items start; that error is rethrown. Runs inline
    /// with one worker. `queue` is reset here (callers keep one per layer: nothing is allocated).
    static func forEachItem(_ count: Int, workers: Int, queue: ItemQueue,
                            _ body: @Sendable (_ slot: Int, _ item: Int) throws(MatrixError) -> Void) throws(MatrixError) {
        guard count > 0 else { return }
        let t = max(1, min(workers, count))
        if t == 1 {
            for item in 0..<count { try body(0, item) }
            return
        }
        queue.reset(count)
        DispatchQueue.concurrentPerform(iterations: t) { slot in
            while let item = queue.next() {
                do throws(MatrixError) { try body(slot, item) } catch { queue.fail(error) }
            }
        }
        if let error = queue.error { throw error }
    }

    /// The next item to hand out and the first error, behind a lock (see `forEachItem`).
    final class ItemQueue: @unchecked Sendable {
        private let lock = NSLock()
        private var nextItem = 0, count = 0
        private(set) var error: MatrixError?
        func reset(_ count: Int) {
            lock.lock(); defer { lock.unlock() }
            nextItem = 0; self.count = count; error = nil
        }
        func next() -> Int? {
            lock.lock(); defer { lock.unlock() }
            guard error == nil, nextItem < count else { return nil }
            nextItem += 1
            return nextItem - 1
        }
        func fail(_ e: MatrixError) {
            lock.lock(); defer { lock.unlock() }
            if error == nil { error = e }
        }
    }
}

/// Short SIMD helpers for the layer kernels (unaligned loads and stores).
enum LayerKernels {
    @inline(__always) static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }
    @inline(__always) static func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }
    @inline(__always) static func load4(_ p: UnsafePointer<Float>) -> SIMD4<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self)
    }
    @inline(__always) static func store4(_ v: SIMD4<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD4<Float>.self)
    }

    /// `dst[0..<n] = src[0..<n]` for short rows, inline (no library call per row).
    @inline(__always) static func copy(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ n: Int) {
        if n >= 8 {
            var i = 0
            while i + 8 <= n { store8(load8(src + i), dst + i); i += 8 }
            if i < n { store8(load8(src + n - 8), dst + n - 8) }
        } else if n >= 4 {
            store4(load4(src), dst)
            store4(load4(src + n - 4), dst + n - 4)
        } else {
            for i in 0..<n { dst[i] = src[i] }
        }
    }

    /// `y[0..<n] += a·x[0..<n]` (multiply, then add: the same rounding on every path).
    @inline(__always) static func axpy(_ n: Int, _ a: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        let av = SIMD8<Float>(repeating: a)
        var i = 0
        while i + 8 <= n { store8(load8(y + i) + av * load8(x + i), y + i); i += 8 }
        while i < n { y[i] += a * x[i]; i += 1 }
    }

    /// `y[0..<n] += x[0..<n]` (one add per element).
    @inline(__always) static func add(_ n: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        var i = 0
        while i + 8 <= n { store8(load8(y + i) + load8(x + i), y + i); i += 8 }
        if i + 4 <= n { store4(load4(y + i) + load4(x + i), y + i); i += 4 }
        while i < n { y[i] += x[i]; i += 1 }
    }

    /// `Σ x[i]` over `0..<n`: eight lanes of partial sums, then the tail, then the lanes added
    /// pairwise — a fixed order.
    @inline(__always) static func sum(_ n: Int, _ x: UnsafePointer<Float>) -> Float {
        var acc = SIMD8<Float>()
        var i = 0
        while i + 8 <= n { acc += load8(x + i); i += 8 }
        var tail: Float = 0
        while i < n { tail += x[i]; i += 1 }
        let h = acc.lowHalf + acc.highHalf
        return ((h[0] + h[2]) + (h[1] + h[3])) + tail
    }

    /// `Σ x[i]·y[i]` over `0..<n`: eight lanes of partial sums (lane `l` sums `i ≡ l mod 8`
    /// in order), then the tail, then the lanes added pairwise — a fixed order.
    @inline(__always) static func dot(_ n: Int, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>) -> Float {
        var acc = SIMD8<Float>()
        var i = 0
        while i + 8 <= n { acc += load8(x + i) * load8(y + i); i += 8 }
        var tail: Float = 0
        while i < n { tail += x[i] * y[i]; i += 1 }
        let h = acc.lowHalf + acc.highHalf
        return ((h[0] + h[2]) + (h[1] + h[3])) + tail
    }
}
