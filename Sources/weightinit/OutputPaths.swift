import ArgumentParser
import Foundation
import WeightInit

// Every file the tool writes (SVG, CSV, JSON) goes through TensorFiles' `OutputFile`: a
// temporary file in the target's directory, fsynced and renamed. A target that exists and is not
// a regular file (device such as /dev/full, FIFO, directory, socket, symbolic link to one of
// those, dangling symbolic link) is refused and left unchanged; a symbolic link to a regular file
// is written through (the link is kept). The checks below run before any work starts.

/// Checks an output file path before any work (the same rules `OutputFile` applies when writing).
/// - Throws: `OutputFileError` naming the path and the rule (exit 64).
func checkWritable(_ path: String) throws {
    _ = try OutputFile.resolve(path)
}

/// Checks (and, when missing, creates) an output directory before any work, and checks the
/// files that will be written into it.
/// - Throws: `ValidationError` for an empty path or an existing non-directory; `CommandError`
///   when the directory cannot be created; `OutputFileError` for the files inside.
func checkDirectory(_ path: String, files: [String] = ["layers.csv", "loss.csv"]) throws {
    guard !path.isEmpty else { throw ValidationError("--csv needs a directory name, got an empty path") }
    var st = stat()
    if stat(path, &st) == 0 {
        guard st.st_mode & S_IFMT == S_IFDIR else { throw ValidationError("--csv \(path): exists and is not a directory") }
    } else {
        guard mkdir(path, 0o777) == 0 else {
            throw CommandError("--csv \(path): cannot create the directory: \(String(cString: strerror(errno)))")
        }
    }
    for f in files { try checkWritable((path as NSString).appendingPathComponent(f)) }
}

/// Writes `text` as the whole content of `path` through `OutputFile` (atomic, never replaces a
/// file that is not a regular file). - Throws: `OutputFileError`.
func writeAtomically(_ text: String, to path: String) throws {
    try OutputFile.write(text, to: path)
}
