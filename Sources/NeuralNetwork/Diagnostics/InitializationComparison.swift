import Foundation
import Initializers
import MatrixModule

/// Errors from `InitializationComparison`: a bad configuration or data, found before any network
/// is built.
public enum InitializationComparisonError: Error, Equatable, CustomStringConvertible {
    /// A configuration value outside its domain: `name` (e.g. `depth`), the value given, the rule.
    case invalidValue(name: String, value: String, rule: String)
    /// An entry of `Configuration.schemes` that cannot be used: the entry and why.
    case invalidScheme(String, reason: String)
    /// Training or test data that does not fit the configuration.
    case invalidData(String)

    /// A sentence naming the value and the rule.
    public var description: String {
        switch self {
        case let .invalidValue(name, value, rule): return "\(name) \(rule), got \(value)"
        case let .invalidScheme(scheme, reason): return "scheme '\(scheme)': \(reason)"
        case let .invalidData(message): return "data: \(message)"
        }
    }
}

/// The `weightinit compare` experiment, callable from code: why initialization matters, shown on
/// one deep network and real data.
///
/// For every scheme of `Configuration.schemes`, in order, it builds the network
/// (`Configuration.architecture`) with the same seed, then
/// 1. measures per-layer statistics at initialization (`Diagnostics.measure`: pre-activation std,
///    activation mean and std, saturated fraction for sigmoid/tanh/softsign, dead fraction for the
///    ReLU family, `‖∂L/∂W‖_F` after one backward pass of softmax cross-entropy) on the probe batch:
///    the first `min(probeSize, train.count)` training samples;
/// 2. trains `steps` steps with `optimizer` at a constant `learningRate` on mini-batches of
///    `batchSize`, the SAME batches for every scheme (epoch `e` visits the training set in
///    `Trainer.order(count:seed:epoch: e)`, `e = 1, 2, …`, `max(1, train.count / batchSize)` steps
///    an epoch), logging the mean training loss over windows of `max(1, steps / 60)` steps (and the
///    last step); a NaN or infinite batch loss stops that scheme's training (`divergedAtStep`);
/// 3. reports the loss on the first `min(evaluationSize, train.count)` training samples and the
///    accuracy on `test`.
///
/// Everything except `Run.seconds` is a pure function of the configuration and the data: the same
/// seed gives the same report, bit for bit, on the same machine and BLAS kernel (OpenBLAS sgemm
/// results can differ between 1 and more BLAS threads and between kernels).
///
/// The optimizer defaults to plain SGD on purpose: Adam normalizes every update by the gradient's
/// own scale, which hides vanishing and exploding gradients — what this experiment shows
/// (Glorot & Bengio 2010; He et al. 2015).
///
/// ```swift
/// var config = InitializationComparison.Configuration()
/// config.depth = 30; config.width = 256; config.activation = .relu
/// config.schemes = ["xavier-normal", "he-normal"]
/// let report = try InitializationComparison(config).run(train: train, test: test)
/// ```
public struct InitializationComparison: Sendable {
    /// The optimizers the experiment offers; the raw value is the name in reports and on the
    /// command line (`--optimizer`).
    public enum OptimizerChoice: String, Sendable, Hashable, Codable, CaseIterable {
        /// Plain SGD, no momentum (the default: shows vanishing and exploding gradients as they are).
        case sgd
        /// SGD with heavy-ball momentum 0.9 (no Nesterov).
        case momentum
        /// Adam with PyTorch's defaults (β = 0.9, 0.999; ε = 1e-8; Kingma & Ba 2015).
        case adam
        /// AdamW with PyTorch's defaults and no weight decay (Loshchilov & Hutter 2019).
        case adamw

        /// The `Optimizer.Kind` this choice stands for.
        public var kind: Optimizer.Kind {
            switch self {
            case .sgd: return .sgd(momentum: 0, nesterov: false)
            case .momentum: return .sgd(momentum: 0.9, nesterov: false)
            case .adam: return .adam()
            case .adamw: return .adamW()
            }
        }
    }

    /// What to compare. Defaults are those of `weightinit compare`.
    public struct Configuration: Sendable, Codable, Equatable {
        /// The network family (default `.mlp`).
        public var architecture: NetworkArchitecture = .mlp
        /// Hidden layers of the MLP (`inputs → width × depth → classes`, `depth + 1` dense layers),
        /// residual blocks of the residual MLP, or conv layers of the CNN. Range 1…1000; default 30
        /// (`weightinit compare --architecture cnn` uses 16).
        public var depth = 30
        /// Units per hidden layer (MLP), residual stream width, or channels of every conv layer
        /// (CNN). Range 1…16384; default 256 (`weightinit compare --architecture cnn` uses 16).
        public var width = 256
        /// Hidden activation (default ReLU); the output layer is linear (logits).
        public var activation: Activation = .relu
        /// Schemes to compare, in order (at least one). A classic scheme name as in
        /// `Initializer.canonicalName` (with the hyper-parameters of
        /// `ModelFactory.layerInitialization(named:activation:)`: `normal` has std 0.01 and is
        /// reported as `normal:0.01`); `normal:STD`, `truncated-normal:STD` (bounds ±2·STD) or
        /// `sparse:STD` (sparsity 0.9) with an explicit std ≥ 0; or a name of
        /// `ModelFactory.specialSchemes` (`auto`, `lsuv`, `fixup`, …) valid for `architecture`.
        /// Default `["he-normal", "xavier-normal", "normal"]`.
        public var schemes = ["he-normal", "xavier-normal", "normal"]
        /// Training steps per scheme, ≥ 0 (0: statistics at initialization only). Default 300.
        public var steps = 300
        /// Mini-batch size, ≥ 1. Default 128.
        public var batchSize = 128
        /// Constant learning rate, finite and > 0. Default 0.01.
        public var learningRate = 0.01
        /// Default `.sgd` (plain SGD).
        public var optimizer: OptimizerChoice = .sgd
        /// Seed of the weights (every scheme gets the same) and of the batch order. Default 0.
        public var seed: UInt64 = 0
        /// Threads for the weight fills (results do not depend on it); `nil`: all cores. The
        /// BLAS thread count is `BLASBackend.threads`, set by the caller. Range 1…1024.
        public var threads: Int? = nil
        /// Output classes; every label must be in `0..<classes`. Range 1…65536; default 10.
        public var classes = 10
        /// Samples of the probe batch for the statistics at initialization, ≥ 1. Default 1024.
        public var probeSize = 1024
        /// Training samples on which the final training loss is measured, ≥ 1. Default 10 000.
        public var evaluationSize = 10_000

        /// The defaults above.
        public init() {}

        /// Checks every value (and resolves every scheme name) without building anything.
        /// - Throws: `InitializationComparisonError.invalidValue` naming the value and its rule,
        ///   `.invalidScheme` for an unknown scheme, a bad `:STD`, or a scheme that does not apply
        ///   to `architecture`.
        public func validate() throws(InitializationComparisonError) {
            _ = try resolvedSchemes()
        }

        func resolvedSchemes() throws(InitializationComparisonError) -> [ResolvedScheme] {
            func check(_ ok: Bool, _ name: String, _ value: some CustomStringConvertible, _ rule: String) throws(InitializationComparisonError) {
                if !ok { throw .invalidValue(name: name, value: value.description, rule: rule) }
            }
            try check((1...1000).contains(depth), "depth", depth, "must be in 1…1000")
            try check((1...16_384).contains(width), "width", width, "must be in 1…16384")
            try check((0...1_000_000).contains(steps), "steps", steps, "must be in 0…1000000")
            try check(batchSize >= 1, "batch size", batchSize, "must be ≥ 1")
            try check(learningRate.isFinite && learningRate > 0, "learning rate", learningRate, "must be finite and > 0")
            if let threads { try check((1...64).contains(threads), "threads", threads, "must be in 1…64") }
            try check((1...65_536).contains(classes), "classes", classes, "must be in 1…65536")
            try check(probeSize >= 1, "probe size", probeSize, "must be ≥ 1")
            try check(evaluationSize >= 1, "evaluation size", evaluationSize, "must be ≥ 1")
            guard !schemes.isEmpty else { throw .invalidValue(name: "schemes", value: "[]", rule: "need at least one scheme") }
            var resolved: [ResolvedScheme] = []
            for text in schemes { resolved.append(try ResolvedScheme(text, activation: activation, architecture: architecture)) }
            return resolved
        }
    }

    /// A scheme entry resolved: the label in the report, the layer initialization to build with
    /// (nil: built by `ModelFactory` from `name`), and the name as given.
    struct ResolvedScheme: Sendable {
        var label: String
        var initialization: LayerInitialization?
        var name: String

        init(_ text: String, activation: Activation, architecture: NetworkArchitecture) throws(InitializationComparisonError) {
            let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map { String($0).trimmingCharacters(in: .whitespaces) }
            guard let name = parts.first, !name.isEmpty else { throw .invalidScheme(text, reason: "empty scheme name") }
            self.name = name
            do {
                if parts.count == 2 {
                    // NAME:STD goes through the one parser train uses, so `normal:` (no std),
                    // `sparse:x` and `he-normal:0.1` are refused the same way in both commands.
                    initialization = try ModelFactory.layerInitialization(named: text, activation: activation)
                    let canonical = try Initializer.canonicalName(name)
                    label = "\(canonical):\(parts[1])"
                    return
                }
                if ModelFactory.specialSchemes.contains(where: { $0.name == name.lowercased() }) {
                    try ModelFactory.check(scheme: name, architecture: architecture)
                    label = name.lowercased(); initialization = nil
                    return
                }
                initialization = try ModelFactory.layerInitialization(named: name, activation: activation)
                label = name.lowercased() == "normal" ? "normal:0.01" : name
            } catch let e as InitializationComparisonError { throw e
            } catch let e as InitializationError { throw .invalidScheme(text, reason: e.description)
            } catch let e as ModelFactoryError { throw .invalidScheme(text, reason: e.description)
            } catch { throw .invalidScheme(text, reason: "\(error)") }
        }
    }

    /// One scheme's results. Per-layer arrays have one entry per dense layer (`depth + 1` for the
    /// MLP) or per residual block as `ResidualMLP.blockStatistics()` reports them, input side first.
    public struct Run: Sendable, Codable, Equatable {
        /// The scheme's label (`normal:0.01` for `normal`; special names lower-cased).
        public var scheme: String
        /// Std of the pre-activation `Z = X·Wᵀ + b` per layer, at initialization on the probe batch.
        public var preactivationStd: [Double]
        /// Std of the activation `f(Z)` per layer, at initialization.
        public var activationStd: [Double]
        /// Mean of the activation `f(Z)` per layer, at initialization.
        public var activationMean: [Double]
        /// Fraction of outputs within 1% of an asymptote per layer (saturating activations), else nil.
        public var saturatedFraction: [Double?]
        /// Fraction of units that output 0 for every probe sample per layer (ReLU family), else nil.
        public var deadFraction: [Double?]
        /// `‖∂L/∂W‖_F` per layer after one backward pass on the probe batch.
        public var gradientNorm: [Double]
        /// Mean training loss per logged window (softmax cross-entropy, nats).
        public var loss: [Double]
        /// The 1-based step that ends each window of `loss`.
        public var lossSteps: [Int]
        /// Softmax cross-entropy on the evaluation subset after training; nil when training diverged.
        public var finalTrainLoss: Double?
        /// Accuracy on the test set in [0, 1]; nil when training diverged.
        public var testAccuracy: Double?
        /// The 1-based step whose loss was NaN or infinite (or `steps` when only the final
        /// evaluation was); nil when training stayed finite.
        public var divergedAtStep: Int?
        /// Wall-clock seconds for this scheme (build, statistics, training, evaluation). The only
        /// field that is not reproducible.
        public var seconds: Double

        /// A run from its fields (see each property).
        public init(scheme: String, preactivationStd: [Double], activationStd: [Double], activationMean: [Double],
                    saturatedFraction: [Double?], deadFraction: [Double?], gradientNorm: [Double], loss: [Double], lossSteps: [Int],
                    finalTrainLoss: Double?, testAccuracy: Double?, divergedAtStep: Int?, seconds: Double) {
            self.scheme = scheme; self.preactivationStd = preactivationStd; self.activationStd = activationStd
            self.activationMean = activationMean; self.saturatedFraction = saturatedFraction; self.deadFraction = deadFraction
            self.gradientNorm = gradientNorm; self.loss = loss; self.lossSteps = lossSteps; self.finalTrainLoss = finalTrainLoss
            self.testAccuracy = testAccuracy; self.divergedAtStep = divergedAtStep; self.seconds = seconds
        }

        enum CodingKeys: String, CodingKey {
            case scheme = "init", preactivationStd, activationStd, activationMean, saturatedFraction, deadFraction, gradientNorm,
                 loss, lossSteps, finalTrainLoss, testAccuracy, divergedAtStep, seconds
        }

        /// Encodes every key, missing values as `null`; the scheme under the key `init`.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(scheme, forKey: .scheme); try c.encode(preactivationStd, forKey: .preactivationStd)
            try c.encode(activationStd, forKey: .activationStd); try c.encode(activationMean, forKey: .activationMean)
            try c.encode(saturatedFraction, forKey: .saturatedFraction); try c.encode(deadFraction, forKey: .deadFraction)
            try c.encode(gradientNorm, forKey: .gradientNorm); try c.encode(loss, forKey: .loss); try c.encode(lossSteps, forKey: .lossSteps)
            try c.encode(finalTrainLoss, forKey: .finalTrainLoss); try c.encode(testAccuracy, forKey: .testAccuracy)
            try c.encode(divergedAtStep, forKey: .divergedAtStep); try c.encode(seconds, forKey: .seconds)
        }
    }

    /// The whole experiment: one `Run` per scheme, in the order of `Configuration.schemes`, and the
    /// settings that produced it.
    public struct Report: Sendable, Codable, Equatable {
        /// One run per scheme, in configuration order.
        public var runs: [Run]
        /// `Configuration.architecture`.
        public var architecture: NetworkArchitecture
        /// `Configuration.depth`.
        public var depth: Int
        /// `Configuration.width`.
        public var width: Int
        /// The hidden activation's name (`Activation.name`).
        public var activation: String
        /// `Configuration.steps`.
        public var steps: Int
        /// `Configuration.batchSize`.
        public var batchSize: Int
        /// `Configuration.learningRate`.
        public var learningRate: Double
        /// `Configuration.optimizer`.
        public var optimizer: OptimizerChoice
        /// `Configuration.seed`.
        public var seed: UInt64

        /// A report from its fields (see `Configuration` for their meaning).
        public init(runs: [Run], architecture: NetworkArchitecture, depth: Int, width: Int, activation: String, steps: Int,
                    batchSize: Int, learningRate: Double, optimizer: OptimizerChoice, seed: UInt64) {
            self.runs = runs; self.architecture = architecture; self.depth = depth; self.width = width; self.activation = activation
            self.steps = steps; self.batchSize = batchSize; self.learningRate = learningRate; self.optimizer = optimizer; self.seed = seed
        }
    }

    /// What `run` reports while it works, in this order for each scheme: `started`, zero or more
    /// `step`, at most one `diverged`, `finished`.
    public enum Progress: Sendable {
        /// Scheme `index` (0-based) of `count` starts: building and initializing its network.
        case started(scheme: String, index: Int, count: Int)
        /// Training step `step` (1-based) of `steps` is done; `loss` is the last logged window's mean
        /// training loss (the current batch's loss before the first window closes).
        case step(scheme: String, step: Int, steps: Int, loss: Double)
        /// The batch loss became NaN or infinite at `step`: training of this scheme stops.
        case diverged(scheme: String, step: Int)
        /// The scheme's run is complete.
        case finished(Run)
    }

    /// The validated configuration.
    public let configuration: Configuration
    let schemes: [ResolvedScheme]

    /// Validates `configuration` (see `Configuration.validate()`); nothing is built yet.
    /// - Throws: `InitializationComparisonError`.
    public init(_ configuration: Configuration) throws(InitializationComparisonError) {
        self.schemes = try configuration.resolvedSchemes()
        self.configuration = configuration
    }

    /// Checks that `train` and `test` fit the configuration: at least one sample each, the same
    /// number of features (≥ 1), every label in `0..<classes`.
    /// - Throws: `InitializationComparisonError.invalidData`.
    public func validate(train: LabeledData, test: LabeledData) throws(InitializationComparisonError) {
        guard train.count >= 1, test.count >= 1 else {
            throw .invalidData("need at least one training and one test sample, got \(train.count) and \(test.count)")
        }
        guard train.features >= 1, train.features == test.features else {
            throw .invalidData("training and test samples need the same number of features (≥ 1), got \(train.features) and \(test.features)")
        }
        let classes = configuration.classes
        for (set, data) in [("training", train), ("test", test)] {
            if let bad = data.labels.first(where: { $0 < 0 || Int($0) >= classes }) {
                throw .invalidData("\(set) label \(bad) is outside 0..<\(classes)")
            }
        }
    }

    /// Runs the experiment on `train` (statistics, training, final training loss) and `test`
    /// (accuracy); `progress` is called on the calling thread (see `Progress`).
    /// - Returns: the report, one run per scheme.
    /// - Throws: `InitializationComparisonError.invalidData` before any work (see
    ///   `validate(train:test:)`); `SizeError` when one network with its activations would not fit
    ///   in the memory available (`MemoryEstimate`, checked before any is built); while running,
    ///   `ModelFactoryError.calibrationFailed`,
    ///   `DataInitializationError` or `TrainingError` from building a network, `MatrixError`.
    public func run(train: LabeledData, test: LabeledData, progress: ((Progress) -> Void)? = nil) throws -> Report {
        try validate(train: train, test: test)
        let c = configuration
        let hidden = Array(repeating: c.width, count: c.depth)
        let clock = ContinuousClock()
        // The same probe batch, training batches and evaluation subset for every scheme.
        let probeCount = min(c.probeSize, train.count)
        let probe = try LabeledData(features: train.features, inputs: Array(train.inputs[0..<(probeCount * train.features)]),
                                    labels: Array(train.labels[0..<probeCount]))
        let evalCount = min(c.evaluationSize, train.count)
        let trainSubset = try LabeledData(features: train.features, inputs: Array(train.inputs[0..<(evalCount * train.features)]),
                                          labels: Array(train.labels[0..<evalCount]))
        // Memory: one network at a time, with activations for the largest batch it sees.
        let rows = max(min(c.batchSize, train.count), probeCount, min(1000, max(evalCount, test.count)))
        let slots = MemoryEstimate.optimizerSlots(c.optimizer.kind)
        if c.architecture == .cnn {
            let side = Int(Double(train.features).squareRoot().rounded())
            let spec = try ConvolutionalNetwork.deepVanillaSpec(depth: c.depth, width: c.width, classes: c.classes, activation: c.activation)
            let estimate = try MemoryEstimate.cnn(inputShape: [1, max(1, side), max(1, side)], spec: spec, batch: rows, optimizerSlots: slots)
            try CheckedSize.requireMemory(estimate, what: "comparing on a CNN of \(c.depth) conv layers of width \(c.width) on \(side)×\(side) images")
        } else {
            let estimate = c.architecture == .residual
                ? try MemoryEstimate.residual(inputSize: train.features, width: c.width, depth: c.depth, classes: c.classes, batch: rows, optimizerSlots: slots)
                : try MemoryEstimate.sequential(sizes: [train.features] + hidden + [c.classes], batch: rows, optimizerSlots: slots)
            try CheckedSize.requireMemory(estimate, what: "comparing on \(c.architecture == .residual ? "a residual MLP of \(c.depth) blocks of width \(c.width)" : "an MLP \(MemoryEstimate.describe(sizes: [train.features] + hidden + [c.classes]))")")
        }
        let logEvery = max(1, c.steps / 60)
        var runs: [Run] = []
        for (index, scheme) in schemes.enumerated() {
            let t0 = clock.now
            progress?(.started(scheme: scheme.label, index: index, count: schemes.count))
            let model = try build(scheme, train: train, hidden: hidden)
            var batch = Matrix<Float>(rows: 0, columns: train.features)
            var labels: [Int32] = []
            try Trainer.gather(probe, Array(0..<probe.count)[...], into: &batch, labels: &labels)
            let stats = try Diagnostics.measure(model, inputs: batch, labels: labels[...])
            let opt = try Optimizer(c.optimizer.kind)
            var loss = SoftmaxCrossEntropy()
            var losses: [Double] = [], lossSteps: [Int] = []
            var diverged: Int?
            var window = 0.0, windowCount = 0
            var epoch = 0
            var order: [Int] = []
            try model.withoutInputGradient {    // training never needs ∂L/∂input
                for step in 0..<c.steps {
                    let perEpoch = max(1, train.count / c.batchSize)
                    if step % perEpoch == 0 { epoch += 1; order = try Trainer.order(count: train.count, seed: c.seed, epoch: epoch) }
                    let s = (step % perEpoch) * c.batchSize
                    try Trainer.gather(train, order[s..<min(train.count, s + c.batchSize)], into: &batch, labels: &labels)
                    let logits = try model.forward(batch)
                    let l = try loss.loss(logits: logits, labels: labels[...])
                    guard l.isFinite else { diverged = step + 1; return }
                    try model.backward(loss.gradient)
                    opt.step(model: model, learningRate: c.learningRate)
                    window += Double(l); windowCount += 1
                    if (step + 1) % logEvery == 0 || step == c.steps - 1 {
                        losses.append(window / Double(windowCount)); lossSteps.append(step + 1); window = 0; windowCount = 0
                    }
                    progress?(.step(scheme: scheme.label, step: step + 1, steps: c.steps, loss: losses.last ?? Double(l)))
                }
            }
            var finalLoss: Double?, accuracy: Double?
            if let step = diverged {
                progress?(.diverged(scheme: scheme.label, step: step))
            } else {
                let (fl, _) = try Trainer.evaluate(model, trainSubset)
                let (_, acc) = try Trainer.evaluate(model, test)
                finalLoss = fl.isFinite ? fl : nil
                accuracy = acc
                if !fl.isFinite { diverged = c.steps }
            }
            let d = clock.now - t0
            let run = Run(scheme: scheme.label, preactivationStd: stats.map(\.preactivationStd), activationStd: stats.map(\.activationStd),
                          activationMean: stats.map(\.activationMean), saturatedFraction: stats.map(\.saturatedFraction),
                          deadFraction: stats.map(\.deadFraction), gradientNorm: stats.map(\.gradientNorm), loss: losses, lossSteps: lossSteps,
                          finalTrainLoss: finalLoss, testAccuracy: accuracy, divergedAtStep: diverged,
                          seconds: Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18)
            runs.append(run)
            progress?(.finished(run))
        }
        return Report(runs: runs, architecture: c.architecture, depth: c.depth, width: c.width, activation: c.activation.name, steps: c.steps,
                      batchSize: c.batchSize, learningRate: c.learningRate, optimizer: c.optimizer, seed: c.seed)
    }

    /// The network for one scheme: classic schemes directly (`Sequential` with the scheme on every
    /// layer, or `ResidualMLP` with `.all(scheme)`), special names through `ModelFactory.build`.
    func build(_ scheme: ResolvedScheme, train: LabeledData, hidden: [Int]) throws -> any NetworkModel {
        let c = configuration
        switch (c.architecture, scheme.initialization) {
        case let (.mlp, initialization?):
            return try Sequential(sizes: [train.features] + hidden + [c.classes], activation: c.activation, initialization: initialization,
                                  seed: c.seed, threads: c.threads)
        case let (.residual, .all(s)?):
            return try ResidualMLP(inputSize: train.features, width: c.width, depth: c.depth, classes: c.classes, activation: c.activation,
                                   initialization: .all(s), seed: c.seed, threads: c.threads)
        case (.cnn, _):
            // The deep vanilla CNN (no normalization, no skips): stride-2 stem, depth − 1 convs, GAP, dense.
            let side = Int(Double(train.features).squareRoot().rounded())
            let spec = try ConvolutionalNetwork.deepVanillaSpec(depth: c.depth, width: c.width, classes: c.classes, activation: c.activation)
            if let initialization = scheme.initialization {
                return try ConvolutionalNetwork(inputShape: [1, side, side], spec: spec, initialization: initialization, seed: c.seed, threads: c.threads)
            }
            return try ModelFactory.build(architecture: .cnn, inputs: train.features, hidden: hidden, width: c.width, depth: c.depth,
                                          classes: c.classes, activation: c.activation, initName: scheme.name, train: train, seed: c.seed,
                                          threads: c.threads, cnnSpec: spec).model
        default:
            return try ModelFactory.build(architecture: c.architecture, inputs: train.features, hidden: hidden, width: c.width, depth: c.depth,
                                          classes: c.classes, activation: c.activation, initName: scheme.name, train: train, seed: c.seed,
                                          threads: c.threads).model
        }
    }
}
