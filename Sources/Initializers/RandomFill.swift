import Foundation

/// The three random distributions every scheme reduces to, filled in place, in parallel,
/// reproducibly: element `start + j` of the stream for `key` goes to `buffer[j]`.
///
/// The `start` parameter is the global element index of `buffer[0]`: filling a shard of a
/// larger tensor with its offset gives exactly the bytes of the full fill.
public enum RandomFill {
    /// Uniform on `[low, high)`. Never returns `high`. In Float the values are the Floats in
    /// `[low, high)` (bounds that are not Floats are rounded up to the next Float).
    /// - Throws: `InitializationError` when a bound is not finite, `low ≥ high`, no value of the
    ///   element type lies in `[low, high)`, or `high − low` overflows the element type.
    public static func uniform<S: InitializerScalar>(_ buffer: UnsafeMutableBufferPointer<S>, low: Double, high: Double,
                                                      key: RandomKey, start: Int = 0, threads: Int? = nil) throws(InitializationError) {
        try requireFinite("low", low); try requireFinite("high", high)
        guard low < high else { throw .emptyRange(name: "uniform", low: low, high: high) }
        guard (high - low).isFinite else { throw .invalidParameter(name: "high − low", value: high - low, rule: "must be finite") }
        try requireRepresentableRange(low: low, high: high, S.self)
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        let p = SendablePointer(base: base)
        FillThreads.run(count: buffer.count, threads: threads) { s, n in
            S._fillUniform(p.base + s, start: UInt64(start + s), count: UInt64(n), key: key, low: low, high: high)
        }
    }

    /// At least one value of `S` must lie in `[low, high)`, and the width must be finite in `S`
    /// (the kernels compute in the element type: ±1.8e38 is fine for Float bounds, not for the
    /// Float width).
    static func requireRepresentableRange<S: InitializerScalar>(low: Double, high: Double, _: S.Type) throws(InitializationError) {
        let lo = S.atLeast(low), hi = S.atLeast(high)
        guard lo < hi else {
            throw .invalidParameter(name: "high", value: high, rule: "no \(S.self) value lies in [\(low), \(high)); widen the range")
        }
        guard (hi - lo).isFinite else {
            throw .invalidParameter(name: "high", value: high, rule: "high − low = \(high - low) overflows \(S.self) (largest finite \(S.greatestFiniteMagnitude))")
        }
    }

    /// Normal `N(mean, std²)` (Box–Muller on Philox output; tails reach 5.65σ in Float, 8.5σ in
    /// Double). `std = 0` gives exactly `mean` everywhere.
    /// - Throws: `InitializationError.invalidParameter` for a non-finite mean or a negative,
    ///   NaN or infinite std.
    public static func normal<S: InitializerScalar>(_ buffer: UnsafeMutableBufferPointer<S>, mean: Double, std: Double,
                                                     key: RandomKey, start: Int = 0, threads: Int? = nil) throws(InitializationError) {
        try requireFinite("mean", mean); try requireNonNegative("std", std)
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        let p = SendablePointer(base: base)
        FillThreads.run(count: buffer.count, threads: threads) { s, n in
            S._fillNormal(p.base + s, start: UInt64(start + s), count: UInt64(n), key: key, mean: mean, std: std)
        }
    }

    /// Truncated normal with ABSOLUTE bounds: the parent `N(mean, std²)` conditioned on
    /// `[a, b]` (PyTorch `trunc_normal_` semantics: with `std = 0.02` and the defaults ±2 the cut
    /// never applies). Exact sampling: when the mass inside is ≥ 0.05, normal candidates are
    /// kept in order if they fall in `[a, b]` (groups of 1536 Float / 512 Double elements, so the
    /// bytes never depend on the thread split); below that, Robert (1995) proposals in Double,
    /// with values formed from the bounds — so tiny std, far tails and narrow intervals far from
    /// the mean are all correct (no inverse-erf saturation, no rounding to the mean). Float
    /// fills whose std or mean is not a finite Float (or whose std rounds to 0 in Float) are the
    /// Double fill rounded. `std = 0` gives `mean` (which must lie in `[a, b]`).
    /// - Throws: `InitializationError` for `a ≥ b`, non-finite values, negative std, bounds
    ///   more than 37.5σ from the mean on one side (mass below 1e-307, `noProbabilityMass`), or
    ///   bounds holding no value of the element type.
    public static func truncatedNormal<S: InitializerScalar>(_ buffer: UnsafeMutableBufferPointer<S>, mean: Double, std: Double,
                                                              a: Double, b: Double, key: RandomKey, start: Int = 0,
                                                              threads: Int? = nil) throws(InitializationError) {
        try TruncatedNormal.validate(mean: mean, std: std, a: a, b: b)
        try TruncatedNormal.requireRepresentableValue(in: a, b, S.self)
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        if std == 0 { S.fillConstant(buffer, S(mean), threads: threads); return }
        let p = SendablePointer(base: base)
        FillThreads.run(count: buffer.count, threads: threads) { s, n in
            S._fillTruncatedNormal(p.base + s, start: UInt64(start + s), count: UInt64(n), key: key, mean: mean, std: std, a: a, b: b)
        }
    }
}

/// Closed forms for the normal and truncated normal distributions.
public enum TruncatedNormal {
    /// Standard normal density φ(x).
    public static func pdf(_ x: Double) -> Double { Foundation.exp(-x * x / 2) / (2 * Double.pi).squareRoot() }
    /// Standard normal CDF Φ(x) = erfc(−x/√2)/2.
    public static func cdf(_ x: Double) -> Double { 0.5 * Foundation.erfc(-x / 2.0.squareRoot()) }

    /// The standard deviation of `N(0, 1)` truncated to `[−k, k]`:
    /// `√(1 − 2kφ(k)/(2Φ(k) − 1))`. For k = 2 this is 0.87962566103423978, the constant of
    /// Keras's and JAX's truncated variance-scaling initializers. Below k = 1 the closed form
    /// cancels (it tends to k/√3), so there it is `k·√(Σ cₙk²ⁿ/(2n+3) / Σ cₙk²ⁿ/(2n+1))` with
    /// `cₙ = (−½)ⁿ/n!` — the series of `∫z²φ` and `∫φ` over `[0, k]` — exact to rounding for any k > 0.
    public static func standardDeviationFactor(k: Double) -> Double {
        guard k < 1 else { return (1 - 2 * k * pdf(k) / (2 * cdf(k) - 1)).squareRoot() }
        let k2 = k * k
        var c = 1.0, num = 0.0, den = 0.0
        for n in 0..<40 {
            num += c / Double(2 * n + 3)
            den += c / Double(2 * n + 1)
            c *= -0.5 * k2 / Double(n + 1)
            if abs(c) < 1e-20 { break }
        }
        return k * (num / den).squareRoot()
    }

    /// Mean and standard deviation of `N(mean, std²)` truncated to `[a, b]`
    /// (Johnson, Kotz & Balakrishnan 1994, §10.1).
    public static func moments(mean: Double, std: Double, a: Double, b: Double) -> (mean: Double, std: Double) {
        if std == 0 { return (mean, 0) }
        let al = (a - mean) / std, be = (b - mean) / std
        // A very narrow interval: the density is nearly linear across it; use the uniform limit
        // (mean at the centre shifted by the density's slope, std (b − a)/√12) — the closed form below
        // loses all digits to cancellation there. The width is (b − a)/std computed directly and the
        // result is formed from the centre (a + b)/2, so a mean far away cannot round it away.
        let w = (b - a) / std
        if w < 1e-2 {
            // Narrow interval: the closed form below cancels (its error grows like 1/w²), so
            // integrate instead. With x = (a + b)/2 + (b − a)·t, t in [−½, ½], the density is
            // ∝ exp(−c·w·t − w²t²/2), c the standardized centre: smooth (|c·w| ≤ 0.4 here), so
            // composite Simpson on 256 panels is exact to rounding.
            let c = (al + be) / 2
            let panels = 256
            var s0 = 0.0, s1 = 0.0, s2 = 0.0
            for i in 0...panels {
                let t = -0.5 + Double(i) / Double(panels)
                let weight = (i == 0 || i == panels) ? 1.0 : (i % 2 == 1 ? 4.0 : 2.0)
                let f = weight * Foundation.exp(-c * w * t - w * w * t * t / 2)
                s0 += f; s1 += f * t; s2 += f * t * t
            }
            let mt = s1 / s0, vt = max(s2 / s0 - mt * mt, 0)
            return ((a + b) / 2 + (b - a) * mt, (b - a) * vt.squareRoot())
        }
        // Use upper-tail forms when the interval lies right of the mean, for accuracy.
        let z = al > 0 ? (cdf(-al) - cdf(-be)) : (cdf(be) - cdf(al))
        guard z > 0 else { return (al > 0 ? a : b, 0) }
        let pa = pdf(al), pb = pdf(be)
        let aTerm = al.isFinite ? al * pa : 0, bTerm = be.isFinite ? be * pb : 0
        let shift = (pa - pb) / z
        let variance = 1 + (aTerm - bTerm) / z - shift * shift
        return (mean + std * shift, std * max(variance, 0).squareRoot())
    }

    /// At least one value of `S` must lie in `[a, b]` (e.g. `[1 + 1e-10, 1 + 2e-10]` holds no Float).
    static func requireRepresentableValue<S: InitializerScalar>(in a: Double, _ b: Double, _: S.Type) throws(InitializationError) {
        guard S.atLeast(a) <= S.atMost(b) else {
            throw .invalidParameter(name: "b", value: b, rule: "no \(S.self) value lies in the bounds [\(a), \(b)]; widen them")
        }
    }

    static func validate(mean: Double, std: Double, a: Double, b: Double) throws(InitializationError) {
        try requireFinite("mean", mean); try requireNonNegative("std", std)
        try requireFinite("a", a); try requireFinite("b", b)
        guard a < b else { throw .emptyRange(name: "truncated normal", low: a, high: b) }
        if std == 0 {
            guard a <= mean, mean <= b else { throw .noProbabilityMass(a: a, b: b, mean: mean, std: std) }
            return
        }
        let al = (a - mean) / std, be = (b - mean) / std
        guard al < 37.5, be > -37.5 else { throw .noProbabilityMass(a: a, b: b, mean: mean, std: std) }
    }
}
