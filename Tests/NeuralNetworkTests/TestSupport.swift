// Shared helpers for the NeuralNetwork tests: a seeded input generator, naive Double oracles
// (activations in closed form, dense forward/backward as loops) and comparison helpers.
// Nothing here calls the code under test.
import Foundation
import Testing
import MatrixModule
import NeuralNetwork

/// SplitMix64 (Steele, Lea, Flood 2014): seeded inputs for the tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [lo, hi), 53-bit resolution.
    mutating func uniform(_ lo: Double = -1, _ hi: Double = 1) -> Double {
        lo + (hi - lo) * Double(next() >> 11) * 0x1.0p-53
    }
    /// Standard normal (Box–Muller).
    mutating func gaussian() -> Double {
        let u1 = max(Double(next() >> 11) * 0x1.0p-53, 0x1.0p-60), u2 = Double(next() >> 11) * 0x1.0p-53
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
    }
}

/// A `rows × columns` Float matrix of seeded uniform values in [lo, hi).
func randomMatrix(rows: Int, columns: Int, seed: UInt64, _ lo: Double = -1, _ hi: Double = 1) -> Matrix<Float> {
    var g = SplitMix64(seed: seed)
    let e = (0..<(rows * columns)).map { _ in Float(g.uniform(lo, hi)) }
    return try! Matrix(rows: rows, columns: columns, elements: e)
}

func randomArray(count: Int, seed: UInt64, _ lo: Double = -1, _ hi: Double = 1) -> [Float] {
    var g = SplitMix64(seed: seed)
    return (0..<count).map { _ in Float(g.uniform(lo, hi)) }
}

func matrix(_ rows: [[Float]]) -> Matrix<Float> { try! Matrix(rows) }

/// Row-major elements as Doubles.
func doubles(_ m: Matrix<Float>) -> [Double] { m.elements.map { Double($0) } }

// MARK: - Closed forms in Double

let seluLambda = 1.0507009873554804934193349852946
let seluAlpha = 1.6732632423543772848170429916717

func refSigmoid(_ x: Double) -> Double { x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)) }

/// `f(x)` of `activation` from its textbook formula, in Double.
func refActivation(_ a: Activation, _ x: Double) -> Double {
    switch a {
    case .identity: return x
    case .sigmoid: return refSigmoid(x)
    case .tanh: return Foundation.tanh(x)
    case .relu: return max(x, 0)
    case let .leakyReLU(s): return x >= 0 ? x : Double(s) * x
    case let .elu(al): return x > 0 ? x : Double(al) * expm1(x)
    case .selu: return x > 0 ? seluLambda * x : seluLambda * seluAlpha * expm1(x)
    case .gelu: return x * 0.5 * erfc(-x / 2.0.squareRoot())
    case .silu: return x * refSigmoid(x)
    case .softplus: return max(x, 0) + log1p(exp(-abs(x)))
    case .softsign: return x / (1 + abs(x))
    }
}

/// Central finite difference of the closed form, in Double (step scaled to |x|).
func refDerivative(_ a: Activation, _ x: Double) -> Double {
    let h = 1e-6 * max(1, abs(x))
    return (refActivation(a, x + h) - refActivation(a, x - h)) / (2 * h)
}

/// `|a − b| ≤ abs + rel·|b|`.
func close(_ a: Double, _ b: Double, abs absTol: Double = 1e-6, rel: Double = 1e-5) -> Bool {
    Swift.abs(a - b) <= absTol + rel * Swift.abs(b)
}

/// Largest `|a[i] − b[i]| / (abs + rel·|b[i]|)`; ≤ 1 means every element is within tolerance.
func worstRatio(_ a: [Double], _ b: [Double], abs absTol: Double = 1e-6, rel: Double = 1e-5) -> Double {
    precondition(a.count == b.count, "\(a.count) vs \(b.count)")
    var worst = 0.0
    for i in a.indices { worst = max(worst, Swift.abs(a[i] - b[i]) / (absTol + rel * Swift.abs(b[i]))) }
    return worst
}

// MARK: - Naive dense layer in Double

/// Naive dense forward `Z = X·Wᵀ + b`, `Y = f(Z)`; X `[B, in]`, W `[out, in]` (row-major arrays).
func naiveDense(x: [Double], w: [Double], b: [Double], batch: Int, inSize: Int, outSize: Int,
                activation: Activation) -> (z: [Double], y: [Double]) {
    var z = [Double](repeating: 0, count: batch * outSize)
    for r in 0..<batch {
        for o in 0..<outSize {
            var s = b[o]
            for i in 0..<inSize { s += x[r * inSize + i] * w[o * inSize + i] }
            z[r * outSize + o] = s
        }
    }
    return (z, z.map { refActivation(activation, $0) })
}

/// Naive dense backward from `dY`: `dZ = dY ⊙ f′(Z)` (f′ by finite differences of the closed
/// form), `dW = dZᵀ·X`, `db = Σ_rows dZ`, `dX = dZ·W`.
func naiveDenseBackward(x: [Double], w: [Double], z: [Double], dy: [Double], batch: Int, inSize: Int, outSize: Int,
                        activation: Activation) -> (dw: [Double], db: [Double], dx: [Double]) {
    let dz = zip(dy, z).map { $0 * refDerivative(activation, $1) }
    var dw = [Double](repeating: 0, count: outSize * inSize), db = [Double](repeating: 0, count: outSize)
    var dx = [Double](repeating: 0, count: batch * inSize)
    for r in 0..<batch {
        for o in 0..<outSize {
            let g = dz[r * outSize + o]
            db[o] += g
            for i in 0..<inSize {
                dw[o * inSize + i] += g * x[r * inSize + i]
                dx[r * inSize + i] += g * w[o * inSize + i]
            }
        }
    }
    return (dw, db, dx)
}

/// Sets a layer's parameters.
func setParameters(_ layer: Dense, weight: Matrix<Float>, bias: [Float]) {
    layer.weight = weight
    layer.bias = bias
}
