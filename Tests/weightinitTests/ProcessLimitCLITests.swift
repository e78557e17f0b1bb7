// Regression test (bk7, defect 2): under a process memory limit (`ulimit -v`, `ulimit -d`) a
// request that cannot fit is refused before allocating (exit 1, "needs about …"), not killed by
// a failed allocation (exit 134, SIGABRT).
import Foundation
import Testing

/// The built `weightinit` binary (as `runTool` finds it).
func weightinitBinaryPath() throws -> String {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let candidates = [Bundle.main.bundleURL.appendingPathComponent("weightinit"),
                      Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("weightinit"),
                      root.appendingPathComponent(".build/debug/weightinit")]
    guard let binary = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
        throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: candidates.map(\.path).joined(separator: ", ")])
    }
    return binary.path
}

@Suite("bk7: process memory limits (RLIMIT_AS, RLIMIT_DATA) are respected")
struct ProcessLimitCLITests {
    /// Runs `/bin/sh -c 'ulimit LIMIT; exec weightinit ARGS'`; returns whether it ended by a
    /// signal, its status (or signal number) and stderr.
    func runLimited(_ limit: String, _ args: [String]) throws -> (signaled: Bool, status: Int32, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "ulimit \(limit) || exit 99; exec \"$0\" \"$@\"", try weightinitBinaryPath()] + args
        let err = Pipe()
        p.standardOutput = FileHandle.nullDevice; p.standardError = err
        try p.run()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationReason == .uncaughtSignal, p.terminationStatus, String(decoding: e, as: UTF8.self))
    }

    @Test("ulimit -v 800000 stats 12000x12000 normal, ulimit -d 1000000 stats 16384x16384 he-normal: exit 1 'needs about', no signal; small shapes still run")
    func refusedUnderLimit() throws {
        // 12000² floats are 576 MB, more than the ~781 MiB address space minus what the process
        // already maps; 16384² floats are 1 GiB, more than the ~977 MiB data limit.
        for (limit, args) in [("-v 800000", ["stats", "--scheme", "normal", "--shape", "12000x12000"]),
                              ("-d 1000000", ["stats", "--scheme", "he-normal", "--shape", "16384x16384"])] {
            let r = try runLimited(limit, args)
            #expect(!r.signaled && r.status == 1, "ulimit \(limit) \(args.joined(separator: " ")): \(r.signaled ? "signal" : "exit") \(r.status) \(r.stderr.suffix(300))")
            #expect(r.stderr.contains("needs about") && r.stderr.contains("ulimit"), "\(r.stderr.suffix(300))")
        }
        // The same limits leave room for an ordinary request (the check does not refuse everything).
        let ok = try runLimited("-v 800000", ["stats", "--scheme", "normal", "--shape", "256x784"])
        #expect(!ok.signaled && ok.status == 0, "small shape under ulimit -v: \(ok.status) \(ok.stderr.suffix(300))")
    }
}
