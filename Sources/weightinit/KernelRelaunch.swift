#if canImport(Glibc)
import Glibc
#endif
import Foundation
import WeightInit

/// Re-executes the tool with `OPENBLAS_CORETYPE` set when OpenBLAS picked a generic kernel
/// on a CPU that supports a better one. Runs at most once (guarded by `WEIGHTINIT_RELAUNCHED`),
/// never when `OPENBLAS_CORETYPE` is already set, never when `WEIGHTINIT_NO_RELAUNCH` is set.
enum KernelRelaunch {
    static var didRelaunch: Bool { ProcessInfo.processInfo.environment["WEIGHTINIT_RELAUNCHED"] != nil }

    /// Refuses to start (exit 64, an invalid environment value) when `OPENBLAS_CORETYPE` names a
    /// kernel that needs instructions this CPU lacks (`SkylakeX` on an AVX2-only CPU): OpenBLAS
    /// would stop the process with SIGILL at its first BLAS call. Reads only the environment and
    /// `/proc/cpuinfo`, before any BLAS kernel runs. Never changes the variable. `doctor` (which
    /// runs no kernel and reports the problem), `--help` and `--version` still run.
    static func refuseUnsupportedCoreType() {
        guard let value = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] else { return }
        let args = Array(CommandLine.arguments.dropFirst())
        if args.first == "doctor" || args.first == "help" || args.contains(where: { ["--help", "-h", "--version"].contains($0) }) { return }
        let features = Set(BLASBackend.cpuFeatures)
        guard let bad = BLASBackend.unsupportedCoreType(value, features: features) else { return }
        let best = BLASBackend.check(core: "", features: features, environment: nil).recommendedCore
        let message = "environment variable OPENBLAS_CORETYPE=\(value) is invalid on this CPU: its kernels need \(bad.isa) "
            + "(missing \(bad.missing.joined(separator: ", "))), which would stop the process with SIGILL; "
            + (best.map { "set OPENBLAS_CORETYPE=\($0) (the best kernel for this CPU) or unset it" } ?? "unset it")
        StandardStreams.writeErr(Data("Error: \(message)\n".utf8))
        if args.contains("--json") {
            StandardStreams.writeOut(PartialResult.failureJSON(message: message, exitCode: ExitStatus.invalidValue))
        }
        exit(ExitStatus.invalidValue)
    }

    static func relaunchIfNeeded() {
        let env = ProcessInfo.processInfo.environment
        guard env["OPENBLAS_CORETYPE"] == nil, env["WEIGHTINIT_RELAUNCHED"] == nil, env["WEIGHTINIT_NO_RELAUNCH"] == nil else { return }
        var check = BLASBackend.kernelCheck()
        // Test hook: behave as if OpenBLAS had picked its generic Prescott kernel.
        if env["WEIGHTINIT_SIMULATE_FALLBACK"] != nil {
            check = BLASBackend.check(core: "Prescott", features: Set(BLASBackend.cpuFeatures), environment: nil)
        }
        guard !check.kernelOK, let core = check.recommendedCore else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        setenv("WEIGHTINIT_RELAUNCHED", "1", 1)
        let args = CommandLine.arguments
        var cArgs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) }
        cArgs.append(nil)
        execv("/proc/self/exe", &cArgs)
        // execv only returns on failure: carry on with the slow kernel rather than fail.
        unsetenv("OPENBLAS_CORETYPE")
    }
}
