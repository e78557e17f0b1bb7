import ArgumentParser
import WeightInit

/// `weightinit doctor`: which BLAS, which kernel, how many threads, and whether it fits the CPU.
struct Doctor: ToolCommand {
    static let configuration = CommandConfiguration(
        abstract: "Report the BLAS library, its selected kernel, threads and CPU features, and whether the kernel fits the CPU.",
        discussion: """
        Reports what OpenBLAS selected on this CPU. OpenBLAS names some kernels after a CPU but runs another \
        family's code: on an AVX2 EPYC it reports "Zen" and runs its Haswell kernels, so "Zen" with "best for \
        this CPU: Haswell" is the fast path. kernel ok is "no" when OpenBLAS fell back to a generic kernel \
        (Prescott, Nehalem, ...) on a CPU that supports a faster one, and when OPENBLAS_CORETYPE names a kernel that \
        needs instructions this CPU lacks (SkylakeX without AVX-512): every other command then refuses to start \
        (exit 64) instead of dying with SIGILL.

        With --strict the command exits with 1 when kernel_ok is false (for scripts and CI).

        JSON keys: openblas_version, core, threads, cpu_features, kernel_ok, advice (plus configuration, \
        recommended_core, openblas_coretype, missing_features, relaunched).
        """)

    @OptionGroup var common: CommonOptions

    @Flag(help: "Exit with 1 when kernel_ok is false.") var strict = false

    struct Report: Encodable {
        var openblasVersion: String
        var configuration: String
        var core: String
        var recommendedCore: String?
        var threads: Int
        var cpuFeatures: [String]
        var kernelOk: Bool
        var advice: String
        var openblasCoretype: String?
        var missingFeatures: [String]
        var relaunched: Bool
    }

    func run() throws {
        common.apply()
        let check = BLASBackend.kernelCheck()
        var advice = check.advice
        if check.kernelOK && KernelRelaunch.didRelaunch {
            advice = "OpenBLAS selected a generic kernel at first; weightinit re-launched itself with OPENBLAS_CORETYPE=\(check.environmentCoreType ?? "?"). Library users: start your process with the same variable."
        }
        let report = Report(openblasVersion: BLASBackend.version, configuration: BLASBackend.configuration, core: check.core,
                            recommendedCore: check.recommendedCore, threads: BLASBackend.threads, cpuFeatures: BLASBackend.cpuFeatures,
                            kernelOk: check.kernelOK, advice: advice, openblasCoretype: check.environmentCoreType,
                            missingFeatures: check.missingFeatures, relaunched: KernelRelaunch.didRelaunch)
        if common.json {
            try printJSON(report)
        } else {
            let equivalent = report.recommendedCore.map { rec -> String in
                if rec.lowercased() == report.core.lowercased() { return "" }
                return report.kernelOk ? "   (same kernel family as \(rec), the best for this CPU)" : "   (best for this CPU: \(rec))"
            } ?? ""
            var rows: [[String]] = [
                ["OpenBLAS", "\(report.openblasVersion)   (\(report.configuration))"],
                ["kernel (core)", report.core + equivalent],
                ["kernel ok", report.kernelOk ? "yes" : "NO"],
                ["threads", "\(report.threads)"],
                ["CPU features", report.cpuFeatures.joined(separator: " ")],
                ["OPENBLAS_CORETYPE", (report.openblasCoretype ?? "(unset)") + (report.relaunched ? "   (set by weightinit's re-launch)" : "")],
            ]
            if !report.advice.isEmpty { rows.append(["advice", report.advice]) }
            print(table(["", ""], rows).split(separator: "\n", omittingEmptySubsequences: false).dropFirst(2).joined(separator: "\n"))
        }
        if strict && !report.kernelOk { throw ExitCode(ExitStatus.failure) }
    }
}
