import ArgumentParser
import Foundation
import WeightInit

/// Prints `value` as one JSON object on stdout (snake_case keys, sorted).
func printJSON<T: Encodable>(_ value: T) throws {
    fflush(nil)
    var data = try jsonEncoder().encode(value)
    data.append(0x0A)
    FileHandle.standardOutput.write(data)
}

/// Writes a progress or status line to standard error (never stdout, so `--json` stays clean).
func status(_ message: String) {
    FileHandle.standardError.write((message + "\n").data(using: .utf8)!)
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
