// Regression test (bk7, stretch): options are validated before the empty-tensor shortcut, so an
// empty shape does not hide a bad --groups for dirac or a --std whose values do not fit Float.
import Foundation
import Testing

@Suite("bk7: stats validates options before the empty-tensor shortcut")
struct EmptyShapeValidationCLITests {
    @Test("dirac --groups 3 on 4x0x3x3 is 64 like on 4x1x3x3 (3 does not divide 4); 6x0x3x3 is 0; normal --std 1e39 on 0x3 is 64 like on 2x3; --std 1 on 0x3 is 0")
    func validatedBeforeShortcut() throws {
        let cases: [([String], Int32)] = [
            (["stats", "--scheme", "dirac", "--shape", "4x1x3x3", "--groups", "3"], 64),
            (["stats", "--scheme", "dirac", "--shape", "4x0x3x3", "--groups", "3"], 64),
            (["stats", "--scheme", "dirac", "--shape", "6x0x3x3", "--groups", "3"], 0),
            (["stats", "--scheme", "normal", "--std", "1e39", "--shape", "2x3"], 64),
            (["stats", "--scheme", "normal", "--std", "1e39", "--shape", "0x3"], 64),
            (["stats", "--scheme", "normal", "--std", "1", "--shape", "0x3"], 0),
        ]
        for (args, expected) in cases {
            let (status, _, err) = try runTool(args)
            #expect(status == expected, "\(args.joined(separator: " ")): exit \(status) \(err.suffix(300))")
        }
    }
}
