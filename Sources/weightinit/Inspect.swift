import ArgumentParser
import Foundation
import WeightInit

/// `weightinit inspect`: per-tensor statistics of a safetensors or .npy file, and which classic
/// initialization scheme each weight looks like.
struct Inspect: ToolCommand {
    static let configuration = CommandConfiguration(
        abstract: "Per-tensor statistics of a safetensors or .npy file, and the classic scheme each weight looks like.",
        discussion: """
        For every tensor: dtype, shape, mean, std (population), min, max, the number of NaN and infinite elements (excluded from the other statistics) and whether it is all zeros. For weight-like tensors (2 or more dimensions, PyTorch layout [out, in, k…]) also fan_in and fan_out and the classic scheme whose standard deviation is closest to the observed one: He/Kaiming √(2/fan_in), Xavier/Glorot √(2/(fan_in+fan_out)), LeCun √(1/fan_in) or the PyTorch Linear/Conv default U(±1/√fan_in) with std 1/√(3·fan_in); "ratio" is observed/expected std. The family is "uniform" when max|x| ≤ 1.8·std (a uniform distribution has max|x| = √3·std) and "normal" otherwise.

        The file is memory-mapped and read once, in chunks, on --threads threads: a 10 GB file needs no 10 GB of memory. Tensors of integer or boolean dtype are listed without statistics. A .npy file (recognized by its name or its first bytes, \\x93NUMPY) is one tensor, named after the file. A file of another format (text, a zip or pickle PyTorch checkpoint, gzip, HDF5, GGUF, IDX) is reported as such, with the rule notSafetensors.

        Exit status: 0 on success; 1 when the file cannot be read or is malformed (the error names the rule), or with --strict when any tensor holds NaN or Inf; 64 for invalid arguments.

        Examples:
        weightinit inspect model.safetensors
        weightinit inspect gpt2.safetensors --json
        weightinit inspect weights.npy --strict

        JSON keys: file, format, bytes, seconds, gb_per_s, nonfinite_tensors, tensors (each: name, dtype, shape, count, mean, std, min, max, nan_count, inf_count, all_zero, fan_in, fan_out, family, closest_scheme, expected_std, ratio; statistics null for non-float dtypes, fans and scheme null below 2 dimensions).
        """)

    @OptionGroup var common: CommonOptions

    @Argument(help: "A .safetensors or .npy file.") var file: String

    @Flag(help: "Exit with status 1 when any tensor holds NaN or Inf.") var strict = false

    /// One tensor's line of the report.
    struct TensorReport: Encodable {
        var name: String
        var dtype: String
        var shape: [Int]
        var count: Int
        var mean: Double?
        var std: Double?
        var min: Double?
        var max: Double?
        var nanCount: Int?
        var infCount: Int?
        var allZero: Bool?
        var fanIn: Int?
        var fanOut: Int?
        var family: String?
        var closestScheme: String?
        var expectedStd: Double?
        var ratio: Double?

        enum CodingKeys: String, CodingKey {
            case name, dtype, shape, count, mean, std, min, max, nanCount, infCount, allZero, fanIn, fanOut, family, closestScheme, expectedStd, ratio
        }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(name, forKey: .name); try c.encode(dtype, forKey: .dtype); try c.encode(shape, forKey: .shape)
            try c.encode(count, forKey: .count)
            try c.encode(mean, forKey: .mean); try c.encode(std, forKey: .std); try c.encode(min, forKey: .min); try c.encode(max, forKey: .max)
            try c.encode(nanCount, forKey: .nanCount); try c.encode(infCount, forKey: .infCount); try c.encode(allZero, forKey: .allZero)
            try c.encode(fanIn, forKey: .fanIn); try c.encode(fanOut, forKey: .fanOut); try c.encode(family, forKey: .family)
            try c.encode(closestScheme, forKey: .closestScheme); try c.encode(expectedStd, forKey: .expectedStd); try c.encode(ratio, forKey: .ratio)
        }
    }

    struct Report: Encodable {
        var file: String
        var format: String
        var bytes: Int
        var seconds: Double
        var gbPerS: Double
        var nonfiniteTensors: Int
        var tensors: [TensorReport]
    }

    /// The classic schemes' standard deviations for fans (PyTorch conventions).
    static func candidates(_ f: Fans) -> [(String, Double)] {
        let fi = Double(f.fanIn), fo = Double(f.fanOut)
        return [("he", (2 / fi).squareRoot()), ("xavier", (2 / (fi + fo)).squareRoot()),
                ("lecun", (1 / fi).squareRoot()), ("pytorch-default", (1 / (3 * fi)).squareRoot())]
    }

    /// The report of one tensor from its summary.
    static func report(name: String, dtype: DType, shape: [Int], summary s: TensorSummary?) -> TensorReport {
        var r = TensorReport(name: name, dtype: dtype.rawValue, shape: shape, count: TensorSpec(name: name, dtype: dtype, shape: shape).elementCount ?? 0)
        guard let s else { return r }
        func finiteOrNil(_ x: Double) -> Double? { x.isFinite ? x : nil }
        r.mean = finiteOrNil(s.mean); r.std = finiteOrNil(s.std); r.min = finiteOrNil(s.min); r.max = finiteOrNil(s.max)
        r.nanCount = s.nanCount; r.infCount = s.infCount; r.allZero = s.allZero
        guard shape.count >= 2, s.count > 0, let fans = try? Fans(shape: shape), fans.fanIn > 0, fans.fanOut > 0 else { return r }
        r.fanIn = fans.fanIn; r.fanOut = fans.fanOut
        guard s.std.isFinite, s.std > 0 else { return r }
        let peak = Swift.max(abs(s.min), abs(s.max))
        r.family = peak <= 1.8 * s.std ? "uniform" : "normal"
        let best = candidates(fans).min { abs(log(s.std / $0.1)) < abs(log(s.std / $1.1)) }!
        let family = r.family!
        r.closestScheme = best.0 == "pytorch-default" ? best.0 : "\(best.0)-\(family)"
        r.expectedStd = best.1
        r.ratio = s.std / best.1
        return r
    }

    func run() throws {
        let threads = common.threads ?? ProcessInfo.processInfo.activeProcessorCount
        let t0 = now()
        var reports: [TensorReport] = []
        var bytes = 0
        let format: String
        do {
            // A .npy file is recognized by its name or by its magic string (a .npy file under
            // another name is read as .npy, not reported as a malformed safetensors file).
            if file.hasSuffix(".npy") || NpyFile.hasSignature(path: file) {
                format = "npy"
                let f = try NpyFile(path: file)
                bytes = f.header.count * f.dtype.size
                var summary: TensorSummary? = nil
                if f.dtype.isFloatingPoint {
                    // Statistics do not depend on the storage order; fans use the logical shape.
                    summary = f.withBytes { TensorSummary.of($0, dtype: f.dtype, threads: threads) { f.releasePages($0) } }
                }
                let name = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
                reports.append(Inspect.report(name: name, dtype: f.dtype, shape: f.shape, summary: summary))
            } else {
                format = "safetensors"
                let f = try SafetensorsFile(path: file)
                for t in f.tensors {
                    bytes += t.byteCount
                    let summary = t.dtype.isFloatingPoint
                        ? f.withBytes(of: t) { TensorSummary.of($0, dtype: t.dtype, threads: threads) { f.releasePages(of: t, $0) } } : nil
                    reports.append(Inspect.report(name: t.name, dtype: t.dtype, shape: t.shape, summary: summary))
                }
            }
        } catch let e as TensorFileError {
            throw CommandError(e.description)
        }
        let seconds = now() - t0
        let bad = reports.filter { ($0.nanCount ?? 0) + ($0.infCount ?? 0) > 0 }
        let report = Report(file: file, format: format, bytes: bytes, seconds: seconds,
                            gbPerS: seconds > 0 ? Double(bytes) / seconds / 1e9 : 0, nonfiniteTensors: bad.count, tensors: reports)
        if common.json {
            try printJSON(report)
        } else {
            func opt(_ x: Double?) -> String { x.map { fmt($0) } ?? "-" }
            let rows = reports.map { r -> [String] in
                [r.name, r.dtype, r.shape.isEmpty ? "[]" : r.shape.map(String.init).joined(separator: "x"),
                 opt(r.mean), opt(r.std), opt(r.min), opt(r.max),
                 r.nanCount.map(String.init) ?? "-", r.infCount.map(String.init) ?? "-", r.allZero.map { $0 ? "yes" : "no" } ?? "-",
                 r.fanIn.map(String.init) ?? "-", r.fanOut.map(String.init) ?? "-",
                 r.closestScheme.map { "\($0) ×\(fmt(r.ratio ?? .nan, 3))" } ?? "-"]
            }
            print(table(["tensor", "dtype", "shape", "mean", "std", "min", "max", "nan", "inf", "zero", "fan_in", "fan_out", "closest (std ratio)"], rows))
            print("\(reports.count) tensors, \(bytes) bytes in \(fmt(seconds, 3)) s (\(fmt(report.gbPerS, 2)) GB/s)")
        }
        if strict && !bad.isEmpty {
            status("error: --strict: \(bad.count) tensor(s) hold NaN or Inf: \(bad.prefix(10).map(\.name).joined(separator: ", "))")
            throw ExitCode(1)
        }
    }
}
