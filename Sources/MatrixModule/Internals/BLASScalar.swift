import COpenBLAS

/// A floating-point element type that OpenBLAS and LAPACKE can compute with: `Float`
/// (the `s` routines) and `Double` (the `d` routines).
///
/// The underscored requirements are the package's only path to the C libraries; they are
/// public only because protocol requirements must be. Call the `Matrix` and `BLAS` APIs
/// instead — they check shapes and leading dimensions before anything reaches C.
public protocol BLASScalar: BinaryFloatingPoint, Sendable, Codable
where Self.RawSignificand: FixedWidthInteger {
    /// `C ← α·op(A)·op(B) + β·C`, row-major, no checks. Calls `cblas_sgemm` / `cblas_dgemm`.
    static func _gemm(
        transA: Bool, transB: Bool, m: Int32, n: Int32, k: Int32, alpha: Self,
        a: UnsafePointer<Self>?, lda: Int32, b: UnsafePointer<Self>?, ldb: Int32,
        beta: Self, c: UnsafeMutablePointer<Self>?, ldc: Int32)
    /// `y ← α·op(A)·x + β·y`, row-major, no checks. Calls `cblas_sgemv` / `cblas_dgemv`.
    static func _gemv(
        trans: Bool, m: Int32, n: Int32, alpha: Self, a: UnsafePointer<Self>?, lda: Int32,
        x: UnsafePointer<Self>?, incx: Int32, beta: Self, y: UnsafeMutablePointer<Self>?, incy: Int32)
    /// `y ← α·x + y`. Calls `cblas_saxpy` / `cblas_daxpy`.
    static func _axpy(n: Int32, alpha: Self, x: UnsafePointer<Self>?, incx: Int32, y: UnsafeMutablePointer<Self>?, incy: Int32)
    /// `x ← α·x`. Calls `cblas_sscal` / `cblas_dscal`.
    static func _scal(n: Int32, alpha: Self, x: UnsafeMutablePointer<Self>?, incx: Int32)
    /// `xᵀy`. Calls `cblas_sdot` / `cblas_ddot`.
    static func _dot(n: Int32, x: UnsafePointer<Self>?, incx: Int32, y: UnsafePointer<Self>?, incy: Int32) -> Self
    /// Column-major QR factorization. Calls `LAPACKE_sgeqrf` / `LAPACKE_dgeqrf`.
    static func _geqrf(m: Int32, n: Int32, a: UnsafeMutablePointer<Self>?, lda: Int32, tau: UnsafeMutablePointer<Self>?) -> Int32
    /// Column-major Q from reflectors. Calls `LAPACKE_sorgqr` / `LAPACKE_dorgqr`.
    static func _orgqr(m: Int32, n: Int32, k: Int32, a: UnsafeMutablePointer<Self>?, lda: Int32, tau: UnsafePointer<Self>?) -> Int32
    /// Symmetric eigen-decomposition (column-major, lower). Calls `LAPACKE_ssyevd` / `LAPACKE_dsyevd`.
    static func _syevd(vectors: Bool, n: Int32, a: UnsafeMutablePointer<Self>?, lda: Int32, w: UnsafeMutablePointer<Self>?) -> Int32
    /// Singular values only (column-major). Calls `LAPACKE_sgesdd` / `LAPACKE_dgesdd` with jobz 'N'.
    static func _gesddValues(m: Int32, n: Int32, a: UnsafeMutablePointer<Self>?, lda: Int32, s: UnsafeMutablePointer<Self>?) -> Int32
    /// The BLAS prefix, `"s"` or `"d"`, used in error messages.
    static var _blasPrefix: String { get }
}

@inline(__always) private func op(_ t: Bool) -> CBLAS_TRANSPOSE { t ? CblasTrans : CblasNoTrans }

extension Float: BLASScalar {
    @inlinable public static var _blasPrefix: String { "s" }
    public static func _gemm(
        transA: Bool, transB: Bool, m: Int32, n: Int32, k: Int32, alpha: Float,
        a: UnsafePointer<Float>?, lda: Int32, b: UnsafePointer<Float>?, ldb: Int32,
        beta: Float, c: UnsafeMutablePointer<Float>?, ldc: Int32
    ) {
        cblas_sgemm(CblasRowMajor, op(transA), op(transB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    }
    public static func _gemv(
        trans: Bool, m: Int32, n: Int32, alpha: Float, a: UnsafePointer<Float>?, lda: Int32,
        x: UnsafePointer<Float>?, incx: Int32, beta: Float, y: UnsafeMutablePointer<Float>?, incy: Int32
    ) {
        cblas_sgemv(CblasRowMajor, op(trans), m, n, alpha, a, lda, x, incx, beta, y, incy)
    }
    public static func _axpy(n: Int32, alpha: Float, x: UnsafePointer<Float>?, incx: Int32, y: UnsafeMutablePointer<Float>?, incy: Int32) {
        cblas_saxpy(n, alpha, x, incx, y, incy)
    }
    public static func _scal(n: Int32, alpha: Float, x: UnsafeMutablePointer<Float>?, incx: Int32) {
        cblas_sscal(n, alpha, x, incx)
    }
    public static func _dot(n: Int32, x: UnsafePointer<Float>?, incx: Int32, y: UnsafePointer<Float>?, incy: Int32) -> Float {
        cblas_sdot(n, x, incx, y, incy)
    }
    public static func _geqrf(m: Int32, n: Int32, a: UnsafeMutablePointer<Float>?, lda: Int32, tau: UnsafeMutablePointer<Float>?) -> Int32 {
        LAPACKE_sgeqrf(LAPACK_COL_MAJOR, m, n, a, lda, tau)
    }
    public static func _orgqr(m: Int32, n: Int32, k: Int32, a: UnsafeMutablePointer<Float>?, lda: Int32, tau: UnsafePointer<Float>?) -> Int32 {
        LAPACKE_sorgqr(LAPACK_COL_MAJOR, m, n, k, a, lda, tau)
    }
    public static func _syevd(vectors: Bool, n: Int32, a: UnsafeMutablePointer<Float>?, lda: Int32, w: UnsafeMutablePointer<Float>?) -> Int32 {
        LAPACKE_ssyevd(LAPACK_COL_MAJOR, vectors ? 86 /* V */ : 78 /* N */, 76 /* L */, n, a, lda, w)
    }
    public static func _gesddValues(m: Int32, n: Int32, a: UnsafeMutablePointer<Float>?, lda: Int32, s: UnsafeMutablePointer<Float>?) -> Int32 {
        LAPACKE_sgesdd(LAPACK_COL_MAJOR, 78 /* N */, m, n, a, lda, s, nil, 1, nil, 1)
    }
}

extension Double: BLASScalar {
    @inlinable public static var _blasPrefix: String { "d" }
    public static func _gemm(
        transA: Bool, transB: Bool, m: Int32, n: Int32, k: Int32, alpha: Double,
        a: UnsafePointer<Double>?, lda: Int32, b: UnsafePointer<Double>?, ldb: Int32,
        beta: Double, c: UnsafeMutablePointer<Double>?, ldc: Int32
    ) {
        cblas_dgemm(CblasRowMajor, op(transA), op(transB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    }
    public static func _gemv(
        trans: Bool, m: Int32, n: Int32, alpha: Double, a: UnsafePointer<Double>?, lda: Int32,
        x: UnsafePointer<Double>?, incx: Int32, beta: Double, y: UnsafeMutablePointer<Double>?, incy: Int32
    ) {
        cblas_dgemv(CblasRowMajor, op(trans), m, n, alpha, a, lda, x, incx, beta, y, incy)
    }
    public static func _axpy(n: Int32, alpha: Double, x: UnsafePointer<Double>?, incx: Int32, y: UnsafeMutablePointer<Double>?, incy: Int32) {
        cblas_daxpy(n, alpha, x, incx, y, incy)
    }
    public static func _scal(n: Int32, alpha: Double, x: UnsafeMutablePointer<Double>?, incx: Int32) {
        cblas_dscal(n, alpha, x, incx)
    }
    public static func _dot(n: Int32, x: UnsafePointer<Double>?, incx: Int32, y: UnsafePointer<Double>?, incy: Int32) -> Double {
        cblas_ddot(n, x, incx, y, incy)
    }
    public static func _geqrf(m: Int32, n: Int32, a: UnsafeMutablePointer<Double>?, lda: Int32, tau: UnsafeMutablePointer<Double>?) -> Int32 {
        LAPACKE_dgeqrf(LAPACK_COL_MAJOR, m, n, a, lda, tau)
    }
    public static func _orgqr(m: Int32, n: Int32, k: Int32, a: UnsafeMutablePointer<Double>?, lda: Int32, tau: UnsafePointer<Double>?) -> Int32 {
        LAPACKE_dorgqr(LAPACK_COL_MAJOR, m, n, k, a, lda, tau)
    }
    public static func _syevd(vectors: Bool, n: Int32, a: UnsafeMutablePointer<Double>?, lda: Int32, w: UnsafeMutablePointer<Double>?) -> Int32 {
        LAPACKE_dsyevd(LAPACK_COL_MAJOR, vectors ? 86 : 78, 76, n, a, lda, w)
    }
    public static func _gesddValues(m: Int32, n: Int32, a: UnsafeMutablePointer<Double>?, lda: Int32, s: UnsafeMutablePointer<Double>?) -> Int32 {
        LAPACKE_dgesdd(LAPACK_COL_MAJOR, 78, m, n, a, lda, s, nil, 1, nil, 1)
    }
}
