import Foundation
import MatrixModule

/// Gauss–Hermite quadrature for expectations under a standard normal:
/// `E[f(Z)] ≈ Σᵢ wᵢ f(xᵢ)`, `Z ~ N(0, 1)`, exact for polynomials of degree ≤ 2n − 1.
///
/// Nodes and weights come from the Golub–Welsch algorithm (1969): the nodes are the eigenvalues
/// of the symmetric tridiagonal Jacobi matrix of the probabilists' Hermite polynomials
/// (off-diagonal `√k`, k = 1…n−1) and each weight is the squared first component of the
/// corresponding normalized eigenvector (`LAPACKE_dsyevd`).
public struct GaussHermite: Sendable {
    /// Nodes `xᵢ`, ascending.
    public let nodes: [Double]
    /// Weights `wᵢ`, summing to 1.
    public let weights: [Double]

    /// An `n`-point rule (`1 ≤ n ≤ 400`).
    /// - Throws: `InitializationError.invalidParameter` for `n` out of range, `.linearAlgebra`
    ///   if the eigen-solver fails.
    public init(points n: Int = 96) throws(InitializationError) {
        guard (1...400).contains(n) else { throw .invalidParameter(name: "points", value: Double(n), rule: "must be in 1…400") }
        var j = Matrix<Double>(rows: n, columns: n)
        for k in 1..<max(n, 1) { let b = Double(k).squareRoot(); j[k, k - 1] = b; j[k - 1, k] = b }
        do {
            let (values, vectors) = try j.symmetricEigen(vectors: true)
            nodes = values
            weights = (0..<n).map { i in let v = vectors![0, i]; return v * v }
        } catch { throw .linearAlgebra("\(error)") }
    }

    /// `E[f(μ + σZ)]`.
    public func expectation(mean: Double = 0, std: Double = 1, _ f: (Double) -> Double) -> Double {
        var s = 0.0
        for (x, w) in zip(nodes, weights) { s += w * f(mean + std * x) }
        return s
    }
}
