import Foundation

/// How this process was started: by an MPI launcher (`mpirun`/`mpiexec` of Open MPI, or a PMIx
/// launcher such as Slurm's `srun --mpi=pmix`) or on its own.
public enum DistributedLaunch {
    /// Environment variables a launcher sets in every rank: Open MPI's `OMPI_COMM_WORLD_SIZE`,
    /// PMIx's `PMIX_RANK`.
    public static let launcherVariables = ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK"]

    /// `true` when one of `launcherVariables` is set in `environment` (default: this process's).
    public static func isLaunchedByMPI(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        launcherVariables.contains { environment[$0] != nil }
    }

    /// The communicator to use: `MPICommunicator.world()` when `requested` (`--distributed`) or
    /// when launched by an MPI launcher; `LocalCommunicator` otherwise. A request without a
    /// launcher also gets the local communicator (world size 1): initializing MPI as a
    /// "singleton" would only start a helper daemon to run alone.
    /// - Throws: `DistributedError.initialization` when MPI fails to start.
    public static func communicator(requested: Bool, environment: [String: String] = ProcessInfo.processInfo.environment) throws(DistributedError) -> any Communicator {
        guard isLaunchedByMPI(environment: environment) else { return LocalCommunicator() }
        _ = requested
        return try MPICommunicator.world()
    }
}
