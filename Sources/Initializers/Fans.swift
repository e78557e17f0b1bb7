/// How a weight tensor's axes map to input channels, output channels and the spatial kernel.
/// `Fans` is the only code in the package that reads a layout.
///
/// Receptive field `r` = product of the spatial dimensions (1 for dense weights).
/// `fan_in = (input channels per group)·r`, `fan_out = (output channels per group)·r`.
public enum KernelLayout: Sendable, Hashable, Codable {
    /// `[out, in, k…]`: PyTorch's dense `[out, in]` and conv OIHW (1-D, 2-D, 3-D), with
    /// `in` already divided by groups as PyTorch stores it. fan_in = `shape[1]·r`.
    case outInSpatial
    /// `[k…, in, out]`: Keras/JAX channels-last (HWIO), and a dense `[in, out]` weight used as
    /// `Y = X·W`. fan_in = `shape[-2]·r`, fan_out = `shape[-1]·r`.
    case spatialInOut
    /// `[in, out/groups, k…]`: PyTorch's `ConvTranspose` weight. As in PyTorch, fan_in is
    /// taken from axis 1 and fan_out from axis 0 (the transposed conv's weight is the
    /// forward conv's weight of the adjoint map).
    case inOutSpatialTransposed
    /// `[k…, out, in]`: Keras's `Conv{1,2,3}DTranspose` kernel; as in Keras, fan_in =
    /// `shape[-2]·r`, fan_out = `shape[-1]·r`.
    case spatialOutInTransposed
    /// Explicit axes: fan_in = `shape[inAxis]·r`, fan_out = `shape[outAxis]·r`, where `r`
    /// is the product of all other axes (the receptive field). Negative axes count from the end.
    case axes(inAxis: Int, outAxis: Int)

    /// A dense weight `[out, in]` (PyTorch `nn.Linear`), the package's default.
    public static let dense = KernelLayout.outInSpatial
    /// A dense weight `[in, out]` used as `Y = X·W` (Keras `Dense`).
    public static let denseInOut = KernelLayout.spatialInOut
}

/// fan_in, fan_out and the receptive field of a weight tensor.
///
/// - Shape-based vs group-aware: PyTorch computes fans from the shape alone. With
///   `groups > 1` this type divides the output channel count by `groups` for fan_out, so a
///   depthwise kernel OIHW `(4, 1, 3, 3)` with `groups: 4` has fan_in 9 and fan_out 9
///   (PyTorch's shape-only rule gives 36). With `groups: 1` (default) both agree.
/// - Matches `torch.nn.init._calculate_fan_in_and_fan_out` for `.outInSpatial` and
///   Keras's `_compute_fans` for `.spatialInOut`.
///
/// ```swift
/// let f = try Fans(shape: [32, 16, 3, 3])            // OIHW: fanIn 144, fanOut 288
/// let k = try Fans(shape: [3, 3, 1, 16], layout: .spatialInOut)   // HWIO: 9, 144
/// ```
public struct Fans: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Inputs feeding one output unit: `(input channels per group)·receptiveField`.
    public let fanIn: Int
    /// Outputs fed by one input unit: `(output channels per group)·receptiveField`.
    public let fanOut: Int
    /// Product of the spatial kernel dimensions (1 for dense weights).
    public let receptiveField: Int

    /// Fans given directly.
    public init(fanIn: Int, fanOut: Int, receptiveField: Int = 1) {
        self.fanIn = fanIn; self.fanOut = fanOut; self.receptiveField = receptiveField
    }

    /// Fans of a tensor of `shape` stored with `layout`.
    /// - Parameters:
    ///   - groups: convolution groups (default 1); fan_out is divided by it (group-aware).
    /// - Throws: `InitializationError.tooFewDimensions` for fewer than 2 dimensions,
    ///   `.invalidParameter` for negative sizes, `groups < 1`, an output channel count not
    ///   divisible by `groups`, or axes out of range; `.size(.overflow)` naming the shape when
    ///   the receptive field, fan_in or fan_out exceeds `Int.max`. That happens only for an
    ///   empty tensor (a zero dimension next to huge ones, e.g. `[0, 2^62, 4]`): PyTorch computes
    ///   such fans in Python integers, and initializing an empty tensor is a no-op there and
    ///   here (`Initializer.fill` never asks for the fans of an empty tensor).
    public init(shape: [Int], layout: KernelLayout = .outInSpatial, groups: Int = 1) throws(InitializationError) {
        let (inAxis, outAxis) = try Fans.channelAxes(shape: shape, layout: layout, groups: groups)
        let outChannels = shape[outAxis]
        // Every product is overflow-checked: a tensor with a zero dimension has 0 elements
        // whatever its other dimensions, but its fans can still exceed Int.max
        // ([0, 2^62, 4]: fan_in 2^64). A non-empty tensor whose element count fits in Int
        // always has fans that fit (each fan is at most the element count).
        func product(_ a: Int, _ b: Int, _ what: String) throws(InitializationError) -> Int {
            let (p, o) = a.multipliedReportingOverflow(by: b)
            guard !o else { throw .size(.overflow(what: "\(what) of shape \(shape)", factors: [a, b], elementBytes: nil)) }
            return p
        }
        var r = 1
        for (axis, size) in shape.enumerated() where axis != inAxis && axis != outAxis {
            r = try product(r, size, "the receptive field")
        }
        self.init(fanIn: try product(shape[inAxis], r, "fan_in"), fanOut: try product(outChannels / groups, r, "fan_out"), receptiveField: r)
    }

    /// The input and output channel axes of `shape` under `layout`, after the checks that need
    /// no product of dimensions: ≥ 2 dimensions, sizes ≥ 0, `groups ≥ 1` dividing the output
    /// channels, axes in range. `Initializer` runs it before its empty-tensor shortcut, so an
    /// invalid `groups` is rejected for empty tensors too.
    /// - Throws: as `init(shape:layout:groups:)`, except the overflow.
    static func channelAxes(shape: [Int], layout: KernelLayout, groups: Int) throws(InitializationError) -> (inAxis: Int, outAxis: Int) {
        guard shape.count >= 2 else { throw .tooFewDimensions(scheme: "fans", shape: shape) }
        if let bad = shape.first(where: { $0 < 0 }) { throw .invalidParameter(name: "dimension", value: Double(bad), rule: "must be ≥ 0") }
        guard groups >= 1 else { throw .invalidParameter(name: "groups", value: Double(groups), rule: "must be ≥ 1") }
        let d = shape.count
        let inAxis: Int, outAxis: Int
        switch layout {
        case .outInSpatial: outAxis = 0; inAxis = 1
        case .spatialInOut: inAxis = d - 2; outAxis = d - 1
        case .inOutSpatialTransposed: inAxis = 1; outAxis = 0
        case .spatialOutInTransposed: inAxis = d - 2; outAxis = d - 1
        case let .axes(i, o):
            let ii = i < 0 ? d + i : i, oo = o < 0 ? d + o : o
            guard (0..<d).contains(ii), (0..<d).contains(oo), ii != oo else {
                throw .invalidParameter(name: "axes", value: Double(i), rule: "inAxis \(i) and outAxis \(o) must be distinct axes of a \(d)-D shape")
            }
            inAxis = ii; outAxis = oo
        }
        guard shape[outAxis] % groups == 0 else {
            throw .invalidParameter(name: "groups", value: Double(groups), rule: "must divide the \(shape[outAxis]) output channels")
        }
        return (inAxis, outAxis)
    }

    /// The fan a `FanMode` selects: fan_in, fan_out, their mean, or their geometric mean.
    public func value(for mode: FanMode) -> Double {
        switch mode {
        case .fanIn: return Double(fanIn)
        case .fanOut: return Double(fanOut)
        case .fanAverage: return (Double(fanIn) + Double(fanOut)) / 2
        case .fanGeometricAverage: return (Double(fanIn) * Double(fanOut)).squareRoot()
        }
    }

    public var description: String { "Fans(fanIn: \(fanIn), fanOut: \(fanOut), receptiveField: \(receptiveField))" }
}

/// Which fan a variance-scaling scheme divides by.
public enum FanMode: String, Sendable, Hashable, Codable, CaseIterable {
    /// fan_in: preserves the forward signal's variance (He/Kaiming default, LeCun).
    case fanIn = "fan-in"
    /// fan_out: preserves the backward gradient's variance.
    case fanOut = "fan-out"
    /// (fan_in + fan_out)/2: the Glorot/Xavier compromise (Keras `fan_avg`).
    case fanAverage = "fan-avg"
    /// √(fan_in·fan_out): geometric mean (JAX `fan_geo_avg`).
    case fanGeometricAverage = "fan-geo-avg"
}
