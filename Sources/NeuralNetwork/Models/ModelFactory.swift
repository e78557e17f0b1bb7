import Foundation
import Initializers
import MatrixModule

/// The network families `ModelFactory` and `InitializationComparison` can build.
///
/// The raw value is the name used on the command line and in JSON reports (`--architecture`).
/// New families (convolutional networks) are added as new cases.
public enum NetworkArchitecture: String, Sendable, Hashable, Codable, CaseIterable {
    /// A plain multilayer perceptron: `inputs → hidden[0] → … → classes`, every hidden layer with
    /// the same activation, a linear output layer (`Sequential`).
    case mlp
    /// A residual MLP of `depth` blocks `x + g·F(x)` of width `width`, no normalization (`ResidualMLP`).
    case residual
    /// A convolutional network on square single-channel images (`ConvolutionalNetwork`): by
    /// default the small CNN of `ConvolutionalNetwork.defaultCNNSpec` (`weightinit train`);
    /// `InitializationComparison` builds the deep vanilla CNN of `ConvolutionalNetwork.deepVanilla`
    /// (`depth` conv layers of `width` channels).
    case cnn

    /// Parses a name case-insensitively (`"MLP"`, `"residual"`).
    /// - Throws: `ModelFactoryError.unknownArchitecture` naming the value and the valid names.
    public init(name: String) throws(ModelFactoryError) {
        guard let a = NetworkArchitecture(rawValue: name.lowercased()) else {
            throw .unknownArchitecture(name, valid: NetworkArchitecture.allCases.map(\.rawValue))
        }
        self = a
    }
}

/// Errors from `ModelFactory` (and the scheme names of `InitializationComparison`).
public enum ModelFactoryError: Error, Equatable, CustomStringConvertible {
    /// An architecture name that is not one of `valid`.
    case unknownArchitecture(String, valid: [String])
    /// A scheme that only applies to another architecture (`fixup` on an MLP, `lsuv` on a residual MLP);
    /// `rule` says which architectures take it.
    case schemeNeedsArchitecture(scheme: String, architecture: NetworkArchitecture, rule: String)
    /// A data-based or adaptive initialization failed on the calibration batch (`reason` from
    /// `DataInitializationError`).
    case calibrationFailed(scheme: String, reason: String)

    /// A sentence naming the value and the rule.
    public var description: String {
        switch self {
        case let .unknownArchitecture(name, valid):
            return "architecture must be one of \(valid.joined(separator: ", ")), got '\(name)'"
        case let .schemeNeedsArchitecture(scheme, architecture, rule):
            return "\(scheme) does not apply to architecture \(architecture.rawValue): \(rule)"
        case let .calibrationFailed(scheme, reason): return "\(scheme): \(reason)"
        }
    }
}

/// Builds a classifier with classic, data-based, architecture-based or adaptive initialization,
/// from a scheme name — what `weightinit train --init NAME` and `weightinit compare --inits` build.
///
/// Classic names (`he-normal`, `xavier-uniform`, `orthogonal`, `zeros`, … and their aliases, see
/// `Initializer.canonicalName`) and `auto` go through `layerInitialization(named:activation:)`;
/// the names of `specialSchemes` run the corresponding calibration on a seeded batch of training
/// samples (`calibrationBatch`).
public enum ModelFactory {
    /// Names beyond the classic schemes, each with a one-line description and its primary source.
    public static let specialSchemes: [(name: String, description: String)] = [
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

    /// What `build` returns: the model, a label for reports (`auto` names the scheme chosen per
    /// layer, e.g. `auto (he-normal, he-normal, xavier-uniform)`), and the wall-clock seconds spent
    /// calibrating (0 for classic schemes).
    public struct Built {
        /// The initialized network (`Sequential` or `ResidualMLP`).
        public var model: any NetworkModel
        /// The scheme's name for reports (`auto` expanded per layer).
        public var label: String
        /// Wall-clock seconds of the calibration pass; 0 for classic schemes.
        public var calibrationSeconds: Double
    }

    /// The calibration batch of the data-based schemes: the first `min(size, train.count)` samples
    /// of the epoch-0 order `Trainer.order(count:seed:epoch: 0)`, as a `[n, features]` matrix.
    /// Default size 1024 (MetaInit uses 256).
    /// - Throws: `TrainingError` from `Trainer.order`/`gather` (never for valid data).
    public static func calibrationBatch(_ train: LabeledData, seed: UInt64, size: Int = 1024) throws -> Matrix<Float> {
        let order = try Trainer.order(count: train.count, seed: seed, epoch: 0)
        var batch = Matrix<Float>(rows: 0, columns: train.features)
        var labels: [Int32] = []
        try Trainer.gather(train, order[0..<min(max(size, 0), train.count)], into: &batch, labels: &labels)
        return batch
    }

    /// The `LayerInitialization` a classic scheme name stands for, with the hyper-parameters the
    /// command-line tool uses: `auto` → `.auto`; He (uniform and normal) with the gain of
    /// `activation` (PyTorch's `kaiming_*_(nonlinearity=…)`); Xavier, orthogonal and the others
    /// with gain 1 (PyTorch defaults); `normal` std 0.01; `truncated-normal` std 0.02; `sparse`
    /// sparsity 0.9 and std 0.01 (Martens 2010). `normal:STD`, `truncated-normal:STD` (bounds
    /// ±2·STD) and `sparse:STD` (sparsity 0.9) set the std; it must be finite, ≥ 0 and give
    /// values that fit Float.
    /// - Throws: `InitializationError.unknownName` (listing the valid names),
    ///   `.invalidParameter` from `Initializer(name:parameters:)` or for a bad `:STD`,
    ///   `.notRepresentable` when the values would not fit Float.
    public static func layerInitialization(named text: String, activation: Activation) throws(InitializationError) -> LayerInitialization {
        if text.lowercased() == "auto" { return .auto }
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map { String($0).trimmingCharacters(in: .whitespaces) }
        let name = parts[0]
        let canonical = try Initializer.canonicalName(name)
        var p = SchemeParameters()
        if parts.count == 2 {    // NAME:STD
            guard let std = Double(parts[1]), std.isFinite, std >= 0 else {
                throw .invalidParameter(name: "std in '\(text)'", value: Double(parts[1]) ?? .nan, rule: "must be a finite number ≥ 0")
            }
            switch canonical {
            case "normal": p.std = std
            case "truncated-normal": p.std = std; p.a = -2 * std; p.b = 2 * std
            case "sparse": p.std = std; p.sparsity = 0.9
            default: throw .invalidParameter(name: "'\(text)'", value: std, rule: "only normal, truncated-normal and sparse take :STD")
            }
            let scheme = try Initializer(name: canonical, parameters: p)
            try scheme.validate(shape: [2, 2], as: Float.self)     // the values must fit Float (normal:1e39 does not)
            return .all(scheme)
        }
        switch canonical {
        case "he-uniform", "he-normal": p.nonlinearity = activation.nonlinearity
        case "sparse": p.sparsity = 0.9; p.std = 0.01
        case "normal": p.std = 0.01
        case "truncated-normal": p.std = 0.02
        default: break
        }
        return .all(try Initializer(name: canonical, parameters: p))
    }

    /// Checks that scheme `name` (case-insensitive) applies to `architecture`, without building
    /// anything: `fixup`, `rezero` and `skipinit` need `.residual`; `lsuv`, `data-dependent`,
    /// `autoinit` and `mup` need `.mlp` (they calibrate a plain MLP layer by layer). Other names
    /// pass (they are checked by `layerInitialization(named:activation:)`).
    /// - Throws: `ModelFactoryError.schemeNeedsArchitecture`.
    public static func check(scheme name: String, architecture: NetworkArchitecture) throws(ModelFactoryError) {
        switch (architecture, name.lowercased()) {
        case (.mlp, "fixup"), (.mlp, "rezero"), (.mlp, "skipinit"):
            throw .schemeNeedsArchitecture(scheme: name, architecture: architecture, rule: "it is for residual networks (architecture residual)")
        case (.residual, "lsuv"), (.residual, "data-dependent"), (.residual, "autoinit"), (.residual, "mup"):
            throw .schemeNeedsArchitecture(scheme: name, architecture: architecture,
                                           rule: "it needs architecture mlp (it calibrates a plain MLP layer by layer); residual networks take fixup, rezero, he-normal or a classic scheme")
        case (.cnn, "fixup"), (.cnn, "rezero"), (.cnn, "skipinit"), (.cnn, "layer-ratio"), (.cnn, "metainit"), (.cnn, "mup"):
            throw .schemeNeedsArchitecture(scheme: name, architecture: architecture,
                                           rule: "convolutional networks take auto, lsuv, data-dependent, autoinit or a classic scheme (dirac, delta-orthogonal, he-normal, …)")
        default: return
        }
    }

    /// Builds a classifier and initializes it with scheme `initName`.
    ///
    /// - `.mlp`: `Sequential(sizes: [inputs] + hidden + [classes])`; classic names and `auto` via
    ///   `layerInitialization(named:activation:)`; `lsuv`, `data-dependent`, `autoinit`
    ///   (`AnalyticVarianceInitialization` with the batch's moments), `layer-ratio`, `metainit` and
    ///   `mup` (`WidthScaling(baseWidth: 64)`) start from `.auto` and calibrate on
    ///   `calibrationBatch(train, seed:)` (256 samples for MetaInit, 1024 otherwise).
    /// - `.residual`: `ResidualMLP(inputSize: inputs, width:, depth:, classes:)` (`hidden` unused);
    ///   `fixup` and `auto` → `.fixup`, `rezero`/`skipinit` → `.rezero`, `standard`/`he`/`he-normal` →
    ///   `.standard`, `layer-ratio` and `metainit` calibrate a `.standard` network, other classic
    ///   names → `.all(scheme)`.
    ///
    /// Weights are drawn from `seed` as the model types document; `threads` is passed to the fills
    /// (results do not depend on it). `bias` (default zeros) initializes the MLP's biases
    /// (`Sequential(…, bias:)`); another bias initializer with `.residual` is an error.
    /// - Throws: `ModelFactoryError.schemeNeedsArchitecture`, `.calibrationFailed` (MLP
    ///   calibrations); `InitializationError` for an unknown scheme name; `TrainingError` for bad
    ///   sizes; `DataInitializationError` from a residual calibration.
    /// - `.cnn`: `ConvolutionalNetwork` over `[1, s, s]` images (`inputs = s²`) with the layers
    ///   `cnnSpec` (default `ConvolutionalNetwork.defaultCNNSpec(classes:activation:)`); classic
    ///   names and `auto` as for the MLP (conv-only schemes on dense layers take their 1×1 case);
    ///   `lsuv`, `data-dependent` (per output channel) and `autoinit` calibrate on 512 samples of
    ///   `calibrationBatch`.
    public static func build(architecture: NetworkArchitecture, inputs: Int, hidden: [Int], width: Int, depth: Int, classes: Int,
                             activation: Activation, initName: String, bias: Initializer = .zeros, train: LabeledData, seed: UInt64,
                             threads: Int?, cnnSpec: [LayerSpec]? = nil) throws -> Built {
        let name = initName.lowercased()
        try check(scheme: initName, architecture: architecture)
        if bias != .zeros && architecture != .mlp {
            throw TrainingError.invalidHyperparameter(name: "bias initializer (\(bias.name))", value: 0,
                                                      rule: "applies to architecture mlp only (residual networks keep zero biases)")
        }
        let clock = ContinuousClock()
        func seconds(since t0: ContinuousClock.Instant) -> Double {
            let d = clock.now - t0
            return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
        }
        switch architecture {
        case .cnn:
            let side = Int(Double(inputs).squareRoot().rounded())
            guard side >= 1, side * side == inputs else {
                throw TrainingError.shapeMismatch("architecture cnn needs square single-channel images; \(inputs) features per sample is not a square")
            }
            let spec = cnnSpec ?? ConvolutionalNetwork.defaultCNNSpec(classes: classes, activation: activation)
            switch name {
            case "lsuv", "data-dependent", "autoinit":
                let model = try ConvolutionalNetwork(inputShape: [1, side, side], spec: spec, initialization: .auto, seed: seed, threads: threads)
                let batch = try calibrationBatch(train, seed: seed, size: 512)
                let t0 = clock.now
                do {
                    switch name {
                    case "lsuv": _ = try LSUV().initialize(model, batch: batch, seed: seed)
                    case "data-dependent": _ = try DataDependentInitialization().initialize(model, batch: batch)
                    default:
                        let (m, v) = AnalyticVarianceInitialization.moments(of: batch)
                        _ = try AnalyticVarianceInitialization().initialize(model, inputMean: m, inputVariance: v, seed: seed)
                    }
                } catch let e as DataInitializationError { throw ModelFactoryError.calibrationFailed(scheme: name, reason: e.description) }
                return Built(model: model, label: name, calibrationSeconds: seconds(since: t0))
            default:
                let li = try layerInitialization(named: initName, activation: activation)
                let model = try ConvolutionalNetwork(inputShape: [1, side, side], spec: spec, initialization: li, seed: seed, threads: threads)
                return Built(model: model, label: name == "auto" ? "auto (He for ReLU layers, Xavier for tanh and the output)" : initName, calibrationSeconds: 0)
            }
        case .residual:
            let initialization: ResidualInitialization
            switch name {
            case "fixup", "auto": initialization = .fixup      // auto: plain He makes the residual stream grow by √2 per block
            case "rezero", "skipinit": initialization = .rezero
            case "standard", "he", "he-normal": initialization = .standard
            case "layer-ratio", "metainit":
                let model = try ResidualMLP(inputSize: inputs, width: width, depth: depth, classes: classes, activation: activation,
                                            initialization: .standard, seed: seed, threads: threads)
                let batch = try calibrationBatch(train, seed: seed, size: name == "metainit" ? 256 : 1024)
                let t0 = clock.now
                if name == "metainit" { _ = try MetaInit().calibrate(model, batch: batch, seed: seed) } else {
                    _ = try LayerRatioCalibration().calibrate(model, batch: batch, seed: seed)
                }
                return Built(model: model, label: name, calibrationSeconds: seconds(since: t0))
            default:
                if case let .all(s) = try layerInitialization(named: initName, activation: activation) { initialization = .all(s) } else { initialization = .standard }
            }
            let model = try ResidualMLP(inputSize: inputs, width: width, depth: depth, classes: classes, activation: activation,
                                        initialization: initialization, seed: seed, threads: threads)
            return Built(model: model, label: name == "auto" ? "auto (fixup)" : name, calibrationSeconds: 0)
        case .mlp:
            let sizes = [inputs] + hidden + [classes]
            switch name {
            case "lsuv", "data-dependent", "autoinit", "layer-ratio", "metainit", "mup":
                let model = try Sequential(sizes: sizes, activation: activation, initialization: .auto, bias: bias, seed: seed, threads: threads)
                let batch = try calibrationBatch(train, seed: seed, size: name == "metainit" ? 256 : 1024)
                let t0 = clock.now
                do {
                    switch name {
                    case "lsuv": _ = try LSUV().initialize(model, batch: batch, seed: seed)
                    case "data-dependent": _ = try DataDependentInitialization().initialize(model, batch: batch)
                    case "autoinit":
                        let (m, v) = AnalyticVarianceInitialization.moments(of: batch)
                        _ = try AnalyticVarianceInitialization().initialize(model, inputMean: m, inputVariance: v, seed: seed)
                    case "layer-ratio": _ = try LayerRatioCalibration().calibrate(model, batch: batch, seed: seed)
                    case "metainit": _ = try MetaInit().calibrate(model, batch: batch, seed: seed)
                    default: try WidthScaling(baseWidth: 64).apply(model, seed: seed)
                    }
                } catch let e as DataInitializationError { throw ModelFactoryError.calibrationFailed(scheme: name, reason: e.description) }
                return Built(model: model, label: name, calibrationSeconds: seconds(since: t0))
            default:
                let li = try layerInitialization(named: initName, activation: activation)
                let model = try Sequential(sizes: sizes, activation: activation, initialization: li, bias: bias, seed: seed, threads: threads)
                let label = name == "auto" ? "auto (" + (0..<model.layers.count).map { model.initializer(for: $0, li).name }.joined(separator: ", ") + ")" : initName
                return Built(model: model, label: label, calibrationSeconds: 0)
            }
        }
    }
}
