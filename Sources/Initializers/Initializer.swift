import Foundation
import MatrixModule

/// A parameter-initialization scheme. Fill any contiguous row-major tensor in place —
/// `Matrix`, `[Float]`/`[Double]`, `UnsafeMutableBufferPointer`, `MutableSpan` — in parallel and
/// reproducibly: element `i` depends only on `(key, i)`, never on the thread count or on how the
/// tensor is split into shards.
///
/// ```swift
/// var w = Matrix<Float>(rows: 256, columns: 784)           // dense [out, in]
/// try Initializer.heNormal().fill(&w, key: RandomKey(seed: 0))   // N(0, 2/784)
/// var conv = [Float](repeating: 0, count: 32 * 16 * 3 * 3)
/// try Initializer.xavierUniform().fill(&conv, shape: [32, 16, 3, 3], key: RandomKey(seed: 1))
/// ```
///
/// Semantics are pinned to the frameworks (see each case and preset). Hyper-parameters are
/// validated before anything is written. Shapes: a scheme that needs fans, a matrix or a kernel
/// (everything but zeros, ones, constant, uniform, normal and the truncated normals) refuses a
/// 0- or 1-D shape, empty or not (as PyTorch's `orthogonal_` and `xavier_*_`); any other tensor
/// with a zero dimension is a no-op (see `validateMinimumRank`).
public enum Initializer: Sendable, Hashable, Codable {
    /// All zeros.
    case zeros
    /// All ones.
    case ones
    /// Every element equal to `value` (`nn.init.constant_`). Accepts finite values that fit the
    /// element type; PyTorch also accepts NaN and ±inf.
    case constant(Double)
    /// `U[low, high)` (`nn.init.uniform_`, defaults 0 and 1). Accepts finite `low < high` with a
    /// finite width; PyTorch also accepts `low == high` (a constant), which is rejected here.
    case uniform(low: Double = 0, high: Double = 1)
    /// `N(mean, std²)`, untruncated (`nn.init.normal_`). `std = 0` fills `mean` exactly.
    /// Accepts finite `mean` and finite `std ≥ 0` (PyTorch: `std ≥ 0`, so it also takes `std = inf`).
    case normal(mean: Double = 0, std: Double = 1)
    /// `N(mean, std²)` conditioned on the ABSOLUTE bounds `[a, b]` — PyTorch `trunc_normal_`,
    /// defaults `a = −2`, `b = 2` (so with std 0.02 the cut has no effect). Accepts finite
    /// `a < b` within 37.5σ of the mean; PyTorch does not check `a < b` and only warns when the
    /// mean is more than 2σ outside `[a, b]`.
    case truncatedNormal(mean: Double = 0, std: Double = 1, a: Double = -2, b: Double = 2)
    /// A normal truncated at `mean ± k·σ_parent` whose standard deviation AFTER truncation is
    /// `std`: `σ_parent = std / √(1 − 2kφ(k)/(2Φ(k)−1))`. k = 2 is Keras/JAX's truncated
    /// normal with the 0.87962566 correction; any k > 0 works.
    case truncatedNormalMatched(mean: Double = 0, std: Double = 1, k: Double = 2)
    /// Variance scaling: the primitive all Glorot/He/LeCun presets are.
    case varianceScaling(VarianceScaling)
    /// A (semi-)orthogonal matrix times `gain` (Saxe et al. 2014), Haar-distributed via QR of a
    /// Gaussian matrix with the sign fix (Mezzadri 2007). Tensors with > 2 dimensions are
    /// flattened to `[shape[0], product of the rest]` (PyTorch `orthogonal_`). Accepts any
    /// finite gain (negative flips the signs), as PyTorch, which also takes non-finite gains.
    /// The QR is a blocked Householder (`HouseholderQR.thinQ`): the bytes are identical for any
    /// fill-thread and OpenBLAS thread count (on a given machine and OpenBLAS kernel).
    case orthogonal(gain: Double = 1)
    /// The identity (`nn.init.eye_`) times `gain`, for 2-D tensors of any shape: ones on the
    /// main diagonal `(i, i)`, `i < min(rows, columns)`.
    case identity(gain: Double = 1)
    /// Dirac delta for conv kernels OIHW (3-D, 4-D, 5-D): `w[g·O/G + d, d, k/2…] = 1` for
    /// `d < min(O/G, I)` — the conv passes its input channels through (PyTorch `dirac_`,
    /// centre `k/2`).
    case dirac(groups: Int = 1)
    /// Delta-orthogonal for conv kernels OIHW (Xiao et al. 2018): zero except the centre tap
    /// `(k−1)/2` of every spatial axis, which holds an orthogonal `[out, in]` matrix times
    /// `gain`; needs `in ≤ out`.
    case deltaOrthogonal(gain: Double = 1)
    /// Sparse (Martens 2010; PyTorch `sparse_`): `N(0, std²)` with exactly
    /// `⌈sparsity·rows⌉` zeros in every column of a 2-D tensor, the zero rows chosen from the key.
    /// Accepts `sparsity` in `[0, 1)` and finite `std ≥ 0`; PyTorch also takes `sparsity = 1` (all
    /// zeros) and does not check the range.
    case sparse(sparsity: Double, std: Double = 0.01)

    // MARK: Presets (each is exactly a `VarianceScaling` triple)

    /// Glorot/Xavier uniform (Glorot & Bengio 2010): bound `gain·√(6/(fan_in+fan_out))`
    /// = `VarianceScaling(scale: gain², mode: .fanAverage, distribution: .uniform)`. PyTorch `xavier_uniform_`.
    public static func xavierUniform(gain: Double = 1) -> Initializer {
        .varianceScaling(VarianceScaling(scale: gain * gain, mode: .fanAverage, distribution: .uniform))
    }
    /// Glorot/Xavier normal: std `gain·√(2/(fan_in+fan_out))`, untruncated. PyTorch `xavier_normal_`.
    public static func xavierNormal(gain: Double = 1) -> Initializer {
        .varianceScaling(VarianceScaling(scale: gain * gain, mode: .fanAverage, distribution: .normal))
    }
    /// Alias of `xavierUniform` (Keras/JAX name).
    public static func glorotUniform(gain: Double = 1) -> Initializer { xavierUniform(gain: gain) }
    /// Alias of `xavierNormal`.
    public static func glorotNormal(gain: Double = 1) -> Initializer { xavierNormal(gain: gain) }
    /// He/Kaiming uniform (He et al. 2015): bound `gain·√(3/fan)` with `gain` from
    /// `nonlinearity` (default ReLU, √2). PyTorch `kaiming_uniform_`.
    public static func heUniform(mode: FanMode = .fanIn, nonlinearity: Nonlinearity = .relu) -> Initializer {
        .varianceScaling(VarianceScaling(scale: nonlinearity.gainSquared, mode: mode, distribution: .uniform))
    }
    /// He/Kaiming normal: `N(0, gain²/fan)`, untruncated, default ReLU → `N(0, 2/fan_in)`.
    /// PyTorch `kaiming_normal_`. (Keras's `he_normal` is the truncated variant:
    /// `VarianceScaling(scale: 2, distribution: .truncatedNormal)`.)
    public static func heNormal(mode: FanMode = .fanIn, nonlinearity: Nonlinearity = .relu) -> Initializer {
        .varianceScaling(VarianceScaling(scale: nonlinearity.gainSquared, mode: mode, distribution: .normal))
    }
    /// Alias of `heUniform`.
    public static func kaimingUniform(mode: FanMode = .fanIn, nonlinearity: Nonlinearity = .relu) -> Initializer { heUniform(mode: mode, nonlinearity: nonlinearity) }
    /// Alias of `heNormal`.
    public static func kaimingNormal(mode: FanMode = .fanIn, nonlinearity: Nonlinearity = .relu) -> Initializer { heNormal(mode: mode, nonlinearity: nonlinearity) }
    /// LeCun uniform (LeCun et al. 1998): bound `√(3/fan_in)` (Keras/JAX `lecun_uniform`).
    public static func lecunUniform() -> Initializer {
        .varianceScaling(VarianceScaling(scale: 1, mode: .fanIn, distribution: .uniform))
    }
    /// LeCun normal: std `√(1/fan_in)` after truncation at ±2σ (Keras/JAX `lecun_normal`, the
    /// frameworks that ship it; SELU's recommended init, Klambauer et al. 2017).
    public static func lecunNormal() -> Initializer {
        .varianceScaling(VarianceScaling(scale: 1, mode: .fanIn, distribution: .truncatedNormal))
    }

    /// `true` when the scheme needs fan_in/fan_out (and so a tensor with ≥ 2 dimensions).
    public var usesFans: Bool {
        if case .varianceScaling = self { return true }
        return false
    }
}

// MARK: - Resolution to a concrete plan

/// What a scheme does to a given shape, after fans and gains are resolved.
enum FillPlan {
    case constant(Double)
    case uniform(low: Double, high: Double)
    case normal(mean: Double, std: Double)
    case truncated(mean: Double, std: Double, a: Double, b: Double)
    case orthogonal(gain: Double)
    case identity(gain: Double)
    case dirac(groups: Int)
    case deltaOrthogonal(gain: Double)
    case sparse(sparsity: Double, std: Double)
}

extension Initializer {
    /// Checks the hyper-parameters alone (no shape). Called before any write.
    public func validate() throws(InitializationError) {
        switch self {
        case .zeros, .ones: return
        case let .constant(v): try requireFinite("value", v)
        case let .uniform(lo, hi):
            try requireFinite("low", lo); try requireFinite("high", hi)
            guard lo < hi else { throw .emptyRange(name: "uniform", low: lo, high: hi) }
            guard (hi - lo).isFinite else { throw .invalidParameter(name: "high − low", value: hi - lo, rule: "must be finite") }
        case let .normal(mean, std): try requireFinite("mean", mean); try requireNonNegative("std", std)
        case let .truncatedNormal(mean, std, a, b): try TruncatedNormal.validate(mean: mean, std: std, a: a, b: b)
        case let .truncatedNormalMatched(mean, std, k):
            try requireFinite("mean", mean); try requireNonNegative("std", std); try requirePositive("k", k)
            guard k <= 30 else { throw .invalidParameter(name: "k", value: k, rule: "must be ≤ 30 (beyond, truncation has no effect)") }
        case let .varianceScaling(vs): try requireNonNegative("scale", vs.scale)
        case let .orthogonal(gain), let .identity(gain), let .deltaOrthogonal(gain): try requireFinite("gain", gain)
        case let .dirac(groups):
            guard groups >= 1 else { throw .invalidParameter(name: "groups", value: Double(groups), rule: "must be ≥ 1") }
        case let .sparse(sparsity, std):
            guard sparsity.isFinite, sparsity >= 0, sparsity < 1 else {
                throw .invalidParameter(name: "sparsity", value: sparsity, rule: "must be in [0, 1)")
            }
            try requireNonNegative("std", std)
        }
    }

    func plan(shape: [Int], layout: KernelLayout, groups: Int) throws(InitializationError) -> FillPlan {
        switch self {
        case .zeros: return .constant(0)
        case .ones: return .constant(1)
        case let .constant(v): return .constant(v)
        case let .uniform(lo, hi): return .uniform(low: lo, high: hi)
        case let .normal(m, s): return .normal(mean: m, std: s)
        case let .truncatedNormal(m, s, a, b): return .truncated(mean: m, std: s, a: a, b: b)
        case let .truncatedNormalMatched(m, s, k):
            if s == 0 { return .constant(m) }
            let parent = s / TruncatedNormal.standardDeviationFactor(k: k)
            return .truncated(mean: m, std: parent, a: m - k * parent, b: m + k * parent)
        case let .varianceScaling(vs):
            let fans = try fansFor(shape: shape, layout: layout, groups: groups, scheme: name)
            guard fans.value(for: vs.mode) > 0 else { throw .zeroFan(scheme: name, shape: shape) }
            let sigma = vs.standardDeviation(fans: fans)
            switch vs.distribution {
            case .uniform:
                let bound = 3.0.squareRoot() * sigma
                return bound > 0 ? .uniform(low: -bound, high: bound) : .constant(0)
            case .normal: return .normal(mean: 0, std: sigma)
            case .truncatedNormal:
                if sigma == 0 { return .constant(0) }
                let parent = sigma / TruncatedNormal.standardDeviationFactor(k: 2)
                return .truncated(mean: 0, std: parent, a: -2 * parent, b: 2 * parent)
            }
        case let .orthogonal(gain):
            guard shape.count >= 2 else { throw .tooFewDimensions(scheme: name, shape: shape) }
            return .orthogonal(gain: gain)
        case let .identity(gain):
            guard shape.count == 2 else { throw .unsupportedShape(scheme: name, shape: shape, reason: "identity (eye) needs a 2-D tensor") }
            return .identity(gain: gain)
        case let .dirac(g):
            guard (3...5).contains(shape.count) else {
                throw .unsupportedShape(scheme: name, shape: shape, reason: "dirac needs a 3-, 4- or 5-D conv kernel [out, in, k…]")
            }
            guard shape[0] % g == 0 else {
                throw .invalidParameter(name: "groups", value: Double(g), rule: "must divide the \(shape[0]) output channels")
            }
            return .dirac(groups: g)
        case let .deltaOrthogonal(gain):
            guard (3...5).contains(shape.count) else {
                throw .unsupportedShape(scheme: name, shape: shape, reason: "delta-orthogonal needs a 3-, 4- or 5-D conv kernel [out, in, k…]")
            }
            guard shape[1] <= shape[0] else { throw .deltaOrthogonalInputExceedsOutput(inChannels: shape[1], outChannels: shape[0]) }
            return .deltaOrthogonal(gain: gain)
        case let .sparse(sparsity, std):
            guard shape.count == 2 else { throw .unsupportedShape(scheme: name, shape: shape, reason: "sparse needs a 2-D tensor") }
            return .sparse(sparsity: sparsity, std: std)
        }
    }

    /// Rejects plans whose values would overflow `S` (e.g. a Float constant of 1e300, or a normal
    /// whose mean ± 8·std leaves the finite Float range).
    static func checkRepresentable<S: InitializerScalar>(_ plan: FillPlan, _ type: S.Type) throws(InitializationError) {
        let limit = Double(S.greatestFiniteMagnitude)
        try checkRepresentable(plan, type: S.self == Float.self ? "Float" : "Double", limit: limit, roundsFinite: { abs($0) <= limit })
    }

    /// The largest finite IEEE binary16 value (F16), 65504.
    static let float16Limit = 65504.0
    /// The largest finite bfloat16 value (BF16), `0x7F7F` = (2 − 2⁻⁷)·2¹²⁷ ≈ 3.3895e38.
    static let bfloat16Limit = Double(Float(bitPattern: 0x7F7F_0000))

    /// `checkRepresentable` for values drawn in Float and stored as F16 or BF16 (rounded to
    /// nearest even): a constant must round to a finite value (below 65520 for F16, below
    /// 0x7F7F8000 as a Float for BF16); random and structured schemes must keep their bound
    /// (uniform bounds, truncation bounds, |mean| + 8·std, the gain) within the type's largest
    /// finite value. - Throws: `.notRepresentable` naming the type and its largest finite value.
    static func checkRepresentable(_ plan: FillPlan, halfPrecision bf16: Bool) throws(InitializationError) {
        try checkRepresentable(plan, Float.self)
        if bf16 {
            try checkRepresentable(plan, type: "BF16", limit: bfloat16Limit,
                                   roundsFinite: { HalfPrecision.float(bfloat16: HalfPrecision.bfloat16Bits(Float($0))).isFinite })
        } else {
            try checkRepresentable(plan, type: "F16", limit: float16Limit,
                                   roundsFinite: { HalfPrecision.float(float16: HalfPrecision.float16Bits(Float($0))).isFinite })
        }
    }

    static func checkRepresentable(_ plan: FillPlan, type name: String, limit: Double,
                                   roundsFinite: (Double) -> Bool) throws(InitializationError) {
        func check(_ label: String, _ v: Double, _ magnitude: Double) throws(InitializationError) {
            guard magnitude <= limit else { throw .notRepresentable(name: label, value: v, type: name, limit: limit) }
        }
        switch plan {
        case let .constant(v):
            guard abs(v) <= limit || roundsFinite(v) else { throw .notRepresentable(name: "value", value: v, type: name, limit: limit) }
        case let .uniform(lo, hi): try check("low", lo, abs(lo)); try check("high", hi, abs(hi))
        case let .normal(m, sd): try check("std", sd, abs(m) + 8 * sd); try check("mean", m, abs(m))
        case let .truncated(m, sd, a, b): try check("a", a, abs(a)); try check("b", b, abs(b)); _ = (m, sd)
        case let .orthogonal(g), let .identity(g), let .deltaOrthogonal(g): try check("gain", g, abs(g))
        case .dirac: break
        case let .sparse(_, sd): try check("std", sd, 8 * sd)
        }
    }

    /// The dimension rule for empty and non-empty tensors alike: every scheme except the
    /// element-wise ones (zeros, ones, constant, uniform, normal, truncated normal in both forms)
    /// needs a tensor of ≥ 2 dimensions — fan-based schemes for fan_in/fan_out, orthogonal,
    /// identity and sparse a matrix, dirac and delta-orthogonal a conv kernel — and refuses a 0-
    /// or 1-D shape even when it has no element, as PyTorch's `orthogonal_`, `xavier_*_`, `eye_`,
    /// `dirac_` and `sparse_` do (PyTorch's `kaiming_*_` alone returns early on a zero-element
    /// tensor before computing fans; here He is refused like Xavier). A tensor of ≥ 2 dimensions
    /// with a zero dimension is then a no-op for every scheme (C13; PyTorch's `orthogonal_` returns
    /// early on `numel() == 0`), even where the exact rank rule (identity and sparse 2-D, dirac and
    /// delta-orthogonal 3- to 5-D) would refuse a non-empty tensor of that rank.
    /// - Throws: the error `fill` gives for that shape (`.tooFewDimensions` or `.unsupportedShape`).
    func validateMinimumRank(_ shape: [Int], layout: KernelLayout, groups: Int) throws(InitializationError) {
        guard shape.count < 2 else { return }
        switch self {
        case .zeros, .ones, .constant, .uniform, .normal, .truncatedNormal, .truncatedNormalMatched: return
        default: _ = try plan(shape: shape, layout: layout, groups: groups)    // throws for < 2 dimensions
        }
    }

    /// `groups ≥ 1` for every scheme and, for fan-based schemes on ≥ 2-D shapes, `groups`
    /// dividing the output channels, and `.dirac(groups:)`'s groups dividing the output channels
    /// of a 3- to 5-D shape: checked before the empty-tensor shortcut, so `groups: 0` is rejected
    /// for `[6, 0, 3, 3]` as for `[6, 2, 3, 3]`, and dirac groups 3 for `[4, 0, 3, 3]` as for `[4, 1, 3, 3]`.
    func validateGroups(_ groups: Int, shape: [Int], layout: KernelLayout) throws(InitializationError) {
        guard groups >= 1 else { throw .invalidParameter(name: "groups", value: Double(groups), rule: "must be ≥ 1") }
        if usesFans && shape.count >= 2 { _ = try Fans.channelAxes(shape: shape, layout: layout, groups: groups) }
        // dirac's own groups must divide the output channels whatever the other dimensions
        // (`[4, 0, 3, 3]` with groups 3 is refused as `[4, 1, 3, 3]` is).
        if case let .dirac(g) = self, g >= 1, (3...5).contains(shape.count), shape[0] >= 0, shape[0] % g != 0 {
            throw .invalidParameter(name: "groups", value: Double(g), rule: "must divide the \(shape[0]) output channels")
        }
    }

    func fansFor(shape: [Int], layout: KernelLayout, groups: Int, scheme: String) throws(InitializationError) -> Fans {
        guard shape.count >= 2 else { throw .tooFewDimensions(scheme: scheme, shape: shape) }
        return try Fans(shape: shape, layout: layout, groups: groups)
    }
}

// MARK: - Fill entry points

extension Initializer {
    /// Fills `buffer`, a contiguous row-major tensor of `shape`, in place.
    ///
    /// - Parameters:
    ///   - shape: the tensor's dimensions; their product must equal `buffer.count`.
    ///   - layout: how axes map to channels (default `.outInSpatial`: dense `[out, in]`, OIHW).
    ///   - groups: convolution groups for fan_out and dirac (default 1).
    ///   - key: the random key; element `i` depends only on `(key, i)`.
    ///   - threads: worker threads (default: all cores); the bytes do not depend on it.
    /// - Throws: `InitializationError` for invalid hyper-parameters, a count that does not match
    ///   the shape, fewer than 2 dimensions for fan-based schemes, or unsupported shapes.
    ///   Nothing is written when it throws.
    /// - Complexity: O(count), no allocation proportional to the tensor, except orthogonal and
    ///   delta-orthogonal (LAPACK workspace; tall matrices also need one transposed copy).
    public func fill<S: InitializerScalar>(_ buffer: UnsafeMutableBufferPointer<S>, shape: [Int], layout: KernelLayout = .outInSpatial,
                                           groups: Int = 1, key: RandomKey, threads: Int? = nil) throws(InitializationError) {
        try fillShard(buffer, shape: shape, rows: 0..<max(0, shape.first ?? 1), layout: layout, groups: groups, key: key, threads: threads)
    }

    /// Fills rows `rows` (along the first axis) of a tensor of `shape`, stored alone in `shard`:
    /// the result equals those rows of the full fill with the same key, so a model sharded
    /// across buffers or processes is initialized exactly as if it were one tensor.
    /// Orthogonal, delta-orthogonal and sparse compute what they need of the whole tensor.
    /// - Throws: as `fill(_:shape:…)`, and `.countMismatch` when `shard.count` is not
    ///   `rows.count × (elements per row)`, `.invalidParameter` for rows outside the shape.
    public func fillShard<S: InitializerScalar>(_ shard: UnsafeMutableBufferPointer<S>, shape: [Int], rows: Range<Int>,
                                                layout: KernelLayout = .outInSpatial, groups: Int = 1, key: RandomKey,
                                                threads: Int? = nil) throws(InitializationError) {
        try validate()
        try validateGroups(groups, shape: shape, layout: layout)    // before the empty-tensor shortcut
        if let bad = shape.first(where: { $0 < 0 }) { throw .invalidParameter(name: "dimension", value: Double(bad), rule: "must be ≥ 0") }
        let total: Int
        do { total = try CheckedSize.elementCount(shape, what: "shape \(shape)") } catch { throw .size(error) }
        let firstDim = shape.first ?? 1
        guard rows.lowerBound >= 0, rows.upperBound <= firstDim else {
            throw .invalidParameter(name: "rows.upperBound", value: Double(rows.upperBound), rule: "rows \(rows) must lie in 0..<\(firstDim)")
        }
        let perRow = firstDim == 0 ? 0 : total / firstDim
        let expected = rows.count * perRow
        guard shard.count == expected else { throw .countMismatch(shape: shape, expected: expected, count: shard.count) }
        if let threads, threads < 1 { throw .invalidParameter(name: "threads", value: Double(threads), rule: "must be ≥ 1") }
        try validateMinimumRank(shape, layout: layout, groups: groups)    // before the empty-tensor shortcut
        if total == 0 { return }                      // empty tensors of ≥ 2 dimensions (any for element-wise schemes): no-op
        let plan = try plan(shape: shape, layout: layout, groups: groups)
        try Initializer.checkRepresentable(plan, S.self)
        if expected == 0 { return }
        let start = rows.lowerBound * perRow
        switch plan {
        case let .constant(v): S.fillConstant(shard, S(v), threads: threads)
        case let .uniform(lo, hi): try RandomFill.uniform(shard, low: lo, high: hi, key: key, start: start, threads: threads)
        case let .normal(m, s): try RandomFill.normal(shard, mean: m, std: s, key: key, start: start, threads: threads)
        case let .truncated(m, s, a, b): try RandomFill.truncatedNormal(shard, mean: m, std: s, a: a, b: b, key: key, start: start, threads: threads)
        case let .orthogonal(gain):
            try Orthogonal.fill(shard, rows: firstDim, columns: perRow, rowRange: rows, gain: gain, key: key, threads: threads)
        case let .identity(gain): StructuredFill.identity(shard, columns: shape[1], rowRange: rows, gain: gain, threads: threads)
        case let .dirac(g): StructuredFill.dirac(shard, shape: shape, rowRange: rows, groups: g, threads: threads)
        case let .deltaOrthogonal(gain):
            try StructuredFill.deltaOrthogonal(shard, shape: shape, rowRange: rows, gain: gain, key: key, threads: threads)
        case let .sparse(sparsity, std):
            try SparseFill.fill(shard, rows: shape[0], columns: shape[1], rowRange: rows, sparsity: sparsity, std: std, key: key, threads: threads)
        }
    }

    /// Checks, without filling anything, that this scheme can fill a tensor of `shape` with
    /// elements of type `S`: the hyper-parameters (`validate()`), the shape (fans, dimensions)
    /// and that the values fit `S` (e.g. `normal(std: 1e39)` does not fit `Float`). Use it to
    /// reject a request before loading data or allocating.
    /// - Throws: the `InitializationError` that `fill(_:shape:…)` would throw.
    public func validate<S: InitializerScalar>(shape: [Int], as type: S.Type, layout: KernelLayout = .outInSpatial,
                                              groups: Int = 1) throws(InitializationError) {
        try validate()
        try validateGroups(groups, shape: shape, layout: layout)    // before the empty-tensor shortcut
        if let bad = shape.first(where: { $0 < 0 }) { throw .invalidParameter(name: "dimension", value: Double(bad), rule: "must be ≥ 0") }
        let total: Int
        do { total = try CheckedSize.elementCount(shape, what: "shape \(shape)") } catch { throw .size(error) }
        try validateMinimumRank(shape, layout: layout, groups: groups)
        if total == 0 {
            // The values of the element-wise schemes do not depend on the shape: they must fit
            // `S` for an empty tensor too (`normal(std: 1e39)` on `[0, 3]` is refused as on `[2, 3]`).
            switch self {
            case .zeros, .ones, .constant, .uniform, .normal, .truncatedNormal, .truncatedNormalMatched:
                try Initializer.checkRepresentable(try plan(shape: shape, layout: layout, groups: groups), S.self)
            default: break
            }
            return
        }
        try Initializer.checkRepresentable(try plan(shape: shape, layout: layout, groups: groups), S.self)
    }

    /// Fills a matrix in place; it is a dense weight `[out, in]` unless `layout` says otherwise
    /// (`.denseInOut` for `[in, out]`). - Throws: as `fill(_:shape:…)`.
    public func fill<S: InitializerScalar>(_ matrix: inout Matrix<S>, layout: KernelLayout = .outInSpatial, key: RandomKey,
                                           threads: Int? = nil) throws(InitializationError) {
        let shape = [matrix.rows, matrix.columns]
        try matrix.withUnsafeMutableBufferPointer { (p) throws(InitializationError) in
            try fill(p, shape: shape, layout: layout, key: key, threads: threads)
        }
    }

    /// Fills an array holding a row-major tensor of `shape`. - Throws: as `fill(_:shape:…)`.
    public func fill<S: InitializerScalar>(_ array: inout [S], shape: [Int], layout: KernelLayout = .outInSpatial, groups: Int = 1,
                                           key: RandomKey, threads: Int? = nil) throws(InitializationError) {
        var result: Result<Void, InitializationError> = .success(())
        array.withUnsafeMutableBufferPointer { p in
            do throws(InitializationError) { try fill(p, shape: shape, layout: layout, groups: groups, key: key, threads: threads) }
            catch { result = .failure(error) }
        }
        try result.get()
    }

    /// Fills a `MutableSpan` holding a row-major tensor of `shape`. - Throws: as `fill(_:shape:…)`.
    public func fill<S: InitializerScalar>(_ span: inout MutableSpan<S>, shape: [Int], layout: KernelLayout = .outInSpatial, groups: Int = 1,
                                           key: RandomKey, threads: Int? = nil) throws(InitializationError) {
        var result: Result<Void, InitializationError> = .success(())
        span.withUnsafeMutableBufferPointer { p in
            do throws(InitializationError) { try fill(p, shape: shape, layout: layout, groups: groups, key: key, threads: threads) }
            catch { result = .failure(error) }
        }
        try result.get()
    }

    /// The sequential alternative for code that already holds a generator: draws ONE `UInt64`
    /// from `generator`, uses it as the seed of a `RandomKey`, and fills as `fill(_:shape:…)`.
    /// The result is a deterministic function of the generator's state.
    public func fill<S: InitializerScalar, G: RandomNumberGenerator>(_ buffer: UnsafeMutableBufferPointer<S>, shape: [Int],
                                                                     layout: KernelLayout = .outInSpatial, groups: Int = 1,
                                                                     using generator: inout G) throws(InitializationError) {
        try fill(buffer, shape: shape, layout: layout, groups: groups, key: RandomKey(seed: generator.next()))
    }

    /// `fill(_:layout:key:)` for a matrix, with a key drawn from `generator` (one `UInt64`).
    public func fill<S: InitializerScalar, G: RandomNumberGenerator>(_ matrix: inout Matrix<S>, layout: KernelLayout = .outInSpatial,
                                                                     using generator: inout G) throws(InitializationError) {
        try fill(&matrix, layout: layout, key: RandomKey(seed: generator.next()))
    }

    /// A new `rows × columns` matrix filled with this scheme (dense `[out, in]` by default).
    ///
    /// The storage is not zeroed first: random and constant schemes write every element from the
    /// fill threads, which also take the page faults of the new buffer in parallel, and buffers
    /// of ≥ 4 MiB get transparent huge pages (`FreshStorage`); structured and sparse schemes clear
    /// the buffer in parallel before they write. The bytes equal `fill(_:)` of a zero matrix.
    /// - Throws: as `fill(_:shape:…)`; `.size` when `rows × columns` overflows `Int` or does not
    ///   fit in the memory available (checked before anything is allocated).
    public func matrix<S: InitializerScalar>(rows: Int, columns: Int, of type: S.Type = S.self, layout: KernelLayout = .outInSpatial,
                                             key: RandomKey, threads: Int? = nil) throws(InitializationError) -> Matrix<S> {
        guard rows >= 0, columns >= 0 else { throw .invalidParameter(name: "rows/columns", value: Double(min(rows, columns)), rule: "must be ≥ 0") }
        do {
            let bytes = try CheckedSize.byteCount([rows, columns], elementBytes: MemoryLayout<S>.stride, what: "matrix \(rows)×\(columns)")
            try CheckedSize.requireMemory(bytes, what: "matrix \(rows)×\(columns)")
        } catch { throw .size(error) }
        if let threads, threads < 1 { throw .invalidParameter(name: "threads", value: Double(threads), rule: "must be ≥ 1") }
        try validate(shape: [rows, columns], as: S.self, layout: layout)     // every error before the allocation
        let writesEveryElement: Bool
        switch rows == 0 || columns == 0 ? nil : try plan(shape: [rows, columns], layout: layout, groups: 1) {
        case .constant?, .uniform?, .normal?, .truncated?: writesEveryElement = true
        default: writesEveryElement = false
        }
        return try Matrix<S>.uninitialized(rows: rows, columns: columns) { (p) throws(InitializationError) in
            if !writesEveryElement { S.fillConstant(p, 0, threads: threads) }
            try fill(p, shape: [rows, columns], layout: layout, key: key, threads: threads)
        }
    }
}
