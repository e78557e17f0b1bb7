/// A group of cooperating processes ("ranks") that exchange buffers: the operations data-parallel
/// training and sharded initialization need, and nothing else.
///
/// Two implementations: `MPICommunicator` (every process of an `mpirun` job, over
/// `MPI_COMM_WORLD`) and `LocalCommunicator` (one process, world size 1), so the same code runs
/// with and without `mpirun`. Every operation is collective: all ranks call it, in the same order,
/// with matching sizes, or the job deadlocks (MPI's rule). Errors are typed (`DistributedError`),
/// never traps.
///
/// Buffers are contiguous; element counts have no 32-bit limit (MPI's `int` counts are worked
/// around by chunking, see each implementation).
public protocol Communicator: AnyObject {
    /// This process's rank, `0 ..< size`.
    var rank: Int { get }
    /// The world size N (number of ranks), ≥ 1.
    var size: Int { get }

    /// Blocks until every rank has called it (`MPI_Barrier`).
    /// - Throws: `DistributedError.mpi` when the library reports a failure.
    func barrier() throws(DistributedError)

    /// Replaces `bytes` on every rank with the bytes of rank `root` (`MPI_Bcast`). Every rank
    /// passes a buffer of the same size.
    /// - Throws: `DistributedError.invalidArgument` for a root outside `0 ..< size`,
    ///   `DistributedError.mpi` from the library.
    func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws(DistributedError)

    /// Element-wise reduction of `buffer` over all ranks, result in place on every rank
    /// (`MPI_Allreduce` with `MPI_IN_PLACE`). Every rank passes the same count.
    /// - Throws: `DistributedError.mpi` from the library.
    func allReduce<T: ReducibleScalar>(_ buffer: UnsafeMutableBufferPointer<T>, _ operation: ReductionOperation) throws(DistributedError)

    /// Concatenates each rank's `local` bytes in rank order into `result` on every rank
    /// (`MPI_Allgatherv`). `byteCounts[r]` is rank r's contribution; `local.count` must equal
    /// `byteCounts[rank]` and `result.count` their sum.
    /// - Throws: `DistributedError.invalidArgument` when the counts disagree with the buffers,
    ///   `DistributedError.mpi` from the library.
    func allGatherV(_ local: UnsafeRawBufferPointer, into result: UnsafeMutableRawBufferPointer, byteCounts: [Int]) throws(DistributedError)

    /// Ends every rank of the job at once, with exit status `code`, after writing
    /// `weightinit: rank r of N: message` to standard error (`MPI_Abort`). Use it when this rank
    /// cannot go on: the other ranks would otherwise wait for it forever.
    func abort(code: Int32, message: String) -> Never
}

/// The reduction applied by `Communicator.allReduce` (`MPI_SUM`, `MPI_MAX`, `MPI_MIN`).
public enum ReductionOperation: Sendable, Hashable, CustomStringConvertible {
    /// Element-wise sum. For floating point the result is rounded at every partial sum, in an
    /// order the MPI library chooses; Open MPI gives every rank the same bits.
    case sum
    /// Element-wise maximum.
    case max
    /// Element-wise minimum.
    case min

    public var description: String {
        switch self { case .sum: "sum"; case .max: "max"; case .min: "min" }
    }
}

/// Element types `Communicator.allReduce` accepts: `Float`, `Double`, `Int32`, `Int64`, `UInt64`.
public protocol ReducibleScalar: BitwiseCopyable, Comparable, Sendable {
    /// The element kind, mapped to an MPI datatype by `MPICommunicator`.
    static var reducibleKind: ReducibleKind { get }
    /// `a op b`, used by single-process reductions and tests.
    static func reduce(_ a: Self, _ b: Self, _ operation: ReductionOperation) -> Self
}

/// The element kinds of `ReducibleScalar` (`MPI_FLOAT`, `MPI_DOUBLE`, `MPI_INT32_T`,
/// `MPI_INT64_T`, `MPI_UINT64_T`).
public enum ReducibleKind: Sendable, Hashable {
    case float32, float64, int32, int64, uint64
}

extension ReducibleScalar where Self: FloatingPoint {
    /// IEEE addition; `max`/`min` as `Swift.max`/`Swift.min`.
    public static func reduce(_ a: Self, _ b: Self, _ operation: ReductionOperation) -> Self {
        switch operation { case .sum: a + b; case .max: Swift.max(a, b); case .min: Swift.min(a, b) }
    }
}
extension ReducibleScalar where Self: FixedWidthInteger {
    /// Wrapping addition (as MPI's integer sum); `max`/`min` as `Swift.max`/`Swift.min`.
    public static func reduce(_ a: Self, _ b: Self, _ operation: ReductionOperation) -> Self {
        switch operation { case .sum: a &+ b; case .max: Swift.max(a, b); case .min: Swift.min(a, b) }
    }
}
extension Float: ReducibleScalar { public static var reducibleKind: ReducibleKind { .float32 } }
extension Double: ReducibleScalar { public static var reducibleKind: ReducibleKind { .float64 } }
extension Int32: ReducibleScalar { public static var reducibleKind: ReducibleKind { .int32 } }
extension Int64: ReducibleScalar { public static var reducibleKind: ReducibleKind { .int64 } }
extension UInt64: ReducibleScalar { public static var reducibleKind: ReducibleKind { .uint64 } }

/// Errors from distributed operations. Each names the rank, the operation and the cause.
public enum DistributedError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The MPI library returned `code` from `function` (the text is `MPI_Error_string`'s).
    case mpi(rank: Int, function: String, code: Int32, message: String)
    /// An argument that breaks the operation's rule (a root outside the world, counts that do
    /// not match the buffers, a negative size).
    case invalidArgument(rank: Int, operation: String, rule: String)
    /// The ranks disagree where they must agree (model checksum, data set, tensor header); `detail`
    /// names the ranks and the values.
    case mismatch(rank: Int, what: String, detail: String)
    /// Rank `peer` failed `operation` (its own error, on that rank, names the cause); this rank
    /// stops too so that no rank waits for the others forever.
    case peerFailed(rank: Int, peer: Int, operation: String)
    /// MPI could not be started (already finalized, or the library gave a thread level below
    /// `MPI_THREAD_FUNNELED`).
    case initialization(String)

    public var description: String {
        switch self {
        case let .mpi(rank, function, code, message): return "rank \(rank): \(function) failed with MPI error \(code): \(message)"
        case let .invalidArgument(rank, operation, rule): return "rank \(rank): \(operation): \(rule)"
        case let .mismatch(rank, what, detail): return "rank \(rank): the ranks disagree on \(what): \(detail)"
        case let .peerFailed(rank, peer, operation): return "rank \(rank): rank \(peer) failed \(operation) (rank \(peer)'s error names the cause)"
        case let .initialization(m): return "MPI initialization failed: \(m)"
        }
    }
}

// MARK: - Typed conveniences

extension Communicator {
    /// `true` on rank 0, the rank that prints and writes files.
    public var isRoot: Bool { rank == 0 }

    /// Broadcasts `array` from `root` in place; every rank passes an array of the same count.
    /// - Throws: as `broadcast(_:root:)`.
    public func broadcast<T: BitwiseCopyable>(_ array: inout [T], root: Int = 0) throws(DistributedError) {
        var result: Result<Void, DistributedError> = .success(())
        array.withUnsafeMutableBytes { b in
            do throws(DistributedError) { try broadcast(b, root: root) } catch { result = .failure(error) }
        }
        try result.get()
    }

    /// In-place all-reduce of an array. - Throws: as `allReduce(_:_:)`.
    public func allReduce<T: ReducibleScalar>(_ array: inout [T], _ operation: ReductionOperation) throws(DistributedError) {
        var result: Result<Void, DistributedError> = .success(())
        array.withUnsafeMutableBufferPointer { b in
            do throws(DistributedError) { try allReduce(b, operation) } catch { result = .failure(error) }
        }
        try result.get()
    }

    /// The all-reduce of one value. - Throws: as `allReduce(_:_:)`.
    public func allReduce<T: ReducibleScalar>(_ value: T, _ operation: ReductionOperation) throws(DistributedError) -> T {
        var a = [value]
        try allReduce(&a, operation)
        return a[0]
    }

    /// Every rank's `value`, indexed by rank (an all-gather of one element per rank).
    /// - Throws: as `allGatherV(_:into:byteCounts:)`.
    public func allGather<T: BitwiseCopyable>(_ value: T) throws(DistributedError) -> [T] {
        try allGatherV([value], counts: [Int](repeating: 1, count: size))
    }

    /// Concatenates every rank's `local` elements in rank order; `counts[r]` is rank r's element
    /// count and `counts[rank]` must equal `local.count`.
    /// - Throws: `DistributedError.invalidArgument` for counts that do not match or overflow,
    ///   `DistributedError.mpi` from the library.
    public func allGatherV<T: BitwiseCopyable>(_ local: [T], counts: [Int]) throws(DistributedError) -> [T] {
        guard counts.count == size, counts.allSatisfy({ $0 >= 0 }) else {
            throw .invalidArgument(rank: rank, operation: "allGatherV", rule: "need \(size) non-negative counts, got \(counts)")
        }
        guard counts[rank] == local.count else {
            throw .invalidArgument(rank: rank, operation: "allGatherV", rule: "this rank's count is \(counts[rank]) but it passes \(local.count) elements")
        }
        var total = 0
        var byteCounts: [Int] = []
        for c in counts {
            let (bytes, o1) = c.multipliedReportingOverflow(by: MemoryLayout<T>.stride)
            let (t, o2) = total.addingReportingOverflow(c)
            guard !o1, !o2 else { throw .invalidArgument(rank: rank, operation: "allGatherV", rule: "counts \(counts) overflow Int") }
            total = t; byteCounts.append(bytes)
        }
        guard total > 0 else { return [] }
        var error: DistributedError?
        let out = [T](unsafeUninitializedCapacity: total) { buffer, initialized in
            local.withUnsafeBytes { src in
                do throws(DistributedError) {
                    try allGatherV(src, into: UnsafeMutableRawBufferPointer(buffer), byteCounts: byteCounts)
                } catch let e {
                    error = e
                    UnsafeMutableRawBufferPointer(buffer).initializeMemory(as: UInt8.self, repeating: 0)
                }
            }
            initialized = total
        }
        if let error { throw error }
        return out
    }

    /// Checks that every rank holds the same `value` (e.g. a checksum of the model or of the
    /// data set): all-gathers it and throws when any rank differs from rank 0, naming the ranks.
    /// - Throws: `DistributedError.mismatch` naming `what`, the ranks that differ and their values.
    public func requireIdentical(_ value: UInt64, what: String) throws(DistributedError) {
        let all = try allGather(value)
        let differing = all.indices.filter { all[$0] != all[0] }
        guard differing.isEmpty else {
            let listed = differing.prefix(8).map { "rank \($0): \(hex($0 < all.count ? all[$0] : 0))" }.joined(separator: ", ")
            throw .mismatch(rank: rank, what: what, detail: "rank 0 has \(hex(all[0])), \(listed)\(differing.count > 8 ? ", …" : "")")
        }
    }
}

extension Communicator {
    /// Checks that every rank was given the same value for each named option (for
    /// `weightinit train --distributed`: every option that changes the arithmetic, the data or the
    /// number of collective calls — epochs, batch size, learning rate, `--max-steps`, … — since
    /// ranks that disagree would train different runs or wait forever in a collective the others
    /// never reach). Collective: every rank calls it with the same option names in the same
    /// order. One all-gather of a 64-bit hash of all `(name, value)` pairs when they agree; when
    /// they do not, one all-gather per option up to the first that differs, then its values.
    /// - Throws: `DistributedError.mismatch` on every rank, naming the first option that differs
    ///   (in `options` order) and each rank's value (rank 0 and the first 8 that differ);
    ///   `DistributedError` from the collectives.
    public func requireAgreement(_ options: [(name: String, value: String)]) throws(DistributedError) {
        func hash(_ pairs: ArraySlice<(name: String, value: String)>) -> UInt64 {
            var h: UInt64 = 0xCBF2_9CE4_8422_2325            // FNV-1a, 64 bit
            for (n, v) in pairs {
                for b in n.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
                h = (h ^ 0x1F) &* 0x100_0000_01B3
                for b in v.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
                h = (h ^ 0x1E) &* 0x100_0000_01B3
            }
            return h
        }
        let all = try allGather(hash(options[...]))
        guard all.contains(where: { $0 != all[0] }) else { return }
        for i in options.indices {
            let each = try allGather(hash(options[i...i]))
            let differing = each.indices.filter { each[$0] != each[0] }
            guard !differing.isEmpty else { continue }
            let bytes = Array(options[i].value.utf8)
            let counts = try allGather(bytes.count)
            let values = try allGatherV(bytes, counts: counts)
            var starts = [0]
            for c in counts { starts.append(starts.last! + c) }
            func value(_ r: Int) -> String { String(decoding: values[starts[r]..<starts[r + 1]], as: UTF8.self) }
            let listed = differing.prefix(8).map { "rank \($0) has \(value($0))" }.joined(separator: ", ")
            throw .mismatch(rank: rank, what: "\(options[i].name) (every rank must be given the same training options)",
                            detail: "rank 0 has \(value(0)), \(listed)\(differing.count > 8 ? ", …" : "")")
        }
        // The combined hashes differ but no single one does (a hash collision across options).
        throw .mismatch(rank: rank, what: "the training options", detail: "the ranks' option hashes differ")
    }
}

func hex(_ v: UInt64) -> String {
    let s = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 16 - s.count)) + s
}

/// The communicator of a single process: rank 0 of a world of size 1. Broadcasts and reductions
/// leave the buffers as they are, `allGatherV` copies, `abort` prints and exits. Used when the
/// program runs without `mpirun`, so distributed code needs no special case.
public final class LocalCommunicator: Communicator {
    /// Always 0.
    public let rank = 0
    /// Always 1.
    public let size = 1
    public init() {}

    /// Returns at once.
    public func barrier() throws(DistributedError) {}

    /// - Throws: `DistributedError.invalidArgument` for a root other than 0.
    public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws(DistributedError) {
        guard root == 0 else { throw .invalidArgument(rank: 0, operation: "broadcast", rule: "root \(root) is outside 0..<1") }
    }

    /// The reduction over one rank is the buffer itself.
    public func allReduce<T: ReducibleScalar>(_ buffer: UnsafeMutableBufferPointer<T>, _ operation: ReductionOperation) throws(DistributedError) {}

    /// Copies `local` into `result`.
    /// - Throws: `DistributedError.invalidArgument` unless `byteCounts == [local.count]` and
    ///   `result.count == local.count`.
    public func allGatherV(_ local: UnsafeRawBufferPointer, into result: UnsafeMutableRawBufferPointer, byteCounts: [Int]) throws(DistributedError) {
        guard byteCounts == [local.count], result.count == local.count else {
            throw .invalidArgument(rank: 0, operation: "allGatherV", rule: "byte counts \(byteCounts) do not match \(local.count) local and \(result.count) result bytes")
        }
        if local.count > 0 { result.baseAddress!.copyMemory(from: local.baseAddress!, byteCount: local.count) }
    }

    /// Writes the message to standard error and exits with `code`.
    public func abort(code: Int32, message: String) -> Never {
        writeStandardError("weightinit: rank 0 of 1: \(message)\n")
        exit(code)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes `text` to file descriptor 2 in one `write` (lines from different ranks do not interleave
/// mid-line when shorter than `PIPE_BUF`).
func writeStandardError(_ text: String) {
    var bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress! + offset, $0.count - offset) }
        if n <= 0 { break }
        offset += n
    }
}
