import ArgumentParser
import Foundation
import WeightInit

/// The `weightinit` command-line tool.
struct WeightInitCommand: ParsableCommand {
    /// The version printed by `weightinit --version`.
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "weightinit",
        abstract: "Parameter initialization for neural networks, on OpenBLAS: inspect, benchmark, train and compare schemes.",
        discussion: """
        Every subcommand takes --seed, --threads and --json. With --json the command prints one JSON object on \
        stdout and nothing else; tables go to stdout, progress and warnings to stderr. Progress is shown whenever \
        stderr is a terminal.

        Exit codes: 0 success, 64 an invalid argument or value (the message names it), 1 a runtime failure \
        (a file that cannot be read or written, a run that diverged, not enough memory), 130 interrupted by SIGINT (Ctrl-C) or SIGTERM \
        (after printing what completed and removing the temporary file of a write in progress; with --json, an object with "completed", "error" and "exit_code").

        When OpenBLAS has fallen back to a generic kernel on this CPU and OPENBLAS_CORETYPE is unset, \
        weightinit re-launches itself once with the right value (set WEIGHTINIT_NO_RELAUNCH=1 to disable).

        Examples:
          weightinit doctor
          weightinit stats --scheme he-normal --shape 256x784
          weightinit train --epochs 3
          weightinit compare --depth 30 --plot relu.svg
        """,
        version: version,
        subcommands: [Doctor.self, Stats.self, Train.self, Compare.self, Init.self, Inspect.self, Bench.self])
}

/// Options shared by every subcommand.
struct CommonOptions: ParsableArguments {
    /// The most threads accepted: OpenBLAS in Debian's build uses at most 64 and silently
    /// ignores more.
    static let maximumThreads = 64

    @Option(parsing: .unconditional, help: "Seed for every random choice (64-bit unsigned).")
    var seed: UInt64 = 0

    @Option(parsing: .unconditional, help: "Threads for fills and for OpenBLAS, 1…64 (default: all cores). More threads than cores is allowed but slower; a warning says so.")
    var threads: Int?

    @Flag(help: "Print one JSON object on stdout and nothing else.")
    var json = false

    func validate() throws {
        if let threads, threads < 1 || threads > Self.maximumThreads {
            throw ValidationError("--threads must be between 1 and \(Self.maximumThreads) (the most OpenBLAS uses), got \(threads)")
        }
    }

    /// Applies `--threads` to OpenBLAS, warning on stderr when it exceeds the cores.
    func apply() {
        guard let threads else { return }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        if threads > cores {
            status("warning: --threads \(threads) is more than the \(cores) cores of this machine; BLAS products and fills will be slower than with \(cores)")
        }
        BLASBackend.threads = threads
    }
}
