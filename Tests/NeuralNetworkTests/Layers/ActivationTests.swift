// Activation: values against closed forms in Double (including ±50 and ±1e4), derivatives —
// both `derivative(at:)` and the `backward` kernel — against central finite differences of the
// closed form in Double, names and errors.
import Foundation
import Testing
import Initializers
import NeuralNetwork

let allActivations: [Activation] = [
    .identity, .sigmoid, .tanh, .relu, .leakyReLU(slope: 0.01), .leakyReLU(slope: 0.2), .elu(alpha: 1), .elu(alpha: 0.5),
    .selu, .gelu, .silu, .softplus, .softsign,
]

/// Points away from 0 (kinks), including the extremes.
let activationPoints: [Float] = [-1e4, -50, -7.5, -2, -0.5, -0.001, 0.003, 0.25, 1, 3.3, 50, 1e4]

@Suite("Activation")
struct ActivationTests {
    @Test("values match the closed form in Double and are finite", arguments: allActivations)
    func valuesMatchClosedForm(_ a: Activation) {
        for x in activationPoints {
            let y = a(x)
            let ref = refActivation(a, Double(x))
            #expect(y.isFinite, "\(a.name)(\(x)) = \(y)")
            #expect(close(Double(y), ref, abs: 1e-6, rel: 1e-5), "\(a.name)(\(x)) = \(y), expected \(ref)")
        }
    }

    @Test("extreme arguments give the exact asymptotic values")
    func extremeValues() {
        #expect(Activation.sigmoid(-1e4) == 0)
        #expect(Activation.sigmoid(1e4) == 1)
        #expect(Activation.sigmoid(-50) > 0)        // e^-50 ≈ 1.9e-22 is a normal Float
        #expect(Activation.softplus(1e4) == 1e4)
        #expect(Activation.softplus(-1e4) == 0)
        #expect(Activation.softplus(50) == 50)
        #expect(Activation.silu(1e4) == 1e4)
        #expect(Activation.silu(-1e4) == 0)
        #expect(Activation.gelu(1e4) == 1e4)
        #expect(Activation.gelu(-1e4) == 0)
        #expect(Activation.tanh(1e4) == 1)
        #expect(Activation.tanh(-1e4) == -1)
        #expect(Activation.elu(alpha: 1)(-1e4) == -1)
        #expect(Activation.elu(alpha: 1)(1e4) == 1e4)
        let seluNeg = Activation.selu(-1e4)
        #expect(close(Double(seluNeg), -seluLambda * seluAlpha, abs: 0, rel: 1e-6), "selu(-1e4) = \(seluNeg)")
        #expect(close(Double(Activation.selu(1e4)), seluLambda * 1e4, abs: 0, rel: 1e-6))
        #expect(close(Double(Activation.softsign(1e4)), 1e4 / (1 + 1e4), abs: 0, rel: 1e-6))
        #expect(Activation.relu(-1e4) == 0 && Activation.relu(1e4) == 1e4)
        #expect(Activation.leakyReLU(slope: 0.01)(-1e4) == -100)
    }

    @Test("derivative(at:) matches central finite differences in Double", arguments: allActivations)
    func derivativeMatchesFiniteDifferences(_ a: Activation) {
        for x in activationPoints {
            let d = a.derivative(at: x)
            let ref = refDerivative(a, Double(x))
            #expect(d.isFinite, "\(a.name)′(\(x)) = \(d)")
            #expect(close(Double(d), ref, abs: 1e-5, rel: 1e-4), "\(a.name)′(\(x)) = \(d), finite difference \(ref)")
        }
    }

    @Test("backward kernel: dz = dy·f′(z) against finite differences", arguments: allActivations)
    func backwardKernelMatchesFiniteDifferences(_ a: Activation) {
        let z = activationPoints
        let n = z.count
        var y = [Float](repeating: 0, count: n)
        let dy = randomArray(count: n, seed: 7, -2, 2)
        var dz = [Float](repeating: .nan, count: n)
        z.withUnsafeBufferPointer { zp in
            y.withUnsafeMutableBufferPointer { yp in a.forward(zp.baseAddress!, yp.baseAddress!, count: n) }
        }
        z.withUnsafeBufferPointer { zp in
            y.withUnsafeBufferPointer { yp in
                dy.withUnsafeBufferPointer { dyp in
                    dz.withUnsafeMutableBufferPointer { dzp in
                        a.backward(z: zp.baseAddress!, y: yp.baseAddress!, dy: dyp.baseAddress!, dz: dzp.baseAddress!, count: n)
                    }
                }
            }
        }
        for i in 0..<n {
            let ref = Double(dy[i]) * refDerivative(a, Double(z[i]))
            #expect(close(Double(dz[i]), ref, abs: 2e-5, rel: 1e-4), "\(a.name): z \(z[i]) dy \(dy[i]) → dz \(dz[i]), expected \(ref)")
        }
    }

    @Test("documented values at the kinks")
    func kinks() {
        #expect(Activation.relu.derivative(at: 0) == 0)
        #expect(Activation.relu.derivative(at: -1) == 0)
        #expect(Activation.relu.derivative(at: 1) == 1)
        #expect(Activation.leakyReLU(slope: 0.2).derivative(at: -3) == 0.2)
        #expect(Activation.leakyReLU(slope: 0.2)(-3) == Float(-0.6000000238418579))
        #expect(Activation.identity.derivative(at: 123) == 1)
        #expect(Activation.gelu(0) == 0 && Activation.silu(0) == 0 && Activation.sigmoid(0) == 0.5)
        #expect(close(Double(Activation.softplus(0)), log(2.0), abs: 0, rel: 1e-6))
        #expect(Activation.gelu.derivative(at: 0) == 0.5 && Activation.silu.derivative(at: 0) == 0.5)
        #expect(Activation.sigmoid.derivative(at: 0) == 0.25 && Activation.tanh.derivative(at: 0) == 1)
    }

    @Test("forward kernel works in place")
    func forwardInPlace() {
        for a in allActivations {
            var v: [Float] = [-2, -0.5, 0.5, 2]
            let ref = v.map { refActivation(a, Double($0)) }
            v.withUnsafeMutableBufferPointer { p in a.forward(UnsafePointer(p.baseAddress!), p.baseAddress!, count: 4) }
            #expect(worstRatio(v.map(Double.init), ref) <= 1, "\(a.name): \(v) vs \(ref)")
        }
    }

    @Test("every name round-trips through init(name:)")
    func namesRoundTrip() throws {
        #expect(Activation.names.count == 11)
        for name in Activation.names {
            let a = try Activation(name: name)
            #expect(a.name == name)
        }
        for a in allActivations { #expect(try Activation(name: a.name).name == a.name) }
    }

    @Test("aliases, case and underscores")
    func aliases() throws {
        #expect(try Activation(name: "leaky_relu", slope: 0.3) == .leakyReLU(slope: 0.3))
        #expect(try Activation(name: "LeakyReLU") == .leakyReLU(slope: 0.01))
        #expect(try Activation(name: "swish") == .silu)
        #expect(try Activation(name: "linear") == .identity)
        #expect(try Activation(name: "none") == .identity)
        #expect(try Activation(name: "RELU") == .relu)
        #expect(try Activation(name: "elu") == .elu(alpha: 1))
    }

    @Test("an unknown name throws unknownName listing the valid names")
    func unknownName() {
        for bad in ["", "rectifier", "relu6", "soft-max"] {
            #expect {
                _ = try Activation(name: bad)
            } throws: { error in
                guard case let .unknownName(kind, name, valid) = error as? InitializationError else { return false }
                return kind == "activation" && name == bad && valid == Activation.names
            }
        }
    }

    @Test("flags: saturating and dying activations")
    func flags() {
        let saturating = allActivations.filter(\.saturates).map(\.name)
        #expect(Set(saturating) == ["sigmoid", "tanh", "softsign"])
        #expect(allActivations.filter(\.canDie).map(\.name) == ["relu"])
    }

    @Test("gains map to the Nonlinearity table")
    func nonlinearities() {
        #expect(abs(Activation.relu.nonlinearity.gain - 2.0.squareRoot()) < 1e-12)
        #expect(abs(Activation.tanh.nonlinearity.gain - 5.0 / 3.0) < 1e-12)
        #expect(abs(Activation.selu.nonlinearity.gain - 0.75) < 1e-12)
        #expect(Activation.identity.nonlinearity.gain == 1 && Activation.softsign.nonlinearity.gain == 1)
        let slope = 0.2
        #expect(abs(Activation.leakyReLU(slope: Float(slope)).nonlinearity.gain - (2 / (1 + Double(Float(slope)) * Double(Float(slope)))).squareRoot()) < 1e-9)
    }
}
