import ArgumentParser

/// The `weightinit` command-line tool.
struct WeightInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weightinit",
        abstract: "Parameter initialization for neural networks, on OpenBLAS: inspect, benchmark, train and compare schemes.",
        discussion: """
        Every subcommand takes --seed, --threads and --json (one JSON object on stdout, nothing else).
        When OpenBLAS has fallen back to a generic kernel on this CPU and OPENBLAS_CORETYPE is unset,
        weightinit re-launches itself once with the right value (set WEIGHTINIT_NO_RELAUNCH=1 to disable).
        """,
        subcommands: [Doctor.self, Stats.self, Train.self, Compare.self, Init.self, Inspect.self, Bench.self])
}

/// Options shared by every subcommand.
struct CommonOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Seed for every random choice (64-bit unsigned).")
    var seed: UInt64 = 0

    @Option(parsing: .unconditional, help: "Threads for fills and for OpenBLAS (default: all cores).")
    var threads: Int?

    @Flag(help: "Print one JSON object on stdout and nothing else.")
    var json = false

    func validate() throws {
        if let threads, threads < 1 || threads > 1024 {
            throw ValidationError("--threads must be between 1 and 1024, got \(threads)")
        }
    }
}
