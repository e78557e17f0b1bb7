// Regression test (bk7, defect 6): `bench --only ""` (or blank) is refused with exit 64 like
// `compare --inits ""`, instead of running only memset.
import Foundation
import Testing

@Suite("bk7: bench --only with no section is refused")
struct BenchOnlyEmptyCLITests {
    @Test("bench --only '' and --only ' ' → exit 64 naming --only; compare --inits '' is 64 too")
    func emptyOnly() throws {
        for value in ["", " "] {
            let (status, out, err) = try runTool(["bench", "--only", value, "--json"])
            let message = ((try? json(out))?["error"] as? String) ?? err
            #expect(status == 64 && message.contains("--only"), "bench --only '\(value)': exit \(status) \(message.suffix(300))")
        }
        let (status, _, _) = try runTool(["compare", "--inits", ""])
        #expect(status == 64)
    }
}
