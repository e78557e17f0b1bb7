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

/// Checks every output file of one command before any work: each path by `OutputFile`'s rules
/// (non-empty; an existing target or the end of its symbolic links is a regular file; the
/// directory exists and is writable), and no two of them name the same file — compared by
/// device and inode of the existing file (so symbolic links, hard links, `./a` and `a` are
/// caught), or of the directory plus the name for a file not yet created. One rule for every
/// command: a path that cannot be written is a bad value (exit 64), found before any work.
///
/// - Parameter outputs: `(option, path)` pairs, e.g. `("--out", out)`; the option is named in
///   the error.
/// - Throws: `ValidationError` naming the option, the path and the rule.
func checkOutputs(_ outputs: [(option: String, path: String)]) throws {
    var seen: [String: String] = [:]
    for (option, path) in outputs {
        let target: OutputTarget
        do { target = try OutputFile.resolve(path) } catch { throw ValidationError("\(option) \(path): \(error)") }
        let id = fileIdentity(target)
        if let other = seen[id] {
            throw ValidationError("\(other) and \(option) \(path) name the same file ('\(target.resolvedPath)'); each output needs its own path (one would replace the other)")
        }
        seen[id] = "\(option) \(path)"
    }
}

/// The identity of the file an output target names: device and inode when it exists, else the
/// directory's device and inode plus the file name.
private func fileIdentity(_ target: OutputTarget) -> String {
    var st = stat()
    if target.exists, stat(target.resolvedPath, &st) == 0 { return "file \(st.st_dev):\(st.st_ino)" }
    let name = (target.resolvedPath as NSString).lastPathComponent
    if stat(target.directory, &st) == 0 { return "new \(st.st_dev):\(st.st_ino)/\(name)" }
    return "path " + target.resolvedPath
}

/// Checks (and, when missing, creates with its parents) an output directory before any work,
/// and returns the paths of the files that will be written into it. A directory that cannot be
/// created, or exists and is not writable, is a bad value like any unwritable output (exit 64).
/// - Throws: `ValidationError` naming `option` (empty path, an existing non-directory, mkdir
///   failure with errno).
func checkOutputDirectory(_ path: String, option: String, create: Bool = true, files: [String]) throws -> [String] {
    guard !path.isEmpty else { throw ValidationError("\(option) needs a directory name, got an empty path") }
    var st = stat()
    if stat(path, &st) == 0 {
        guard st.st_mode & S_IFMT == S_IFDIR else { throw ValidationError("\(option) \(path): exists and is not a directory") }
    } else if !create {
        throw ValidationError("\(option) \(path): the directory does not exist")
    } else {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            current += "/" + component
            if mkdir(current, 0o777) == 0 { continue }
            let e = errno
            if e == EEXIST, stat(current, &st) == 0, st.st_mode & S_IFMT == S_IFDIR { continue }
            throw ValidationError("\(option) \(path): cannot create the directory: mkdir '\(current)': \(String(cString: strerror(e))) (errno \(e))")
        }
    }
    return files.map { (path as NSString).appendingPathComponent($0) }
}

/// Writes `text` as the whole content of `path` through `OutputFile` (atomic, never replaces a
/// file that is not a regular file). - Throws: `OutputFileError`.
func writeAtomically(_ text: String, to path: String) throws {
    try OutputFile.write(text, to: path)
}
