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
