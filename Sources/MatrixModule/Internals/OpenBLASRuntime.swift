import COpenBLAS

/// Thin access to OpenBLAS's run-time queries. Internal to `MatrixModule`; see `BLASBackend`.
enum OpenBLASRuntime {
    static var config: String { String(cString: openblas_get_config()) }
    static var coreName: String { String(cString: openblas_get_corename()) }
    static var threads: Int { Int(openblas_get_num_threads()) }
    static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }

    /// Direct `cblas_sgemm` on square row-major `n×n` buffers, `C = A·B`, no checks: the
    /// baseline that `weightinit bench` compares `Matrix` products against.
    static func rawSgemm(n: Int32, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n)
    }
}
