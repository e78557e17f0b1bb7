import ArgumentParser
import Distributed
import Foundation
import WeightInit

/// Options shared by `train` and `compare` for data.
struct DataOptions: ParsableArguments {
    @Option(help: "Directory with IDX files (train-images-idx3-ubyte[.gz], …). Default: Fashion-MNIST from the Debian package dataset-fashion-mnist.")
    var data: String = MNISTDataset.defaultDirectory

    @Option(parsing: .unconditional, help: "Use only the first N training samples (quick runs).")
    var limit: Int?

    @Flag(inversion: .prefixedNo, help: "Standardize inputs with the training set's mean and std (default on).")
    var standardize = true

    func load() throws -> (train: LabeledData, test: LabeledData) {
        if let limit, limit < 1 { throw ValidationError("--limit must be ≥ 1, got \(limit)") }
        let (train, test): (LabeledData, LabeledData)
        do { (train, test) = try LabeledData.mnist(directory: data, trainLimit: limit, standardize: standardize) } catch let e as DatasetError {
            if case let .invalidParameter(name, value, _) = e, standardize {
                throw CommandError("\(data): the training images cannot be standardized (\(name) = \(value): they all have the same value); pass --no-standardize to use them as they are")
            }
            throw e
        }
        guard train.features == test.features else {
            throw CommandError("\(data): the training images have \(train.features) pixels, the test images \(test.features); both splits must have the same image size")
        }
        return (train, test)
    }
}

/// Parses `--hidden 256,128`.
func parseHidden(_ text: String) throws -> [Int] {
    if text.trimmingCharacters(in: .whitespaces).isEmpty || text == "none" { return [] }   // no hidden layer: softmax regression
    let parts = try parseList(text, option: "--hidden").map { Int($0) }
    guard parts.allSatisfy({ $0 != nil && $0! >= 1 && $0! <= 65_536 }) else {
        throw ValidationError("--hidden must be layer widths in 1…65536 separated by commas, e.g. 256,128; got '\(text)'")
    }
    return parts.map { $0! }
}

/// Parses an activation name (the `Activation.names` list; `stats` accepts the same names).
func parseActivation(_ name: String, slope: Float = 0.01) throws -> Activation {
    do { return try Activation(name: name, slope: slope) } catch { throw ValidationError("--activation: \(error)") }
}

/// Parses `--bias-init`: `zeros`, `constant:V`, `uniform:LOW:HIGH` or `normal:STD` (mean 0).
func parseBiasInit(_ text: String) throws -> Initializer {
    let parts = text.lowercased().split(separator: ":", omittingEmptySubsequences: false).map(String.init)
    let values = parts.dropFirst().map { Double($0) }
    func bad() -> ValidationError {
        ValidationError("--bias-init must be zeros, constant:VALUE, uniform:LOW:HIGH or normal:STD with finite numbers (LOW < HIGH, STD ≥ 0), got '\(text)'")
    }
    guard values.allSatisfy({ $0 != nil && $0!.isFinite }) else { throw bad() }
    let v = values.map { $0! }
    switch (parts[0], v.count) {
    case ("zeros", 0): return .zeros
    case ("constant", 1): return .constant(v[0])
    case ("uniform", 2) where v[0] < v[1]: return .uniform(low: v[0], high: v[1])
    case ("normal", 1) where v[0] >= 0: return .normal(mean: 0, std: v[0])
    default: throw bad()
    }
}

/// Parses `--optimizer`.
func parseOptimizer(_ name: String, momentum: Double, nesterov: Bool) throws -> Optimizer.Kind {
    switch name.lowercased() {
    case "sgd": return .sgd(momentum: momentum, nesterov: nesterov && momentum > 0)
    case "adam": return .adam()
    case "adamw": return .adamW()
    default: throw ValidationError("--optimizer must be sgd, adam or adamw, got '\(name)'")
    }
}

/// `weightinit train`: an MLP on Fashion-MNIST (or any MNIST-format IDX data).
struct Train: ToolCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train an MLP, residual MLP or CNN on an IDX data set (default Fashion-MNIST) with the chosen initialization.",
        discussion: """
        Defaults: 784-256-128-10, ReLU, --init auto (He for the ReLU family, Xavier for tanh/sigmoid and the \
        output layer, LeCun for SELU), SGD with Nesterov momentum 0.9, learning rate 0.05 with a cosine schedule, \
        batch 128, 5 epochs, inputs standardized with the training set's statistics, seed 0.

        --init takes auto, a scheme name (as in stats), normal:STD, truncated-normal:STD or sparse:STD, or one of \
        the data-based and architecture-based schemes (lsuv, data-dependent, autoinit, layer-ratio, metainit, mup; \
        fixup and rezero for --architecture residual). Every option is checked before the data loads, and the \
        memory the model needs is estimated and compared with the memory available before anything is allocated.

        Each epoch's row is printed (and flushed) as soon as it completes. A NaN or infinite loss stops the run \
        with an error naming the epoch and step. Ctrl-C prints what completed and exits with 130.

        JSON keys: epochs [{epoch, train_loss, train_accuracy, test_loss, test_accuracy, seconds, \
        samples_per_second}], test_accuracy, init, activation, architecture, hidden (the MLP's hidden widths; mlp \
        only), layers (the model's layers as --summary prints them: name, kind, input_shape, output_shape, \
        activation, parameters, initialization), parameters, seed (plus diagnostics with --diagnostics).

        --hidden applies to mlp, --width and --depth to residual; the CNN's layers are fixed, and giving any of \
        the three with --architecture cnn is refused (exit 64) rather than ignored.

        --save FILE writes the trained model as safetensors (PyTorch names and layouts); --checkpoint DIR \
        writes a checkpoint every --checkpoint-every steps, and --resume continues that run; --max-steps N \
        stops after N steps with the checkpoint written there (split a long run into jobs). With those \
        options the JSON adds saved, checkpoint, resumed_at_global_step and stopped_at_global_step.

        With --distributed, rank 0 writes the checkpoint after checking that every rank holds the same \
        training state, and every rank reads it on --resume (put DIR on a file system all ranks see). A \
        checkpoint does not depend on the number of ranks: a run saved by N ranks resumes with any number \
        of ranks or in one process, and a single-process checkpoint resumes under mpirun. The data order and \
        the learning-rate schedule continue exactly; the final weights are bitwise equal to the uninterrupted \
        run with the same number of ranks and --threads, and at another number of ranks they differ from it \
        by rounding only (relative 1e-5), as runs with different numbers of ranks always do.

        Examples:
          weightinit train
          weightinit train --activation tanh --init xavier-uniform --epochs 3
          weightinit train --architecture cnn --epochs 5
          weightinit train --init normal:0.1 --epochs 2
          weightinit train --init zeros --epochs 1 --diagnostics
          weightinit train --save model.safetensors
          weightinit train --checkpoint run1 --checkpoint-every 50
          weightinit train --checkpoint run1 --checkpoint-every 50 --resume
          mpirun -np 2 weightinit train --distributed --checkpoint r2 --max-steps 50
          weightinit train --checkpoint r2 --resume

        """)

    /// The most epochs accepted (a bound on the run time a typo can cause).
    static let maximumEpochs = 100_000

    @OptionGroup var common: CommonOptions
    @OptionGroup var dataOptions: DataOptions
    @Option(help: "Architecture: mlp (layers from --hidden), residual (--width, --depth residual blocks, no normalization) or cnn (conv 32 3×3 → ReLU → max-pool 2 → conv 64 3×3 → ReLU → max-pool 2 → dense 128 → ReLU → dense 10, 'same' padding, the hidden activation from --activation; 421,642 parameters).") var architecture: String = "mlp"
    @Option(name: .customLong("hidden"), help: "Hidden layer widths, comma-separated (mlp only; default 256,128; none or an empty value: no hidden layer). Refused with --architecture cnn, whose layers are fixed.") var hiddenOption: String?
    @Option(name: .customLong("width"), parsing: .unconditional, help: "Residual stream width (residual only; default 256). Refused with --architecture cnn, whose layers are fixed.") var widthOption: Int?
    @Option(name: .customLong("depth"), parsing: .unconditional, help: "Residual blocks (residual only; default 8). Refused with --architecture cnn, whose layers are fixed.") var depthOption: Int?
    /// `--hidden` with its default (the option is optional so that giving it with the CNN can be refused).
    var hidden: String { hiddenOption ?? "256,128" }
    /// `--width` with its default.
    var width: Int { widthOption ?? 256 }
    /// `--depth` with its default.
    var depth: Int { depthOption ?? 8 }
    @Option(help: "Hidden activation: \(Activation.names.joined(separator: ", ")).") var activation: String = "relu"
    @Option(help: "Negative slope for leaky-relu.") var slope: Float = 0.01
    @Option(name: .customLong("init"), help: "auto, a scheme name (he-normal, xavier-uniform, orthogonal, lecun-normal, zeros, …), or lsuv, data-dependent, autoinit, layer-ratio, metainit, mup; fixup, rezero (residual).") var initName: String = "auto"
    @Option(help: "Initialize the whole model with a named recipe instead of --init: pytorch-default, keras-default, he, xavier, lecun, … (the recipes of weightinit init), matched against the PyTorch parameter names (0.weight, 0.bias, …; see --summary). Keys are per parameter name, so the bytes equal weightinit init --like of the saved model.") var recipe: String?
    @Option(help: "Initialize the whole model with a JSON rules file (the format of weightinit init --rules: ordered name globs and/or roles → initializer, first match wins).") var rules: String?
    @Option(name: .customLong("bias-init"), help: "Bias initializer for --architecture mlp: zeros (default), or a scheme without fans: constant:VALUE, uniform:LOW:HIGH, normal:STD.") var biasInit: String = "zeros"
    @Flag(help: "Print the model's layers (PyTorch module name, shapes, parameters, init scheme) before training.") var summary = false
    @Option(help: "Write the trained model to this safetensors file (PyTorch names and layouts: Linear layers of the MLP at torch.nn.Sequential indices 0, 2, 4, …; load in PyTorch with load_state_dict(load_file(FILE)) from safetensors.torch). Written atomically.") var save: String?
    @Option(help: "Checkpoint directory: DIR/checkpoint.safetensors holds the model, the optimizer state, the schedule and data-order position, epoch and step, replaced atomically every --checkpoint-every steps, after each epoch and at the end. A directory that already holds a checkpoint needs --resume.") var checkpoint: String?
    @Option(parsing: .unconditional, help: "Steps between checkpoints (with --checkpoint).") var checkpointEvery: Int = 100
    @Flag(help: "Continue the run saved in the --checkpoint directory (same settings and data; a checkpoint of another configuration, activation, standardization, --limit, --init, architecture, shape or data is refused with an error naming the difference, exit 1; an edited or corrupt checkpoint is refused naming the file and the field, and every tensor's data is checked against the CRC-32 recorded when the checkpoint was written, so a changed bit in the weights or optimizer buffers is refused naming the tensor, exit 1; checkpoints written before these checksums were recorded load without that check, their tensor data checked only for NaN and infinity). Without a checkpoint there, training starts from the beginning. The resumed run ends with weights bitwise equal to an uninterrupted run with the same --threads and --batch-threads (and, with --distributed, the same number of ranks; a checkpoint resumes with any number of ranks).") var resume = false
    @Option(parsing: .unconditional, help: "Stop after this many optimizer steps in this invocation and write the checkpoint there (needs --checkpoint); continue later with --resume, e.g. within a cluster job's time limit. --save is written only by the invocation that completes the run.") var maxSteps: Int?
    @Option(parsing: .unconditional, help: "Epochs, 1…100000.") var epochs: Int = 5
    @Option(parsing: .unconditional, help: "Mini-batch size.") var batchSize: Int = 128
    @Option(parsing: .unconditional, help: "Peak learning rate.") var learningRate: Double = 0.05
    @Option(help: "sgd, adam or adamw.") var optimizer: String = "sgd"
    @Option(parsing: .unconditional, help: "SGD momentum.") var momentum: Double = 0.9
    @Flag(inversion: .prefixedNo, help: "Nesterov momentum for SGD.") var nesterov = true
    @Option(parsing: .unconditional, help: "Weight decay (L2 for sgd/adam, decoupled for adamw).") var weightDecay: Double = 0
    @Option(help: "Learning-rate schedule: cosine (to 0 over the run), constant, or step (×0.1 after every epoch).") var schedule: String = "cosine"
    @Option(parsing: .unconditional, help: "Linear warm-up steps.") var warmup: Int = 0
    @Flag(help: "Print per-layer statistics at initialization and after each epoch.") var diagnostics = false
    @Flag(help: "Data-parallel training over MPI: run as `mpirun -np N weightinit train --distributed …` (also on when OMPI_COMM_WORLD_SIZE is set). Every rank builds the same model from the same seed (checked with a checksum at start), takes its contiguous slice of every global batch of --batch-size samples, and the gradients are all-reduced, so the run follows single-process training with the same global batch. Only rank 0 prints and writes files; a failure on any rank ends every rank. Every option that changes the run (epochs, batch size, learning rate, --max-steps, activation, …) must be the same on every rank: a difference is refused at start with exit 64 naming the option.") var distributed = false
    @Option(parsing: .unconditional, help: "Gradient all-reduce bucket size in MiB for --distributed (PyTorch DDP's bucket_cap_mb).") var bucketMb: Double = 25
    @Option(parsing: .unconditional, help: "Threads that split every batch (batch-split training, 1…64): each thread runs forward and backward on its contiguous slice of the batch on its own copy of the model, and the gradients are summed in thread order before the one optimizer step, so a run is bitwise reproducible for a given value (it differs from 1 by rounding only). --threads stays the total: OpenBLAS gets --threads ÷ --batch-threads threads (at least 1). Default: --threads (all cores) for mlp and residual, with 1 BLAS thread each, because small products run faster side by side than split inside OpenBLAS; 1 for cnn and --distributed.") var batchThreads: Int?

    struct EpochJSON: Encodable {
        var epoch: Int; var trainLoss: Double; var trainAccuracy: Double; var testLoss: Double; var testAccuracy: Double
        var seconds: Double; var samplesPerSecond: Double; var diagnostics: [LayerStatistics]?; var updateRatio: [Double]?
    }
    struct Report: Encodable {
        var epochs: [EpochJSON]; var testAccuracy: Double?; var init_: String; var activation: String
        /// The MLP's hidden widths (mlp only; omitted for residual and cnn, whose layers `layers` lists).
        var hidden: [Int]?
        var architecture: String
        /// The model's real layers (`NetworkModel.summary()`): PyTorch module name, kind, shapes, activation, parameters, init.
        var layers: [LayerSummary]
        var initDiagnostics: [LayerStatistics]?; var parameters: Int; var seed: UInt64
        var saved: String?; var checkpoint: String?; var resumedAtGlobalStep: Int?; var stoppedAtGlobalStep: Int?
        var worldSize: Int = 1; var allreduce: AllReduceJSON?
        enum CodingKeys: String, CodingKey {
            case epochs, testAccuracy, init_ = "init", activation, hidden, architecture, layers, initDiagnostics, parameters, seed, saved, checkpoint, resumedAtGlobalStep, stoppedAtGlobalStep
            case worldSize, allreduce
        }
    }
    /// Gradient all-reduce cost of a --distributed run.
    struct AllReduceJSON: Encodable { var bucketBytes: Int; var callsPerStep: Int; var bytesPerStep: Int; var secondsPerStep: Double }

    func run() throws {
        // Under mpirun every rank runs this; a failure on one rank must end all of them.
        guard distributed || DistributedLaunch.isLaunchedByMPI() else { return try runTraining(communicator: nil) }
        let comm = try DistributedLaunch.communicator(requested: true)
        do { try runTraining(communicator: comm) } catch {
            guard comm.size > 1 else { throw error }
            comm.abort(code: error is ValidationError ? 64 : 1, message: "\(error)")
        }
    }

    /// Schemes whose bytes depend on the machine (LAPACK QR) or on calibration passes: under
    /// --distributed rank 0's parameters are broadcast to the other ranks after they are built.
    static let broadcastInits: Set<String> = ["orthogonal", "delta-orthogonal", "lsuv", "data-dependent", "autoinit", "layer-ratio", "metainit"]

    func runTraining(communicator comm: (any Communicator)?) throws {
        let isRoot = comm?.isRoot ?? true
        let quiet = common.json || !isRoot
        func print(_ items: Any...) { if !quiet { Swift.print(items.map { "\($0)" }.joined(separator: " ")) } }
        // Every option is checked before the data loads (bad values: exit 64).
        if let b = batchThreads, !(1...CommonOptions.maximumThreads).contains(b) {
            throw ValidationError("--batch-threads must be between 1 and \(CommonOptions.maximumThreads), got \(b)")
        }
        if let b = batchThreads, b > 1, comm != nil { throw ValidationError("--batch-threads \(b) is not available with --distributed (each rank trains with 1; use more ranks)") }
        let totalThreads = common.threads ?? ProcessInfo.processInfo.activeProcessorCount
        let splitArchitecture = (try? NetworkArchitecture(name: architecture)).map { $0 == .mlp || $0 == .residual } ?? false
        if let b = batchThreads, b > 1, !splitArchitecture { throw ValidationError("--batch-threads \(b) needs --architecture mlp or residual (the CNN trains with 1)") }
        let batchSplit = comm != nil || !splitArchitecture ? 1 : (batchThreads ?? max(1, totalThreads))
        if batchSplit > 1 {
            // Set once at startup, before any work: the batch threads call BLAS side by side.
            if common.threads != nil { common.apply() }
            BLASBackend.threads = max(1, totalThreads / batchSplit)
        } else if common.threads != nil { common.apply() }
        else if comm != nil, ProcessInfo.processInfo.environment["OPENBLAS_NUM_THREADS"] == nil,
                let local = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init), local > 1 {
            // Ranks sharing a machine share its cores: cores / ranks-per-machine BLAS threads each.
            BLASBackend.threads = max(1, ProcessInfo.processInfo.activeProcessorCount / local)
        }
        let hiddenSizes = try parseHidden(hidden)
        let biasScheme = try parseBiasInit(biasInit)
        var initRecipe: InitRecipe?
        if recipe != nil || rules != nil {
            guard recipe == nil || rules == nil else { throw ValidationError("give --recipe or --rules, not both") }
            guard initName.lowercased() == "auto" else { throw ValidationError("give --init or --recipe/--rules, not both (got --init \(initName))") }
            guard biasInit.lowercased() == "zeros" else { throw ValidationError("--bias-init does not combine with --recipe/--rules (the recipe covers biases)") }
            do {
                if let rules {
                    let data: Data
                    do { data = try InputFile.read(rules) } catch { throw ValidationError("--rules \(rules): cannot read: \(error)") }
                    initRecipe = try InitRecipe(rulesJSON: data, name: "rules:\(rules)")
                } else {
                    initRecipe = try InitRecipe.named(recipe!)
                }
            } catch let e as RecipeError { throw ValidationError("\(e)") }
        }
        if resume && checkpoint == nil { throw ValidationError("--resume needs --checkpoint DIR (the directory of the run to continue)") }
        guard checkpointEvery >= 1 else { throw ValidationError("--checkpoint-every must be ≥ 1 step, got \(checkpointEvery)") }
        if let maxSteps {
            guard maxSteps >= 1 else { throw ValidationError("--max-steps must be ≥ 1, got \(maxSteps)") }
            guard checkpoint != nil else { throw ValidationError("--max-steps needs --checkpoint DIR (the run continues from it with --resume)") }
        }
        // Every output checked before the data loads (one rule: a path that cannot be written is
        // a bad value, 64), and --save must not be the checkpoint file.
        var outputs: [(option: String, path: String)] = save.map { [("--save", $0)] } ?? []
        var checkpoints: CheckpointSchedule?
        if let checkpoint {
            // An empty path, a file, a directory mkdir cannot create or one that is not writable
            // are bad values (64), named with the errno.
            let file = try checkOutputDirectory(checkpoint, option: "--checkpoint", files: [CheckpointSchedule.fileName])[0]
            do { checkpoints = try CheckpointSchedule(directory: checkpoint, every: checkpointEvery) }
            catch { throw ValidationError("--checkpoint \(checkpoint): \(error)") }
            if checkpoints!.exists && !resume {
                throw ValidationError("--checkpoint \(checkpoint) already holds \(CheckpointSchedule.fileName); pass --resume to continue that run, or choose another directory")
            }
            outputs.append(("--checkpoint", file))
        }
        try checkOutputs(outputs)
        guard slope.isFinite else { throw ValidationError("--slope must be finite, got \(slope)") }
        let act = try parseActivation(activation, slope: slope)
        let arch: NetworkArchitecture
        do { arch = try NetworkArchitecture(name: architecture) } catch {
            throw ValidationError("--architecture must be \(NetworkArchitecture.allCases.map(\.rawValue).joined(separator: " or ")), got '\(architecture)'")
        }
        if arch == .cnn {
            // The CNN's layers are fixed (conv 32 → pool → conv 64 → pool → dense 128 → 10): a layer
            // option would be silently ignored, so it is refused (exit 64) naming the option.
            for (option, given) in [("--hidden", hiddenOption), ("--width", widthOption.map(String.init)), ("--depth", depthOption.map(String.init))] {
                if let given {
                    throw ValidationError("\(option) \(given) does not apply to --architecture cnn: its layers are fixed (conv 32 3×3 → max-pool 2 → conv 64 3×3 → max-pool 2 → dense 128 → dense 10); \(option) sets the \(option == "--hidden" ? "MLP's hidden layers" : "residual MLP's \(option == "--width" ? "width" : "blocks")"). Omit it, or use weightinit compare --architecture cnn --depth D --width W for a deep CNN of your size")
                }
            }
        }
        guard (1...16_384).contains(width) else { throw ValidationError("--width must be in 1…16384, got \(width)") }
        guard (0...1000).contains(depth) else { throw ValidationError("--depth must be in 0…1000, got \(depth)") }
        guard (1...Train.maximumEpochs).contains(epochs) else { throw ValidationError("--epochs must be in 1…\(Train.maximumEpochs), got \(epochs)") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be ≥ 1, got \(batchSize)") }
        guard warmup >= 0 else { throw ValidationError("--warmup must be ≥ 0, got \(warmup)") }
        if let limit = dataOptions.limit, limit < 1 { throw ValidationError("--limit must be ≥ 1, got \(limit)") }
        guard bucketMb.isFinite, bucketMb >= 0.001, bucketMb <= 2048 else { throw ValidationError("--bucket-mb must be in 0.001…2048 (MiB), got \(bucketMb)") }
        if comm != nil && diagnostics { throw ValidationError("--diagnostics is not available with --distributed (run one process)") }
        var cfg = TrainingConfiguration()
        cfg.epochs = epochs; cfg.batchSize = batchSize; cfg.learningRate = learningRate; cfg.weightDecay = weightDecay
        cfg.optimizer = try parseOptimizer(optimizer, momentum: momentum, nesterov: nesterov)
        cfg.seed = common.seed; cfg.diagnostics = diagnostics; cfg.batchThreads = batchSplit
        switch schedule.lowercased() {
        case "cosine": cfg.schedule = LearningRateSchedule(.cosine(minimum: 0), warmupSteps: warmup)
        case "constant": cfg.schedule = LearningRateSchedule(.constant, warmupSteps: warmup)
        case "step": cfg.schedule = LearningRateSchedule(.step(stepSize: 1, gamma: 0.1), warmupSteps: warmup)   // step size set per epoch below
        default: throw ValidationError("--schedule must be cosine, constant or step, got '\(schedule)'")
        }
        try cfg.validate()
        _ = try Optimizer(cfg.optimizer, weightDecay: cfg.weightDecay)     // momentum and weight decay
        try ModelFactory.validateInit(initName, architecture: arch, hidden: hiddenSizes, activation: act)
        if biasScheme != .zeros && arch != .mlp { throw ValidationError("--bias-init applies to --architecture mlp (residual networks keep zero biases)") }

        // A lower bound of the memory estimate (1 input feature, 1 row) refuses a model that cannot
        // fit before the data is loaded; the exact estimate follows once the data's size is known.
        if arch != .cnn {
            try ModelFactory.requireMemory(architecture: arch, inputs: 1, hidden: hiddenSizes, width: width, depth: depth, classes: 10,
                                           batch: 1, optimizer: cfg.optimizer, beforeData: true)
        }
        // The settings that define the run beyond `cfg`: recorded in checkpoints (a --resume with
        // another value is refused naming the option) and, under mpirun, required to agree.
        var settings: [(name: String, value: String)] = [("--architecture", arch.rawValue)]
        switch arch {
        case .mlp: settings.append(("--hidden", hiddenSizes.map(String.init).joined(separator: ",")))
        case .residual: settings += [("--width", "\(width)"), ("--depth", "\(depth)")]
        case .cnn: break
        }
        settings.append(("--activation", act.name))
        if case .leakyReLU = act { settings.append(("--slope", "\(slope)")) }
        settings += [("--init", recipe.map { "recipe \($0)" } ?? rules.map { "rules \($0)" } ?? initName.lowercased()),
                     ("--bias-init", biasInit.lowercased()),
                     ("--limit", dataOptions.limit.map(String.init) ?? "all (no --limit)"),
                     ("--standardize", dataOptions.standardize ? "on" : "off (--no-standardize)")]
        if let comm {
            // Every option that changes the run or the number of collective calls must agree,
            // or the ranks would train different runs or one would wait forever in an all-reduce
            // the others never reach: refused on every rank before any work (exit 64).
            let agreement: [(name: String, value: String)] = settings + [
                ("--epochs", "\(epochs)"), ("--batch-size", "\(batchSize)"), ("--learning-rate", "\(learningRate)"),
                ("--optimizer", optimizer.lowercased()), ("--momentum", "\(momentum)"), ("--nesterov", "\(nesterov)"),
                ("--weight-decay", "\(weightDecay)"), ("--schedule", schedule.lowercased()), ("--warmup", "\(warmup)"),
                ("--seed", "\(common.seed)"), ("--checkpoint", checkpoint == nil ? "not given" : "given"),
                ("--checkpoint-every", "\(checkpointEvery)"), ("--resume", "\(resume)"),
                ("--max-steps", maxSteps.map(String.init) ?? "not given"), ("--bucket-mb", "\(bucketMb)"),
                ("--diagnostics", "\(diagnostics)")]
            do { try comm.requireAgreement(agreement) } catch { throw ValidationError("\(error)") }
        }
        if !quiet { status("loading \(dataOptions.data) …") }
        let (train, test) = try dataOptions.load()
        if arch == .cnn {
            // Bad data, not a bad option (exit 1): images the CNN's windows do not fit.
            let side = Int(Double(train.features).squareRoot().rounded())
            guard side >= 1, side * side == train.features else {
                throw CommandError("--data \(dataOptions.data): the images have \(train.features) pixels, not a square; --architecture cnn needs square single-channel images")
            }
            let spec = ConvolutionalNetwork.defaultCNNSpec(classes: 10, activation: act)
            if (try? MemoryEstimate.cnn(inputShape: [1, side, side], spec: spec, batch: 0, optimizerSlots: 0)) == nil {
                let minimum = MemoryEstimate.minimumSquareSide(spec: spec).map { "at least \($0)×\($0)" } ?? "larger"
                throw CommandError("--data \(dataOptions.data): the images are \(side)×\(side) pixels; --architecture cnn (two 2×2 max-pools) needs images of \(minimum) pixels")
            }
        }
        let stepsPerEpoch = (train.count - 1) / batchSize + 1
        if case .step = cfg.schedule.decay {
            cfg.schedule = LearningRateSchedule(.step(stepSize: stepsPerEpoch, gamma: 0.1), warmupSteps: warmup)
        }
        guard !stepsPerEpoch.multipliedReportingOverflow(by: epochs).overflow else {
            throw ValidationError("--epochs \(epochs) × \(stepsPerEpoch) steps per epoch does not fit in a 64-bit step count")
        }
        try ModelFactory.requireMemory(architecture: arch, inputs: train.features, hidden: hiddenSizes, width: width, depth: depth, classes: 10,
                                       batch: max(min(batchSize, train.count), min(cfg.evaluationBatchSize, max(train.count, test.count)), min(1024, train.count)),
                                       optimizer: cfg.optimizer)
        let built: ModelFactory.Built
        do {
            built = try ModelFactory.build(architecture: arch, inputs: train.features, hidden: hiddenSizes, width: width, depth: depth,
                                           classes: 10, activation: act, initName: initName, bias: biasScheme, train: train,
                                           seed: common.seed, threads: common.threads)
        } catch let e as ModelFactoryError {
            if case .calibrationFailed = e { throw CommandError(e.description) }
            throw ValidationError("--init \(e.description)")
        } catch let e as InitializationError { throw ValidationError(e.description) }
        let model = built.model
        var initLabel = built.label
        if let initRecipe {
            do { try model.initialize(recipe: initRecipe, seed: common.seed, threads: common.threads) } catch let e as RecipeError { throw ValidationError("\(e)") }
            initLabel = "recipe \(initRecipe.name)"
        }
        var dataParallel: DataParallelTrainer?
        if let comm {
            do { dataParallel = try DataParallelTrainer(model: model, configuration: cfg, communicator: comm, bucketBytes: Int(bucketMb * 1_048_576)) }
            catch { throw ValidationError("\(error)") }
            if Train.broadcastInits.contains(initName.lowercased()) { try dataParallel!.broadcastParameters() }
            try dataParallel!.verifyIdenticalModels(train: train, test: test)
        }
        let trainer: Trainer
        do { trainer = try Trainer(model: model, configuration: cfg) } catch { throw ValidationError("\(error)") }
        let settingsRecord = Dictionary(settings.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
        trainer.settings = settingsRecord
        dataParallel?.settings = settingsRecord
        if let comm, !quiet {
            Swift.print("data-parallel over \(comm.size) rank\(comm.size == 1 ? "" : "s") (global batch \(batchSize), about \(batchSize / comm.size) samples per rank), gradient buckets of \(fmt(bucketMb, 3)) MiB")
        }
        if !quiet {
            if let cnn = model as? ConvolutionalNetwork { print(cnn.summaryTable()) }
            print("\([NetworkArchitecture.residual: "residual MLP", .cnn: "CNN"][arch] ?? "MLP") \(model.summary), \(act.name), init \(initLabel)\(built.calibrationSeconds > 0 ? String(format: " (calibrated in %.3f s)", built.calibrationSeconds) : ""), \(model.parameterCount) parameters")
            print("\(train.count) training / \(test.count) test samples, batch \(batchSize), \(optimizer) lr \(learningRate) \(schedule), \(batchSplit > 1 ? "batch split over \(batchSplit) threads × " : "")\(BLASBackend.threads) BLAS thread\(BLASBackend.threads == 1 ? "" : "s") (\(BLASBackend.coreName))")
        }
        if summary && !quiet { print(model.summary()) }
        var resumedAt: Int?
        if let checkpoints, resume {
            if isRoot {
                let stale = checkpoints.removeStaleTemporaryFiles()
                if !stale.isEmpty && !quiet { status("removed \(stale.count) temporary file(s) left by a killed writer: \(stale.joined(separator: ", "))") }
            }
            // Every rank must see the same file (a directory on a file system all ranks share).
            if let comm {
                try comm.requireIdentical(checkpoints.exists ? 1 : 0, what: "whether \(checkpoints.path) exists (0 = missing; --checkpoint must be on a file system every rank sees)")
            }
            if checkpoints.exists {
                do {
                    if let dataParallel { try dataParallel.resume(from: checkpoints.path) } else { try trainer.resume(from: checkpoints.path) }
                } catch let e as ModelFileError { throw CommandError("cannot resume: \(e.description)") }
                if let comm, let dataParallel {
                    try comm.requireIdentical(dataParallel.trainingStateChecksum(), what: "the training state read from \(checkpoints.path) (every rank must read the same file)")
                }
                let p = dataParallel?.position ?? trainer.position
                resumedAt = p.globalStep
                if !quiet { status("resuming from \(checkpoints.path): epoch \(p.epoch), step \(p.step), global step \(p.globalStep)") }
            } else if !quiet {
                status("no checkpoint in \(checkpoints.directory) yet: starting from the beginning")
            }
        }
        let bar = ProgressBar(enabled: !quiet && isatty(STDERR_FILENO) == 1)
        let header = ["epoch", "train loss", "train acc", "test loss", "test acc", "seconds", "samples/s"]
        let widths = [5, 10, 9, 9, 8, 7, 9]
        func row(_ cells: [String]) -> String {
            zip(cells, widths).map { $0.padding(toLength: max($1, $0.count), withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trailingSpacesRemoved
        }
        var printedHeader = false
        func printHeader() {
            guard !printedHeader else { return }
            if let d = trainer.initialDiagnostics { print("\nat initialization:"); print(diagnosticsTable(d)) }
            print(); print(row(header)); print(row(widths.map { String(repeating: "-", count: $0) })); printedHeader = true
        }
        let earlierReports = dataParallel?.reports ?? trainer.reports
        if !quiet && !earlierReports.isEmpty {       // epochs finished before the resume
            printHeader()
            for r in earlierReports {
                print(row(["\(r.epoch)", fmt(r.trainLoss), fmt(r.trainAccuracy), fmt(r.testLoss), fmt(r.testAccuracy), fmt(r.seconds, 2),
                           String(format: "%.0f", r.samplesPerSecond)]))
            }
        }
        struct Completed: Encodable { var epochs: [EpochJSON] }
        var completed = earlierReports
        func record(_ summary: String) {
            PartialResult.record(Completed(epochs: completed.map { EpochJSON(epoch: $0.epoch, trainLoss: $0.trainLoss, trainAccuracy: $0.trainAccuracy,
                                                                             testLoss: $0.testLoss, testAccuracy: $0.testAccuracy, seconds: $0.seconds,
                                                                             samplesPerSecond: $0.samplesPerSecond, diagnostics: $0.diagnostics,
                                                                             updateRatio: $0.updateRatio) }), summary: summary)
        }
        record("no epoch of \(epochs) completed in this run")
        let progress: (TrainingProgress) -> Void = { p in bar.update(p, epochs: cfg.epochs) }
        let epochEnded: (EpochReport) -> Void = { r in
            completed.append(r)
            record("completed \(r.epoch) of \(epochs) epochs (rows above); test accuracy after epoch \(r.epoch): \(fmt(r.testAccuracy))")
            guard !quiet else { return }
            printHeader()
            print(row(["\(r.epoch)", fmt(r.trainLoss), fmt(r.trainAccuracy), fmt(r.testLoss), fmt(r.testAccuracy), fmt(r.seconds, 2),
                       String(format: "%.0f", r.samplesPerSecond)]))
            if let d = r.diagnostics {
                print("  diagnostics after epoch \(r.epoch) (mean ‖ΔW‖/‖W‖ per step: \(r.updateRatio?.map { fmt($0, 3) }.joined(separator: ", ") ?? "-")):")
                print(diagnosticsTable(d).split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
            }
        }
        let reports = try dataParallel.map { try $0.fit(train: train, test: test, checkpoints: checkpoints, maxSteps: maxSteps, progress: progress, epochEnded: epochEnded) }
            ?? trainer.fit(train: train, test: test, checkpoints: checkpoints, maxSteps: maxSteps, progress: progress, epochEnded: epochEnded)
        bar.finish()
        // --max-steps stopped the run before its end: the checkpoint at that step (every rank takes part).
        let stoppedAt: Int?
        if let checkpoints, (dataParallel?.position ?? trainer.position).epoch <= cfg.epochs {
            if let dataParallel {
                try dataParallel.writeCheckpoint(to: checkpoints.path, trainCount: train.count, features: train.features)
            } else {
                try trainer.checkpoint(trainCount: train.count, features: train.features).write(to: checkpoints.path)
            }
            stoppedAt = dataParallel?.position.globalStep ?? trainer.position.globalStep
            if !quiet { status("stopped after --max-steps \(maxSteps ?? 0) at global step \(stoppedAt!) of \(stepsPerEpoch * epochs); checkpoint \(checkpoints.path) (continue with --resume)\(save.map { "; --save \($0) is written when the run completes" } ?? "")") }
        } else {
            stoppedAt = nil
        }
        guard isRoot else { return }
        let allreduce = dataParallel.map { dp in
            let st = dp.allReduceStatistics
            return AllReduceJSON(bucketBytes: dp.bucketBytes, callsPerStep: st.steps > 0 ? st.calls / st.steps : 0, bytesPerStep: st.bytesPerStep, secondsPerStep: st.secondsPerStep)
        }
        if let a = allreduce, !quiet {
            print("gradient all-reduce: \(a.callsPerStep) bucket\(a.callsPerStep == 1 ? "" : "s"), \(a.bytesPerStep) bytes and \(fmt(a.secondsPerStep * 1000, 3)) ms per step")
        }
        if let save, stoppedAt == nil {          // every rank holds the same parameters: rank 0 writes them
            try model.save(to: save)
            if !quiet { status("saved \(model.parameters.count) tensors (\(model.parameterCount) parameters) to \(save)") }
        }
        if common.json {
            try printJSON(Report(epochs: reports.map { EpochJSON(epoch: $0.epoch, trainLoss: $0.trainLoss, trainAccuracy: $0.trainAccuracy,
                                                               testLoss: $0.testLoss, testAccuracy: $0.testAccuracy, seconds: $0.seconds,
                                                               samplesPerSecond: $0.samplesPerSecond, diagnostics: $0.diagnostics,
                                                               updateRatio: $0.updateRatio) },
                                 testAccuracy: reports.last?.testAccuracy ?? trainer.evaluate(test).accuracy, init_: initLabel,
                                 activation: act.name, hidden: arch == .mlp ? hiddenSizes : nil, architecture: arch.rawValue,
                                 layers: model.summary().layers, initDiagnostics: trainer.initialDiagnostics,
                                 parameters: model.parameterCount, seed: common.seed, saved: stoppedAt == nil ? save : nil, checkpoint: checkpoints?.path,
                                 resumedAtGlobalStep: resumedAt, stoppedAtGlobalStep: stoppedAt, worldSize: comm?.size ?? 1, allreduce: allreduce))
            return
        }
        if let last = reports.last { print("\ntest accuracy: \(fmt(last.testAccuracy))") }
    }
}

/// A per-layer diagnostics table.
func diagnosticsTable(_ stats: [LayerStatistics]) -> String {
    table(["layer", "in→out", "act", "pre std", "act mean", "act std", "saturated", "dead", "‖∂L/∂W‖"], stats.map { s in
        ["\(s.layer)", "\(s.fanIn)→\(s.fanOut)", s.activation, fmt(s.preactivationStd), fmt(s.activationMean), fmt(s.activationStd),
         s.saturatedFraction.map { fmt($0, 3) } ?? "-", s.deadUnits.map { "\($0)" } ?? "-", fmt(s.gradientNorm)]
    })
}

/// A one-line progress bar on standard error, redrawn at most 10 times a second; shown
/// whenever standard error is a terminal (so `train … | tee log` still gets feedback).
final class ProgressBar {
    let enabled: Bool
    private var last = 0.0
    init(enabled: Bool) { self.enabled = enabled }
    func update(_ p: TrainingProgress, epochs: Int) {
        guard enabled else { return }
        draw(prefix: "epoch \(p.epoch)/\(epochs)", done: p.step, total: p.stepsPerEpoch,
             suffix: "loss \(fmt(p.runningLoss))  \(String(format: "%.0f", p.samplesPerSecond)) samples/s")
    }
    /// Draws `prefix [bar] done/total  suffix`; the line ends when `done == total`.
    func draw(prefix: String, done: Int, total: Int, suffix: String) {
        guard enabled else { return }
        let t = now()
        guard t - last > 0.1 || done == total else { return }
        last = t
        let width = 30, filled = width * min(done, total) / max(1, total)
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        StandardStreams.writeErr(Data("\r\u{1B}[K\(prefix) \(bar) \(done)/\(total)  \(suffix)".utf8))
        Interrupt.progressLineOpen = true
        if done == total { StandardStreams.writeErr(Data("\n".utf8)); Interrupt.progressLineOpen = false }
    }
    func finish() {}
}

extension String {
    /// The string without spaces at the end of any line (tables never end a line in spaces).
    var trailingSpacesRemoved: String {
        split(separator: "\n", omittingEmptySubsequences: false).map { line in
            var l = Substring(line)
            while l.last == " " { l = l.dropLast() }
            return String(l)
        }.joined(separator: "\n")
    }
}
