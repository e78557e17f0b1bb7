import Foundation

/// A typed failure reading a small input file (a JSON model spec or rules file): the path, and
/// the rule it breaks.
public enum InputFileError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The path names a directory, FIFO, device or socket (a FIFO or `/dev/zero` would block
    /// or never end); only regular files (or symbolic links to them) are read.
    case notRegularFile(path: String, kind: FileKind)
    /// The file is larger than the limit for its kind of input.
    case tooLarge(path: String, bytes: Int, limit: Int)
    /// A system call failed (`call` is its name, `reason` the `strerror` text).
    case io(path: String, call: String, reason: String)

    public var description: String {
        switch self {
        case let .notRegularFile(path, kind): return "'\(path)' is a \(kind), not a regular file"
        case let .tooLarge(path, bytes, limit): return "'\(path)' holds \(bytes) bytes, more than the \(limit) an input file of this kind may have"
        case let .io(path, call, reason): return "'\(path)': \(call): \(reason)"
        }
    }
}

/// Reads small input files whole, refusing what is not a regular file before reading a byte.
///
/// `Data(contentsOf:)` blocks forever on a FIFO and reads `/dev/zero` until memory runs out;
/// this reader opens with `O_NONBLOCK` (a FIFO opens without waiting for a writer), checks with
/// `fstat(2)` that the object is a regular file no larger than `limit`, and only then reads.
public enum InputFile {
    /// The default limit: 64 MiB (a JSON spec of a 10 000-parameter model is well under 2 MiB).
    public static let defaultLimit = 64 << 20

    /// The bytes of the regular file at `path` (symbolic links are followed).
    /// - Throws: `InputFileError` `.io` (cannot open, stat or read: the detail names the call),
    ///   `.notRegularFile`, `.tooLarge`.
    public static func read(_ path: String, limit: Int = defaultLimit) throws(InputFileError) -> Data {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw .io(path: path, call: "open", reason: String(cString: strerror(errno))) }
        defer { _ = closeFD(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .io(path: path, call: "fstat", reason: String(cString: strerror(errno))) }
        let kind = FileKind(mode: st.st_mode)
        guard kind == .regular else { throw .notRegularFile(path: path, kind: kind) }
        let size = Int(st.st_size)
        guard size <= limit else { throw .tooLarge(path: path, bytes: size, limit: limit) }
        var data = Data(count: size)
        var done = 0
        var failure: Int32 = 0
        data.withUnsafeMutableBytes { buf in
            while done < size {
                let n = pread(fd, buf.baseAddress! + done, size - done, off_t(done))
                if n < 0 { if errno == EINTR { continue }; failure = errno; return }
                if n == 0 { break }          // the file shrank while being read
                done += n
            }
        }
        guard failure == 0 else { throw .io(path: path, call: "read", reason: String(cString: strerror(failure))) }
        return data.prefix(done)
    }
}
