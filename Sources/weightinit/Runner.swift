import ArgumentParser
import Foundation
import WeightInit

/// The exit codes of the CLI contract.
enum ExitStatus {
    /// Invalid arguments or values (`EX_USAGE`).
    static let invalidValue: Int32 = 64
    /// A runtime failure (I/O, a diverged run, not enough memory).
    static let failure: Int32 = 1
    /// Interrupted by SIGINT or SIGTERM, after printing what completed.
    static let interrupted: Int32 = 130
}

/// A subcommand with the common options (`--seed`, `--threads`, `--json`).
protocol ToolCommand: ParsableCommand {
    var common: CommonOptions { get }
}

/// Runs the tool: parse (errors from parsing and `validate()` print the subcommand's usage, exit
/// 64), then run; an error thrown while running is classified by `Runner.classify` (bad value
/// 64 with the subcommand's usage, runtime failure 1). With `--json`, a failed run still prints
/// one JSON object on stdout: `{"error": …, "exit_code": …, "completed": …}`.
enum Runner {
    static func main() -> Never {
        // A write to a closed pipe (`| head -1`) returns EPIPE instead of killing the process
        // with SIGPIPE: `StandardStreams` reports it (exit 1) after the work is done.
        signal(SIGPIPE, SIG_IGN)
        StandardStreams.guardDescriptors()
        if let out = standardOutputStream() { setvbuf(out, nil, _IOLBF, 0) }     // every table row reaches a file or pipe as soon as it is printed
        // Interrupt.install() ran first thing in main.swift.
        // An interrupt while the options are still being parsed (or the data loads, before
        // `configure` below) also prints the JSON object when --json was given.
        let jsonRequested = CommandLine.arguments.dropFirst().contains("--json")
        if jsonRequested { Interrupt.configure(json: true) }
        let command: ParsableCommand
        do { command = try WeightInitCommand.parseAsRoot() } catch {
            exitForArgumentParser(error, json: jsonRequested)
        }
        if let tool = command as? any ToolCommand { Interrupt.configure(json: tool.common.json) }
        var c = command
        do {
            try c.run()
        } catch {
            fail(error, command: command)
        }
        exitAfterOutput(0)
    }

    /// Parse and validate() errors, --help, --version: ArgumentParser's text (errors with the
    /// subcommand's usage on stderr; help and version on stdout, which may fail like any output);
    /// with --json a failed parse also prints the failure object on stdout.
    static func exitForArgumentParser(_ error: any Error, json: Bool) -> Never {
        let code = WeightInitCommand.exitCode(for: error).rawValue
        if json && code != 0 {
            StandardStreams.writeOut(PartialResult.failureJSON(message: WeightInitCommand.message(for: error), exitCode: code))
        }
        if code == 0 {
            let text = WeightInitCommand.fullMessage(for: error)
            if !text.isEmpty { print(text) }
            exitAfterOutput(0)
        }
        WeightInitCommand.exit(withError: error)
    }

    /// Exits with `code`, or with 1 and a message on stderr when a write to stdout failed
    /// (closed pipe, full device, closed descriptor): files the command wrote stay written.
    static func exitAfterOutput(_ code: Int32) -> Never {
        if let problem = StandardStreams.failure() {
            StandardStreams.writeErr(Data("Error: \(problem); any file the command wrote is complete\n".utf8))
            exit(code == 0 ? ExitStatus.failure : code)
        }
        exit(code)
    }

    /// Exit code and message for an error thrown while running.
    static func classify(_ error: any Error) -> (code: Int32, message: String) {
        switch error {
        case let e as ValidationError: return (ExitStatus.invalidValue, e.message)
        case let e as CommandError: return (e.exitCode, e.description)
        case let e as InitializationError:
            if case .linearAlgebra = e { return (ExitStatus.failure, e.description) }
            if case .size(let s) = e { return classify(s) }
            return (ExitStatus.invalidValue, e.description)
        case let e as TrainingError:
            switch e {
            case .invalidHyperparameter: return (ExitStatus.invalidValue, e.description)
            case let .size(s): return classify(s)
            default: return (ExitStatus.failure, e.description)
            }
        case let e as SizeError:
            if case .insufficientMemory = e { return (ExitStatus.failure, e.description) }
            return (ExitStatus.invalidValue, e.description)
        case let e as MatrixError:
            if case let .size(s) = e { return classify(s) }
            return (ExitStatus.failure, e.description)
        case let e as DatasetError:
            if case .invalidParameter = e { return (ExitStatus.invalidValue, e.description) }
            return (ExitStatus.failure, e.description)
        case let e as OutputFileError:
            switch e {
            // A path that can never be written is a bad value (64), wherever it is found;
            // the commands check their output paths before any work (`OutputPaths.swift`).
            case .emptyPath, .missingDirectory, .directoryNotWritable, .notRegularFile, .danglingSymlink: return (ExitStatus.invalidValue, e.description)
            default: return (ExitStatus.failure, e.description)
            }
        case let e as CustomStringConvertible: return (ExitStatus.failure, e.description)
        default: return (ExitStatus.failure, "\(error)")
        }
    }

    static func fail(_ error: any Error, command: ParsableCommand) -> Never {
        // Help, --version and other ArgumentParser errors (raised by the built-in commands that
        // parseAsRoot returns) are ArgumentParser's to print.
        if !(command is any ToolCommand) || error is CleanExit || error is ExitCode
            || (!(error is ValidationError) && String(reflecting: type(of: error)).hasPrefix("ArgumentParser.")) {
            // The JSON object of a tool command was already printed when it throws ExitCode
            // (inspect/doctor --strict); a help request is not a failure.
            exitForArgumentParser(error, json: false)
        }
        let (code, message) = classify(error)
        fflush(nil)
        var text = "Error: \(message)\n"
        let name = type(of: command).configuration.commandName ?? "\(type(of: command))".lowercased()
        if code == ExitStatus.invalidValue {
            text += "Usage: " + WeightInitCommand.usageString(for: type(of: command)) + "\n"
            text += "  See 'weightinit \(name) --help' for more information.\n"
        }
        if Interrupt.progressLineOpen { text = "\n" + text }
        StandardStreams.writeErr(Data(text.utf8))
        if let tool = command as? any ToolCommand, tool.common.json {
            StandardStreams.writeOut(PartialResult.failureJSON(message: message, exitCode: code))
        }
        exitAfterOutput(code)
    }
}

/// What a long command has completed so far, kept up to date so that a failure or an interrupt
/// can still report it: the JSON object `completed` (with `--json`) and a one-line summary.
enum PartialResult {
    nonisolated(unsafe) private static var completed: Data?

    /// Records what has completed (encoded as the command's JSON report would encode it) and the
    /// line printed on stderr if the run is interrupted now.
    static func record<T: Encodable>(_ value: T, summary: String) {
        completed = try? jsonEncoder().encode(value)
        Interrupt.prepare(stdout: Interrupt.jsonMode ? failureJSON(message: "interrupted", exitCode: ExitStatus.interrupted) : Data(),
                          stderr: Data("\ninterrupted: \(summary)\n".utf8))
        Interrupt.prepareFault()
    }

    /// `{"completed": …, "error": message, "exit_code": code}` followed by a newline.
    static func failureJSON(message: String, exitCode: Int32) -> Data {
        var out = Data("{\"completed\":".utf8)
        out.append(completed ?? Data("null".utf8))
        let tail = (try? JSONSerialization.data(withJSONObject: ["error": message], options: [.sortedKeys])) ?? Data("{\"error\":\"?\"}".utf8)
        out.append(Data(",".utf8))
        out.append(tail.dropFirst().dropLast())
        out.append(Data(",\"exit_code\":\(exitCode)}\n".utf8))
        return out
    }
}

/// SIGINT and SIGTERM handling: the handler writes the messages prepared by `PartialResult.record` (one
/// pre-encoded buffer, async-signal-safe `write(2)`), removes the temporary files of unfinished
/// writes and exits with 130. Table rows already
/// printed have been flushed (stdout is line-buffered).
enum Interrupt {
    /// Layout: [stdout length: Int][stderr length: Int][stdout bytes][stderr bytes]. Replaced
    /// whole (one pointer store); old buffers are kept, so the handler never reads freed memory.
    nonisolated(unsafe) static var message: UnsafeMutableRawPointer?
    nonisolated(unsafe) static var jsonMode = false
    /// A progress line without its newline is on stderr (errors start on a new line).
    nonisolated(unsafe) static var progressLineOpen = false

    static func install() {
        // A parent may have started us with SIGINT blocked (the mask is inherited across exec):
        // unblock it, and SIGTERM, so that an interrupt always reaches the handler.
        var unblock = sigset_t()
        sigemptyset(&unblock)
        sigaddset(&unblock, SIGINT)
        sigaddset(&unblock, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
        prepare(stdout: Data(), stderr: Data("\ninterrupted before anything completed\n".utf8))
        // SIGTERM is what `kill`, batch schedulers at their time limit and `mpirun` (when it
        // receives Ctrl-C) send: handled as SIGINT (same summary, same JSON object, exit 130).
        let handler: @convention(c) (Int32) -> Void = { _ in
            if let m = Interrupt.message {
                let outCount = m.load(as: Int.self), errCount = m.load(fromByteOffset: 8, as: Int.self)
                if outCount > 0 { _ = write(1, m + 16, outCount) }
                if errCount > 0 { _ = write(2, m + 16 + outCount, errCount) }
            }
            // A write in progress (weights, checkpoint, plot) leaves no temporary file behind.
            OutputFile.removeTemporaryFilesForSignal()
            _exit(ExitStatus.interrupted)
        }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
        installMappedFileFault()
    }

    /// Prepared output of the SIGBUS handler (same layout as `message`).
    nonisolated(unsafe) static var faultMessage: UnsafeMutableRawPointer?

    /// SIGBUS with `BUS_ADRERR` is how Linux reports an access to a page of a memory-mapped file
    /// that no longer exists: the file was truncated by another process while `inspect` (or
    /// `init --like`) read its mapping. The handler turns that into a runtime failure (message on
    /// stderr, the failure object with --json, temporary files removed, exit 1) instead of a
    /// crash; any other SIGBUS keeps the default action (re-raised).
    static func installMappedFileFault() {
        prepareFault()
        var action = sigaction()
        action.__sigaction_handler.sa_sigaction = { sig, info, _ in
            if let info, info.pointee.si_code == Int32(BUS_ADRERR), let m = Interrupt.faultMessage {
                let outCount = m.load(as: Int.self), errCount = m.load(fromByteOffset: 8, as: Int.self)
                if outCount > 0 { _ = write(1, m + 16, outCount) }
                if errCount > 0 { _ = write(2, m + 16 + outCount, errCount) }
                OutputFile.removeTemporaryFilesForSignal()
                _exit(ExitStatus.failure)
            }
            signal(sig, SIG_DFL)
            raise(sig)
        }
        action.sa_flags = SA_SIGINFO
        sigemptyset(&action.sa_mask)
        sigaction(SIGBUS, &action, nil)
    }

    /// Rebuilds the SIGBUS handler's message (called with `configure` and `PartialResult.record`).
    static func prepareFault() {
        let text = "a memory-mapped file was truncated or became unreadable while it was read (SIGBUS): another process changed the file while this command read or wrote it; the command stopped (its temporary files are removed)"
        faultMessage = encode(stdout: jsonMode ? PartialResult.failureJSON(message: text, exitCode: ExitStatus.failure) : Data(),
                              stderr: Data("\nError: \(text)\n".utf8))
    }

    static func prepare(stdout: Data, stderr: Data) {
        message = encode(stdout: stdout, stderr: stderr)
    }

    static func encode(stdout: Data, stderr: Data) -> UnsafeMutableRawPointer {
        let p = UnsafeMutableRawPointer.allocate(byteCount: 16 + stdout.count + stderr.count, alignment: 8)
        p.storeBytes(of: stdout.count, as: Int.self)
        p.storeBytes(of: stderr.count, toByteOffset: 8, as: Int.self)
        stdout.copyBytes(to: p.advanced(by: 16).assumingMemoryBound(to: UInt8.self), count: stdout.count)
        stderr.copyBytes(to: p.advanced(by: 16 + stdout.count).assumingMemoryBound(to: UInt8.self), count: stderr.count)
        return p
    }

    /// Called once the options are known: with `--json`, an interrupt prints the JSON object.
    static func configure(json: Bool) {
        jsonMode = json
        prepare(stdout: json ? PartialResult.failureJSON(message: "interrupted", exitCode: ExitStatus.interrupted) : Data(),
                stderr: Data("\ninterrupted before anything completed\n".utf8))
        prepareFault()
    }
}

/// The JSON encoder of every `--json` report (snake_case keys, sorted; non-finite numbers as strings).
func jsonEncoder() -> JSONEncoder {
    let encoder = JSONEncoder()
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.outputFormatting = [.sortedKeys]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return encoder
}

/// C's `stdout` (`FILE *`), looked up once: Swift 6 does not allow touching the global `stdout`
/// variable directly (it is shared mutable state), and `setvbuf` needs the stream itself.
func standardOutputStream() -> UnsafeMutablePointer<FILE>? {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "stdout") else { return nil }
    return symbol.assumingMemoryBound(to: UnsafeMutablePointer<FILE>?.self).pointee
}
