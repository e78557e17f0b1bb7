// Regression test (bk7, defect 5): a bad item in a NAME:key=value list (--preset, --recipe) is
// named as "--preset 'TEXT': item I of N …", not as a garbled "option item 1 of 1= …",
// "layers==" or "=1=".
import Foundation
import Testing

@Suite("bk7: key=value list items are named properly")
struct KeyValueItemCLITests {
    @Test("init --preset gpt2: / gpt2:layers=1,,dim=8 / gpt2:layers / gpt2:=1 / gpt2:layers= → exit 64, the option, the text and the item; no '==' or '=='-garbles")
    func badItems() throws {
        let out = NSTemporaryDirectory() + "wi-bk7-never-\(UUID().uuidString).safetensors"
        // (value, the words the message must contain), the positions counted by hand.
        let cases: [(String, [String])] = [
            ("gpt2:", ["--preset", "'gpt2:'", "item 1 of 1", "empty"]),
            ("gpt2:layers=1,,dim=8", ["--preset", "item 2 of 3", "empty"]),
            ("gpt2:layers=1,", ["--preset", "item 2 of 2", "empty"]),
            ("gpt2:layers", ["--preset", "item 1 of 1", "'layers'", "no '='"]),
            ("gpt2:=1", ["--preset", "item 1 of 1", "'=1'", "key"]),
            ("gpt2:layers=", ["layers", "integer"]),
        ]
        for (value, words) in cases {
            let (status, _, err) = try runTool(["init", "--preset", value, "--out", out])
            #expect(status == 64, "--preset \(value): exit \(status) \(err.suffix(300))")
            for w in words { #expect(err.contains(w), "--preset \(value): missing \(w) in \(err.suffix(300))") }
            #expect(!err.contains("==") && !err.contains("=1=") && !err.contains("1 of 1="), "--preset \(value): \(err.suffix(300))")
        }
        #expect(!FileManager.default.fileExists(atPath: out))
    }
}
