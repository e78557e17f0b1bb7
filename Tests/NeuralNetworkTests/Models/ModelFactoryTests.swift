// ModelFactory: scheme names → initialized classifiers. Oracles: the std a scheme promises
// (He with the activation's gain, PyTorch's formula) measured on the built weights with a
// tolerance from the sample size; Fixup's and ReZero's defining zeros (the papers); LSUV's unit
// pre-activation variance measured with a naive loop; the calibration batch as distinct rows of
// the data; typed errors for names that do not apply.
import Foundation
import Testing
import Initializers
import MatrixModule
import NeuralNetwork

/// `count` rows of `features` seeded values in [-1, 1), labels `i % classes`.
private func data(count: Int, features: Int, classes: Int = 10, seed: UInt64, poison: Bool = false) throws -> LabeledData {
    var inputs = randomArray(count: count * features, seed: seed)
    if poison { inputs[3] = .nan }
    return try LabeledData(features: features, inputs: inputs, labels: (0..<count).map { Int32($0 % classes) })
}

/// Population std of the elements in Double.
private func std(_ xs: [Float]) -> Double {
    let m = xs.reduce(0.0) { $0 + Double($1) } / Double(xs.count)
    return (xs.reduce(0.0) { $0 + (Double($1) - m) * (Double($1) - m) } / Double(xs.count)).squareRoot()
}

@Suite("ModelFactory")
struct ModelFactoryTests {
    @Test("he-normal takes the activation's gain: weight std (5/3)/√fan_in for tanh; normal has std 0.01")
    func classicSchemes() throws {
        let train = try data(count: 4, features: 400, seed: 1)
        for (name, act, expected) in [("he-normal", Activation.tanh, (5.0 / 3) / 400.0.squareRoot()), ("kaiming-normal", .relu, (2.0 / 400).squareRoot()),
                                      ("normal", .relu, 0.01)] {
            let built = try ModelFactory.build(architecture: .mlp, inputs: 400, hidden: [300], width: 0, depth: 0, classes: 10, activation: act,
                                               initName: name, train: train, seed: 3, threads: 1)
            let w = built.model.denseLayers[0].weight.elements
            let s = std(w)
            // The sample std of n normal draws has relative standard error ≈ 1/√(2n); allow 5 of them.
            let tol = 5 / (2.0 * Double(w.count)).squareRoot()
            print("\(name)/\(act.name): weight std \(s), expected \(expected), tolerance \(tol)")
            #expect(abs(s / expected - 1) < tol)
            #expect(built.label == name && built.calibrationSeconds == 0)
            #expect(built.model.denseLayers.map(\.outputSize) == [300, 10])
        }
    }

    @Test("auto names the scheme of every layer: He for ReLU layers, Xavier for the linear output")
    func autoLabel() throws {
        let built = try ModelFactory.build(architecture: .mlp, inputs: 8, hidden: [6, 4], width: 0, depth: 0, classes: 3, activation: .relu,
                                           initName: "auto", train: try data(count: 4, features: 8, classes: 3, seed: 1), seed: 0, threads: 1)
        #expect(built.label.hasPrefix("auto (he-") && built.label.contains("xavier-"), "\(built.label)")
        #expect(built.label.split(separator: ",").count == 3)
    }

    @Test("residual fixup zeroes the output layer and each branch's last layer; rezero gates start at 0")
    func residualSchemes() throws {
        let train = try data(count: 8, features: 5, classes: 3, seed: 2)
        let fixup = try #require(try ModelFactory.build(architecture: .residual, inputs: 5, hidden: [], width: 4, depth: 3, classes: 3, activation: .relu,
                                                        initName: "fixup", train: train, seed: 0, threads: 1).model as? ResidualMLP)
        #expect(fixup.outputLayer.weight.elements.allSatisfy { $0 == 0 })
        #expect(fixup.blocks.count == 3 && fixup.blocks.allSatisfy { $0.second.weight.elements.allSatisfy { $0 == 0 } })
        let auto = try ModelFactory.build(architecture: .residual, inputs: 5, hidden: [], width: 4, depth: 3, classes: 3, activation: .relu,
                                          initName: "auto", train: train, seed: 0, threads: 1)
        #expect(auto.label == "auto (fixup)")
        let rezero = try ModelFactory.build(architecture: .residual, inputs: 5, hidden: [], width: 4, depth: 3, classes: 3, activation: .relu,
                                            initName: "rezero", train: train, seed: 0, threads: 1).model
        #expect(rezero.scalarParameters.count == 3 && rezero.scalarParameters.allSatisfy { $0.value == 0 })
    }

    @Test("lsuv leaves every layer with pre-activation variance 1 ± 0.1 on the calibration batch (naive loop)")
    func lsuv() throws {
        let train = try data(count: 300, features: 12, seed: 4)
        let built = try ModelFactory.build(architecture: .mlp, inputs: 12, hidden: [16, 16], width: 0, depth: 0, classes: 10, activation: .tanh,
                                           initName: "LSUV", train: train, seed: 5, threads: 1)
        #expect(built.label == "lsuv" && built.calibrationSeconds >= 0)
        let batch = try ModelFactory.calibrationBatch(train, seed: 5)
        #expect(batch.rows == 300)
        var h = (0..<batch.rows).map { r in (0..<batch.columns).map { Double(batch[r, $0]) } }
        for (i, layer) in built.model.denseLayers.enumerated() {
            let z = h.map { row in (0..<layer.outputSize).map { o in (0..<layer.inputSize).reduce(Double(layer.bias[o])) { $0 + Double(layer.weight[o, $1]) * row[$1] } } }
            let flat = z.flatMap { $0 }, m = flat.reduce(0, +) / Double(flat.count)
            let v = flat.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(flat.count)
            print("lsuv layer \(i): pre-activation variance \(v)")
            #expect(abs(v - 1) <= 0.1 + 1e-4)
            h = i == built.model.denseLayers.count - 1 ? z : z.map { $0.map { Foundation.tanh($0) } }
        }
    }

    @Test("the calibration batch is min(size, count) distinct rows of the data")
    func calibrationBatch() throws {
        let train = try data(count: 50, features: 3, seed: 6)
        let rows = (0..<50).map { Array(train.inputs[($0 * 3)..<($0 * 3 + 3)]) }
        for size in [1, 20, 1024] {
            let b = try ModelFactory.calibrationBatch(train, seed: 9, size: size)
            #expect(b.rows == min(size, 50) && b.columns == 3)
            let found = (0..<b.rows).map { r in rows.firstIndex(of: (0..<3).map { b[r, $0] }) }
            #expect(found.allSatisfy { $0 != nil } && Set(found.compactMap { $0 }).count == b.rows)
        }
    }

    @Test("names that do not apply, unknown names and bad calibration data give typed errors")
    func errors() throws {
        let train = try data(count: 16, features: 4, seed: 7)
        func build(_ a: NetworkArchitecture, _ name: String, _ t: LabeledData) throws {
            _ = try ModelFactory.build(architecture: a, inputs: 4, hidden: [4], width: 4, depth: 2, classes: 10, activation: .relu,
                                       initName: name, train: t, seed: 0, threads: 1)
        }
        for (a, name) in [(NetworkArchitecture.mlp, "fixup"), (.mlp, "ReZero"), (.residual, "lsuv"), (.residual, "mup")] {
            #expect(throws: ModelFactoryError.self) { try ModelFactory.check(scheme: name, architecture: a) }
            let e = try #require(throws: ModelFactoryError.self) { try build(a, name, train) }
            guard case let .schemeNeedsArchitecture(s, arch, _) = e else { Issue.record("\(e)"); continue }
            #expect(s == name && arch == a)
        }
        #expect(throws: InitializationError.self) { try build(.mlp, "xavier_unifrom", train) }
        let e = try #require(throws: ModelFactoryError.self) { try build(.mlp, "lsuv", try data(count: 16, features: 4, seed: 7, poison: true)) }
        #expect(e == .calibrationFailed(scheme: "lsuv", reason: DataInitializationError.nonFiniteBatch(count: 1).description))
        #expect(try NetworkArchitecture(name: "MLP") == .mlp && NetworkArchitecture(name: "Residual") == .residual)
        #expect(throws: ModelFactoryError.unknownArchitecture("cnn2", valid: ["mlp", "residual", "cnn"])) { try NetworkArchitecture(name: "cnn2") }
    }
}
