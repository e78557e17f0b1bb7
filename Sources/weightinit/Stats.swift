import ArgumentParser
import Foundation
import WeightInit

/// `weightinit stats`: fill one tensor and compare what it got with what the scheme promises.
struct Stats: ToolCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fill one tensor with a scheme and report its statistics against what the scheme promises.",
        discussion: """
        Schemes: \(Initializer.schemeNames.joined(separator: ", ")) (aliases: glorot-*, kaiming-*, eye).

        Shapes are written 256x784 (dense [out, in]) or 32x16x3x3 (conv OIHW); --layout changes the axes. \
        The tensor is at most 2³¹ elements and must fit in the memory available. \
        Every scheme except the element-wise ones (zeros, ones, constant, uniform, normal, truncated-normal, \
        truncated-normal-matched) needs at least 2 dimensions and refuses a 1-D shape whether or not it is empty \
        (--shape 5 and --shape 0 both exit 64, as PyTorch's orthogonal_ and xavier_*_ raise for a 1-D tensor); \
        a shape of 2 or more dimensions with a zero dimension (3x0, 0x4x3x3) is an empty tensor, a no-op for \
        every scheme (exit 0, count 0, as PyTorch's orthogonal_ returns early on an empty tensor). \
        Tensors of 2²⁴ elements or more show fill progress on stderr when it is a terminal (WEIGHTINIT_PROGRESS=1 shows it always); \
        the bytes are the same with and without it.

        JSON keys: scheme, shape, fan_in, fan_out, count, mean, std, min, max, expected_mean, expected_std, \
        bound (the largest |x| the scheme can produce, null when unbounded), checksum, seconds, \
        orthogonality_error (orthogonal: max |QQᵀ − I| for wide shapes, max |QᵀQ − I| for tall ones, of the weights divided by the gain, computed in Double in a fixed order, so it does not depend on --threads), dtype, threads, kernel.

        Examples:
          weightinit stats --scheme he-normal --shape 256x784
          weightinit stats --scheme xavier-uniform --shape 3x3x1x16 --layout hwio
          weightinit stats --scheme truncated-normal --std 0.02 --shape 1000x1000
          weightinit stats --scheme orthogonal --shape 100x100x3x3 --gain 1.4142

        """)

    @OptionGroup var common: CommonOptions

    @Option(help: "Scheme name (see the list above).") var scheme: String
    @Option(parsing: .unconditional, help: "Tensor shape, e.g. 256x784 or 32x16x3x3.") var shape: String
    @Option(help: "Axis layout: out-in (dense [out,in], conv OIHW; default), in-out (dense [in,out], conv HWIO), torch-transposed, keras-transposed.")
    var layout: String = "out-in"
    @Option(parsing: .unconditional, help: "Convolution groups (group-aware fan_out; dirac groups).") var groups: Int = 1
    @Option(help: "Fan mode for he-*/variance-scaling: fan-in, fan-out, fan-avg, fan-geo-avg.") var mode: String?
    @Option(parsing: .unconditional, help: "Gain (overrides the activation's gain).") var gain: Double?
    @Option(help: "Activation whose gain to use: \(Activation.names.joined(separator: ", ")) (as in train; PyTorch's calculate_gain names such as conv2d, leaky_relu also work).") var activation: String?
    @Option(parsing: .unconditional, help: "Negative slope for leaky_relu (default 0.01).") var slope: Double?
    @Option(parsing: .unconditional, help: "Mean for normal/truncated-normal.") var mean: Double?
    @Option(parsing: .unconditional, help: "Standard deviation for normal/truncated-normal/sparse.") var std: Double?
    @Option(parsing: .unconditional, help: "Lower bound for uniform.") var low: Double?
    @Option(parsing: .unconditional, help: "Upper bound for uniform.") var high: Double?
    @Option(parsing: .unconditional, help: "Absolute lower truncation bound (truncated-normal, default -2).") var a: Double?
    @Option(parsing: .unconditional, help: "Absolute upper truncation bound (truncated-normal, default 2).") var b: Double?
    @Option(parsing: .unconditional, help: "Truncation at ±k·σ (truncated-normal-matched, default 2).") var k: Double?
    @Option(parsing: .unconditional, help: "Value for constant.") var value: Double?
    @Option(parsing: .unconditional, help: "Fraction of zeros per column for sparse, in [0, 1).") var sparsity: Double?
    @Option(parsing: .unconditional, help: "Scale for variance-scaling.") var scale: Double?
    @Option(help: "Distribution for variance-scaling: uniform, normal, truncated-normal.") var distribution: String?
    @Option(help: "Element type: float32 or float64.") var dtype: String = "float32"

    struct Report: Encodable {
        var scheme: String
        var shape: [Int]
        var fanIn: Int?
        var fanOut: Int?
        var count: Int
        var mean: Double
        var std: Double
        var min: Double
        var max: Double
        var expectedMean: Double
        var expectedStd: Double
        var bound: Double?
        var checksum: String
        var seconds: Double
        var orthogonalityError: Double?
        var dtype: String
        var threads: Int
        var kernel: String

        enum CodingKeys: String, CodingKey {
            case scheme, shape, fanIn, fanOut, count, mean, std, min, max, expectedMean, expectedStd, bound, checksum, seconds,
                 orthogonalityError, dtype, threads, kernel
        }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(scheme, forKey: .scheme); try c.encode(shape, forKey: .shape)
            try c.encode(fanIn, forKey: .fanIn); try c.encode(fanOut, forKey: .fanOut)   // null when < 2 dimensions, or beyond Int.max (only an empty tensor)
            try c.encode(count, forKey: .count); try c.encode(mean, forKey: .mean); try c.encode(std, forKey: .std)
            try c.encode(min, forKey: .min); try c.encode(max, forKey: .max)
            try c.encode(expectedMean, forKey: .expectedMean); try c.encode(expectedStd, forKey: .expectedStd)
            try c.encode(bound, forKey: .bound)   // null when unbounded
            try c.encode(checksum, forKey: .checksum); try c.encode(seconds, forKey: .seconds)
            try c.encodeIfPresent(orthogonalityError, forKey: .orthogonalityError)
            try c.encode(dtype, forKey: .dtype); try c.encode(threads, forKey: .threads); try c.encode(kernel, forKey: .kernel)
        }
    }

    static func parseShape(_ text: String) throws -> [Int] {
        let parts = text.lowercased().split(separator: "x", omittingEmptySubsequences: false)
        let dims = parts.map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, dims.allSatisfy({ $0 != nil && $0! >= 0 }) else {
            throw ValidationError("--shape must be sizes ≥ 0 joined by 'x', e.g. 256x784, got '\(text)'")
        }
        let shape = dims.map { $0! }
        var total = 1
        for d in shape where !shape.contains(0) {     // a zero dimension: 0 elements, however large the others
            let (p, o) = total.multipliedReportingOverflow(by: d)
            guard !o, p <= 1 << 31 else { throw ValidationError("--shape \(text) has more than 2³¹ elements (\(shape)); use the library for larger tensors") }
            total = p
        }
        return shape
    }

    static func parseLayout(_ text: String) throws -> KernelLayout {
        switch text.lowercased() {
        case "out-in", "oihw", "dense", "torch": return .outInSpatial
        case "in-out", "hwio", "keras", "channels-last": return .spatialInOut
        case "torch-transposed", "iohw": return .inOutSpatialTransposed
        case "keras-transposed", "hwoi": return .spatialOutInTransposed
        default: throw ValidationError("--layout must be out-in (oihw), in-out (hwio), torch-transposed or keras-transposed, got '\(text)'")
        }
    }

    func makeScheme() throws -> Initializer {
        var p = SchemeParameters(value: value, low: low, high: high, mean: mean, std: std, a: a, b: b, k: k, gain: gain, scale: scale,
                                 sparsity: sparsity, groups: groups)
        if let mode {
            guard let m = FanMode(rawValue: mode.lowercased().replacingOccurrences(of: "_", with: "-")) else {
                throw ValidationError("--mode must be one of \(FanMode.allCases.map(\.rawValue).joined(separator: ", ")), got '\(mode)'")
            }
            p.mode = m
        }
        if let distribution {
            guard let d = VarianceScaling.Distribution(rawValue: distribution.lowercased().replacingOccurrences(of: "_", with: "-")) else {
                throw ValidationError("--distribution must be uniform, normal or truncated-normal, got '\(distribution)'")
            }
            p.distribution = d
        }
        if let slope, !slope.isFinite { throw ValidationError("--slope must be finite, got \(slope)") }
        if let activation {
            // The activation names of `train` (Activation.names) and PyTorch's calculate_gain names.
            if let nl = try? Nonlinearity(name: activation, parameter: slope.map { "\($0)" }) { p.nonlinearity = nl }
            else if let act = try? Activation(name: activation, slope: Float(slope ?? 0.01)) { p.nonlinearity = act.nonlinearity }
            else {
                throw ValidationError("--activation: unknown activation '\(activation)'; valid: \(Activation.names.joined(separator: ", ")) (and PyTorch's calculate_gain names: \(Nonlinearity.names.joined(separator: ", ")))")
            }
        }
        else if let slope { p.nonlinearity = .leakyReLU(negativeSlope: slope) }
        return try Initializer(name: scheme, parameters: p)
    }

    /// The hyper-parameter options each scheme reads (as `Initializer(name:parameters:)` does);
    /// any other one given is reported on stderr as ignored.
    static let usedOptions: [String: Set<String>] = [
        "zeros": [], "ones": [], "constant": ["value"], "uniform": ["low", "high"], "normal": ["mean", "std"],
        "truncated-normal": ["mean", "std", "a", "b"], "truncated-normal-matched": ["mean", "std", "k"],
        "xavier-uniform": ["gain", "activation", "slope"], "xavier-normal": ["gain", "activation", "slope"],
        "he-uniform": ["gain", "activation", "slope", "mode"], "he-normal": ["gain", "activation", "slope", "mode"],
        "lecun-uniform": [], "lecun-normal": [], "variance-scaling": ["scale", "mode", "distribution"],
        "orthogonal": ["gain", "activation", "slope"], "identity": ["gain"], "dirac": [],
        "delta-orthogonal": ["gain", "activation", "slope"], "sparse": ["sparsity", "std"],
    ]

    func ignoredOptions() -> [String] {
        guard let canonical = try? Initializer.canonicalName(scheme), let used = Stats.usedOptions[canonical] else { return [] }
        let given: [(String, Bool)] = [("value", value != nil), ("low", low != nil), ("high", high != nil), ("mean", mean != nil),
                                       ("std", std != nil), ("a", a != nil), ("b", b != nil), ("k", k != nil), ("gain", gain != nil),
                                       ("activation", activation != nil), ("slope", slope != nil), ("mode", mode != nil),
                                       ("scale", scale != nil), ("distribution", distribution != nil), ("sparsity", sparsity != nil)]
        return given.filter { $0.1 && !used.contains($0.0) }.map { "--\($0.0)" }
    }

    func run() throws {
        common.apply()
        let ignored = ignoredOptions()
        if !ignored.isEmpty { status("note: \(scheme) does not use \(ignored.joined(separator: ", ")); ignored") }
        let dims = try Stats.parseShape(shape)
        let lay = try Stats.parseLayout(layout)
        let initializer: Initializer
        initializer = try makeScheme()     // InitializationError: a bad value, exit 64
        switch dtype.lowercased() {
        case "float32", "float", "f32": try run(initializer, dims, lay, Float.self)
        case "float64", "double", "f64": try run(initializer, dims, lay, Double.self)
        default: throw ValidationError("--dtype must be float32 or float64, got '\(dtype)'")
        }
    }

    /// Tensors of at least this many elements show fill progress when stderr is a terminal.
    static let progressThreshold = 1 << 24
    /// `WEIGHTINIT_PROGRESS=1` shows progress whatever the terminal and size (for tests and logs).
    static let progressForced = ProcessInfo.processInfo.environment["WEIGHTINIT_PROGRESS"] == "1"

    /// Fills `buffer` as `Initializer.fill` does. With `progress`, element-wise and row-structured
    /// schemes are filled in about 64 row blocks (`fillShard`: each block's bytes equal those rows
    /// of the whole fill, so the result is identical) with a progress bar on stderr; schemes that
    /// need the whole tensor at once (orthogonal, delta-orthogonal, sparse) show the elapsed time.
    static func fill<S: InitializerScalar>(_ initializer: Initializer, _ buffer: inout [S], shape: [Int], layout: KernelLayout,
                                           groups: Int, key: RandomKey, threads: Int, progress: Bool) throws(InitializationError) {
        guard progress else {
            try initializer.fill(&buffer, shape: shape, layout: layout, groups: groups, key: key, threads: threads)
            return
        }
        let megabytes = String(format: "%.0f MB", Double(buffer.count * MemoryLayout<S>.stride) / 1e6)
        let wholeTensor: Bool
        switch initializer {
        case .orthogonal, .deltaOrthogonal, .sparse: wholeTensor = true
        default: wholeTensor = false
        }
        let rows = shape.first ?? 1
        if wholeTensor || rows < 2 || shape.isEmpty {
            // One call; a timer redraws the elapsed time every 0.5 s until it returns.
            let t0 = now()
            let timer = DispatchSource.makeTimerSource(queue: .global())
            timer.schedule(deadline: .now() + 0.5, repeating: 0.5)
            timer.setEventHandler {
                StandardStreams.writeErr(Data("\r\u{1B}[Kfilling \(megabytes) … \(String(format: "%.1f", now() - t0)) s".utf8))
            }
            Interrupt.progressLineOpen = true
            StandardStreams.writeErr(Data("filling \(megabytes) …".utf8))
            timer.resume()
            defer {
                timer.cancel()
                StandardStreams.writeErr(Data("\r\u{1B}[Kfilled \(megabytes) in \(String(format: "%.1f", now() - t0)) s\n".utf8))
                Interrupt.progressLineOpen = false
            }
            try initializer.fill(&buffer, shape: shape, layout: layout, groups: groups, key: key, threads: threads)
            return
        }
        let perRow = buffer.count / rows
        let block = Swift.max(1, (rows + 63) / 64)
        let bar = ProgressBar(enabled: true)
        var failure: InitializationError?
        buffer.withUnsafeMutableBufferPointer { all in
            var r = 0
            while r < rows {
                let end = Swift.min(rows, r + block)
                let shard = UnsafeMutableBufferPointer(rebasing: all[(r * perRow)..<(end * perRow)])
                do throws(InitializationError) {
                    try initializer.fillShard(shard, shape: shape, rows: r..<end, layout: layout, groups: groups, key: key, threads: threads)
                } catch { failure = error; break }
                r = end
                bar.draw(prefix: "filling", done: r, total: rows, suffix: "rows  \(megabytes)")
            }
        }
        if let failure {
            if Interrupt.progressLineOpen { StandardStreams.writeErr(Data("\n".utf8)); Interrupt.progressLineOpen = false }
            throw failure
        }
    }

    func run<S: InitializerScalar>(_ initializer: Initializer, _ dims: [Int], _ lay: KernelLayout, _ type: S.Type) throws {
        let count = try CheckedSize.elementCount(dims, what: "--shape \(shape)")
        try initializer.validate(shape: dims, as: S.self, layout: lay, groups: groups)    // before allocating
        var bytes = try CheckedSize.byteCount(dims, elementBytes: MemoryLayout<S>.stride, what: "--shape \(shape)")
        var what = "a \(dims.map(String.init).joined(separator: "×")) tensor of \(S.self)"
        if case let .orthogonal(gain) = initializer, count > 0, gain != 0 {
            // The orthogonality check's Double copy of the tensor.
            bytes = try CheckedSize.sum([bytes, try TensorStatistics.gramScratchBytes(rows: dims[0], columns: count / dims[0])], what: "--shape \(shape)")
            what += " and its Double copy for the orthogonality check"
        }
        try CheckedSize.requireMemory(bytes, what: what)
        let threads = common.threads ?? FillThreads.defaultCount
        var buffer = [S](repeating: 0, count: count)
        // Progress on stderr whenever it is a terminal (also with --json: stdout stays clean).
        let showProgress = Stats.progressForced || (isatty(STDERR_FILENO) == 1 && count >= Stats.progressThreshold)
        let t0 = now()
        try userFacing { () throws(InitializationError) in
            try Stats.fill(initializer, &buffer, shape: dims, layout: lay, groups: groups, key: RandomKey(seed: common.seed),
                           threads: threads, progress: showProgress)
        }
        let seconds = now() - t0
        if showProgress { status("filled \(count) elements in \(fmt(seconds, 3)) s; computing statistics …") }
        let expected = try userFacing { () throws(InitializationError) in try initializer.expectedStatistics(shape: dims, layout: lay, groups: groups) }
        let fans = dims.count >= 2 ? try? Fans(shape: dims, layout: lay, groups: groups) : nil
        let stats = buffer.withUnsafeBufferPointer { TensorStatistics($0) }
        let checksum = buffer.withUnsafeBufferPointer { TensorStatistics.checksum($0) }
        var orthError: Double?
        if case let .orthogonal(gain) = initializer, count > 0, gain != 0 {
            // In Double, in a fixed order, without BLAS: the same value for any --threads.
            let rows = dims[0], cols = count / rows
            orthError = buffer.withUnsafeBufferPointer { b in
                let raw = UnsafeRawPointer(b.baseAddress)
                if S.self == Float.self {
                    return TensorStatistics.orthogonalityError(UnsafeBufferPointer(start: raw?.assumingMemoryBound(to: Float.self), count: b.count),
                                                               rows: rows, columns: cols, scale: gain, threads: threads)
                }
                return TensorStatistics.orthogonalityError(UnsafeBufferPointer(start: raw?.assumingMemoryBound(to: Double.self), count: b.count),
                                                           rows: rows, columns: cols, scale: gain, threads: threads)
            }
        }
        let report = Report(scheme: initializer.name == "variance-scaling" ? scheme : (try? Initializer.canonicalName(scheme)) ?? initializer.name,
                            shape: dims, fanIn: fans?.fanIn, fanOut: fans?.fanOut, count: count, mean: stats.mean, std: stats.std,
                            min: stats.min, max: stats.max, expectedMean: expected.mean, expectedStd: expected.std, bound: expected.bound,
                            checksum: checksum, seconds: seconds, orthogonalityError: orthError,
                            dtype: S.self == Float.self ? "float32" : "float64", threads: threads, kernel: FillKernel.levelName)
        if common.json { try printJSON(report); return }
        var rows: [[String]] = [
            ["scheme", report.scheme], ["shape", dims.map(String.init).joined(separator: "×") + " (\(report.dtype))"],
            ["fan_in / fan_out", fans.map { "\($0.fanIn) / \($0.fanOut)" } ?? (dims.count < 2 ? "— (fewer than 2 dimensions)" : "— (beyond Int.max; the tensor is empty)")],
            ["count", "\(count)"],
            ["mean", "\(fmt(stats.mean, 6))   expected \(fmt(expected.mean, 6))"],
            ["std", "\(fmt(stats.std, 6))   expected \(fmt(expected.std, 6))" + (expected.std > 0 ? String(format: "   (%+.2f%%)", (stats.std / expected.std - 1) * 100) : "")],
            ["min / max", "\(fmt(stats.min, 6)) / \(fmt(stats.max, 6))" + (expected.bound.map { "   (|x| ≤ \(fmt($0, 6)) by construction)" } ?? "   (unbounded)")],
            ["checksum", checksum],
            ["time", "\(fmt(seconds * 1e3, 3)) ms on \(threads) threads (\(FillKernel.levelName) kernel)"],
        ]
        if let orthError {
            // Wide shapes (rows ≤ columns) have orthonormal rows (Q·Qᵀ = I); tall ones orthonormal columns (Qᵀ·Q = I).
            let wide = dims[0] <= count / max(1, dims[0])
            rows.append([wide ? "max |QQᵀ − I|" : "max |QᵀQ − I|", fmt(orthError, 3)])
        }
        print(table(["", ""], rows).split(separator: "\n", omittingEmptySubsequences: false).dropFirst(2).joined(separator: "\n").trailingSpacesRemoved)
    }
}
