// Presets: parameter counts against the published model sizes (Hugging Face's GPT-2 cards,
// hand-computed Llama sums), names and shapes against the reference implementations.
import Testing
@testable import Initializers

@Suite("Recipes: presets")
struct PresetsTests {
    @Test("GPT-2 sizes equal Hugging Face's parameter counts", arguments: [
        ("gpt2", 124_439_808, 148), ("gpt2-medium", 354_823_168, 292), ("gpt2-large", 774_030_080, 436), ("gpt2-xl", 1_557_611_200, 580),
    ])
    func gpt2Counts(name: String, parameters: Int, tensors: Int) throws {
        let spec = try ModelPreset.spec(name)
        #expect(try spec.elementCount() == parameters)
        #expect(spec.parameters.count == tensors)
    }

    @Test("GPT-2 names, shapes and Conv1D layout")
    func gpt2Names() throws {
        let spec = try ModelPreset.spec("gpt2")
        let byName = Dictionary(uniqueKeysWithValues: spec.parameters.map { ($0.name, $0) })
        #expect(spec.parameters.first?.name == "wte.weight" && spec.parameters.last?.name == "ln_f.bias")
        #expect(byName["wpe.weight"]?.shape == [1024, 768])
        let cattn = try #require(byName["h.11.attn.c_attn.weight"])
        #expect(cattn.shape == [768, 2304] && cattn.layout == .spatialInOut && cattn.layer == 11)
        #expect(try Fans(shape: cattn.shape, layout: cattn.layout).fanIn == 768)
        #expect(byName["h.0.mlp.c_proj.weight"]?.shape == [3072, 768])
        #expect(byName["h.0.ln_2.bias"]?.role == .normBias)
        #expect(spec.layers == 12 && spec.dim == 768)
        let custom = try ModelPreset.spec("gpt2:layers=2,dim=64,vocab=100,positions=32,heads=4,prefix=transformer.")
        #expect(custom.parameters.count == 2 * 12 + 4 && custom.parameters[0].name == "transformer.wte.weight")
        #expect(custom.parameters[0].shape == [100, 64])
    }

    @Test("Llama presets: counts from the closed form, both naming schemes")
    func llama() throws {
        func expected(_ l: Int, _ d: Int, _ h: Int, _ kv: Int, _ f: Int, _ v: Int, tied: Bool = false) -> Int {
            let kvd = kv * d / h
            return v * d * (tied ? 1 : 2) + d + l * (2 * d * d + 2 * kvd * d + 3 * f * d + 2 * d)
        }
        #expect(try ModelPreset.spec("llama-1b").elementCount() == expected(16, 2048, 32, 8, 8192, 128_256))
        #expect(try ModelPreset.spec("llama-1b").elementCount() >= 1_000_000_000)
        #expect(try ModelPreset.spec("llama3-8b").elementCount() == expected(32, 4096, 32, 8, 14336, 128_256))
        let small = try ModelPreset.spec("llama:layers=2,dim=64,heads=8,kv_heads=2,ffn=128,vocab=50,names=hf,tied=true")
        #expect(try small.elementCount() == expected(2, 64, 8, 2, 128, 50, tied: true))
        let names = small.parameters.map(\.name)
        #expect(names.contains("model.layers.1.self_attn.k_proj.weight") && !names.contains("lm_head.weight"))
        #expect(small.parameters.first { $0.name == "model.layers.1.self_attn.k_proj.weight" }?.shape == [16, 64])
        let titan = try ModelPreset.spec("llama:layers=1")
        #expect(titan.parameters.map(\.name) == ["tok_embeddings.weight", "layers.0.attention.wq.weight", "layers.0.attention.wk.weight",
                                                 "layers.0.attention.wv.weight", "layers.0.attention.wo.weight", "layers.0.feed_forward.w1.weight",
                                                 "layers.0.feed_forward.w2.weight", "layers.0.feed_forward.w3.weight",
                                                 "layers.0.attention_norm.weight", "layers.0.ffn_norm.weight", "norm.weight", "output.weight"])
    }

    @Test("preset errors name the key and the rule", arguments: [
        ("gpt3", "unknown preset"), ("gpt2:layers=0", "1…"), ("gpt2:layers=x", "integer"), ("gpt2:heads=7", "divide"),
        ("gpt2:colour=red", "unknown key"), ("gpt2:layers", "key=value"), ("llama:kv_heads=3", "divide"), ("llama:names=jax", "hf or torchtitan"),
        ("gpt2:layers=2,layers=3", "twice"),
    ])
    func errors(text: String, fragment: String) {
        do { _ = try ModelPreset.spec(text); Issue.record("accepted \(text)") } catch {
            #expect(error.description.contains(fragment), "\(error.description)")
        }
    }
}
