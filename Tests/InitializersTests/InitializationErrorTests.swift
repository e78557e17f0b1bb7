// InitializationError: every description names the value and the rule.
import Testing
import Initializers

@Suite("InitializationError")
struct InitializationErrorTests {
    @Test("descriptions name the offending value and the rule")
    func descriptions() {
        let cases: [(InitializationError, [String])] = [
            (.invalidParameter(name: "std", value: -1, rule: "must be finite and ≥ 0"), ["std", "-1", "must be finite and ≥ 0"]),
            (.emptyRange(name: "uniform", low: 2, high: 1), ["uniform", "2", "1"]),
            (.noProbabilityMass(a: 40, b: 41, mean: 0, std: 1), ["40", "41"]),
            (.tooFewDimensions(scheme: "xavier-uniform", shape: [10]), ["xavier-uniform", "[10]", "≥ 2 dimensions"]),
            (.zeroFan(scheme: "he-normal", shape: [0, 3]), ["he-normal", "[0, 3]"]),
            (.unsupportedShape(scheme: "dirac", shape: [3, 3], reason: "needs 3-D"), ["dirac", "[3, 3]", "needs 3-D"]),
            (.deltaOrthogonalInputExceedsOutput(inChannels: 8, outChannels: 4), ["8", "4"]),
            (.countMismatch(shape: [3, 4], expected: 12, count: 11), ["[3, 4]", "12", "11"]),
            (.unknownName(kind: "initializer", name: "foo", valid: ["zeros", "ones"]), ["foo", "zeros, ones"]),
            (.linearAlgebra("dgeqrf info -4"), ["dgeqrf info -4"]),
        ]
        for (e, parts) in cases {
            for p in parts { #expect(e.description.contains(p), "'\(e.description)' lacks '\(p)'") }
        }
        #expect(InitializationError.emptyRange(name: "u", low: 1, high: 0) != .emptyRange(name: "u", low: 1, high: 0.5))
    }

    @Test("errors thrown by fills carry the actual value")
    func carriesValue() {
        let e = InitializerTests.error(.normal(mean: 0, std: -1), shape: [2, 2])
        #expect(e == .invalidParameter(name: "std", value: -1, rule: "must be finite and ≥ 0"))
        #expect(e?.description.contains("-1") == true)
    }
}
