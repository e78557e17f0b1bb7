import ArgumentParser
import Foundation
import WeightInit

extension ModelFactory {
    /// Every name `--init` accepts: the special schemes, then the classic schemes and aliases.
    static var allInitNames: [String] { specialSchemes.map(\.name) + Initializer.schemeNames + Initializer.schemeAliases.keys.sorted() }

    /// Checks `--init` before any data is loaded: the name exists (the error lists every valid
    /// name, special schemes included), fits the architecture, μP gets equal hidden widths, and a
    /// `normal:STD` fits Float.
    /// - Throws: `ValidationError` (exit 64).
    static func validateInit(_ initName: String, architecture: NetworkArchitecture, hidden: [Int], activation: Activation) throws {
        let name = initName.lowercased()
        do { try check(scheme: initName, architecture: architecture) } catch { throw ValidationError("--init \(error.description)") }
        if specialSchemes.contains(where: { $0.name == name }) || ["skipinit", "standard", "he"].contains(name) {
            if architecture == .mlp && name == "mup" {
                do { try WidthScaling(baseWidth: 64).validate(hiddenWidths: hidden) } catch { throw ValidationError("--init mup: \(error)") }
            }
            return
        }
        do { _ = try layerInitialization(named: initName, activation: activation) } catch {
            if case let .unknownName(_, bad, _) = error {
                throw ValidationError("--init: unknown scheme '\(bad)'; valid: \(allInitNames.joined(separator: ", ")), or normal:STD, truncated-normal:STD, sparse:STD")
            }
            throw ValidationError("--init \(initName): \(error.description)")
        }
    }

    /// Refuses a model whose training memory (`MemoryEstimate`: parameters, gradients, optimizer
    /// state and activations for `batch` rows) does not fit in the memory available.
    /// - Throws: `SizeError` (`.insufficientMemory`: exit 1; `.overflow`: exit 64).
    /// With `beforeData`, `inputs` and `batch` are lower bounds (1) and the message says so.
    static func requireMemory(architecture: NetworkArchitecture, inputs: Int, hidden: [Int], width: Int, depth: Int, classes: Int,
                              batch: Int, optimizer: Optimizer.Kind, beforeData: Bool = false, cnnSpec: [LayerSpec]? = nil) throws {
        let slots = MemoryEstimate.optimizerSlots(optimizer)
        let estimate: Int, what: String
        switch architecture {
        case .cnn:
            // `inputs` = side² of single-channel square images (checked by the caller).
            let side = Int(Double(inputs).squareRoot().rounded())
            let spec = cnnSpec ?? ConvolutionalNetwork.defaultCNNSpec(classes: classes)
            estimate = try MemoryEstimate.cnn(inputShape: [1, side, side], spec: spec, batch: batch, optimizerSlots: slots)
            what = "training a CNN on \(side)×\(side) images"

        case .residual:
            estimate = try MemoryEstimate.residual(inputSize: inputs, width: width, depth: depth, classes: classes, batch: batch, optimizerSlots: slots)
            what = "training a residual MLP of \(depth) blocks of width \(width)"
        default:
            estimate = try MemoryEstimate.sequential(sizes: [inputs] + hidden + [classes], batch: batch, optimizerSlots: slots)
            what = "training an MLP \(MemoryEstimate.describe(sizes: [inputs] + hidden + [classes]))"
        }
        if beforeData {
            let shape = architecture == .residual ? "a residual MLP of \(depth) blocks of width \(width)"
                                                  : "an MLP with hidden layers \(MemoryEstimate.describe(sizes: hidden))"
            try CheckedSize.requireMemory(estimate, what: "training \(shape) (at least, for any data)")
        } else {
            try CheckedSize.requireMemory(estimate, what: what)
        }
    }
}
