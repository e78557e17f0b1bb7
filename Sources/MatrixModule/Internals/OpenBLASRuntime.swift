import COpenBLAS
import Foundation

/// Thin access to OpenBLAS's run-time queries. Internal to `MatrixModule`; see `BLASBackend`.
enum OpenBLASRuntime {
    static var config: String { String(cString: openblas_get_config()) }
    static var coreName: String { String(cString: openblas_get_corename()) }
    static var threads: Int { Int(openblas_get_num_threads()) }
    static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }

    /// Serializes the sections that pin OpenBLAS to one thread (`singleThreaded`).
    static let pinLock = NSLock()

    /// Runs `body` with OpenBLAS's (process-wide) thread count set to 1, then restores the
    /// previous count. Sections are serialized by `pinLock`, so two of them never interleave their
    /// set/restore. Inside, every BLAS/LAPACK call runs OpenBLAS's single-threaded code path, whose
    /// arithmetic for a given call does not depend on any thread count.
    static func singleThreaded<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        pinLock.lock()
        defer { pinLock.unlock() }
        let previous = threads
        if previous != 1 { setThreads(1) }
        defer { if previous != 1 { setThreads(previous) } }
        return try body()
    }

    /// Direct `cblas_sgemm` on square row-major `n×n` buffers, `C = A·B`, no checks: the
    /// baseline that `weightinit bench` compares `Matrix` products against.
    static func rawSgemm(n: Int32, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n)
    }
}
