#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// First touch of new, large buffers.
///
/// A new tensor costs more than filling an old one: every 4 KiB page faults on first write and
/// the kernel zeroes it. `Array(repeating: 0, count:)` pays that on one thread and then writes
/// the zeros a second time. `Matrix.uninitialized(rows:columns:hugePages:initializingWith:)`
/// skips the zeros, so the first touch happens in whatever threads initialize the elements (the
/// fill threads, in parallel), and asks for transparent huge pages (`madvise(MADV_HUGEPAGE)`,
/// Linux; 2 MiB pages, 512× fewer faults) on buffers of at least `hugePageThreshold` bytes.
/// Where transparent huge pages are off (`/sys/kernel/mm/transparent_hugepage/enabled` =
/// `never`) or the call is unsupported, the advice is ignored and nothing else changes.
public enum FreshStorage {
    /// Buffers of at least this many bytes (4 MiB) get the huge-page advice.
    public static let hugePageThreshold = 4 << 20

    /// Advises `madvise(MADV_HUGEPAGE)` on the whole pages inside `[base, base + bytes)` when
    /// `bytes ≥ hugePageThreshold`. Returns `true` when the kernel accepted the advice.
    @discardableResult
    public static func adviseHugePages(_ base: UnsafeMutableRawPointer, bytes: Int) -> Bool {
        #if os(Linux)
        guard bytes >= hugePageThreshold else { return false }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (Int(bitPattern: base) + page - 1) / page * page
        let end = (Int(bitPattern: base) + bytes) / page * page
        guard end > start, let p = UnsafeMutableRawPointer(bitPattern: start) else { return false }
        return madvise(p, end - start, Int32(MADV_HUGEPAGE)) == 0
        #else
        return false
        #endif
    }
}

extension Matrix {
    /// A new `rows × columns` matrix whose elements `body` writes, without writing zeros first.
    ///
    /// The storage is allocated but not initialized; `body` receives all `rows × columns`
    /// elements and must write every one of them (a random or constant fill does; a scheme that
    /// writes only some elements must clear the rest itself). Large buffers get transparent huge
    /// pages when `hugePages` is `true` (the default; see `FreshStorage`). Writing the elements
    /// from several threads faults the pages in those threads, in parallel.
    ///
    /// - Parameters:
    ///   - rows, columns: the shape; negative dimensions or an overflowing element count are a
    ///     programming error (precondition), as in `init(rows:columns:)` — check sizes from
    ///     outside with `CheckedSize` or `zeros(rows:columns:)` first.
    ///   - hugePages: advise `MADV_HUGEPAGE` on buffers of ≥ 4 MiB (default `true`).
    /// - Throws: whatever `body` throws; the storage is then zeroed and released.
    ///
    /// ```swift
    /// let m = Matrix<Float>.uninitialized(rows: 4096, columns: 4096) { $0.update(repeating: 1) }
    /// ```
    public static func uninitialized<E: Error>(rows: Int, columns: Int, hugePages: Bool = true,
                                               initializingWith body: (UnsafeMutableBufferPointer<Scalar>) throws(E) -> Void) throws(E) -> Matrix {
        precondition(rows >= 0 && columns >= 0, "Matrix dimensions must be ≥ 0, got \(rows)×\(columns)")
        let (n, overflow) = rows.multipliedReportingOverflow(by: columns)
        precondition(!overflow, "Matrix \(rows)×\(columns): element count overflows Int")
        var failure: E?
        let storage = [Scalar](unsafeUninitializedCapacity: n) { buffer, initialized in
            let elements = UnsafeMutableBufferPointer(rebasing: buffer[0..<n])
            if hugePages, n > 0, let base = elements.baseAddress {
                FreshStorage.adviseHugePages(UnsafeMutableRawPointer(base), bytes: n * MemoryLayout<Scalar>.stride)
            }
            do throws(E) { try body(elements) } catch {
                failure = error
                elements.initialize(repeating: 0)
            }
            initialized = n
        }
        if let failure { throw failure }
        return try! Matrix(rows: rows, columns: columns, elements: storage)
    }
}
