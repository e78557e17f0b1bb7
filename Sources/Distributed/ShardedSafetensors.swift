import Dispatch
import Foundation
import TensorFiles

/// One safetensors file written by every rank of a communicator, each rank writing its own rows
/// of every tensor (README "Beyond one machine"; the file format of `SafetensorsLayout`).
///
/// 1. Every rank computes the same `SafetensorsLayout` from the same tensor list (header bytes,
///    every tensor's offset); a checksum of the header is compared across ranks.
/// 2. Rank 0 creates the temporary file beside the target (`OutputFile`: same directory, so the
///    rename is atomic), sizes it (sparse) and writes the header; it broadcasts the temporary
///    path and the other ranks open that file (the directory must be on a file system every
///    rank sees, e.g. NFS or Lustre, or a local disk on one machine).
/// 3. Rank r fills rows `RowPartition.rows(R, r, N)` of each tensor (the first axis; a scalar
///    belongs to rank 0) in chunks of at most `chunkBytes`, through the caller's `fillRows`,
///    and writes each chunk at its offset with `pwrite` — no rank holds a whole tensor.
/// 4. Every rank `fsync`s its writes; the ranks agree (all-reduce of a failure flag) that all
///    succeeded; rank 0 then commits (fsync, rename over the target, fsync of the directory) and
///    tells the others the outcome. If any rank failed, rank 0 removes the temporary file, the
///    target is left as it was, and every rank throws.
///
/// The bytes equal the single-process file for any N when `fillRows` is a pure function of the
/// rows (every sharded scheme: `Initializer.fillShard`).
public enum ShardedSafetensors {
    /// Default largest chunk a rank fills and writes at once: 64 MiB.
    public static let defaultChunkBytes = 64 << 20

    /// Writes `path` from every rank of `communicator`; call it on every rank with the same
    /// `tensors`, `metadata`, `path` and `durable`.
    /// - Parameters:
    ///   - tensors: the tensors (names, dtypes, shapes); the layout orders them as the reference
    ///     writer does.
    ///   - chunkBytes: the largest buffer filled and written at once (default 64 MiB; a chunk is
    ///     at least one row).
    ///   - threads: workers per rank filling and writing chunks concurrently (default 1); the
    ///     bytes do not depend on it when `fillRows` is a pure function of the rows.
    ///   - fillRows: fills `bytes` with rows `rows` of `tensor` in its dtype, little-endian, C
    ///     order (`rows.count ×` elements per row × dtype size bytes); called from `threads`
    ///     threads at once for different chunks.
    /// - Returns: the layout written.
    /// - Throws: `TensorFileError` for the tensor list (on every rank, before anything is
    ///   created), `OutputFileError` for the target or I/O, what `fillRows` throws,
    ///   `DistributedError` (ranks disagree on the layout, another rank failed, MPI failures).
    @discardableResult
    public static func write(path: String, tensors: [TensorSpec], metadata: [(String, String)]? = SafetensorsLayout.defaultMetadata,
                             communicator comm: any Communicator, durable: Bool = true, chunkBytes: Int = defaultChunkBytes, threads: Int = 1,
                             fillRows: @escaping @Sendable (_ tensor: TensorLocation, _ rows: Range<Int>, _ bytes: UnsafeMutableRawBufferPointer) throws -> Void) throws -> SafetensorsLayout {
        guard chunkBytes >= 1 else { throw DistributedError.invalidArgument(rank: comm.rank, operation: "ShardedSafetensors.write", rule: "chunkBytes = \(chunkBytes) must be ≥ 1") }
        guard threads >= 1 else { throw DistributedError.invalidArgument(rank: comm.rank, operation: "ShardedSafetensors.write", rule: "threads = \(threads) must be ≥ 1") }
        let layout = try SafetensorsLayout(tensors: tensors, metadata: metadata, file: path)
        var h = Checksum()
        layout.headerBytes.withUnsafeBytes { h.add($0) }
        h.add(UInt64(layout.fileSize))
        try comm.requireIdentical(h.value, what: "the safetensors header of \(path) (same tensors and metadata on every rank)")

        // Rank 0 creates the temporary file; everyone learns whether that worked, then its path.
        var owner: OutputFile?
        var failure: Error?
        if comm.isRoot {
            do {
                let f = try OutputFile(path)
                owner = f
                try f.setSize(layout.fileSize)
                try layout.headerBytes.withUnsafeBytes { try f.write($0, at: 0) }
            } catch { failure = error; owner?.discard() }
        }
        try agree(comm, failure, "creating the temporary file for \(path)")
        var pathBytes = Array((owner?.temporaryPath ?? "").utf8)
        var length = [Int64(pathBytes.count)]
        try comm.broadcast(&length, root: 0)
        if !comm.isRoot { pathBytes = [UInt8](repeating: 0, count: Int(length[0])) }
        try comm.broadcast(&pathBytes, root: 0)

        var file: OutputFile? = owner
        do {
            if !comm.isRoot { file = try OutputFile(openingTemporary: String(decoding: pathBytes, as: UTF8.self), for: path) }
            try writeRows(layout, file!, comm: comm, chunkBytes: chunkBytes, threads: threads, fillRows: fillRows)
            if durable { try file!.sync() }
        } catch { failure = error }
        if !comm.isRoot { file?.close() }
        do { try agree(comm, failure, "writing \(path)") } catch { owner?.discard(); throw error }

        // Every rank's rows are written and synced: rank 0 publishes the file.
        failure = nil
        if let owner { do { try owner.commit(durable: durable) } catch { failure = error } }
        try agree(comm, failure, "committing \(path)")
        return layout
    }

    /// Fills and writes this rank's rows of every tensor: the rows are cut into chunks of at most
    /// `chunkBytes` (at least one row), and `threads` workers take chunks in order, each filling
    /// its own buffer and `pwrite`-ing it at the chunk's offset (disjoint ranges).
    static func writeRows(_ layout: SafetensorsLayout, _ file: OutputFile, comm: any Communicator, chunkBytes: Int, threads: Int,
                          fillRows: @escaping @Sendable (TensorLocation, Range<Int>, UnsafeMutableRawBufferPointer) throws -> Void) throws {
        var units: [(tensor: Int, rows: Range<Int>, offset: Int, bytes: Int)] = []
        for (i, t) in layout.tensors.enumerated() where t.byteCount > 0 {
            let rowCount = t.shape.first ?? 1                       // a scalar is one row
            let rowBytes = t.byteCount / max(1, rowCount)
            let mine = t.shape.isEmpty ? (comm.isRoot ? 0..<1 : 0..<0) : RowPartition.rows(rowCount, rank: comm.rank, worldSize: comm.size)
            guard !mine.isEmpty, rowBytes > 0 else { continue }
            let rowsPerChunk = max(1, chunkBytes / rowBytes)
            var start = mine.lowerBound
            while start < mine.upperBound {
                let end = min(mine.upperBound, start + rowsPerChunk)
                units.append((i, start..<end, t.fileOffset + start * rowBytes, (end - start) * rowBytes))
                start = end
            }
        }
        guard !units.isEmpty else { return }
        let workers = max(1, min(threads, units.count))
        let errors = ErrorBox()
        let counter = ErrorBox()
        let shared = UnsafeTransfer((units, layout.tensors, file))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            let (units, tensors, file) = shared.value
            var buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 0, alignment: 64)
            defer { buffer.deallocate() }
            while errors.first == nil {
                let u = counter.next()
                guard u < units.count else { break }
                let unit = units[u]
                if buffer.count < unit.bytes {
                    buffer.deallocate()
                    buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: unit.bytes, alignment: 64)
                }
                let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<unit.bytes])
                chunk.initializeMemory(as: UInt8.self, repeating: 0)
                do {
                    try fillRows(tensors[unit.tensor], unit.rows, chunk)
                    try file.write(UnsafeRawBufferPointer(chunk), at: unit.offset)
                } catch { errors.record(error) }
            }
        }
        if let e = errors.first { throw e }
    }

    /// All ranks learn whether any rank failed (all-reduce of a flag): this rank's own error is
    /// rethrown; a failure elsewhere becomes `DistributedError.mismatch` naming the ranks.
    static func agree(_ comm: any Communicator, _ failure: Error?, _ what: String) throws {
        let flags = try comm.allGather(Int32(failure == nil ? 0 : 1))
        if let failure { throw failure }
        let failed = flags.indices.filter { flags[$0] != 0 }
        guard failed.isEmpty else {
            throw DistributedError.mismatch(rank: comm.rank, what: what, detail: "failed on rank\(failed.count == 1 ? "" : "s") \(failed.map(String.init).joined(separator: ", ")); the target is unchanged")
        }
    }
}

/// The first error recorded by any worker, and a shared work counter.
final class ErrorBox: @unchecked Sendable {
    private let lock = NSLock()
    private var error: Error?
    private var counter = 0
    var first: Error? { lock.lock(); defer { lock.unlock() }; return error }
    func record(_ e: Error) { lock.lock(); if error == nil { error = e }; lock.unlock() }
    func next() -> Int { lock.lock(); defer { lock.unlock() }; let v = counter; counter += 1; return v }
}

/// Hands non-Sendable values (pointers, file objects used at disjoint offsets) to worker threads.
struct UnsafeTransfer<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
