// Regression test (bk7, defect 1): the CNN's Conv2D rows in `train --json` `layers` and in the
// `--summary` table show the activation and the initialization scheme the convolutions were
// really built with, as the Linear rows do.
import Foundation
import Testing

@Suite("bk7: CNN layer summaries name the conv activation and init")
struct ConvSummaryCLITests {
    static let tiny = (try? makeTinyDataset()) ?? "/nonexistent"

    @Test("train --architecture cnn --json: Conv2D rows carry --activation and --init (tanh/orthogonal, relu/he-normal, auto = the hidden Linear's scheme)")
    func convRowsInJSON() throws {
        // Oracle: the options given on the command line (and, for --init auto, the scheme of
        // the hidden Linear layer with the same activation, which was already right).
        for (activation, initName) in [("tanh", "orthogonal"), ("relu", "he-normal"), ("relu", "auto")] {
            let (status, out, err) = try runTool(["train", "--data", Self.tiny, "--architecture", "cnn", "--epochs", "1", "--threads", "1",
                                                  "--activation", activation, "--init", initName, "--json"])
            #expect(status == 0, "\(activation)/\(initName): exit \(status) \(err.suffix(300))")
            guard status == 0 else { continue }
            let layers = try #require(try json(out)["layers"] as? [[String: Any]])
            let convs = layers.filter { $0["kind"] as? String == "Conv2D" }
            let linears = layers.filter { $0["kind"] as? String == "Linear" }
            #expect(convs.count == 2 && linears.count == 2, "\(layers)")
            let hiddenInit = linears.first?["initialization"] as? String
            for conv in convs {
                #expect(conv["activation"] as? String == activation, "\(activation)/\(initName): \(conv)")
                let label = conv["initialization"] as? String
                if initName == "auto" {
                    #expect(label != nil && label != "-" && label == hiddenInit, "auto: conv \(label ?? "nil"), hidden Linear \(hiddenInit ?? "nil")")
                } else {
                    #expect(label == initName, "\(activation)/\(initName): \(conv)")
                }
            }
        }
    }

    @Test("train --architecture cnn --summary: conv rows show activation and init in their columns; no 'psame'")
    func convRowsInTable() throws {
        let (status, out, err) = try runTool(["train", "--data", Self.tiny, "--architecture", "cnn", "--epochs", "1", "--threads", "1",
                                              "--activation", "tanh", "--init", "orthogonal", "--summary"])
        #expect(status == 0, "exit \(status) \(err.suffix(300))")
        #expect(!out.contains("psame"), "\(out)")
        // The summary table: header row with the columns, then one row per parametric layer.
        let lines = out.split(separator: "\n").map(String.init)
        let header = try #require(lines.first { $0.hasPrefix("layer") && $0.contains("activation") && $0.contains("init") }, "\(out)")
        let columns = header.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        #expect(columns == ["layer", "kind", "input", "output", "activation", "parameters", "init"], "\(header)")
        // (summaryTable()'s lines also start "0    Conv2D …" but write shapes as 1×4×4, not [1, 4, 4].)
        let convRows = lines.filter { $0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first == "Conv2D" && $0.contains("[") }
        #expect(convRows.count == 2, "\(out)")
        for row in convRows {
            // The activation column starts where the header's "activation" starts; init likewise.
            let a = try #require(header.range(of: "activation")).lowerBound.utf16Offset(in: header)
            let i = try #require(header.range(of: "init", options: .backwards)).lowerBound.utf16Offset(in: header)
            let cells = Array(row.utf16)
            func cell(at offset: Int) -> String {
                guard offset < cells.count else { return "" }
                return String(decoding: cells[offset...], as: UTF16.self).split(separator: " ").first.map(String.init) ?? ""
            }
            #expect(cell(at: a) == "tanh" && cell(at: i) == "orthogonal", "\(row)")
        }
    }
}
