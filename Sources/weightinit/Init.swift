import ArgumentParser
import Distributed
import Foundation
import Synchronization
import WeightInit

/// `weightinit init`: a whole model initialized by a recipe straight into a safetensors file.
struct Init: ToolCommand {
    static let configuration = CommandConfiguration(
        abstract: "Initialize a whole model by a recipe straight into a safetensors file.",
        discussion: """
        The model's parameters come from exactly one of --spec (a JSON spec file, format in the README), --like (an existing safetensors file: the same names, shapes and dtypes, "re-initialize this architecture"; roles and layouts inferred from the names) or --preset NAME[:key=value,…] (gpt2, gpt2-medium, gpt2-large, gpt2-xl with Hugging Face names; llama, llama-1b, llama2-7b, llama3-8b with torchtitan names, or names=hf).

        The recipe is --recipe NAME[:key=value,…] (pytorch-default, keras-default, gpt2, llama, olmo-mitchell, deepnet, he, xavier, lecun, or any fan-based scheme name applied by role; default pytorch-default) or --rules FILE.json (ordered rules: name glob and/or role → initializer, first match wins). A parameter no rule matches is an error listing every such parameter, unless --unmatched zeros.

        Every parameter is drawn with its own key, the seed folded with the 64-bit FNV-1a hash of its name, so a parameter's bytes depend only on (seed, name, shape, rule): adding, removing or reordering parameters changes no other parameter, and the output is byte-identical for any --threads. The file is sized first and each tensor filled in place in the mapped temporary file (no whole-model buffer), then renamed into place; --fsync flushes it (and the directory) to disk before the rename. BF16/F16 are drawn in Float and rounded to nearest even per chunk.

        Output: a table of every parameter (matching rule, scheme, fans, gain, expected std and bound, observed std, min, max) on stdout, or with --json one summary object (parameters, tensors, bytes, seconds, gbps, sha256 when --sha256). --log FILE.json writes the per-parameter table as JSON. A progress bar goes to stderr when it is a terminal.

        Examples:
        weightinit init --preset gpt2 --recipe gpt2 --seed 0 --out gpt2.safetensors
        weightinit init --preset llama-1b:layers=8 --recipe llama --out m.safetensors
        weightinit init --preset llama --dtype bf16 --out llama.safetensors --json
        weightinit init --preset gpt2 --out gpt2.safetensors --log gpt2-init.json
        weightinit init --like old.safetensors --recipe xavier --out new.safetensors
        weightinit init --spec model.json --rules recipe.json --out m.safetensors
        """)

    @OptionGroup var common: CommonOptions

    @Option(help: "A JSON model spec (see the README, \"Model specs\").")
    var spec: String?

    @Option(help: "An existing safetensors file whose names, shapes and dtypes to re-initialize.")
    var like: String?

    @Option(help: "A preset parameter set, NAME[:key=value,…] (e.g. gpt2, gpt2-xl, llama-1b:layers=4).")
    var preset: String?

    @Option(help: "A built-in recipe, NAME[:key=value,…].")
    var recipe: String?

    @Option(help: "A JSON rules file (see the README, \"Recipes\").")
    var rules: String?

    @Option(help: "What to do with parameters no rule matches: error (default) or zeros.")
    var unmatched: String?

    @Option(help: "Element type of every tensor: f32, bf16, f16 or f64 (default: the spec's, the --like file's, or f32).")
    var dtype: String?

    @Option(help: "The output safetensors file.")
    var out: String

    @Option(help: "Write the per-parameter init log as JSON to this file.")
    var log: String?

    @Flag(help: "Flush the file and its directory to disk before renaming it into place.")
    var fsync = false

    @Flag(help: "Compute the output's SHA-256 (with the system's sha256sum) for --json and the last line of the table.")
    var sha256 = false

    @Flag(help: "Write the file from every rank of an MPI job: `mpirun -np N weightinit init … --out F.safetensors` (also on when OMPI_COMM_WORLD_SIZE is set). Every rank computes the same header, rank 0 creates the temporary file beside --out and renames it once every rank has written its rows of every tensor; --out must be on a file system every rank sees. The bytes equal the single-process file for any N (orthogonal tensors: on machines with the same OpenBLAS kernel and thread count). Only rank 0 prints.")
    var distributed = false

    func validate() throws {
        let sources = [spec, like, preset].compactMap { $0 }
        guard sources.count == 1 else { throw ValidationError("give exactly one of --spec, --like, --preset (got \(sources.count))") }
        if recipe != nil && rules != nil { throw ValidationError("give --recipe or --rules, not both") }
        if let dtype { do { _ = try ParameterDType(name: dtype) } catch { throw ValidationError("--dtype: \(error.description)") } }
        if let unmatched, UnmatchedPolicy(rawValue: unmatched) == nil { throw ValidationError("--unmatched must be error or zeros, got '\(unmatched)'") }
        if out.isEmpty { throw ValidationError("--out must not be empty") }
    }

    /// One row of the init log.
    struct LogEntry: Encodable {
        var name: String; var shape: [Int]; var dtype: String; var role: String; var layout: String
        var rule: String; var scheme: String; var fanIn: Int?; var fanOut: Int?; var gain: Double?
        var expectedMean: Double; var expectedStd: Double; var expectedBound: Double?
        var observedMean: Double; var observedStd: Double; var observedMin: Double; var observedMax: Double; var nonFinite: Int
    }

    struct Summary: Encodable {
        var out: String; var recipe: String; var source: String; var seed: UInt64; var threads: Int
        var parameters: Int; var tensors: Int; var bytes: Int; var dataBytes: Int
        var seconds: Double; var fillSeconds: Double; var gbps: Double; var fsync: Bool; var sha256: String?
        var log: String?
        /// Ranks that wrote the file (absent for a single-process run).
        var worldSize: Int?
    }

    /// Invalid values found after parsing (spec, preset, rules): `Runner` prints the message and
    /// the usage on stderr (and, with --json, the failure object on stdout) and exits 64.
    func invalid(_ message: String) -> Error {
        ValidationError(message)
    }

    /// A fill that failed: non-finite values after rounding are a runtime failure (exit 1); every
    /// other `RecipeError` (a scheme refusing a parameter, values beyond the dtype's range) is an
    /// invalid value (exit 64).
    func fillFailure(_ e: RecipeError) -> Error {
        if case .nonFiniteValues = e { return CommandError(e.description) }
        return invalid(e.description)
    }

    func run() throws {
        guard distributed || DistributedLaunch.isLaunchedByMPI() else { return try runLocal(communicator: nil) }
        let comm = try DistributedLaunch.communicator(requested: true)
        do { try runLocal(communicator: comm) } catch {
            guard comm.size > 1 else { throw error }
            comm.abort(code: Runner.classify(error).code, message: "\(error)")
        }
    }

    /// Every rank writes its rows of every tensor into the one file (`ShardedSafetensors`); the
    /// per-parameter statistics are merged over the ranks; rank 0 prints.
    func runSharded(_ comm: any Communicator, plan: [PlannedParameter], specs: [TensorSpec], model: ModelSpec,
                    recipeName: String, source: String, start: Double) throws {
        let local = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init) ?? 1
        let threads = common.threads ?? max(1, ProcessInfo.processInfo.activeProcessorCount / max(1, local))
        var index: [String: Int] = [:]
        for (i, p) in plan.enumerated() { index[p.spec.name] = i }
        let byName = index
        let collected = StatisticsCollector()
        let fillStart = now()
        do {
            try ShardedSafetensors.write(path: out, tensors: specs, communicator: comm, durable: fsync, threads: threads) { t, rows, bytes in
                let i = byName[t.name]!
                let s = try ModelFill.fillRows(plan[i], rows: rows, into: bytes)
                collected.add(tensor: i, firstRow: rows.lowerBound, s)
            }
        } catch let e as RecipeError { throw fillFailure(e) }
        catch let e as TensorFileError { throw invalid("--out \(out): \(e)") }
        let fillSeconds = now() - fillStart
        // Per-parameter statistics over all ranks: (finite count, mean, M2, min, max, non-finite)
        // per tensor, merged in row order (Chan et al.'s pairwise update).
        var mine = [Double](); mine.reserveCapacity(plan.count * 6)
        for i in 0..<plan.count { mine += collected.merged(tensor: i) }
        let all = try comm.allGatherV(mine, counts: [Int](repeating: mine.count, count: comm.size))
        guard comm.isRoot else { return }
        let parameterCount: Int = plan.count
        let stats: [Observed] = (0..<parameterCount).map { (i: Int) -> Observed in
            var n = 0.0, mean = 0.0, m2 = 0.0, lo = Double.infinity, hi = -Double.infinity, bad = 0.0
            for r in 0..<comm.size {
                let b = r * mine.count + 6 * i
                let (c, m, q) = (all[b], all[b + 1], all[b + 2])
                lo = Swift.min(lo, all[b + 3]); hi = Swift.max(hi, all[b + 4]); bad += all[b + 5]
                guard c > 0 else { continue }
                let total = n + c, delta = m - mean
                mean += delta * c / total; m2 += q + delta * delta * n * c / total; n = total
            }
            return Observed(mean: n > 0 ? mean : 0, std: n > 0 ? (m2 / n).squareRoot() : 0,
                            min: n > 0 ? lo : 0, max: n > 0 ? hi : 0, nonFinite: Int(bad))
        }
        let seconds = now() - start
        let fileBytes = try SafetensorsLayout(tensors: specs, file: out).fileSize
        try report(plan: plan, stats: stats, model: model, recipeName: recipeName, source: source, threads: threads, fileBytes: fileBytes,
                   seconds: seconds, fillSeconds: fillSeconds, worldSize: comm.size)
    }

    /// The whole command; with a communicator the file is written by every rank (`runSharded`).
    func runLocal(communicator: (any Communicator)?) throws {
        let start = now()
        let threads = common.threads ?? ProcessInfo.processInfo.activeProcessorCount
        let dtypeOverride = try dtype.map { (s: String) throws -> ParameterDType in try ParameterDType(name: s) }
        // Targets are checked before any work: a device, FIFO or directory is refused, and
        // --log must not name the --out file.
        try checkOutputs([("--out", out)] + (log.map { [("--log", $0)] } ?? []))

        // 1. The model spec.
        var model: ModelSpec
        var source: String
        do {
            if let preset {
                model = try ModelPreset.spec(preset, dtype: dtypeOverride ?? .f32)
                source = "preset:\(preset)"
            } else if let spec {
                let data: Data
                do { data = try InputFile.read(spec) } catch { throw invalid("--spec \(spec): cannot read: \(error)") }
                model = try ModelSpec(json: data)
                if let d = dtypeOverride { for i in model.parameters.indices { model.parameters[i].dtype = d } }
                source = "spec:\(spec)"
            } else {
                let path = like!
                let file: SafetensorsFile
                do { file = try SafetensorsFile(path: path) } catch { throw invalid("--like \(path): \(error)") }
                var params: [ParameterSpec] = []
                for t in file.tensors {
                    var d: ParameterDType
                    if let o = dtypeOverride { d = o } else {
                        guard let parsed = try? ParameterDType(name: t.dtype.rawValue) else {
                            throw invalid("--like \(path): tensor '\(t.name)' has dtype \(t.dtype.rawValue); init writes F32, F64, F16 or BF16 (give --dtype to convert)")
                        }
                        d = parsed
                    }
                    params.append(ParameterSpec(inferringFrom: t.name, shape: t.shape, dtype: d))
                }
                model = ModelSpec(parameters: params)
                try model.validate()
                source = "like:\(path)"
            }
        } catch let e as RecipeError { throw invalid(e.description) }

        // 2. The recipe and the plan.
        let plan: [PlannedParameter]
        var recipeName: String
        do {
            var r: InitRecipe
            if let rules {
                let data: Data
                do { data = try InputFile.read(rules) } catch { throw invalid("--rules \(rules): cannot read: \(error)") }
                r = try InitRecipe(rulesJSON: data, name: "rules:\(rules)")
            } else {
                r = try InitRecipe.named(recipe ?? "pytorch-default")
            }
            if let unmatched { r.unmatched = UnmatchedPolicy(rawValue: unmatched)! }
            recipeName = r.name
            plan = try r.plan(model, seed: common.seed)
        } catch let e as RecipeError { throw invalid(e.description) }

        // 3. The file: layout, sized temporary file, every tensor filled in place.
        let specs = plan.map { TensorSpec(name: $0.spec.name, dtype: DType(rawValue: $0.spec.dtype.rawValue)!, shape: $0.spec.shape) }
        if let comm = communicator {
            return try runSharded(comm, plan: plan, specs: specs, model: model, recipeName: recipeName, source: source, start: start)
        }
        let dataBytes = try model.byteCount()
        let bar = ByteProgressBar(total: dataBytes, enabled: isatty(2) != 0)
        let written: WrittenModel
        do { written = try writeModel(plan, to: out, threads: threads, durable: fsync, progress: bar.enabled ? bar : nil) }
        catch let e as RecipeError { throw fillFailure(e) }
        bar.finish()
        let stats = written.statistics, fillSeconds = written.fillSeconds, fileBytes = written.fileBytes
        let seconds = now() - start
        try report(plan: plan, stats: stats.map { Observed(mean: $0.mean, std: $0.std, min: $0.min, max: $0.max, nonFinite: $0.nonFinite) },
                   model: model, recipeName: recipeName, source: source, threads: threads, fileBytes: fileBytes,
                   seconds: seconds, fillSeconds: fillSeconds, worldSize: nil)
    }

    /// The log file, the table or the JSON summary.
    /// Observed statistics of one parameter as the log reports them.
    struct Observed { var mean: Double; var std: Double; var min: Double; var max: Double; var nonFinite: Int }

    func report(plan: [PlannedParameter], stats: [Observed], model: ModelSpec, recipeName: String, source: String, threads: Int,
                fileBytes: Int, seconds: Double, fillSeconds: Double, worldSize: Int?) throws {
        let dataBytes = try model.byteCount()

        // 4. The log.
        let entries = zip(plan, stats).map { p, s in
            LogEntry(name: p.spec.name, shape: p.spec.shape, dtype: p.spec.dtype.rawValue, role: p.spec.role.rawValue,
                     layout: p.spec.layout.specName, rule: p.rule, scheme: p.initializer.name, fanIn: p.fans?.fanIn, fanOut: p.fans?.fanOut,
                     gain: p.gain, expectedMean: p.expectedMean, expectedStd: p.expectedStd, expectedBound: p.expectedBound,
                     observedMean: s.mean, observedStd: s.std, observedMin: s.min, observedMax: s.max, nonFinite: s.nonFinite)
        }
        if let log {
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            do { try OutputFile.write(try encodeLog(entries, encoder: encoder, recipe: recipeName, source: source), to: log) }
            catch { throw CommandError("--log \(log): \(error)") }
        }
        let digest = sha256 ? sha256sum(out) : nil
        let parameters = try model.elementCount()
        let gbps = Double(fileBytes) / seconds / 1e9
        if common.json {
            try printJSON(Summary(out: out, recipe: recipeName, source: source, seed: common.seed, threads: threads, parameters: parameters,
                                  tensors: plan.count, bytes: fileBytes, dataBytes: dataBytes, seconds: seconds, fillSeconds: fillSeconds,
                                  gbps: gbps, fsync: fsync, sha256: digest, log: log, worldSize: worldSize))
        } else {
            let rows = entries.map { e in
                [e.name, e.shape.map(String.init).joined(separator: "x"), e.dtype, e.rule, e.scheme,
                 e.fanIn.map(String.init) ?? "-", e.fanOut.map(String.init) ?? "-", e.gain.map { fmt($0) } ?? "-",
                 fmt(e.expectedStd), e.expectedBound.map { fmt($0) } ?? "-", fmt(e.observedStd), fmt(e.observedMin), fmt(e.observedMax)]
            }
            print(table(["parameter", "shape", "dtype", "rule", "scheme", "fan_in", "fan_out", "gain", "expected_std", "bound", "std", "min", "max"], rows))
            print("\(plan.count) tensors, \(parameters) parameters, \(fileBytes) bytes → \(out) in \(fmt(seconds, 3)) s (\(fmt(gbps, 2)) GB/s, \(worldSize.map { "\($0) ranks × " } ?? "")\(threads) threads\(fsync ? ", fsync" : ""))"
                  + (digest.map { ", sha256 \($0)" } ?? ""))
        }
    }

    func encodeLog(_ entries: [LogEntry], encoder: JSONEncoder, recipe: String, source: String) throws -> Data {
        struct Log: Encodable { var recipe: String; var source: String; var seed: UInt64; var keyHash: String; var parameters: [LogEntry] }
        return try encoder.encode(Log(recipe: recipe, source: source, seed: common.seed, keyHash: "fnv1a64(name UTF-8), key = RandomKey(seed).folding(in: hash)", parameters: entries))
    }
}

/// SHA-256 of a file by the system's `sha256sum` (coreutils); nil with a warning when it cannot run.
func sha256sum(_ path: String) -> String? {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["sha256sum", "--", path]
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = FileHandle.nullDevice
    do { try p.run() } catch { status("warning: sha256sum could not run: \(error)"); return nil }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0, let word = String(decoding: data, as: UTF8.self).split(separator: " ").first, word.count == 64 else {
        status("warning: sha256sum failed on \(path)"); return nil
    }
    return String(word)
}

/// A progress bar on stderr, redrawn at most every 100 ms from whichever worker crosses the mark.
final class ByteProgressBar: Sendable {
    let total: Int
    let enabled: Bool
    private let done = Atomic<Int>(0)
    private let lastDraw = Atomic<Int>(0)
    private let start = now()

    init(total: Int, enabled: Bool) { self.total = max(total, 1); self.enabled = enabled }

    func add(_ bytes: Int) {
        let d = done.wrappingAdd(bytes, ordering: .relaxed).newValue
        let ms = Int((now() - start) * 1000)
        let last = lastDraw.load(ordering: .relaxed)
        guard ms - last >= 100, lastDraw.compareExchange(expected: last, desired: ms, ordering: .relaxed).exchanged else { return }
        draw(d)
    }

    private func draw(_ d: Int) {
        let f = min(1, Double(d) / Double(total))
        let width = 30, filled = Int(f * Double(width))
        let line = "\r[" + String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled) + "] "
            + String(format: "%3.0f%% %.0f/%.0f MB", f * 100, Double(d) / 1e6, Double(total) / 1e6)
        StandardStreams.writeErr(Data(line.utf8))
    }

    func finish() {
        guard enabled else { return }
        draw(total)
        StandardStreams.writeErr(Data("\n".utf8))
    }
}

/// Statistics of the row chunks a rank filled (from several threads), merged in row order.
final class StatisticsCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var parts: [Int: [(Int, ObservedStatistics)]] = [:]

    func add(tensor: Int, firstRow: Int, _ s: ObservedStatistics) {
        lock.lock(); parts[tensor, default: []].append((firstRow, s)); lock.unlock()
    }

    /// `[finite count, mean, M2, min, max, non-finite]` of this rank's rows of `tensor`
    /// (min +inf and max −inf when it has none).
    func merged(tensor: Int) -> [Double] {
        lock.lock(); defer { lock.unlock() }
        var n = 0.0, mean = 0.0, m2 = 0.0, lo = Double.infinity, hi = -Double.infinity, bad = 0.0
        for (_, s) in (parts[tensor] ?? []).sorted(by: { $0.0 < $1.0 }) {
            let c = Double(s.count - s.nonFinite)
            bad += Double(s.nonFinite)
            guard c > 0 else { continue }
            lo = min(lo, s.min); hi = max(hi, s.max)
            let total = n + c, delta = s.mean - mean
            mean += delta * c / total; m2 += s.std * s.std * c + delta * delta * n * c / total; n = total
        }
        return [n, mean, m2, lo, hi, bad]
    }
}

/// What `writeModel` did.
struct WrittenModel {
    var statistics: [ObservedStatistics]
    /// Seconds spent creating, sizing, mapping and filling (before the commit).
    var fillSeconds: Double
    /// Size of the safetensors file.
    var fileBytes: Int
}

/// Writes a planned model to `path` as safetensors: the layout is computed, the temporary file
/// sized and mapped, every tensor filled in place (`ModelFill`), then committed (`durable`:
/// fsync of the file and its directory). On any error the temporary file is removed and `path`
/// is unchanged.
/// - Throws: `RecipeError` from the fill; `CommandError` for file errors.
func writeModel(_ plan: [PlannedParameter], to path: String, threads: Int, durable: Bool, progress: ByteProgressBar?) throws -> WrittenModel {
    let specs = plan.map { TensorSpec(name: $0.spec.name, dtype: DType(rawValue: $0.spec.dtype.rawValue)!, shape: $0.spec.shape) }
    let t0 = now()
    let writer: SafetensorsWriter
    do { writer = try SafetensorsWriter(path: path, tensors: specs) } catch { throw CommandError("--out \(path): \(error)") }
    let stats: [ObservedStatistics]
    do {
        // The mapping stays in place until commit/discard, so the tensors' buffers stay valid.
        var targets: [UnsafeMutableRawBufferPointer] = []
        for p in plan { targets.append(try writer.fill(p.spec.name) { (b: UnsafeMutableRawBufferPointer) in b }) }
        var callback: (@Sendable (Int) -> Void)? = nil
        if let progress { callback = { (n: Int) in progress.add(n) } }
        stats = try ModelFill.fill(plan, into: targets, threads: threads, releaseFilledPages: true, progress: callback)
    } catch {
        writer.discard()
        if error is RecipeError { throw error }
        throw CommandError("--out \(path): \(error)")
    }
    let fillSeconds = now() - t0
    do { try writer.commit(durable: durable) } catch { throw CommandError("--out \(path): \(error)") }
    return WrittenModel(statistics: stats, fillSeconds: fillSeconds, fileBytes: writer.layout.fileSize)
}
