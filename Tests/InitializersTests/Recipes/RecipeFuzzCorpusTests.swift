// The committed seed corpus of the recipe/spec JSON fuzz target (fuzz/recipe/corpus) through the
// same steps as the harness: every seed parses as what its name says, with the parameter and rule
// counts written here by hand (oracle: the seed files' text), plans and fills. Inputs that made
// the fuzz target fail are added to `regressions` (none so far; see scripts/fuzz.sh).
import Foundation
import Testing
@testable import Initializers

@Suite("recipe/spec fuzz corpus")
struct RecipeFuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("fuzz/recipe/corpus")

    static func seed(_ name: String) throws -> Data { try Data(contentsOf: corpus.appendingPathComponent(name)) }

    /// Splits `spec NUL rules` as the harness does.
    static func split(_ d: Data) throws -> (Data, Data) {
        let nul = try #require(d.firstIndex(of: 0))
        return (Data(d[..<nul]), Data(d[(nul + 1)...]))
    }

    @Test("spec seeds parse (hand-counted parameters); rules seeds parse (hand-counted rules); combined seeds plan and fill")
    func seeds() throws {
        for (name, parameters, layers) in [("spec-gpt2", 6, 2), ("spec-layouts", 5, 1)] {
            let spec = try ModelSpec(json: try Self.seed(name))
            #expect(spec.parameters.count == parameters && spec.layerCount == layers, "\(name)")
        }
        for (name, rules) in [("rules-gpt2", 4), ("rules-schemes", 6), ("rules-sparse", 3), ("rules-structured", 5)] {
            #expect(try InitRecipe(rulesJSON: try Self.seed(name)).rules.count == rules, "\(name)")
        }
        for name in ["spec-and-rules", "spec-and-rules-gpt2"] {
            let (specText, rulesText) = try Self.split(try Self.seed(name))
            let spec = try ModelSpec(json: specText)
            let plan = try InitRecipe(rulesJSON: rulesText).plan(spec, seed: 7)
            #expect(plan.count == spec.parameters.count)
            let buffers = try plan.map { UnsafeMutableRawBufferPointer.allocate(byteCount: try $0.spec.byteCount(), alignment: 16) }
            defer { buffers.forEach { $0.deallocate() } }
            let stats = try ModelFill.fill(plan, into: buffers, threads: 1)
            #expect(stats.count == plan.count)
        }
    }
}
