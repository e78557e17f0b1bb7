import ArgumentParser
import Foundation
import WeightInit

/// `weightinit compare`: why initialization matters, on real data.
struct Compare: ToolCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare initialization schemes on one deep network: per-layer signal and gradient statistics at initialization, then short training runs on the same data, batches and seed.",
        discussion: """
        The network is an MLP with --depth hidden layers of --width units (784 → width × depth → 10; default 30 × 256), \
        with --architecture residual a residual MLP of --depth blocks of width --width (default 30 × 256), or with \
        --architecture cnn a deep vanilla CNN of --depth conv layers of --width channels (default 16 × 16), on \
        Fashion-MNIST (standardized). The networks are built and trained one after another, and the memory one \
        needs (its parameters and the buffers of its largest batch, at most 1024 rows) is checked against the memory \
        available before the first is built. For every \
        scheme in --inits it measures, on one batch of 1024 at initialization, each layer's pre-activation std, \
        activation mean/std, saturated fraction (sigmoid/tanh), dead fraction (ReLU) and the gradient norm of its \
        weights after one backward pass; then trains --steps SGD steps (same batches for every scheme), logging \
        the loss, and reports the final training loss (on 10 000 training samples) and the test accuracy.

        The optimizer defaults to plain SGD on purpose: Adam normalizes every update by the gradient's own \
        scale, which hides vanishing and exploding gradients — exactly what this command shows.

        Scheme names as in stats (he-normal, xavier-uniform, orthogonal, lecun-normal, zeros, …) and the \
        special schemes of train (lsuv, fixup, …); normal uses std 0.01 unless written normal:STD (e.g. \
        normal:1 to see explosion). Every option, every scheme and the output paths are checked before the data \
        loads, and the memory the networks need is estimated before any is built. Ctrl-C prints the schemes that completed and \
        exits with 130.

        JSON keys: runs [{init, preactivation_std, activation_std, activation_mean, saturated_fraction, \
        dead_fraction, gradient_norm (per layer), loss (per logged step), loss_steps, final_train_loss, \
        test_accuracy, diverged_at_step}], depth, width, activation, steps.

        Examples:
          weightinit compare --depth 30 --inits he-normal,xavier-normal,normal
          weightinit compare --depth 30 --plot relu.svg --csv relu-csv
          weightinit compare --depth 9 --activation tanh --inits xavier-uniform,normal:1
          weightinit compare --architecture cnn --depth 16 --width 8 --steps 100
        """)

    @OptionGroup var common: CommonOptions
    @OptionGroup var dataOptions: DataOptions
    @Option(help: "Architecture: mlp (--depth hidden layers of --width units), residual (--depth blocks x + g·F(x), no normalization) or cnn (a deep vanilla CNN: a stride-2 3×3 stem to --width channels at 14×14, then --depth − 1 3×3 convolutions of --width channels with padding 1, global average pooling and a dense layer to 10; no normalization, no skip connections).") var architecture: String = "mlp"
    @Option(name: .customLong("depth"), parsing: .unconditional, help: "Hidden layers (mlp), residual blocks (residual) or conv layers (cnn). Default 30 for mlp and residual, 16 for cnn.") var depthOption: Int?
    @Option(name: .customLong("width"), parsing: .unconditional, help: "Units per hidden layer (mlp), stream width (residual) or channels of every conv layer (cnn). Default 256 for mlp and residual, 16 for cnn.") var widthOption: Int?
    /// Defaults of --depth and --width for the CNN: the 16-layer, 16-channel vanilla CNN of the
    /// README's measured experiment. The MLP defaults (30 × 256) as a CNN — 29 convolutions of 256
    /// channels at 14×14 — need about 32 GiB for the 1024-sample probe batch and hours per scheme
    /// on a few cores; they stay available when asked for (and are refused when they do not fit).
    static let cnnDefaults = (depth: 16, width: 16)
    /// --depth with its architecture's default.
    var depth: Int { depthOption ?? (cnn ? Compare.cnnDefaults.depth : 30) }
    /// --width with its architecture's default.
    var width: Int { widthOption ?? (cnn ? Compare.cnnDefaults.width : 256) }
    @Option(help: "Hidden activation: \(Activation.names.joined(separator: ", ")).") var activation: String = "relu"
    @Option(help: "Comma-separated schemes to compare (normal:STD sets a std).") var inits: String = "he-normal,xavier-normal,normal"
    @Option(parsing: .unconditional, help: "Training steps per scheme (0: statistics at initialization only).") var steps: Int = 300
    @Option(parsing: .unconditional, help: "Mini-batch size for training.") var batchSize: Int = 128
    @Option(parsing: .unconditional, help: "Learning rate.") var learningRate: Double = 0.01
    @Option(help: "sgd (plain, default), momentum (SGD 0.9), adam or adamw.") var optimizer: String = "sgd"
    @Option(help: "Write an SVG with per-layer activation std, gradient norms and loss curves.") var plot: String?
    @Option(help: "Write layers.csv and loss.csv into this directory.") var csv: String?

    typealias Report = InitializationComparison.Report

    /// Flags by the names `InitializationComparisonError` uses, for messages that name the flag.
    static let flags = ["depth": "--depth", "width": "--width", "steps": "--steps", "batch size": "--batch-size",
                        "learning rate": "--learning-rate", "threads": "--threads", "schemes": "--inits"]

    /// The library configuration these arguments describe (validated).
    /// - Throws: `ValidationError` naming the flag, the value and the rule.
    func comparison() throws -> InitializationComparison {
        var c = InitializationComparison.Configuration()
        do { c.architecture = try NetworkArchitecture(name: architecture) } catch {
            throw ValidationError("--architecture must be \(NetworkArchitecture.allCases.map(\.rawValue).joined(separator: " or ")), got '\(architecture)'")
        }
        do { c.activation = try Activation(name: activation) } catch { throw ValidationError("\(error)") }
        guard let choice = InitializationComparison.OptimizerChoice(rawValue: optimizer.lowercased()) else {
            throw ValidationError("--optimizer must be sgd, momentum, adam or adamw, got '\(optimizer)'")
        }
        c.optimizer = choice
        c.depth = depth; c.width = width; c.steps = steps; c.batchSize = batchSize; c.learningRate = learningRate
        c.schemes = try parseList(inits, option: "--inits")
        c.seed = common.seed; c.threads = common.threads
        do { return try InitializationComparison(c) } catch {
            switch error {
            case let .invalidValue(name, value, rule): throw ValidationError("\(Compare.flags[name] ?? name) \(rule), got \(value)")
            case .invalidScheme, .invalidData: throw ValidationError("--inits: \(error.description)")
            }
        }
    }

    func validate() throws { _ = try comparison() }

    func run() throws {
        common.apply()
        let comparison = try comparison()
        // Every output checked before any work, and no two naming the same file.
        var outputs: [(option: String, path: String)] = plot.map { [("--plot", $0)] } ?? []
        if let csv { outputs += try checkOutputDirectory(csv, option: "--csv", files: ["layers.csv", "loss.csv"]).map { ("--csv", $0) } }
        try checkOutputs(outputs)
        // A lower bound of the memory estimate (1 input feature, 1 row: what any data set needs at
        // least) refuses networks that cannot fit before the data is loaded; `run` checks the exact one.
        let c = comparison.configuration
        if c.architecture != .cnn {
            let slots = MemoryEstimate.optimizerSlots(c.optimizer.kind)
            let lower = c.architecture == .residual
                ? try MemoryEstimate.residual(inputSize: 1, width: c.width, depth: c.depth, classes: c.classes, batch: 1, optimizerSlots: slots)
                : try MemoryEstimate.sequential(sizes: [1] + Array(repeating: c.width, count: c.depth) + [c.classes], batch: 1, optimizerSlots: slots)
            try CheckedSize.requireMemory(lower, what: "comparing on \(c.architecture == .residual ? "a residual MLP of \(c.depth) blocks" : "an MLP of \(c.depth) hidden layers") of width \(c.width) (at least, for any data)")
        } else {
            // The CNN's lower bound: 1×1 images (the stride-2 stem accepts them), 1 row.
            let spec = try ConvolutionalNetwork.deepVanillaSpec(depth: c.depth, width: c.width, classes: c.classes, activation: c.activation)
            let lower = try MemoryEstimate.cnn(inputShape: [1, 1, 1], spec: spec, batch: 1, optimizerSlots: MemoryEstimate.optimizerSlots(c.optimizer.kind))
            try CheckedSize.requireMemory(lower, what: "comparing on a CNN of \(c.depth) conv layers of width \(c.width) (at least, for any data)")
        }
        if !common.json { status("loading \(dataOptions.data) …") }
        let (train, test) = try dataOptions.load()
        var bar = ProgressBar(enabled: false)
        var completed: [InitializationComparison.Run] = []
        let report: Report
        do {
            report = try comparison.run(train: train, test: test) { event in
                switch event {
                case let .started(label, _, _):
                    if !common.json { status("\(label): initializing \(cnn ? "\(depth) conv layers" : residual ? "\(depth) residual blocks" : "\(depth + 1) layers") …") }
                    bar = ProgressBar(enabled: !common.json && isatty(STDERR_FILENO) == 1)
                case let .step(label, step, steps, loss):
                    bar.draw(prefix: "\(label): step", done: step, total: steps, suffix: "loss \(fmt(loss))")
                case let .diverged(label, step):
                    if !common.json { status("\(label): the loss became non-finite at step \(step) — this scheme diverged") }
                case let .finished(run):
                    completed.append(run)
                    PartialResult.record(Report(runs: completed, architecture: comparison.configuration.architecture, depth: depth, width: width,
                                                activation: comparison.configuration.activation.name, steps: steps, batchSize: batchSize,
                                                learningRate: learningRate, optimizer: comparison.configuration.optimizer, seed: common.seed),
                                         summary: "completed \(completed.count) of \(comparison.configuration.schemes.count) schemes (\(completed.map(\.scheme).joined(separator: ", ")))")
                }
            }
        } catch let e as ModelFactoryError { throw CommandError(e.description)
        } catch let e as InitializationComparisonError {
            if case .invalidData = e { throw CommandError("\(dataOptions.data): \(e.description)") }
            throw ValidationError(e.description)
        }
        if let plot {
            try writeAtomically(SVGPlot.compare(report: report), to: plot)
            if !common.json { status("wrote \(plot)") }
        }
        if let csv { try writeCSV(report, directory: csv) }
        if common.json { try printJSON(report); return }
        printTables(report)
    }

    var residual: Bool { architecture.lowercased() == "residual" }
    var cnn: Bool { architecture.lowercased() == "cnn" }

    func printTables(_ report: Report) {
        print("\(cnn ? "vanilla CNN 1×28×28 → stride-2 conv \(width)×14×14 → \(depth - 1) × conv 3×3 \(width) → global average pool →" : residual ? "residual MLP 784 → \(width), \(depth) blocks x + g·F(x) →" : "MLP 784 → \(width) × \(depth) →") 10, \(report.activation), \(steps) steps of \(optimizer) (lr \(learningRate), batch \(batchSize)), seed \(common.seed)\n")
        let count = report.runs.first?.activationStd.count ?? 0
        let picks = Array(Set([0, 1, count / 4, count / 2, 3 * count / 4, count - 2, count - 1].filter { $0 >= 0 && $0 < count })).sorted()
        print("activation std by layer at initialization (batch of 1024):")
        print(table(["init"] + picks.map { "L\($0 + 1)" }, report.runs.map { r in [r.scheme] + picks.map { fmt(r.activationStd[$0], 3) } }))
        print("\n‖∂L/∂W‖ by layer at initialization:")
        print(table(["init"] + picks.map { "L\($0 + 1)" }, report.runs.map { r in [r.scheme] + picks.map { fmt(r.gradientNorm[$0], 3) } }))
        if report.activation == "relu" || report.activation == "tanh" || report.activation == "sigmoid" {
            print("\n" + (report.activation == "relu" ? "dead" : "saturated") + " fraction by layer at initialization:")
            print(table(["init"] + picks.map { "L\($0 + 1)" }, report.runs.map { r in
                [r.scheme] + picks.map { i in fmt((report.activation == "relu" ? r.deadFraction[i] : r.saturatedFraction[i]) ?? 0, 3) } }))
        }
        print("\nafter training:")
        print(table(["init", "first loss", "final train loss", "test accuracy", "seconds"], report.runs.map { r in
            [r.scheme, r.loss.first.map { fmt($0) } ?? "-",
             r.divergedAtStep.map { "diverged at step \($0)" } ?? r.finalTrainLoss.map { fmt($0) } ?? "-",
             r.testAccuracy.map { fmt($0) } ?? "-", fmt(r.seconds, 1)]
        }))
    }

    func writeCSV(_ report: Report, directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var layers = "init,layer,preactivation_std,activation_std,activation_mean,saturated_fraction,dead_fraction,gradient_norm\n"
        for r in report.runs {
            for i in 0..<r.activationStd.count {
                layers += "\(r.scheme),\(i + 1),\(r.preactivationStd[i]),\(r.activationStd[i]),\(r.activationMean[i]),\(r.saturatedFraction[i].map { "\($0)" } ?? ""),\(r.deadFraction[i].map { "\($0)" } ?? ""),\(r.gradientNorm[i])\n"
            }
        }
        var loss = "init,step,loss\n"
        for r in report.runs { for (s, l) in zip(r.lossSteps, r.loss) { loss += "\(r.scheme),\(s),\(l)\n" } }
        try writeAtomically(layers, to: (directory as NSString).appendingPathComponent("layers.csv"))
        try writeAtomically(loss, to: (directory as NSString).appendingPathComponent("loss.csv"))
    }
}
