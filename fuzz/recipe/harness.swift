// libFuzzer target: the JSON parsers of model specs (`ModelSpec(json:)`, `init --spec`) and of
// recipe rules files (`InitRecipe(rulesJSON:)`, `init --rules`, `train --rules`), and what runs on
// what they accept: planning (every built-in recipe on a parsed spec; a parsed rules file on a
// fixed small spec) and, when the model is small, the fill itself.
// Built by scripts/fuzz.sh from fuzz/recipe/modules (CFillKernels, MatrixModule and Initializers
// compiled as separate modules, as SwiftPM builds them).
//
// Input: the whole input is tried as a spec and as a rules file. An input holding a NUL byte
// (never valid inside JSON) is also split there: the part before is a spec, the part after a
// rules file applied to it. Every step must either succeed or throw a RecipeError; a trap, a
// sanitizer report, a hang or an allocation beyond libFuzzer's limit is a crash.
import Foundation
import Initializers

/// The most bytes a fuzz input's model may fill (keeps every execution small).
let maximumFillBytes = 1 << 16

/// A small GPT-2-like spec the rules files are planned on (names of several frameworks, every role).
let fixedSpec = ModelSpec(parameters: [
    ParameterSpec(inferringFrom: "wte.weight", shape: [16, 8]),
    ParameterSpec(inferringFrom: "h.0.ln_1.weight", shape: [8]),
    ParameterSpec(inferringFrom: "h.0.ln_1.bias", shape: [8]),
    ParameterSpec(inferringFrom: "h.0.attn.c_attn.weight", shape: [8, 24]),
    ParameterSpec(inferringFrom: "h.0.attn.c_attn.bias", shape: [24]),
    ParameterSpec(inferringFrom: "h.0.attn.c_proj.weight", shape: [8, 8], dtype: .bf16),
    ParameterSpec(inferringFrom: "layers.1.feed_forward.w2.weight", shape: [8, 12], dtype: .f16),
    ParameterSpec(inferringFrom: "conv.weight", shape: [4, 2, 3, 3], dtype: .f64),
    ParameterSpec(name: "scalar", shape: [], role: .other),
    ParameterSpec(inferringFrom: "empty.weight", shape: [0, 5]),
], layers: 2, dim: 8)

let builtInRecipes: [InitRecipe] = InitRecipe.builtInNames.map { try! InitRecipe.named("\($0):unmatched=zeros") }

/// Plans `recipe` on `spec`, and fills the result when it is small; checks what the fill returns.
func planAndFill(_ recipe: InitRecipe, _ spec: ModelSpec) throws(RecipeError) {
    let plan = try recipe.plan(spec, seed: 7)
    precondition(plan.count <= spec.parameters.count, "more planned parameters than the spec has")
    guard try spec.byteCount() <= maximumFillBytes else { return }
    var buffers: [UnsafeMutableRawBufferPointer] = []
    for p in plan {
        let bytes = try p.spec.byteCount()
        buffers.append(UnsafeMutableRawBufferPointer.allocate(byteCount: bytes, alignment: 16))
    }
    defer { for b in buffers { b.deallocate() } }
    let stats = try ModelFill.fill(plan, into: buffers, threads: 1)
    precondition(stats.count == plan.count, "one statistics record per planned parameter")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Data(bytes: data, count: size)
    func attempt(_ body: () throws(RecipeError) -> Void) {
        do { try body() } catch {
            // A RecipeError is the expected outcome for most inputs; its text must be printable.
            precondition(!error.description.isEmpty, "an error without a description")
        }
    }
    attempt { () throws(RecipeError) in
        let spec = try ModelSpec(json: bytes)
        for recipe in builtInRecipes { attempt { () throws(RecipeError) in try planAndFill(recipe, spec) } }
    }
    attempt { () throws(RecipeError) in try planAndFill(try InitRecipe(rulesJSON: bytes), fixedSpec) }
    if let nul = bytes.firstIndex(of: 0) {
        attempt { () throws(RecipeError) in
            let spec = try ModelSpec(json: bytes[..<nul])
            try planAndFill(try InitRecipe(rulesJSON: bytes[(nul + 1)...]), spec)
        }
    }
    return 0
}
