#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The BLAS library this process runs on: version, build configuration, the kernel
/// ("core") OpenBLAS selected when it loaded, thread control, and the check that tells
/// when OpenBLAS fell back to a generic kernel on a CPU that supports a better one.
///
/// Debian's OpenBLAS 0.3.21 (`DYNAMIC_ARCH`) does not recognise some recent CPUs and picks
/// its `Prescott` kernels: on a 2-core AVX-512 machine `sgemm` then runs about 4× slower than
/// with `OPENBLAS_CORETYPE=SkylakeX`. The kernel is chosen when the library loads, so the fix
/// is to start the process with that variable set; `kernelCheck()` says which value.
public enum BLASBackend {
    /// The build configuration string, e.g. `"OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Prescott MAX_THREADS=64"`.
    /// Calls `openblas_get_config`.
    public static var configuration: String { OpenBLASRuntime.config }

    /// The OpenBLAS version parsed from `configuration`, e.g. `"0.3.21"` (`"unknown"` if absent).
    public static var version: String {
        let parts = configuration.split(separator: " ")
        if let i = parts.firstIndex(where: { $0.lowercased() == "openblas" }), i + 1 < parts.count { return String(parts[i + 1]) }
        return "unknown"
    }

    /// The kernel OpenBLAS selected, e.g. `"Prescott"`, `"Haswell"`, `"SkylakeX"`.
    /// Calls `openblas_get_corename`.
    public static var coreName: String { OpenBLASRuntime.coreName }

    /// The number of threads OpenBLAS uses. Setting it calls `openblas_set_num_threads`
    /// (values below 1 are clamped to 1). The setting is process-wide: set it from one thread,
    /// before starting parallel work. Calls `openblas_get_num_threads`.
    public static var threads: Int {
        get { OpenBLASRuntime.threads }
        set { OpenBLASRuntime.setThreads(max(1, newValue)) }
    }

    /// Runs `body` with OpenBLAS limited to `count` threads, then restores the previous count.
    /// Use it around application-level parallel loops that call BLAS from every worker, so
    /// the cores are not oversubscribed (cores × BLAS threads). Process-wide, not re-entrant
    /// from several threads at once.
    public static func withThreads<R>(_ count: Int, _ body: () throws -> R) rethrows -> R {
        let previous = threads
        threads = count
        defer { threads = previous }
        return try body()
    }

    /// CPU feature flags relevant to BLAS kernels that this CPU reports (Linux `/proc/cpuinfo`),
    /// e.g. `["avx", "avx2", "fma", "avx512f", …]`, sorted. Empty where unavailable.
    public static let cpuFeatures: [String] = {
        let relevant: Set<String> = ["sse2", "sse3", "ssse3", "sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c",
                                     "avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl", "avx512_bf16",
                                     "avx512ifma", "avx512vbmi", "avx512_vnni", "amx_tile", "asimd", "sve"]
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return [] }
        for line in text.split(separator: "\n") where line.hasPrefix("flags") || line.hasPrefix("Features") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let flags = line[line.index(after: colon)...].split(separator: " ").map(String.init)
            return flags.filter { relevant.contains($0) }.sorted()
        }
        return []
    }()

    /// The result of `kernelCheck()`.
    public struct KernelCheck: Sendable, Equatable {
        /// The kernel OpenBLAS selected (`coreName`).
        public var core: String
        /// The best OpenBLAS core type this CPU supports (`"SkylakeX"` with AVX-512 F/DQ/BW/VL,
        /// `"Haswell"` with AVX2+FMA, `"Sandybridge"` with AVX), or `nil` if none is known.
        public var recommendedCore: String?
        /// `false` when OpenBLAS runs a weaker kernel than `recommendedCore`.
        public var kernelOK: Bool
        /// The value of `OPENBLAS_CORETYPE` in this process's environment, if set.
        public var environmentCoreType: String?
        /// One sentence saying what to do (empty when nothing needs doing).
        public var advice: String
        /// CPU features that the kernel named by `OPENBLAS_CORETYPE` needs and this CPU lacks
        /// (e.g. `["avx512bw", "avx512dq", "avx512f", "avx512vl"]` for `SkylakeX` on an AVX2 CPU);
        /// empty when the variable is unset, names no known kernel, or fits the CPU. When not
        /// empty, `kernelOK` is false: running a BLAS kernel would stop the process with SIGILL.
        public var missingFeatures: [String] = []
    }

    /// The instruction set an OpenBLAS x86-64 core type's kernels need, as a label and the
    /// `/proc/cpuinfo` flags that must all be present: SkylakeX (AVX-512 F/DQ/BW/VL),
    /// Cooperlake and SapphireRapids (the same plus `avx512_bf16`), Haswell, Zen and Excavator
    /// (AVX2 and FMA), Sandybridge, Bulldozer, Piledriver and Steamroller (AVX). Case-insensitive,
    /// as OpenBLAS reads the variable; nil for the SSE-only cores and unknown names.
    public static func requiredFeatures(forCore core: String) -> (isa: String, features: [String])? {
        let avx512 = ["avx512f", "avx512dq", "avx512bw", "avx512vl"]
        switch core.lowercased() {
        case "skylakex": return ("AVX-512", avx512)
        case "cooperlake", "sapphirerapids": return ("AVX-512 with BF16", avx512 + ["avx512_bf16"])
        case "haswell", "zen", "excavator": return ("AVX2 and FMA", ["avx2", "fma"])
        case "sandybridge", "bulldozer", "piledriver", "steamroller": return ("AVX", ["avx"])
        default: return nil
        }
    }

    /// When `coreType` (a value of `OPENBLAS_CORETYPE`) names kernels that use instructions the
    /// CPU with `features` lacks: the instruction set and the missing flags, sorted. nil when
    /// it fits, is unknown, or `features` is empty (the CPU's flags could not be read).
    public static func unsupportedCoreType(_ coreType: String, features: Set<String>) -> (isa: String, missing: [String])? {
        guard !features.isEmpty, let need = requiredFeatures(forCore: coreType.trimmingCharacters(in: .whitespaces)) else { return nil }
        let missing = need.features.filter { !features.contains($0) }.sorted()
        return missing.isEmpty ? nil : (need.isa, missing)
    }

    /// Compares the selected kernel with the best one the CPU supports, and checks that a kernel
    /// forced by `OPENBLAS_CORETYPE` does not need instructions the CPU lacks
    /// (`KernelCheck.missingFeatures`).
    ///
    /// OpenBLAS cores are ranked Prescott/Core2/Nehalem (generic SSE) < Sandybridge (AVX)
    /// < Haswell/Zen (AVX2) < SkylakeX/Cooperlake/SapphireRapids (AVX-512); the check fails
    /// when the selected core ranks below the recommended one. It never changes anything:
    /// the kernel can only be chosen by starting a process with `OPENBLAS_CORETYPE` set.
    public static func kernelCheck() -> KernelCheck {
        check(core: coreName, features: Set(cpuFeatures), environment: ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"])
    }

    /// `kernelCheck()` on given inputs (exposed for tests and tools that inspect another machine).
    public static func check(core: String, features: Set<String>, environment: String?) -> KernelCheck {
        let recommended: String?
        if ["avx512f", "avx512dq", "avx512bw", "avx512vl"].allSatisfy(features.contains) { recommended = "SkylakeX" }
        else if features.contains("avx2") && features.contains("fma") { recommended = "Haswell" }
        else if features.contains("avx") { recommended = "Sandybridge" }
        else { recommended = nil }
        let ok = recommended.map { rank(core) >= rank($0) } ?? true
        var advice = ""
        if let environment, let bad = unsupportedCoreType(environment, features: features) {
            let suggestion = recommended.map { "set OPENBLAS_CORETYPE=\($0) (the best kernel for this CPU)" } ?? "unset it"
            advice = "OPENBLAS_CORETYPE=\(environment) selects kernels that need \(bad.isa), which this CPU lacks (missing \(bad.missing.joined(separator: ", "))): they stop the process with SIGILL (illegal instruction); \(suggestion)."
            var result = KernelCheck(core: core, recommendedCore: recommended, kernelOK: false, environmentCoreType: environment, advice: advice)
            result.missingFeatures = bad.missing
            return result
        }
        if !ok, let recommended {
            if let environment {
                advice = "OpenBLAS runs the \(core) kernel although this CPU supports \(recommended); OPENBLAS_CORETYPE=\(environment) is set by the environment and is left alone."
            } else {
                advice = "OpenBLAS fell back to its generic \(core) kernel on a CPU that supports \(recommended): start the process with OPENBLAS_CORETYPE=\(recommended) (the weightinit tool does this itself)."
            }
        }
        return KernelCheck(core: core, recommendedCore: recommended, kernelOK: ok, environmentCoreType: environment, advice: advice)
    }

    /// Rank of an OpenBLAS core name by the instruction set its kernels use.
    static func rank(_ core: String) -> Int {
        switch core.lowercased() {
        case "skylakex", "cooperlake", "sapphirerapids": return 4
        case "haswell", "zen", "excavator": return 3
        case "sandybridge", "bulldozer", "piledriver", "steamroller": return 2
        case "": return 0
        default: return 1   // katmai … prescott, core2, penryn, dunnington, nehalem, atom, barcelona, …
        }
    }

    /// Calls `cblas_sgemm` directly on square `n × n` row-major buffers (`C = A·B`), without
    /// any checks or wrapper: the baseline `weightinit bench` measures `Matrix` against.
    /// - Precondition: each buffer holds at least `n²` elements.
    public static func rawSgemmForBenchmark(n: Int, a: UnsafeBufferPointer<Float>, b: UnsafeBufferPointer<Float>, c: UnsafeMutableBufferPointer<Float>) {
        precondition(a.count >= n * n && b.count >= n * n && c.count >= n * n, "buffers must hold \(n)×\(n) elements")
        OpenBLASRuntime.rawSgemm(n: Int32(n), a: a.baseAddress!, b: b.baseAddress!, c: c.baseAddress!)
    }
}
