import COpenMPI
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The ranks of an `mpirun` job, over `MPI_COMM_WORLD` (Open MPI 4.1; Message Passing Interface
/// standard 3.1).
///
/// - Start-up: `MPICommunicator.world()` calls `MPI_Init_thread` with `MPI_THREAD_FUNNELED` (only
///   the thread that initialized MPI calls it; fills and BLAS use their own threads in between)
///   the first time, installs `MPI_ERRORS_RETURN` on the communicator so every failure comes back
///   as a return code — turned into `DistributedError.mpi` with `MPI_Error_string`'s text — instead
///   of MPI's default of aborting, and registers an exit handler (`on_exit`): `MPI_Finalize` after exit status 0,
///   `MPI_Abort` after any other status, so one rank's failure ends the job instead of hanging it.
/// - Counts: MPI counts are C `int`. Reductions and broadcasts longer than
///   `maximumMessageElements` (default `Int32.max`) elements or bytes go in consecutive chunks,
///   so buffers of any length work; `allGatherV` uses one `MPI_Allgatherv` when every byte count
///   and displacement fits in an `int`, and one chunked broadcast per rank otherwise.
/// - Failure: `abort(code:message:)` prints the rank and the message and calls `MPI_Abort`, which
///   makes `mpirun` end every rank; a rank that dies or exits non-zero without it is detected by
///   `mpirun`, which ends the others too.
public final class MPICommunicator: Communicator {
    /// This process's rank in `MPI_COMM_WORLD` (`MPI_Comm_rank`).
    public let rank: Int
    /// The number of processes in the job (`MPI_Comm_size`).
    public let size: Int
    /// The largest element (or byte) count passed to one MPI call; longer buffers are chunked.
    /// Default `Int32.max`; tests lower it to exercise the chunking.
    public let maximumMessageElements: Int
    private let comm: MPI_Comm

    private init(rank: Int, size: Int, comm: MPI_Comm, maximumMessageElements: Int) {
        self.rank = rank; self.size = size; self.comm = comm; self.maximumMessageElements = maximumMessageElements
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var shared: MPICommunicator?

    /// The world communicator, initializing MPI on the first call (`MPI_Init_thread`,
    /// `MPI_Comm_set_errhandler(MPI_ERRORS_RETURN)`, `MPI_Comm_rank`, `MPI_Comm_size`) and
    /// registering the exit handler (`MPI_Finalize` on success, `MPI_Abort` on a failing status). Later calls return the same communicator.
    /// Without `mpirun` this is a world of size 1 (an MPI "singleton").
    /// - Parameter maximumMessageElements: the chunk size of long operations (1 … `Int32.max`),
    ///   taken on the first call only.
    /// - Throws: `DistributedError.initialization` when MPI was already finalized, gives less than
    ///   `MPI_THREAD_FUNNELED`, or fails to start; `.invalidArgument` for a chunk size out of range.
    public static func world(maximumMessageElements: Int = Int(Int32.max)) throws(DistributedError) -> MPICommunicator {
        guard (1...Int(Int32.max)).contains(maximumMessageElements) else {
            throw .invalidArgument(rank: 0, operation: "MPICommunicator.world", rule: "maximumMessageElements = \(maximumMessageElements) must be in 1…\(Int32.max)")
        }
        lock.lock(); defer { lock.unlock() }
        if let shared { return shared }
        var initialized: Int32 = 0, finalized: Int32 = 0
        MPI_Finalized(&finalized)
        guard finalized == 0 else { throw .initialization("MPI was already finalized in this process") }
        MPI_Initialized(&initialized)
        if initialized == 0 {
            var provided: Int32 = 0
            let rc = MPI_Init_thread(nil, nil, wi_mpi_thread_funneled(), &provided)
            guard rc == wi_mpi_success() else { throw .initialization("MPI_Init_thread returned \(rc): \(errorString(rc))") }
            guard provided >= wi_mpi_thread_funneled() else {
                throw .initialization("MPI_Init_thread provided thread level \(provided), below MPI_THREAD_FUNNELED (\(wi_mpi_thread_funneled()))")
            }
            on_exit({ status, _ in MPICommunicator.finishAtExit(status: status) }, nil)
        }
        let comm = wi_mpi_comm_world()
        var rc = MPI_Comm_set_errhandler(comm, wi_mpi_errors_return())
        guard rc == wi_mpi_success() else { throw .initialization("MPI_Comm_set_errhandler returned \(rc): \(errorString(rc))") }
        var r: Int32 = 0, n: Int32 = 0
        rc = MPI_Comm_rank(comm, &r)
        guard rc == wi_mpi_success() else { throw .initialization("MPI_Comm_rank returned \(rc): \(errorString(rc))") }
        rc = MPI_Comm_size(comm, &n)
        guard rc == wi_mpi_success() else { throw .initialization("MPI_Comm_size returned \(rc): \(errorString(rc))") }
        let c = MPICommunicator(rank: Int(r), size: Int(n), comm: comm!, maximumMessageElements: maximumMessageElements)
        shared = c
        return c
    }

    /// The same world with a different chunk size: operations longer than `elements` elements
    /// (or bytes) are split into calls of at most that many. Used by tests to exercise chunking
    /// without 8 GiB buffers.
    /// - Throws: `DistributedError.invalidArgument` for a size outside `1 … Int32.max`.
    public func limitingMessages(to elements: Int) throws(DistributedError) -> MPICommunicator {
        guard (1...Int(Int32.max)).contains(elements) else {
            throw .invalidArgument(rank: rank, operation: "limitingMessages", rule: "\(elements) must be in 1…\(Int32.max)")
        }
        return MPICommunicator(rank: rank, size: size, comm: comm, maximumMessageElements: elements)
    }

    /// At process exit: `MPI_Finalize` after a successful exit (status 0); after a failing one,
    /// `MPI_Abort` with that status, so the other ranks — which may be waiting for this one in a
    /// collective, and `MPI_Finalize` would wait for them — end at once instead of hanging.
    /// Nothing when MPI was never initialized or is already finalized.
    static func finishAtExit(status: Int32) {
        var initialized: Int32 = 0, finalized: Int32 = 0
        MPI_Initialized(&initialized)
        MPI_Finalized(&finalized)
        guard initialized != 0 && finalized == 0 else { return }
        if status == 0 {
            MPI_Finalize()
        } else {
            var r: Int32 = -1, n: Int32 = 0
            MPI_Comm_rank(wi_mpi_comm_world(), &r)
            MPI_Comm_size(wi_mpi_comm_world(), &n)
            writeStandardError("weightinit: rank \(r) of \(n) is exiting with status \(status); ending every rank\n")
            MPI_Abort(wi_mpi_comm_world(), status)
        }
    }

    static func errorString(_ code: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: Int(wi_mpi_max_error_string()) + 1)
        var length: Int32 = 0
        guard MPI_Error_string(code, &buffer, &length) == wi_mpi_success() else { return "unknown error" }
        return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private func check(_ rc: Int32, _ function: String) throws(DistributedError) {
        guard rc == wi_mpi_success() else { throw .mpi(rank: rank, function: function, code: rc, message: MPICommunicator.errorString(rc)) }
    }

    /// `MPI_Barrier`.
    public func barrier() throws(DistributedError) { try check(MPI_Barrier(comm), "MPI_Barrier") }

    /// `MPI_Bcast` of `MPI_BYTE`, in chunks of at most `maximumMessageElements` bytes.
    public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws(DistributedError) {
        guard (0..<size).contains(root) else { throw .invalidArgument(rank: rank, operation: "broadcast", rule: "root \(root) is outside 0..<\(size)") }
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        var offset = 0
        while offset < bytes.count {
            let n = min(maximumMessageElements, bytes.count - offset)
            try check(MPI_Bcast(base + offset, Int32(n), wi_mpi_byte(), Int32(root), comm), "MPI_Bcast")
            offset += n
        }
    }

    /// `MPI_Allreduce` in place (`MPI_IN_PLACE`), in chunks of at most `maximumMessageElements`
    /// elements; the datatype follows `T` (`MPI_FLOAT`, `MPI_DOUBLE`, `MPI_INT32_T`,
    /// `MPI_INT64_T`, `MPI_UINT64_T`), the operation `MPI_SUM`, `MPI_MAX` or `MPI_MIN`.
    public func allReduce<T: ReducibleScalar>(_ buffer: UnsafeMutableBufferPointer<T>, _ operation: ReductionOperation) throws(DistributedError) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        let type: MPI_Datatype
        switch T.reducibleKind {
        case .float32: type = wi_mpi_float()
        case .float64: type = wi_mpi_double()
        case .int32: type = wi_mpi_int32()
        case .int64: type = wi_mpi_int64()
        case .uint64: type = wi_mpi_uint64()
        }
        let op: MPI_Op
        switch operation { case .sum: op = wi_mpi_sum(); case .max: op = wi_mpi_max(); case .min: op = wi_mpi_min() }
        var offset = 0
        while offset < buffer.count {
            let n = min(maximumMessageElements, buffer.count - offset)
            try check(MPI_Allreduce(wi_mpi_in_place(), UnsafeMutableRawPointer(base + offset), Int32(n), type, op, comm), "MPI_Allreduce")
            offset += n
        }
    }

    /// One `MPI_Allgatherv` of `MPI_BYTE` when every count and displacement fits in an `int`
    /// (and below `maximumMessageElements`); otherwise each rank's part is broadcast from it in
    /// turn (`MPI_Bcast`, chunked).
    public func allGatherV(_ local: UnsafeRawBufferPointer, into result: UnsafeMutableRawBufferPointer, byteCounts: [Int]) throws(DistributedError) {
        guard byteCounts.count == size, byteCounts.allSatisfy({ $0 >= 0 }), byteCounts[rank] == local.count else {
            throw .invalidArgument(rank: rank, operation: "allGatherV", rule: "byte counts \(byteCounts) must be \(size) non-negative values with this rank's equal to its \(local.count) bytes")
        }
        var displacements: [Int] = []
        var total = 0
        for c in byteCounts {
            displacements.append(total)
            let (t, o) = total.addingReportingOverflow(c)
            guard !o else { throw .invalidArgument(rank: rank, operation: "allGatherV", rule: "byte counts \(byteCounts) overflow Int") }
            total = t
        }
        guard result.count == total else {
            throw .invalidArgument(rank: rank, operation: "allGatherV", rule: "the result holds \(result.count) bytes, the counts sum to \(total)")
        }
        guard total > 0 else { return }
        if total <= maximumMessageElements {
            let counts = byteCounts.map { Int32($0) }, displs = displacements.map { Int32($0) }
            try check(MPI_Allgatherv(local.baseAddress ?? UnsafeRawPointer(result.baseAddress!), Int32(local.count), wi_mpi_byte(),
                                     result.baseAddress!, counts, displs, wi_mpi_byte(), comm), "MPI_Allgatherv")
            return
        }
        if local.count > 0 { (result.baseAddress! + displacements[rank]).copyMemory(from: local.baseAddress!, byteCount: local.count) }
        for r in 0..<size where byteCounts[r] > 0 {
            try broadcast(UnsafeMutableRawBufferPointer(rebasing: result[displacements[r] ..< displacements[r] + byteCounts[r]]), root: r)
        }
    }

    /// Prints `weightinit: rank r of N: message` on standard error and calls `MPI_Abort`, which
    /// ends every rank of the job with `code`.
    public func abort(code: Int32, message: String) -> Never {
        writeStandardError("weightinit: rank \(rank) of \(size): \(message)\n")
        MPI_Abort(comm, code)
        exit(code)
    }
}
