import MatrixModule

/// Errors thrown by initializers, fans and gains. Each names the offending value and the
/// rule; `description` is a sentence a user can act on.
public enum InitializationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A hyper-parameter outside its domain, e.g. `std = -1` ("must be finite and ≥ 0").
    case invalidParameter(name: String, value: Double, rule: String)
    /// `low ≥ high` for a uniform range or `a ≥ b` for truncation bounds.
    case emptyRange(name: String, low: Double, high: Double)
    /// Truncation bounds that leave (numerically) no probability mass under the parent normal.
    case noProbabilityMass(a: Double, b: Double, mean: Double, std: Double)
    /// Fan-based schemes need at least 2 dimensions (a bias vector has no fan_out).
    case tooFewDimensions(scheme: String, shape: [Int])
    /// A fan of 0 in a non-empty tensor (the scale would divide by zero).
    case zeroFan(scheme: String, shape: [Int])
    /// A shape the scheme or layout cannot handle, with the reason.
    case unsupportedShape(scheme: String, shape: [Int], reason: String)
    /// Delta-orthogonal needs `in ≤ out` channels.
    case deltaOrthogonalInputExceedsOutput(inChannels: Int, outChannels: Int)
    /// The storage holds `count` elements but the shape describes `expected`.
    case countMismatch(shape: [Int], expected: Int, count: Int)
    /// A name that is not a known scheme or nonlinearity; `valid` lists the accepted names.
    case unknownName(kind: String, name: String, valid: [String])
    /// A linear-algebra failure (LAPACK) during orthogonal initialization.
    case linearAlgebra(String)
    /// A hyper-parameter the scheme needs was not given (e.g. `constant` without a value).
    case missingParameter(scheme: String, name: String)
    /// Values the scheme would produce exceed the element type's finite range (e.g. a constant
    /// of 1e300 in Float): `limit` is the type's largest finite value.
    case notRepresentable(name: String, value: Double, type: String, limit: Double)
    /// An element count that overflows `Int`, or a tensor that does not fit in the memory
    /// available to the process (see `SizeError`).
    case size(SizeError)

    public var description: String {
        switch self {
        case let .invalidParameter(name, value, rule): return "\(name) = \(CheckedSize.describeValue(value)) is invalid: \(rule)"
        case let .size(error): return error.description
        case let .emptyRange(name, low, high): return "\(name): the lower bound \(low) must be < the upper bound \(high)"
        case let .noProbabilityMass(a, b, mean, std):
            if std == 0 { return "truncation bounds [\(a), \(b)] do not contain the mean \(mean) of N(\(mean), 0²)" }
            return "truncation bounds [\(a), \(b)] lie more than 37.5σ from the mean of N(\(mean), \(std)²): the probability mass inside (below 1e-300) is too small to sample; move the bounds or the mean"
        case let .tooFewDimensions(scheme, shape):
            return "\(scheme): fan_in and fan_out need a tensor with ≥ 2 dimensions, got shape \(shape) (use zeros/constant/uniform/normal for biases)"
        case let .zeroFan(scheme, shape): return "\(scheme): fan is 0 for shape \(shape), the scale would be infinite"
        case let .unsupportedShape(scheme, shape, reason): return "\(scheme): shape \(shape) is not supported: \(reason)"
        case let .deltaOrthogonalInputExceedsOutput(i, o):
            return "delta-orthogonal needs in_channels ≤ out_channels, got in \(i) > out \(o)"
        case let .countMismatch(shape, expected, count):
            return "shape \(shape) has \(expected) elements but the storage holds \(count)"
        case let .unknownName(kind, name, valid):
            return "unknown \(kind) '\(name)'; valid names: \(valid.joined(separator: ", "))"
        case let .linearAlgebra(message): return "orthogonal initialization failed: \(message)"
        case let .missingParameter(scheme, name): return "\(scheme) needs a value for \(name)"
        case let .notRepresentable(name, value, type, limit):
            return "\(name) = \(value) would produce values beyond the largest finite \(type) (\(limit))"
        }
    }
}

@inline(__always)
func requireFinite(_ name: String, _ value: Double) throws(InitializationError) {
    guard value.isFinite else { throw .invalidParameter(name: name, value: value, rule: "must be finite") }
}

@inline(__always)
func requireNonNegative(_ name: String, _ value: Double) throws(InitializationError) {
    guard value.isFinite, value >= 0 else { throw .invalidParameter(name: name, value: value, rule: "must be finite and ≥ 0") }
}

@inline(__always)
func requirePositive(_ name: String, _ value: Double) throws(InitializationError) {
    guard value.isFinite, value > 0 else { throw .invalidParameter(name: name, value: value, rule: "must be finite and > 0") }
}
