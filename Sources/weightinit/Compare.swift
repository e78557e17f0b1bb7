import ArgumentParser
import Foundation
import WeightInit

/// `weightinit compare`: why initialization matters, on real data.
struct Compare: ToolCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare initialization schemes on one deep network: per-layer signal and gradient statistics at initialization, then short training runs on the same data, batches and seed.",
        discussion: """
        The network is an MLP with --depth hidden layers of --width units (784 → width × depth → 10), or with
        --architecture residual a residual MLP of --depth blocks, on Fashion-MNIST (standardized). For every scheme in --inits it measures, on one batch of 1024 at
        initialization, each layer's pre-activation std, activation mean/std, saturated fraction
        (sigmoid/tanh), dead fraction (ReLU) and the gradient norm of its weights after one backward
        pass; then trains --steps SGD steps (same batches for every scheme), logging the loss, and reports
        the final training loss (on 10 000 training samples) and the test accuracy.

        The optimizer defaults to plain SGD on purpose: Adam normalizes every update by the gradient's
        own scale, which hides vanishing and exploding gradients — exactly what this command shows.

        Scheme names as in `weightinit stats` (he-normal, xavier-uniform, orthogonal, lecun-normal, zeros,
        …); `normal` uses std 0.01 unless written normal:STD (e.g. normal:1 to see explosion).
        Examples:
          weightinit compare --depth 30 --activation relu --inits he-normal,xavier-normal,normal --plot relu.svg
          weightinit compare --depth 20 --activation tanh --inits xavier-uniform,he-normal,normal:1 --steps 200
        JSON keys: runs [{init, preactivation_std, activation_std, activation_mean, saturated_fraction,
        dead_fraction, gradient_norm (per layer), loss (per logged step), loss_steps, final_train_loss,
        test_accuracy, diverged_at_step}], depth, width, activation, steps.
        """)

    @OptionGroup var common: CommonOptions
    @OptionGroup var dataOptions: DataOptions
    @Option(help: "Architecture: mlp (--depth hidden layers of --width units) or residual (--depth blocks x + g·F(x), no normalization).") var architecture: String = "mlp"
    @Option(parsing: .unconditional, help: "Number of hidden layers.") var depth: Int = 30
    @Option(parsing: .unconditional, help: "Units per hidden layer.") var width: Int = 256
    @Option(help: "Hidden activation: \(Activation.names.joined(separator: ", ")).") var activation: String = "relu"
    @Option(help: "Comma-separated schemes to compare (normal:STD sets a std).") var inits: String = "he-normal,xavier-normal,normal"
    @Option(parsing: .unconditional, help: "Training steps per scheme (0: statistics at initialization only).") var steps: Int = 300
    @Option(parsing: .unconditional, help: "Mini-batch size for training.") var batchSize: Int = 128
    @Option(parsing: .unconditional, help: "Learning rate.") var learningRate: Double = 0.01
    @Option(help: "sgd (plain, default), momentum (SGD 0.9), adam or adamw.") var optimizer: String = "sgd"
    @Option(help: "Write an SVG with per-layer activation std, gradient norms and loss curves.") var plot: String?
    @Option(help: "Write layers.csv and loss.csv into this directory.") var csv: String?

    struct Run: Encodable {
        var init_: String
        var preactivationStd: [Double]
        var activationStd: [Double]
        var activationMean: [Double]
        var saturatedFraction: [Double?]
        var deadFraction: [Double?]
        var gradientNorm: [Double]
        var loss: [Double]
        var lossSteps: [Int]
        var finalTrainLoss: Double?
        var testAccuracy: Double?
        var divergedAtStep: Int?
        var seconds: Double
        enum CodingKeys: String, CodingKey {
            case init_ = "init", preactivationStd, activationStd, activationMean, saturatedFraction, deadFraction, gradientNorm,
                 loss, lossSteps, finalTrainLoss, testAccuracy, divergedAtStep, seconds
        }
        /// Every key is always present; missing values are `null`.
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(init_, forKey: .init_); try c.encode(preactivationStd, forKey: .preactivationStd)
            try c.encode(activationStd, forKey: .activationStd); try c.encode(activationMean, forKey: .activationMean)
            try c.encode(saturatedFraction, forKey: .saturatedFraction); try c.encode(deadFraction, forKey: .deadFraction)
            try c.encode(gradientNorm, forKey: .gradientNorm); try c.encode(loss, forKey: .loss); try c.encode(lossSteps, forKey: .lossSteps)
            try c.encode(finalTrainLoss, forKey: .finalTrainLoss); try c.encode(testAccuracy, forKey: .testAccuracy)
            try c.encode(divergedAtStep, forKey: .divergedAtStep); try c.encode(seconds, forKey: .seconds)
        }
    }
    struct Report: Encodable {
        var runs: [Run]; var architecture: String; var depth: Int; var width: Int; var activation: String; var steps: Int
        var batchSize: Int; var learningRate: Double; var optimizer: String; var seed: UInt64
    }

    func validate() throws {
        guard ["mlp", "residual"].contains(architecture.lowercased()) else {
            throw ValidationError("--architecture must be mlp or residual, got '\(architecture)'")
        }
        guard (1...1000).contains(depth) else { throw ValidationError("--depth must be in 1…1000, got \(depth)") }
        guard (1...16_384).contains(width) else { throw ValidationError("--width must be in 1…16384, got \(width)") }
        guard (0...1_000_000).contains(steps) else { throw ValidationError("--steps must be in 0…1000000, got \(steps)") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be ≥ 1, got \(batchSize)") }
        guard learningRate.isFinite, learningRate > 0 else { throw ValidationError("--learning-rate must be finite and > 0, got \(learningRate)") }
    }

    /// `name` or `name:std` → the `--init` name to build with (normal:STD etc. become a concrete scheme).
    static func parseScheme(_ text: String, activation: Activation) throws -> (label: String, init: LayerInitialization?, name: String) {
        let parts = text.split(separator: ":", maxSplits: 1).map { String($0).trimmingCharacters(in: .whitespaces) }
        guard let name = parts.first, !name.isEmpty else { throw ValidationError("--inits: empty scheme name in '\(text)'") }
        if parts.count == 2 {
            guard let std = Double(parts[1]), std.isFinite, std >= 0 else { throw ValidationError("--inits: '\(parts[1])' in '\(text)' is not a std ≥ 0") }
            let canonical = try userFacing { () throws(InitializationError) in try Initializer.canonicalName(name) }
            guard ["normal", "truncated-normal", "sparse"].contains(canonical) else {
                throw ValidationError("--inits: only normal, truncated-normal and sparse take :STD, got '\(text)'")
            }
            var p = SchemeParameters(std: std)
            if canonical == "sparse" { p.sparsity = 0.9 }
            if canonical == "truncated-normal" { p.a = -2 * std; p.b = 2 * std }
            let scheme = try userFacing { () throws(InitializationError) in try Initializer(name: canonical, parameters: p) }
            return ("\(canonical):\(parts[1])", .all(scheme), name)
        }
        if ModelFactory.specialSchemes.contains(where: { $0.0 == name.lowercased() }) { return (name.lowercased(), nil, name) }
        let li = try parseInit(name, activation: activation)
        if name.lowercased() == "normal" { return ("normal:0.01", li, name) }
        return (name, li, name)
    }

    func run() throws {
        common.apply()
        let act: Activation
        do { act = try Activation(name: activation) } catch { throw ValidationError("\(error)") }
        let schemes = try inits.split(separator: ",").map { try Compare.parseScheme(String($0), activation: act) }
        guard !schemes.isEmpty else { throw ValidationError("--inits needs at least one scheme") }
        let kind: Optimizer.Kind
        switch optimizer.lowercased() {
        case "sgd": kind = .sgd(momentum: 0, nesterov: false)
        case "momentum": kind = .sgd(momentum: 0.9, nesterov: false)
        case "adam": kind = .adam()
        case "adamw": kind = .adamW()
        default: throw ValidationError("--optimizer must be sgd, momentum, adam or adamw, got '\(optimizer)'")
        }
        if let plot { try checkWritable(plot) }
        if let csv { try checkDirectory(csv) }
        if !common.json { status("loading \(dataOptions.data) …") }
        let (train, test) = try dataOptions.load()
        let residual = architecture.lowercased() == "residual"
        let hidden = Array(repeating: width, count: depth)
        // The same diagnostic batch, training batches and evaluation subset for every scheme.
        let probe = try LabeledData(features: train.features, inputs: Array(train.inputs[0..<(min(1024, train.count) * train.features)]),
                                    labels: Array(train.labels[0..<min(1024, train.count)]))
        let evalCount = min(10_000, train.count)
        let trainSubset = try LabeledData(features: train.features, inputs: Array(train.inputs[0..<(evalCount * train.features)]),
                                          labels: Array(train.labels[0..<evalCount]))
        let logEvery = max(1, steps / 60)
        var runs: [Run] = []
        for (label, initialization, name) in schemes {
            let t0 = now()
            if !common.json { status("\(label): initializing \(residual ? "\(depth) residual blocks" : "\(depth + 1) layers") …") }
            let model: any NetworkModel
            if !residual, let initialization {
                model = try Sequential(sizes: [train.features] + hidden + [10], activation: act, initialization: initialization, seed: common.seed, threads: common.threads)
            } else if residual, case let .all(scheme)? = initialization {
                model = try ResidualMLP(inputSize: train.features, width: width, depth: depth, classes: 10, activation: act,
                                        initialization: .all(scheme), seed: common.seed, threads: common.threads)
            } else {
                model = try ModelFactory.build(architecture: architecture, inputs: train.features, hidden: hidden, width: width, depth: depth, classes: 10,
                                               activation: act, initName: name, train: train, seed: common.seed, threads: common.threads).model
            }
            var batch = Matrix<Float>(rows: 0, columns: train.features)
            var labels: [Int32] = []
            try Trainer.gather(probe, Array(0..<probe.count)[...], into: &batch, labels: &labels)
            let stats = try Diagnostics.measure(model, inputs: batch, labels: labels[...])
            let opt = try Optimizer(kind)
            var loss = SoftmaxCrossEntropy()
            var losses: [Double] = [], lossSteps: [Int] = []
            var diverged: Int?
            var window = 0.0, windowCount = 0
            let bar = ProgressBar(enabled: !common.json && isatty(STDOUT_FILENO) == 1 && isatty(STDERR_FILENO) == 1)
            var epoch = 0
            var order: [Int] = []
            try model.withoutInputGradient {    // training never needs ∂L/∂input
                for step in 0..<steps {
                    let perEpoch = max(1, train.count / batchSize)
                    if step % perEpoch == 0 { epoch += 1; order = try Trainer.order(count: train.count, seed: common.seed, epoch: epoch) }
                    let s = (step % perEpoch) * batchSize
                    try Trainer.gather(train, order[s..<min(train.count, s + batchSize)], into: &batch, labels: &labels)
                    let logits = try model.forward(batch)
                    let l = try loss.loss(logits: logits, labels: labels[...])
                    guard l.isFinite else { diverged = step + 1; return }
                    try model.backward(loss.gradient)
                    opt.step(model: model, learningRate: learningRate)
                    window += Double(l); windowCount += 1
                    if (step + 1) % logEvery == 0 || step == steps - 1 {
                        losses.append(window / Double(windowCount)); lossSteps.append(step + 1); window = 0; windowCount = 0
                    }
                    bar.update(TrainingProgress(epoch: 1, step: step + 1, stepsPerEpoch: steps, runningLoss: losses.last ?? Double(l), samplesPerSecond: 0), epochs: 1)
                }
            }
            var finalLoss: Double?, accuracy: Double?
            if diverged == nil {
                let (fl, _) = try Trainer.evaluate(model, trainSubset)
                let (_, acc) = try Trainer.evaluate(model, test)
                finalLoss = fl.isFinite ? fl : nil
                accuracy = acc
                if !fl.isFinite { diverged = steps }
            } else if !common.json { status("\(label): the loss became non-finite at step \(diverged!) — this scheme diverged") }
            runs.append(Run(init_: label, preactivationStd: stats.map(\.preactivationStd), activationStd: stats.map(\.activationStd),
                            activationMean: stats.map(\.activationMean), saturatedFraction: stats.map(\.saturatedFraction),
                            deadFraction: stats.map(\.deadFraction), gradientNorm: stats.map(\.gradientNorm), loss: losses, lossSteps: lossSteps,
                            finalTrainLoss: finalLoss, testAccuracy: accuracy, divergedAtStep: diverged, seconds: now() - t0))
        }
        let report = Report(runs: runs, architecture: architecture, depth: depth, width: width, activation: act.name, steps: steps,
                            batchSize: batchSize, learningRate: learningRate, optimizer: optimizer, seed: common.seed)
        if let plot {
            try writeAtomically(SVGPlot.compare(report: report), to: plot)
            if !common.json { status("wrote \(plot)") }
        }
        if let csv { try writeCSV(report, directory: csv) }
        if common.json { try printJSON(report); return }
        printTables(report)
    }

    var residual: Bool { architecture.lowercased() == "residual" }

    func printTables(_ report: Report) {
        print("\(residual ? "residual MLP 784 → \(width), \(depth) blocks x + g·F(x) →" : "MLP 784 → \(width) × \(depth) →") 10, \(report.activation), \(steps) steps of \(optimizer) (lr \(learningRate), batch \(batchSize)), seed \(common.seed)\n")
        let count = report.runs.first?.activationStd.count ?? 0
        let picks = Array(Set([0, 1, count / 4, count / 2, 3 * count / 4, count - 2, count - 1].filter { $0 >= 0 && $0 < count })).sorted()
        print("activation std by layer at initialization (batch of 1024):")
        print(table(["init"] + picks.map { "L\($0 + 1)" }, report.runs.map { r in [r.init_] + picks.map { fmt(r.activationStd[$0], 3) } }))
        print("\n‖∂L/∂W‖ by layer at initialization:")
        print(table(["init"] + picks.map { "L\($0 + 1)" }, report.runs.map { r in [r.init_] + picks.map { fmt(r.gradientNorm[$0], 3) } }))
        if report.activation == "relu" || report.activation == "tanh" || report.activation == "sigmoid" {
            print("\n" + (report.activation == "relu" ? "dead" : "saturated") + " fraction by layer at initialization:")
            print(table(["init"] + picks.map { "L\($0 + 1)" }, report.runs.map { r in
                [r.init_] + picks.map { i in fmt((report.activation == "relu" ? r.deadFraction[i] : r.saturatedFraction[i]) ?? 0, 3) } }))
        }
        print("\nafter training:")
        print(table(["init", "first loss", "final train loss", "test accuracy", "seconds"], report.runs.map { r in
            [r.init_, r.loss.first.map { fmt($0) } ?? "-",
             r.divergedAtStep.map { "diverged at step \($0)" } ?? r.finalTrainLoss.map { fmt($0) } ?? "-",
             r.testAccuracy.map { fmt($0) } ?? "-", fmt(r.seconds, 1)]
        }))
    }

    func writeCSV(_ report: Report, directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var layers = "init,layer,preactivation_std,activation_std,activation_mean,saturated_fraction,dead_fraction,gradient_norm\n"
        for r in report.runs {
            for i in 0..<r.activationStd.count {
                layers += "\(r.init_),\(i + 1),\(r.preactivationStd[i]),\(r.activationStd[i]),\(r.activationMean[i]),\(r.saturatedFraction[i].map { "\($0)" } ?? ""),\(r.deadFraction[i].map { "\($0)" } ?? ""),\(r.gradientNorm[i])\n"
            }
        }
        var loss = "init,step,loss\n"
        for r in report.runs { for (s, l) in zip(r.lossSteps, r.loss) { loss += "\(r.init_),\(s),\(l)\n" } }
        try writeAtomically(layers, to: (directory as NSString).appendingPathComponent("layers.csv"))
        try writeAtomically(loss, to: (directory as NSString).appendingPathComponent("loss.csv"))
    }
}
