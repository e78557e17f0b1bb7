import ArgumentParser
import Foundation
import WeightInit

/// Builds the model a command asked for, with classic, data-based, architecture-based or adaptive
/// initialization.
enum ModelFactory {
    /// Names beyond the classic schemes, with what they do.
    static let specialSchemes: [(String, String)] = [
        ("auto", "per activation: He (ReLU family), Xavier (tanh/sigmoid/output), LeCun (SELU); Fixup for residual networks"),
        ("lsuv", "LSUV: orthogonal, then each layer rescaled to unit pre-activation variance on a batch (Mishkin & Matas 2016)"),
        ("data-dependent", "per-unit mean 0 / variance 1 on a batch (Krähenbühl et al. 2016; Salimans & Kingma 2016)"),
        ("autoinit", "analytic variance propagation with Gauss–Hermite quadrature (after Bingham & Miikkulainen 2023)"),
        ("layer-ratio", "auto, then equal per-layer gradient/weight ratios on a batch (Krähenbühl et al. 2016, between-layer step)"),
        ("metainit", "auto, then per-layer scales that minimize the gradient quotient (Dauphin & Schoenholz 2019)"),
        ("mup", "maximal-update parametrization, base width 64 (Yang & Hu 2021)"),
        ("fixup", "residual only: zero last branch layers and output, L^-1/2 scaling, scalar multipliers (Zhang et al. 2019)"),
        ("rezero", "residual only: a zero-initialized gate per branch (Bachlechner et al. 2020)"),
    ]

    /// Every name `--init` accepts: the special schemes above, then the classic schemes and aliases.
    static var allInitNames: [String] { specialSchemes.map(\.0) + Initializer.schemeNames + Initializer.schemeAliases.keys.sorted() }

    /// Checks `--init` before any data is loaded: the name exists (the error lists every valid
    /// name), fits the architecture, and μP gets equal hidden widths.
    static func validateInit(_ initName: String, residual: Bool, hidden: [Int], activation: Activation) throws {
        let name = initName.lowercased()
        let special = specialSchemes.map(\.0)
        if special.contains(name) || name == "skipinit" || (residual && ["standard", "he"].contains(name)) {
            if residual && ["lsuv", "data-dependent", "autoinit", "mup"].contains(name) {
                throw ValidationError("--init \(initName) needs --architecture mlp (it calibrates a plain MLP layer by layer); residual networks take fixup, rezero, he-normal or a classic scheme")
            }
            if !residual && ["fixup", "rezero", "skipinit"].contains(name) {
                throw ValidationError("--init \(initName) is for residual networks: add --architecture residual")
            }
            if !residual && name == "mup" {
                do { try WidthScaling(baseWidth: 64).validate(hiddenWidths: hidden) } catch { throw ValidationError("--init mup: \(error)") }
            }
            return
        }
        _ = try parseInit(initName, activation: activation)
    }

    /// Refuses a model whose training memory (`MemoryEstimate`: parameters, gradients, optimizer
    /// state and activations for `batch` rows) does not fit in the memory available.
    static func requireMemory(residual: Bool, inputs: Int, hidden: [Int], width: Int, depth: Int, classes: Int, batch: Int,
                              optimizer: Optimizer.Kind) throws {
        let slots = MemoryEstimate.optimizerSlots(optimizer)
        let estimate = residual
            ? try MemoryEstimate.residual(inputSize: inputs, width: width, depth: depth, classes: classes, batch: batch, optimizerSlots: slots)
            : try MemoryEstimate.sequential(sizes: [inputs] + hidden + [classes], batch: batch, optimizerSlots: slots)
        let what = residual ? "training a residual MLP of \(depth) blocks of width \(width)" : "training an MLP \(MemoryEstimate.describe(sizes: [inputs] + hidden + [classes]))"
        try CheckedSize.requireMemory(estimate, what: what)
    }

    struct Built {
        var model: any NetworkModel
        var label: String
        var calibrationSeconds: Double
    }

    /// A shuffled calibration batch of up to 1024 training samples (seeded).
    static func calibrationBatch(_ train: LabeledData, seed: UInt64, size: Int = 1024) throws -> Matrix<Float> {
        let order = try Trainer.order(count: train.count, seed: seed, epoch: 0)
        var batch = Matrix<Float>(rows: 0, columns: train.features)
        var labels: [Int32] = []
        try Trainer.gather(train, order[0..<min(size, train.count)], into: &batch, labels: &labels)
        return batch
    }

    static func build(architecture: String, inputs: Int, hidden: [Int], width: Int, depth: Int, classes: Int, activation: Activation,
                      initName: String, train: LabeledData, seed: UInt64, threads: Int?) throws -> Built {
        let name = initName.lowercased()
        let residual = architecture.lowercased() == "residual"
        var t0 = 0.0, seconds = 0.0
        if residual {
            let initialization: ResidualInitialization
            switch name {
            case "fixup", "auto": initialization = .fixup      // auto: plain He makes the residual stream grow by √2 per block
            case "rezero", "skipinit": initialization = .rezero
            case "standard", "he", "he-normal": initialization = .standard
            case "lsuv", "data-dependent", "autoinit", "layer-ratio", "metainit", "mup":
                if name == "layer-ratio" || name == "metainit" {
                    let model = try ResidualMLP(inputSize: inputs, width: width, depth: depth, classes: classes, activation: activation, initialization: .standard, seed: seed, threads: threads)
                    let batch = try calibrationBatch(train, seed: seed, size: name == "metainit" ? 256 : 1024)
                    t0 = now()
                    if name == "metainit" { try MetaInit().calibrate(model, batch: batch, seed: seed) } else { try LayerRatioCalibration().calibrate(model, batch: batch, seed: seed) }
                    return Built(model: model, label: name, calibrationSeconds: now() - t0)
                }
                throw ValidationError("--init \(initName) needs --architecture mlp (it calibrates a plain MLP layer by layer); residual networks take fixup, rezero, he-normal or a classic scheme")
            default:
                if case let .all(s) = try parseInit(initName, activation: activation) { initialization = .all(s) } else { initialization = .standard }
            }
            let model = try ResidualMLP(inputSize: inputs, width: width, depth: depth, classes: classes, activation: activation,
                                        initialization: initialization, seed: seed, threads: threads)
            return Built(model: model, label: name == "auto" ? "auto (fixup)" : name, calibrationSeconds: 0)
        }
        let sizes = [inputs] + hidden + [classes]
        switch name {
        case "fixup", "rezero", "skipinit":
            throw ValidationError("--init \(initName) is for residual networks: add --architecture residual")
        case "lsuv", "data-dependent", "autoinit", "layer-ratio", "metainit", "mup":
            let model = try Sequential(sizes: sizes, activation: activation, initialization: .auto, seed: seed, threads: threads)
            let batch = try calibrationBatch(train, seed: seed, size: name == "metainit" ? 256 : 1024)
            t0 = now()
            do {
                switch name {
                case "lsuv": try LSUV().initialize(model, batch: batch, seed: seed)
                case "data-dependent": try DataDependentInitialization().initialize(model, batch: batch)
                case "autoinit":
                    let (m, v) = AnalyticVarianceInitialization.moments(of: batch)
                    try AnalyticVarianceInitialization().initialize(model, inputMean: m, inputVariance: v, seed: seed)
                case "layer-ratio": try LayerRatioCalibration().calibrate(model, batch: batch, seed: seed)
                case "metainit": try MetaInit().calibrate(model, batch: batch, seed: seed)
                default: try WidthScaling(baseWidth: 64).apply(model, seed: seed)
                }
            } catch let e as DataInitializationError { throw CommandError("\(name): \(e.description)") }
            seconds = now() - t0
            return Built(model: model, label: name, calibrationSeconds: seconds)
        default:
            let li = try parseInit(initName, activation: activation)
            let model = try Sequential(sizes: sizes, activation: activation, initialization: li, seed: seed, threads: threads)
            let label = name == "auto" ? "auto (" + (0..<model.layers.count).map { model.initializer(for: $0, li).name }.joined(separator: ", ") + ")" : initName
            return Built(model: model, label: label, calibrationSeconds: 0)
        }
    }
}
