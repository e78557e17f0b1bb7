// Regression test (bk7, defect 4): `compare --inits NAME:` (nothing after the colon) is refused
// with exit 64 as `train --init NAME:` is, through the same NAME:STD parser.
import Foundation
import Testing

@Suite("bk7: compare --inits NAME: is refused like train --init NAME:")
struct CompareInitStdCLITests {
    static let tiny = (try? makeTinyDataset()) ?? "/nonexistent"

    @Test("normal:, he-normal:, truncated-normal:, sparse: → exit 64 in compare and in train, naming the item; normal:0.5 still runs")
    func emptyStd() throws {
        for item in ["normal:", "he-normal:", "truncated-normal:", "sparse:", "normal: "] {
            let (cs, co, ce) = try runTool(["compare", "--data", Self.tiny, "--depth", "1", "--width", "4", "--steps", "1", "--inits", item, "--json"])
            let message = ((try? json(co))?["error"] as? String) ?? ce
            #expect(cs == 64 && message.contains(item.trimmingCharacters(in: .whitespaces)), "compare --inits '\(item)': exit \(cs) \(message.suffix(300))")
            let (ts, _, te) = try runTool(["train", "--data", Self.tiny, "--epochs", "1", "--hidden", "4", "--init", item])
            #expect(ts == 64, "train --init '\(item)': exit \(ts) \(te.suffix(200))")
        }
        let (s, o, e) = try runTool(["compare", "--data", Self.tiny, "--depth", "1", "--width", "4", "--steps", "1", "--inits", "normal:0.5,sparse:0.1", "--json"])
        #expect(s == 0, "\(e.suffix(300))")
        if s == 0 {
            let labels = (try json(o)["runs"] as? [[String: Any]])?.compactMap { $0["init"] as? String }
            #expect(labels == ["normal:0.5", "sparse:0.1"], "\(labels ?? [])")
        }
    }
}
