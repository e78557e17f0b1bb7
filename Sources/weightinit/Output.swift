import ArgumentParser
import Foundation
import WeightInit

/// Prints `value` as one JSON object on stdout (snake_case keys, sorted).
func printJSON<T: Encodable>(_ value: T) throws {
    var data = try jsonEncoder().encode(value)
    data.append(0x0A)
    StandardStreams.writeOut(data)
}

/// Writes a progress or status line to standard error (never stdout, so `--json` stays clean).
func status(_ message: String) {
    StandardStreams.writeErr(Data((message + "\n").utf8))
}

/// The one writer of the tool's standard output and standard error.
///
/// Everything on stdout goes through C's `stdout` stream (`print`, line-buffered by `Runner`) or
/// `writeOut` (which flushes that stream first, then `write(2)`s to descriptor 1), never through
/// `FileHandle.write`, which traps on an error (`try!` inside Foundation). SIGPIPE is ignored
/// (`Runner.main`), so a closed pipe (`| head -1`), a full device (`> /dev/full`) or a closed
/// descriptor (`>&-`) is an error return that is recorded, not a signal; `failure()` reports it at
/// exit and `Runner` exits 1 with a message on stderr (work already done, such as a written
/// file, stays done). stderr errors are ignored (there is nowhere left to report them).
enum StandardStreams {
    /// The first `errno` of a failed stdout write; -1 for "stdout was closed at start", -2 for a
    /// failed `print` whose errno is unknown (0 = none).
    nonisolated(unsafe) static var outErrno: Int32 = 0

    /// Writes `data` to stdout after flushing C's stdout stream (keeps the order of `print`ed
    /// text). Retries EINTR and short writes; on error records it and drops the rest.
    static func writeOut(_ data: Data) {
        if let out = standardOutputStream() { fflush(out) }
        if outErrno != 0 { return }
        if let e = writeAll(1, data) { outErrno = e }
    }

    /// Writes `data` to stderr (`write(2)` on descriptor 2); errors are ignored.
    static func writeErr(_ data: Data) { _ = writeAll(2, data) }

    /// `write(2)` of all of `data` to `fd`; the errno on failure.
    static func writeAll(_ fd: Int32, _ data: Data) -> Int32? {
        data.withUnsafeBytes { (b: UnsafeRawBufferPointer) -> Int32? in
            guard let base = b.baseAddress else { return nil }
            var done = 0
            while done < b.count {
                let n = write(fd, base + done, b.count - done)
                if n < 0 { if errno == EINTR { continue }; return errno }
                if n == 0 { return EIO }
                done += n
            }
            return nil
        }
    }

    /// Called once at start, before anything opens a file: a standard descriptor that is closed
    /// (`>&-`) gets /dev/null, so that the first file the tool opens (a weights temporary file)
    /// can never become descriptor 1 and receive the table. A closed stdout is recorded as a
    /// failure (reported at exit).
    static func guardDescriptors() {
        for fd: Int32 in 0...2 where fcntl(fd, F_GETFD) == -1 && errno == EBADF {
            let n = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY)
            if n >= 0 && n != fd { _ = dup2(n, fd); _ = close(n) }
            if fd == 1 { outErrno = -1 }
        }
    }

    /// Flushes stdout and returns a message when any write to it failed (nil when all output
    /// arrived), naming the cause when known.
    static func failure() -> String? {
        if let out = standardOutputStream() {
            if fflush(out) != 0, outErrno == 0 { outErrno = errno }
            if ferror(out) != 0, outErrno == 0 {
                // A `print` failed earlier; its errno is gone. A pipe whose reader left polls POLLERR.
                var st = stat()
                var p = pollfd(fd: 1, events: 0, revents: 0)
                if fstat(1, &st) == 0, st.st_mode & S_IFMT == S_IFIFO, poll(&p, 1, 0) == 1, p.revents & Int16(POLLERR) != 0 {
                    outErrno = EPIPE
                } else { outErrno = -2 }
            }
        }
        switch outErrno {
        case 0: return nil
        case -1: return "standard output is closed: the output was lost"
        case -2: return "writing to standard output failed (a full device, a closed pipe or an I/O error): the output was lost or cut short"
        case EPIPE: return "writing to standard output failed: the reader closed the pipe (EPIPE); the output was cut short"
        default:
            return "writing to standard output failed: \(String(cString: strerror(outErrno))) (errno \(outErrno)); the output was lost or cut short"
        }
    }
}

/// Formats a number with `digits` significant decimals.
func fmt(_ x: Double, _ digits: Int = 4) -> String {
    if x.isNaN { return "nan" }
    if x != 0 && (abs(x) < 1e-3 || abs(x) >= 1e6) { return String(format: "%.\(digits - 1)e", x) }
    return String(format: "%.\(digits)f", x)
}

/// A text table: columns separated by two spaces, left-aligned except the columns in
/// `rightAligned` (numbers); no line ends in spaces.
func table(_ header: [String], _ rows: [[String]], rightAligned: Set<Int> = []) -> String {
    var widths = header.map(\.count)
    for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { i, cell in
            let pad = String(repeating: " ", count: max(0, (i < widths.count ? widths[i] : 0) - cell.count))
            return rightAligned.contains(i) ? pad + cell : cell + pad
        }.joined(separator: "  ").trailingSpacesRemoved
    }
    return ([line(header), line(widths.map { String(repeating: "-", count: $0) })] + rows.map(line)).joined(separator: "\n")
}

/// Monotonic seconds.
func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Median of a non-empty array.
func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// An error from running a command (not from parsing it): printed as `Error: …`; exit code 1
/// (a runtime failure) unless `exitCode` says otherwise. Bad values use `ValidationError` (64).
struct CommandError: Error, CustomStringConvertible {
    let description: String
    let exitCode: Int32
    init(_ description: String, exitCode: Int32 = ExitStatus.failure) { self.description = description; self.exitCode = exitCode }
}

/// Runs `body`; an `InitializationError` propagates unchanged (`Runner.classify` maps bad
/// hyper-parameters to exit 64 and LAPACK failures to 1).
func userFacing<T>(_ body: () throws(InitializationError) -> T) throws -> T {
    try body()
}
