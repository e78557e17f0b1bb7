/// Variance scaling, the one primitive behind Glorot/Xavier, He/Kaiming and LeCun:
/// draw with standard deviation `σ = √(scale / n)`, where `n` is the fan `mode` selects.
///
/// - `.uniform`: `U(−√3·σ, √3·σ)`.
/// - `.normal`: `N(0, σ²)`, untruncated (PyTorch's `kaiming_normal_` / `xavier_normal_`).
/// - `.truncatedNormal`: a normal cut at ±2 of its own std, whose std *after* truncation is σ:
///   parent std `σ / 0.87962566103423978`, bounds `±2·σ/0.87962566…` (Keras/JAX
///   `VarianceScaling(distribution="truncated_normal")`).
///
/// Matches `tf.keras.initializers.VarianceScaling` and `jax.nn.initializers.variance_scaling`
/// (He et al. 2015, "Delving deep into rectifiers"; Glorot & Bengio 2010; LeCun et al. 1998).
public struct VarianceScaling: Sendable, Hashable, Codable {
    /// How the drawn values are distributed for a given σ.
    public enum Distribution: String, Sendable, Hashable, Codable, CaseIterable {
        case uniform
        case normal
        case truncatedNormal = "truncated-normal"
    }

    /// The variance numerator (`gain²`): 1 for Glorot/LeCun, 2 for He with ReLU.
    public var scale: Double
    /// Which fan divides the scale.
    public var mode: FanMode
    /// The distribution of the draws.
    public var distribution: Distribution

    /// A variance-scaling scheme; defaults are Keras's (`scale` 1, fan_in, truncated normal).
    /// Accepts finite `scale ≥ 0` (0 gives zeros); Keras requires `scale > 0`. The Glorot/He
    /// presets pass `gain²`: any finite gain with a finite square (|gain| ≤ 1.3e154), the sign
    /// ignored; PyTorch's `xavier_normal_`/`kaiming_normal_` reject a negative gain through
    /// `normal_`'s `std ≥ 0` check and its `*_uniform_` variants through `uniform_`'s `from ≤ to`.
    public init(scale: Double = 1, mode: FanMode = .fanIn, distribution: Distribution = .truncatedNormal) {
        self.scale = scale; self.mode = mode; self.distribution = distribution
    }

    /// σ = √(scale / fan).
    public func standardDeviation(fans: Fans) -> Double { (scale / fans.value(for: mode)).squareRoot() }
}
