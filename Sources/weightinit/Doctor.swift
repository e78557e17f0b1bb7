import ArgumentParser
import WeightInit

/// `weightinit doctor`: which BLAS, which kernel, how many threads, and whether it fits the CPU.
struct Doctor: ToolCommand {
    static let configuration = CommandConfiguration(
        abstract: "Report the BLAS library, its selected kernel, threads and CPU features, and whether the kernel fits the CPU.",
        discussion: "JSON keys: openblas_version, core, threads, cpu_features, kernel_ok, advice (plus configuration, recommended_core, openblas_coretype, relaunched).")

    @OptionGroup var common: CommonOptions

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
                            relaunched: KernelRelaunch.didRelaunch)
        if common.json { try printJSON(report); return }
        print("""
        OpenBLAS        \(report.openblasVersion)   (\(report.configuration))
        kernel (core)   \(report.core)\(report.recommendedCore.map { "   best for this CPU: \($0)" } ?? "")
        kernel ok       \(report.kernelOk ? "yes" : "NO")
        threads         \(report.threads)
        CPU features    \(report.cpuFeatures.joined(separator: " "))
        OPENBLAS_CORETYPE \(report.openblasCoretype ?? "(unset)")\(report.relaunched ? "   (set by weightinit's re-launch)" : "")
        """)
        if !report.advice.isEmpty { print("advice          \(report.advice)") }
    }
}
