// The package's one writer of output files: temporary file in the target's directory, fsync,
// rename over the target, fsync of the directory. Every file WeightInit produces (weights,
// checkpoints, SVG, CSV, JSON) goes through `OutputFile`.
//
// Facts used: POSIX rename(2) atomically replaces the directory entry; a new directory entry is
// durable only after fsync(2) of the directory (Linux ext4/xfs documentation, "fsync(2)" man page).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// `close(2)`, named so that methods called `close` do not shadow it.
@inline(__always) func closeFD(_ fd: Int32) -> Int32 { close(fd) }

/// What kind of existing file system object a path names, as `lstat(2)`/`stat(2)` report it.
public enum FileKind: String, Sendable, Equatable, CustomStringConvertible {
    case regular = "regular file"
    case directory
    case fifo = "FIFO"
    case characterDevice = "character device"
    case blockDevice = "block device"
    case socket
    case symbolicLink = "symbolic link"
    case unknown = "unknown file type"

    public var description: String { rawValue }

    init(mode: mode_t) {
        switch mode & S_IFMT {
        case S_IFREG: self = .regular
        case S_IFDIR: self = .directory
        case S_IFIFO: self = .fifo
        case S_IFCHR: self = .characterDevice
        case S_IFBLK: self = .blockDevice
        case S_IFSOCK: self = .socket
        case S_IFLNK: self = .symbolicLink
        default: self = .unknown
        }
    }
}

/// A typed failure of `OutputFile`. Every case names the path the caller gave.
///
/// Raised before any temporary file is created for the first five cases (the target is
/// checked first); `.io` names the system call and the `errno` it returned.
public enum OutputFileError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The path is the empty string.
    case emptyPath
    /// The directory that would hold the file does not exist (or is not a directory).
    case missingDirectory(path: String, directory: String)
    /// The directory exists but this process cannot create files in it (`access(W_OK|X_OK)`).
    case directoryNotWritable(path: String, directory: String)
    /// The target exists and is not a regular file (device such as /dev/full, FIFO, directory,
    /// socket), directly or at the end of a chain of symbolic links. It is left untouched.
    case notRegularFile(path: String, kind: FileKind)
    /// The target is a symbolic link whose chain ends at nothing (or loops). It is left untouched.
    case danglingSymlink(path: String)
    /// A requested size or offset is negative or overflows `off_t`.
    case invalidSize(path: String, value: Int, rule: String)
    /// The file was already committed or discarded.
    case finished(path: String)
    /// A system call failed.
    case io(path: String, operation: String, errno: Int32)

    public var description: String {
        switch self {
        case .emptyPath:
            return "output path is empty: give a file name"
        case let .missingDirectory(path, dir):
            return "cannot write '\(path)': directory '\(dir)' does not exist"
        case let .directoryNotWritable(path, dir):
            return "cannot write '\(path)': directory '\(dir)' is not writable"
        case let .notRegularFile(path, kind):
            return "refusing to write '\(path)': it exists and is a \(kind), not a regular file (it is left unchanged)"
        case let .danglingSymlink(path):
            return "refusing to write '\(path)': it is a symbolic link that points to no file (dangling or looping; left unchanged)"
        case let .invalidSize(path, value, rule):
            return "cannot write '\(path)': size/offset \(value) is invalid: \(rule)"
        case let .finished(path):
            return "output file '\(path)' was already committed or discarded"
        case let .io(path, op, err):
            return "\(op) failed for '\(path)': \(String(cString: strerror(err))) (errno \(err))"
        }
    }
}

/// Where a validated output path will be written: `OutputFile.resolve(_:)`'s result.
public struct OutputTarget: Sendable, Equatable {
    /// The path the caller gave.
    public let path: String
    /// The path that `rename(2)` replaces: `path` itself, or, when `path` is a symbolic link
    /// to a regular file, the file at the end of the link chain (the link is kept).
    public let resolvedPath: String
    /// The directory of `resolvedPath`; the temporary file is created there.
    public let directory: String
    /// Whether a regular file already exists at `resolvedPath`.
    public let exists: Bool
    /// The permission bits of the existing file, kept by the new one; nil for a new file
    /// (created with 0666 minus the process umask, as `open(2)` does).
    public let existingMode: mode_t?
}

/// An output file written atomically: the content goes to a temporary file in the target's
/// directory, which `commit()` fsyncs and renames over the target, then fsyncs the directory.
///
/// Guarantees
/// - A process killed at any point leaves the old file or the complete new one under the final
///   name, never a partial file. (A kill before `commit` may leave the temporary file
///   `.<name>.tmp-<pid>-<random>` beside the target; it is never under the final name.)
/// - An existing target that is not a regular file — a device such as `/dev/full` or
///   `/dev/null`, a FIFO, a directory, a socket, a symbolic link to any of those, a dangling or
///   looping symbolic link — is refused with `OutputFileError.notRegularFile` /
///   `.danglingSymlink` before anything is created, and is never replaced. The check is
///   repeated just before the rename.
/// - **Symbolic link to a regular file: written through.** The new content atomically replaces
///   the file at the end of the link chain (temporary file in that file's directory, rename
///   there); the link itself is kept. This is what editors and `cp` do, and what a user who
///   links `latest.safetensors → run3/model.safetensors` expects.
/// - An empty path, a missing directory or a directory without write permission is a typed
///   error before any work.
/// - A full disk is an error, never `SIGBUS`: `map()` reserves the mapped range with
///   `posix_fallocate` before handing out a writable mapping (`.io` with `ENOSPC`; the owner's
///   temporary file is removed); `write(_:at:)` returns the `pwrite` error.
/// - On any error, and when an uncommitted `OutputFile` is released, the temporary file is
///   removed.
/// - The new file keeps the permission bits of the file it replaces; a new file gets
///   0666 minus the umask.
///
/// Three ways to write
/// - Whole content (SVG, CSV, JSON): `OutputFile.write(_:to:)`.
/// - Streaming a large file without a whole-file buffer: `let f = try OutputFile(path)`,
///   `try f.setSize(n)` (`ftruncate`, sparse), then `f.write(_:at:)` (`pwrite`) and/or
///   `f.map()` (space reserved, then a shared `mmap` of the whole file, filled in place, by
///   several threads at disjoint ranges), then `try f.commit()`.
/// - Several processes (MPI ranks) writing one file: rank 0 creates the file and broadcasts
///   `temporaryPath`; every other rank calls `OutputFile(openingTemporary:for:)`, writes its
///   rows with `write(_:at:)` or a mapping, calls `sync()` and closes (`close()`); after a
///   barrier rank 0 calls `commit()`. Non-owners can never commit or remove the file.
///
/// Thread safety: `write(_:at:)` and writes through a mapping at disjoint ranges may run
/// concurrently; `setSize`, `commit`, `discard` and `close` must not run concurrently with
/// anything else on the same object.
public final class OutputFile: @unchecked Sendable {
    /// The validated target (the path the caller gave, and the file `commit` replaces).
    public let target: OutputTarget
    /// The temporary file's path (same directory as `target.resolvedPath`).
    public let temporaryPath: String
    /// Whether this object created the temporary file and may commit or discard it.
    public let isOwner: Bool
    private var fd: Int32
    private var state: State = .open
    private enum State { case open, closed, committed, discarded }
    /// This object's slot in `TemporaryFiles` (owners only; -1 when not registered).
    private var registration: Int = -1

    /// The path the caller gave.
    public var path: String { target.path }

    // MARK: target validation

    /// Checks an output path and resolves symbolic links, without creating anything.
    ///
    /// Rules (each a typed `OutputFileError`): non-empty; an existing object at the path, or at
    /// the end of its chain of symbolic links, must be a regular file; a chain that ends at
    /// nothing or loops is refused; the directory must exist and be writable.
    public static func resolve(_ path: String) throws -> OutputTarget {
        guard !path.isEmpty else { throw OutputFileError.emptyPath }
        var st = stat()
        var resolved = path
        var exists = false
        var mode: mode_t? = nil
        if lstat(path, &st) == 0 {
            let kind = FileKind(mode: st.st_mode)
            if kind == .symbolicLink {
                // Follow the chain: the final object decides.
                var fst = stat()
                if stat(path, &fst) != 0 {
                    let e = errno
                    if e == ENOENT || e == ELOOP || e == ENOTDIR { throw OutputFileError.danglingSymlink(path: path) }
                    throw OutputFileError.io(path: path, operation: "stat", errno: e)
                }
                let fkind = FileKind(mode: fst.st_mode)
                guard fkind == .regular else { throw OutputFileError.notRegularFile(path: path, kind: fkind) }
                guard let real = realpath(path, nil) else {
                    throw OutputFileError.io(path: path, operation: "realpath", errno: errno)
                }
                resolved = String(cString: real)
                free(real)
                mode = fst.st_mode & 0o7777
            } else {
                guard kind == .regular else { throw OutputFileError.notRegularFile(path: path, kind: kind) }
                mode = st.st_mode & 0o7777
            }
            exists = true
        } else {
            let e = errno
            if e != ENOENT {
                if e == ENOTDIR { throw OutputFileError.missingDirectory(path: path, directory: directoryName(path)) }
                throw OutputFileError.io(path: path, operation: "lstat", errno: e)
            }
        }
        let dir = directoryName(resolved)
        var dst = stat()
        guard stat(dir, &dst) == 0, FileKind(mode: dst.st_mode) == .directory else {
            throw OutputFileError.missingDirectory(path: path, directory: dir)
        }
        guard access(dir, W_OK | X_OK) == 0 else {
            throw OutputFileError.directoryNotWritable(path: path, directory: dir)
        }
        return OutputTarget(path: path, resolvedPath: resolved, directory: dir, exists: exists, existingMode: mode)
    }

    static func directoryName(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let d = String(path[..<slash])
        return d.isEmpty ? "/" : d
    }

    static func baseName(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    // MARK: creation

    /// Validates `path` (see `resolve(_:)`) and creates an empty temporary file beside the file
    /// it will replace: `.<name>.tmp-<pid>-<random hex>`, created with `O_CREAT|O_EXCL`.
    ///
    /// - Throws: `OutputFileError` (target rules; `.io` if the temporary file cannot be created).
    public init(_ path: String) throws {
        let t = try OutputFile.resolve(path)
        target = t
        isOwner = true
        let base = OutputFile.baseName(t.resolvedPath)
        var attempt = 0
        while true {
            let tag = String(UInt64.random(in: 0...UInt64.max), radix: 16)
            let name = (t.directory == "/" ? "" : t.directory) + "/." + base + ".tmp-\(getpid())-" + tag
            let f = open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
            if f >= 0 {
                fd = f
                temporaryPath = name
                registration = TemporaryFiles.register(name)
                break
            }
            let e = errno
            attempt += 1
            if e != EEXIST || attempt > 16 {
                throw OutputFileError.io(path: path, operation: "create temporary file in '\(t.directory)'", errno: e)
            }
        }
        if let mode = t.existingMode, fchmod(fd, mode) != 0 {
            let e = errno
            cleanupAfterError()
            throw OutputFileError.io(path: path, operation: "fchmod", errno: e)
        }
    }

    /// Opens, for writing at offsets, a temporary file another process created with
    /// `OutputFile(_:)` (the MPI pattern: rank 0 creates it, the other ranks open it by the
    /// `temporaryPath` rank 0 broadcast). The result is not the owner: `commit()` and
    /// `discard()` throw `.finished`/do nothing; call `sync()` and `close()` when done.
    ///
    /// - Parameters:
    ///   - temporaryPath: the owner's `temporaryPath`.
    ///   - path: the final target the owner will commit to (validated again here).
    /// - Throws: `OutputFileError.io` if the temporary file cannot be opened; target rules.
    public init(openingTemporary temporaryPath: String, for path: String) throws {
        target = try OutputFile.resolve(path)
        isOwner = false
        self.temporaryPath = temporaryPath
        var st = stat()
        guard lstat(temporaryPath, &st) == 0 else {
            throw OutputFileError.io(path: temporaryPath, operation: "lstat", errno: errno)
        }
        guard FileKind(mode: st.st_mode) == .regular else {
            throw OutputFileError.notRegularFile(path: temporaryPath, kind: FileKind(mode: st.st_mode))
        }
        let f = open(temporaryPath, O_RDWR | O_CLOEXEC | O_NOFOLLOW)
        guard f >= 0 else { throw OutputFileError.io(path: temporaryPath, operation: "open", errno: errno) }
        fd = f
    }

    deinit {
        if fd >= 0 { _ = closeFD(fd) }
        if isOwner && state != .committed && state != .discarded { unlink(temporaryPath) }
        TemporaryFiles.unregister(registration)
    }

    private func cleanupAfterError() {
        if fd >= 0 { _ = closeFD(fd); fd = -1 }
        if isOwner { unlink(temporaryPath) }
        TemporaryFiles.unregister(registration)
        registration = -1
        state = .discarded
    }

    /// Removes the temporary file of every owned `OutputFile` of this process that is neither
    /// committed nor discarded, with `unlink(2)` only: async-signal-safe, for a signal handler
    /// that is about to `_exit` (the `weightinit` CLI calls it on SIGINT and SIGTERM, so an
    /// interrupted or terminated write leaves neither a partial target nor a `.tmp-` file).
    /// Targets are never touched. Up to 256 temporary files are tracked at once;
    /// beyond that a file is still removed by `discard()`/`deinit`, but not by this call.
    public static func removeTemporaryFilesForSignal() { TemporaryFiles.unlinkAll() }

    private func requireOpen() throws {
        guard state == .open, fd >= 0 else { throw OutputFileError.finished(path: path) }
    }

    /// The open file descriptor of the temporary file (for callers that need another system
    /// call; do not close it).
    public var fileDescriptor: Int32 { fd }

    // MARK: writing

    /// Sets the temporary file's size with `ftruncate(2)`; new bytes read as zero and occupy no
    /// disk blocks until written (a sparse file). Call before `map()`.
    /// - Throws: `.invalidSize` for a negative size; `.io` (the temporary file is removed when owned).
    public func setSize(_ size: Int) throws {
        try requireOpen()
        guard size >= 0, let off = off_t(exactly: size) else {
            throw OutputFileError.invalidSize(path: path, value: size, rule: "must be ≥ 0 and fit off_t")
        }
        if ftruncate(fd, off) != 0 {
            let e = errno
            if isOwner { cleanupAfterError() }
            throw OutputFileError.io(path: path, operation: "ftruncate", errno: e)
        }
    }

    /// Writes `bytes` at byte `offset` of the temporary file with `pwrite(2)` (looping over
    /// short writes, retrying `EINTR`). Safe to call from several threads at disjoint ranges.
    /// - Throws: `.invalidSize` for a negative offset or an overflowing end; `.io`.
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        try requireOpen()
        guard offset >= 0 else { throw OutputFileError.invalidSize(path: path, value: offset, rule: "offset must be ≥ 0") }
        let (end, o) = offset.addingReportingOverflow(bytes.count)
        guard !o, off_t(exactly: end) != nil else {
            throw OutputFileError.invalidSize(path: path, value: offset, rule: "offset + \(bytes.count) bytes overflows")
        }
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        var done = 0
        while done < bytes.count {
            // Linux transfers at most 0x7ffff000 bytes per call.
            let chunk = min(bytes.count - done, 1 << 30)
            let n = pwrite(fd, base + done, chunk, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw OutputFileError.io(path: path, operation: "pwrite", errno: errno)
            }
            if n == 0 { throw OutputFileError.io(path: path, operation: "pwrite (no progress)", errno: EIO) }
            done += n
        }
    }

    /// Writes `data` at byte `offset` (see `write(_:at:)` for raw bytes).
    public func write(_ data: Data, at offset: Int) throws {
        try data.withUnsafeBytes { try write($0, at: offset) }
    }

    /// Maps bytes `[0, length)` of the temporary file shared and writable (`mmap(2)`
    /// `MAP_SHARED`, `PROT_READ|PROT_WRITE`). Set the size first (`setSize`); writes through
    /// the mapping land in the file. `length` defaults to the file's current size. A length of
    /// 0 gives an empty mapping.
    ///
    /// Disk space for `[0, length)` is reserved first with `posix_fallocate(3)`: a store into a
    /// shared mapping of a sparse file whose block cannot be allocated (disk or tmpfs full,
    /// quota) is not an error return but `SIGBUS`, which would kill the process mid-fill. With
    /// the space reserved, a full disk is `OutputFileError.io(operation: "posix_fallocate …",
    /// errno: ENOSPC)` here, before any byte is written (and, for the owner, the temporary file
    /// is removed). On a file system without `fallocate`, glibc emulates it by writing one byte
    /// per block, which gives the same guarantee.
    /// - Throws: `.invalidSize` when `length` exceeds the file size; `.io` (`fstat`,
    ///   `posix_fallocate`, `mmap`).
    public func map(length: Int? = nil) throws -> MappedRegion {
        try requireOpen()
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw OutputFileError.io(path: path, operation: "fstat", errno: errno) }
        let size = Int(st.st_size)
        let n = length ?? size
        guard n >= 0, n <= size else {
            throw OutputFileError.invalidSize(path: path, value: n, rule: "mapping length must be in 0...\(size) (the file size; call setSize first)")
        }
        if n > 0 { try reserve(bytes: n) }
        return try MappedRegion(fd: fd, length: n, writable: true, path: path)
    }

    /// Allocates disk blocks for bytes `[0, bytes)` of the temporary file (`posix_fallocate`,
    /// retried on `EINTR`; the file size does not shrink). On failure an owner removes the
    /// temporary file. - Throws: `.io` naming `posix_fallocate` and its error (ENOSPC, EDQUOT, EFBIG…).
    private func reserve(bytes: Int) throws {
        var r: Int32
        repeat { r = posix_fallocate(fd, 0, off_t(bytes)) } while r == EINTR
        guard r != 0 else { return }
        if isOwner { cleanupAfterError() }
        throw OutputFileError.io(path: path, operation: "posix_fallocate of \(bytes) bytes (reserving disk space before the mapped write)", errno: r)
    }

    /// Flushes the temporary file's data to stable storage (`fsync(2)`; on Linux this includes
    /// pages dirtied through a shared mapping of the same file).
    public func sync() throws {
        try requireOpen()
        if fsync(fd) != 0 { throw OutputFileError.io(path: path, operation: "fsync", errno: errno) }
    }

    /// Closes the file descriptor without committing or removing the temporary file (what a
    /// non-owner rank does after writing). Mappings stay valid until released.
    public func close() {
        if fd >= 0 { _ = closeFD(fd); fd = -1 }
        if state == .open { state = .closed }
    }

    /// Publishes the file: `fsync` of the temporary file (when `durable`), re-check that the
    /// target is still absent or a regular file, `rename(2)` over `target.resolvedPath`, and
    /// `fsync` of the directory (when `durable`). After `commit` the object is finished.
    ///
    /// - Parameter durable: fsync file and directory (default true). With false the rename is
    ///   still atomic for readers and for a killed process, but a power loss may lose the file.
    /// - Throws: `.finished` (already committed/discarded, or not the owner); target rules if
    ///   the target was replaced meanwhile by a non-regular file; `.io`. On error the temporary
    ///   file is removed and the target is unchanged.
    public func commit(durable: Bool = true) throws {
        guard isOwner, state == .open || state == .closed else { throw OutputFileError.finished(path: path) }
        do {
            if durable {
                if fd < 0 {
                    let f = open(temporaryPath, O_RDWR | O_CLOEXEC | O_NOFOLLOW)
                    guard f >= 0 else { throw OutputFileError.io(path: path, operation: "open", errno: errno) }
                    fd = f
                }
                if fsync(fd) != 0 { throw OutputFileError.io(path: path, operation: "fsync", errno: errno) }
            }
            // The target may have changed since init: check again.
            var st = stat()
            if lstat(target.resolvedPath, &st) == 0 {
                let kind = FileKind(mode: st.st_mode)
                guard kind == .regular else { throw OutputFileError.notRegularFile(path: path, kind: kind) }
            }
            if rename(temporaryPath, target.resolvedPath) != 0 {
                throw OutputFileError.io(path: path, operation: "rename", errno: errno)
            }
        } catch {
            cleanupAfterError()
            throw error
        }
        if fd >= 0 { _ = closeFD(fd); fd = -1 }
        state = .committed
        TemporaryFiles.unregister(registration)
        registration = -1
        if durable {
            let d = open(target.directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if d >= 0 {
                let r = fsync(d)
                let e = errno
                _ = closeFD(d)
                // Some file systems refuse fsync on directories (EINVAL); the rename is done.
                if r != 0 && e != EINVAL && e != EROFS {
                    throw OutputFileError.io(path: target.directory, operation: "fsync directory", errno: e)
                }
            }
        }
    }

    /// Abandons the write: closes and removes the temporary file (owner only). The target is
    /// unchanged. Idempotent.
    public func discard() {
        guard state != .committed && state != .discarded else { return }
        if fd >= 0 { _ = closeFD(fd); fd = -1 }
        if isOwner { unlink(temporaryPath) }
        TemporaryFiles.unregister(registration)
        registration = -1
        state = .discarded
    }

    // MARK: whole-content writes

    /// Writes `data` as the whole new content of `path`, atomically (temporary file, fsync,
    /// rename, fsync of the directory). For SVG, CSV and JSON outputs.
    /// - Throws: `OutputFileError` (see the type's guarantees); the target is unchanged on error.
    public static func write(_ data: Data, to path: String, durable: Bool = true) throws {
        let f = try OutputFile(path)
        do {
            try f.write(data, at: 0)
            try f.commit(durable: durable)
        } catch {
            f.discard()
            throw error
        }
    }

    /// Writes `text` encoded as UTF-8 as the whole new content of `path`, atomically.
    /// - Throws: `OutputFileError`.
    public static func write(_ text: String, to path: String, durable: Bool = true) throws {
        try write(Data(text.utf8), to: path, durable: durable)
    }

    /// Streams a file of exactly `size` bytes: creates the temporary file, sizes it, maps it,
    /// calls `fill` with the writable bytes, then commits. On error (thrown by `fill` or by the
    /// system) the temporary file is removed and the target is unchanged.
    /// - Throws: `OutputFileError`, or what `fill` throws.
    public static func write(size: Int, to path: String, durable: Bool = true,
                             fill: (UnsafeMutableRawBufferPointer) throws -> Void) throws {
        let f = try OutputFile(path)
        do {
            try f.setSize(size)
            let m = try f.map()
            try m.withUnsafeMutableBytes { try fill($0) }
            m.unmap()
            try f.commit(durable: durable)
        } catch {
            f.discard()
            throw error
        }
    }
}

/// The temporary files of live owned `OutputFile`s, readable from a signal handler: a fixed
/// table of C strings allocated once. A slot is filled under a lock and cleared with one
/// pointer store; the handler only loads pointers and calls `unlink(2)`. Strings of cleared
/// slots are not freed (a handler may be reading one; a few dozen bytes per file written).
enum TemporaryFiles {
    /// How many temporary files are tracked at once.
    static let capacity = 256
    nonisolated(unsafe) static var slots: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = nil
    static let lock = NSLock()

    /// Records `path`; returns its slot, or -1 when the table is full.
    static func register(_ path: String) -> Int {
        lock.lock(); defer { lock.unlock() }
        if slots == nil {
            let table = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: capacity)
            table.initialize(repeating: nil, count: capacity)
            slots = table
        }
        guard let table = slots else { return -1 }
        for i in 0..<capacity where table[i] == nil {
            table[i] = strdup(path)
            return i
        }
        return -1
    }

    /// Clears a slot returned by `register` (no effect for -1).
    static func unregister(_ slot: Int) {
        guard slot >= 0, slot < capacity else { return }
        lock.lock(); defer { lock.unlock() }
        slots?[slot] = nil
    }

    /// The registered paths (for tests).
    static func registered() -> [String] {
        lock.lock(); defer { lock.unlock() }
        guard let table = slots else { return [] }
        return (0..<capacity).compactMap { table[$0].map { String(cString: $0) } }
    }

    /// `unlink(2)` of every registered path; async-signal-safe (no lock, no allocation).
    static func unlinkAll() {
        guard let table = slots else { return }
        for i in 0..<capacity {
            if let p = table[i] { unlink(p) }
        }
    }
}

/// A memory mapping of (a prefix of) a file, released by `unmap()` or when the object is
/// released (`munmap(2)`). Writable mappings are `MAP_SHARED`: writes land in the file.
///
/// Several threads may read and write disjoint ranges of one mapping concurrently.
public final class MappedRegion: @unchecked Sendable {
    /// The first byte (nil for an empty mapping).
    public private(set) var baseAddress: UnsafeMutableRawPointer?
    /// The mapped length in bytes.
    public let count: Int
    /// Whether the mapping may be written.
    public let isWritable: Bool

    init(fd: Int32, length: Int, writable: Bool, path: String) throws {
        count = length
        isWritable = writable
        guard length > 0 else { baseAddress = nil; return }
        let prot = writable ? (PROT_READ | PROT_WRITE) : PROT_READ
        let p = mmap(nil, length, prot, MAP_SHARED, fd, 0)
        guard let p, p != MAP_FAILED else {
            throw OutputFileError.io(path: path, operation: "mmap of \(length) bytes", errno: errno)
        }
        baseAddress = p
    }

    deinit { unmap() }

    /// Releases the mapping (`munmap`). Idempotent; later accesses see an empty buffer.
    public func unmap() {
        if let p = baseAddress { munmap(p, count); baseAddress = nil }
    }

    /// Calls `body` with the mapped bytes (read-only view).
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: baseAddress, count: baseAddress == nil ? 0 : count))
    }

    /// Calls `body` with the mapped bytes, writable. Precondition: the mapping is writable.
    public func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        precondition(isWritable, "MappedRegion: read-only mapping")
        return try body(UnsafeMutableRawBufferPointer(start: baseAddress, count: baseAddress == nil ? 0 : count))
    }

    /// Advises the kernel how the mapping will be read (`madvise(2)`), e.g. `MADV_SEQUENTIAL`.
    public func advise(_ advice: Int32) {
        if let p = baseAddress { _ = madvise(p, count, advice) }
    }
}
