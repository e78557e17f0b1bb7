import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The package root (three levels above this file).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A built executable of this package (debug build next to the test bundle).
func builtExecutable(_ name: String) throws -> URL {
    let candidates = [Bundle.main.bundleURL.appendingPathComponent(name),
                      Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent(name),
                      packageRoot.appendingPathComponent(".build/debug/\(name)")]
    guard let binary = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
        throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: candidates.map(\.path).joined(separator: ", ")])
    }
    return binary
}

/// `mpirun` on PATH (or nil: the MPI tests then print that they skipped).
let mpirunPath: String? = {
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
        let p = "\(dir)/mpirun"
        if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    return nil
}()

/// What a process run produced.
struct RunResult {
    var status: Int32
    /// Whether it ended by a signal (`status` is then the signal number).
    var signaled: Bool
    var stdout: String
    var stderr: String
    var seconds: Double
    var timedOut: Bool
}

/// Runs `executable` with `arguments`, killing it after `timeout` seconds (SIGTERM, then SIGKILL
/// 5 s later) so a hang fails the test instead of blocking the suite.
func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:], timeout: Double) throws -> RunResult {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wi-run-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let outURL = dir.appendingPathComponent("out"), errURL = dir.appendingPathComponent("err")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    p.environment = env
    p.standardOutput = out; p.standardError = err
    let done = DispatchSemaphore(value: 0)
    p.terminationHandler = { _ in done.signal() }
    let t0 = Date()
    try p.run()
    var timedOut = false
    if done.wait(timeout: .now() + timeout) == .timedOut {
        timedOut = true
        p.terminate()
        if done.wait(timeout: .now() + 5) == .timedOut { kill(p.processIdentifier, SIGKILL); done.wait() }
    }
    let seconds = Date().timeIntervalSince(t0)
    try out.close(); try err.close()
    return RunResult(status: p.terminationStatus, signaled: p.terminationReason == .uncaughtSignal,
                     stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
                     stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self), seconds: seconds, timedOut: timedOut)
}

/// The environment every `mpirun` of the tests gets: running as root allowed (containers), no
/// single-copy mechanism (CMA is often blocked in containers), one OpenBLAS thread per rank.
let mpiEnvironment: [String: String] = [
    "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
    "OMPI_MCA_btl_vader_single_copy_mechanism": "none", "OPENBLAS_NUM_THREADS": "1",
]

/// `mpirun -np N --oversubscribe --bind-to none <program> <arguments>` (loopback, any N on 2 cores).
func mpirun(_ n: Int, _ program: URL, _ arguments: [String], extraEnvironment: [String: String] = [:], timeout: Double = 60) throws -> RunResult {
    let launcher = try #require(mpirunPath)
    var env = mpiEnvironment
    for (k, v) in extraEnvironment { env[k] = v }
    return try run(launcher, ["-np", "\(n)", "--oversubscribe", "--bind-to", "none", program.path] + arguments, environment: env, timeout: timeout)
}

/// `mpirun` with several program blocks (MPMD): `[(ranks, arguments)]` joined by `:`.
func mpirunBlocks(_ program: URL, _ blocks: [(Int, [String])], timeout: Double = 60) throws -> RunResult {
    let launcher = try #require(mpirunPath)
    var args = ["--oversubscribe", "--bind-to", "none"]
    for (i, (n, a)) in blocks.enumerated() {
        if i > 0 { args.append(":") }
        args += ["-np", "\(n)", program.path] + a
    }
    return try run(launcher, args, environment: mpiEnvironment, timeout: timeout)
}

/// Parses one JSON object.
func jsonObject(_ text: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "one JSON object: \(text.prefix(300))")
}

/// SHA-256 of `data` by coreutils' `sha256sum` (an implementation independent of the package).
func sha256(_ data: Data) throws -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("wi-sha-\(UUID().uuidString)")
    try data.write(to: url)
    defer { try? FileManager.default.removeItem(at: url) }
    let r = try run("/usr/bin/sha256sum", [url.path], timeout: 60)
    return String(r.stdout.prefix(64))
}

/// A fresh temporary directory.
func temporaryDirectory(_ tag: String) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wi-\(tag)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

/// Whether the MPI tests can run; prints why not otherwise.
func mpiAvailable(_ test: String) -> Bool {
    if mpirunPath == nil { print("\(test): skipped — mpirun not found (scripts/setup-deps.sh installs openmpi-bin)"); return false }
    return true
}

/// Every test that starts `mpirun`, one at a time (each job runs up to 7 ranks on 2 cores).
@Suite("under mpirun", .serialized) struct MPISuite {}
