// Recipes against the formulas of the source files they reproduce (closed forms written here,
// not read from the code under test), rule matching, rules files, and PyTorch's own modules
// when torch is importable.
import Foundation
import Testing
@testable import Initializers

func plan(_ recipe: String, _ preset: String, seed: UInt64 = 0) throws -> [String: PlannedParameter] {
    let p = try InitRecipe.named(recipe).plan(try ModelPreset.spec(preset), seed: seed)
    return Dictionary(uniqueKeysWithValues: p.map { ($0.spec.name, $0) })
}

func close(_ x: Double?, _ y: Double, _ rel: Double = 1e-12) -> Bool {
    guard let x else { return false }
    return abs(x - y) <= rel * abs(y)
}

@Suite("Recipes: rules and built-in recipes")
struct InitRecipeTests {
    @Test("glob: * spans dots, ? one character, whole-name match")
    func glob() {
        #expect(InitRule.glob("*c_proj.weight", matches: "h.3.attn.c_proj.weight"))
        #expect(!InitRule.glob("*c_proj.weight", matches: "h.3.attn.c_proj.bias"))
        #expect(InitRule.glob("h.?.ln_1.*", matches: "h.7.ln_1.bias"))
        #expect(!InitRule.glob("h.?.ln_1.*", matches: "h.17.ln_1.bias"))
        #expect(InitRule.glob("*", matches: "") && InitRule.glob("a*b*c", matches: "aXXbYYc") && !InitRule.glob("a*b*c", matches: "aXXbYY"))
        #expect(!InitRule.glob("weight", matches: "h.0.weight"))
        // Pathological pattern stays fast (one backtrack point).
        #expect(!InitRule.glob(String(repeating: "*a", count: 50) + "b", matches: String(repeating: "a", count: 2000)))
    }

    @Test("gpt2 (modeling_gpt2.py _init_weights): N(0, 0.02), c_proj N(0, 0.02/√(2·n_layer)), zero bias, LayerNorm 1/0")
    func gpt2() throws {
        let p = try plan("gpt2", "gpt2")
        #expect(close(p["h.5.attn.c_proj.weight"]?.expectedStd, 0.02 / 24.0.squareRoot()))
        #expect(close(p["h.5.mlp.c_proj.weight"]?.expectedStd, 0.02 / 24.0.squareRoot()))
        #expect(close(p["h.5.attn.c_attn.weight"]?.expectedStd, 0.02))
        #expect(close(p["h.5.mlp.c_fc.weight"]?.expectedStd, 0.02))
        #expect(close(p["wte.weight"]?.expectedStd, 0.02) && close(p["wpe.weight"]?.expectedStd, 0.02))
        #expect(p["h.5.mlp.c_proj.bias"]?.initializer == .zeros && p["ln_f.weight"]?.initializer == .ones && p["ln_f.bias"]?.initializer == .zeros)
        let xl = try plan("gpt2:initializer_range=0.01", "gpt2-xl")
        #expect(close(xl["h.0.attn.c_proj.weight"]?.expectedStd, 0.01 / 96.0.squareRoot()))
    }

    @Test("pytorch-default (linear.py, conv.py, sparse.py, normalization.py): U(±1/√fan_in) weight and bias, Embedding N(0,1), LayerNorm 1/0")
    func pytorchDefault() throws {
        let spec = ModelSpec(parameters: [
            ParameterSpec(name: "fc.weight", shape: [200, 300], role: .weight), ParameterSpec(name: "fc.bias", shape: [200], role: .bias),
            ParameterSpec(name: "conv.weight", shape: [32, 16, 3, 3], role: .weight), ParameterSpec(name: "conv.bias", shape: [32], role: .bias),
            ParameterSpec(name: "emb.weight", shape: [1000, 64], role: .embedding),
            ParameterSpec(name: "ln.weight", shape: [64], role: .normWeight), ParameterSpec(name: "ln.bias", shape: [64], role: .normBias),
        ])
        let p = Dictionary(uniqueKeysWithValues: try InitRecipe.pytorchDefault().plan(spec, seed: 0).map { ($0.spec.name, $0) })
        #expect(close(p["fc.weight"]?.expectedBound, 1 / 300.0.squareRoot(), 1e-9))
        #expect(close(p["fc.bias"]?.expectedBound, 1 / 300.0.squareRoot(), 1e-15))
        #expect(close(p["conv.weight"]?.expectedBound, 1 / 144.0.squareRoot(), 1e-9))
        #expect(close(p["conv.bias"]?.expectedBound, 1 / 144.0.squareRoot(), 1e-15))
        #expect(close(p["fc.weight"]?.gain, (1.0 / 3).squareRoot(), 1e-12))
        #expect(close(p["emb.weight"]?.expectedStd, 1))
        #expect(p["ln.weight"]?.initializer == .ones && p["ln.bias"]?.initializer == .zeros)
        // A bias without its weight is an error naming the weight it looked for.
        let orphan = ModelSpec(parameters: [ParameterSpec(name: "x.bias", shape: [3], role: .bias)])
        #expect(throws: RecipeError.self) { try InitRecipe.pytorchDefault().plan(orphan, seed: 0) }
    }

    @Test("keras-default (dense.py, embedding.py): glorot_uniform, zero bias, Embedding U(±0.05)")
    func kerasDefault() throws {
        let spec = ModelSpec(parameters: [
            ParameterSpec(name: "dense.kernel", shape: [300, 200], role: .weight, layout: .spatialInOut),
            ParameterSpec(name: "dense.bias", shape: [200], role: .bias), ParameterSpec(name: "emb", shape: [1000, 64], role: .embedding),
        ])
        let p = Dictionary(uniqueKeysWithValues: try InitRecipe.kerasDefault().plan(spec, seed: 0).map { ($0.spec.name, $0) })
        #expect(close(p["dense.kernel"]?.expectedBound, (6.0 / 500).squareRoot(), 1e-12))
        #expect(close(p["emb"]?.expectedBound, 0.05) && p["dense.bias"]?.initializer == .zeros)
    }

    @Test("llama (torchtitan llama3 model.py): depth-scaled wo/w2/w3, output d^-½ truncated at ±3σ, embedding N(0,1)")
    func llama() throws {
        let p = try plan("llama", "llama")       // 6 layers, dim 256
        guard case let .truncatedNormal(_, s, a, b)? = p["output.weight"]?.initializer else { Issue.record("output"); return }
        #expect(close(s, 1 / 16.0) && close(a, -3 / 16.0) && close(b, 3 / 16.0))
        for (name, layer) in [("layers.3.attention.wo.weight", 3), ("layers.0.feed_forward.w2.weight", 0), ("layers.5.feed_forward.w3.weight", 5)] {
            guard case let .truncatedNormal(0, s, -2, 2)? = p[name]?.initializer else { Issue.record("\(name)"); continue }
            #expect(close(s, 0.02 / (2 * Double(layer + 1)).squareRoot()), "\(name)")
        }
        #expect(p["layers.3.attention.wq.weight"]?.initializer == .truncatedNormal(mean: 0, std: 0.02, a: -2, b: 2))
        #expect(p["layers.3.feed_forward.w1.weight"]?.initializer == .truncatedNormal(mean: 0, std: 0.02, a: -2, b: 2))
        #expect(p["tok_embeddings.weight"]?.initializer == .normal(mean: 0, std: 1) && p["norm.weight"]?.initializer == .ones)
        let flat = try plan("llama:depth_init=false", "llama:names=hf")
        guard case let .truncatedNormal(_, s2, _, _)? = flat["model.layers.4.mlp.down_proj.weight"]?.initializer else { Issue.record("down"); return }
        #expect(close(s2, 0.02 / 12.0.squareRoot()))
        #expect(flat["model.layers.4.mlp.gate_proj.weight"]?.initializer == .truncatedNormal(mean: 0, std: 0.02, a: -2, b: 2))
    }

    @Test("olmo-mitchell (olmo/initialization.py): 1/√fan_in, output projections /√(2(layer+1)), ±3σ")
    func olmo() throws {
        let p = try plan("olmo-mitchell", "llama:names=hf,dim=64,heads=4,kv_heads=4,ffn=256,layers=3")
        func check(_ name: String, _ std: Double) {
            guard case let .truncatedNormal(0, s, a, b)? = p[name]?.initializer else { Issue.record("\(name)"); return }
            #expect(close(s, std) && close(a, -3 * std) && close(b, 3 * std), "\(name)")
        }
        check("model.layers.2.self_attn.q_proj.weight", 1 / 8.0)
        check("model.layers.2.self_attn.o_proj.weight", 1 / 8.0 / 6.0.squareRoot())
        check("model.layers.1.mlp.down_proj.weight", 1 / 16.0 / 4.0.squareRoot())
        check("model.embed_tokens.weight", 1 / 8.0)
        check("lm_head.weight", 1 / 8.0)
    }

    @Test("deepnet (Wang et al. 2022): xavier_normal gain (8N)^-¼ on v/out/ffn, gain 1 on q/k")
    func deepnet() throws {
        let p = try plan("deepnet", "llama:layers=4,dim=64,heads=4,kv_heads=4,ffn=128")
        let beta = 1 / pow(32.0, 0.25)
        #expect(close(p["layers.1.attention.wv.weight"]?.gain, beta, 1e-12))
        #expect(close(p["layers.1.attention.wv.weight"]?.expectedStd, beta * (2.0 / 128).squareRoot(), 1e-12))
        #expect(close(p["layers.1.feed_forward.w2.weight"]?.expectedStd, beta * (2.0 / 192).squareRoot(), 1e-12))
        #expect(close(p["layers.1.attention.wq.weight"]?.gain, 1))
        #expect(close(p["output.weight"]?.expectedStd, 1 / 8.0))
        // GPT-2's fused c_attn is not a named DeepNet projection: an error that lists it.
        do { _ = try plan("deepnet", "gpt2:layers=1,dim=64,heads=4,vocab=10,positions=8"); Issue.record("accepted") } catch {
            guard case let .unmatchedParameters(names) = error as? RecipeError else { Issue.record("\(error)"); return }
            #expect(names == ["h.0.attn.c_attn.weight"])
        }
    }

    @Test("he/xavier/lecun by role and any fan-based scheme name")
    func byRole() throws {
        let p = try plan("he", "gpt2:layers=1,dim=64,heads=4,vocab=10,positions=8")
        #expect(close(p["h.0.mlp.c_proj.weight"]?.expectedStd, (2.0 / 256).squareRoot(), 1e-12))   // Conv1D [256, 64]: fan_in 256
        #expect(p["h.0.mlp.c_proj.bias"]?.initializer == .zeros && p["h.0.ln_1.weight"]?.initializer == .ones)
        let x = try plan("xavier-normal", "gpt2:layers=1,dim=64,heads=4,vocab=10,positions=8")
        #expect(close(x["h.0.attn.c_attn.weight"]?.expectedStd, (2.0 / 256).squareRoot(), 1e-12))
        #expect(throws: RecipeError.self) { try InitRecipe.named("zeros") }
        #expect(throws: RecipeError.self) { try InitRecipe.named("gpt2:colour=1") }
    }

    @Test("unmatched parameters: an error listing all of them, or zeros when asked")
    func unmatched() throws {
        let spec = try ModelPreset.spec("gpt2:layers=2,dim=8,heads=2,vocab=10,positions=4")
        let only = InitRecipe(name: "t", rules: [InitRule(roles: [.weight], .normal(mean: 0, std: 1))])
        do { _ = try only.plan(spec, seed: 0); Issue.record("accepted") } catch {
            guard case let .unmatchedParameters(names) = error else { Issue.record("\(error)"); return }
            #expect(names.count == spec.parameters.count - 8)
            #expect(names.contains("wte.weight") && names.contains("ln_f.bias"))
        }
        var zeros = only
        zeros.unmatched = .zeros
        let p = try zeros.plan(spec, seed: 0)
        #expect(p.first { $0.spec.name == "wte.weight" }?.ruleIndex == nil)
        #expect(p.first { $0.spec.name == "wte.weight" }?.initializer == .zeros)
    }

    @Test("rules file: first match wins, hyper-parameters, errors name the rule")
    func rulesFile() throws {
        let text = """
        {"rules": [
          {"match": "*c_proj.weight", "init": "normal", "std": 0.001},
          {"role": ["weight", "embedding"], "init": "he-normal", "nonlinearity": "leaky_relu", "negative_slope": 0.2, "mode": "fan_out"},
          {"role": "bias", "init": "constant", "value": 0.1},
          {"match": ["*ln_*", "ln_f.*"], "init": "ones"}]}
        """
        let r = try InitRecipe(rulesJSON: Data(text.utf8))
        let spec = try ModelPreset.spec("gpt2:layers=1,dim=64,heads=4,vocab=10,positions=8")
        let p = Dictionary(uniqueKeysWithValues: try r.plan(spec, seed: 0).map { ($0.spec.name, $0) })
        #expect(p["h.0.attn.c_proj.weight"]?.initializer == .normal(mean: 0, std: 0.001))
        #expect(close(p["h.0.mlp.c_fc.weight"]?.expectedStd, (2 / 1.04 / 256).squareRoot(), 1e-12))   // fan_out of [64, 256] in-out: 256
        #expect(p["h.0.mlp.c_fc.bias"]?.initializer == .constant(0.1))
        #expect(p["h.0.ln_1.bias"]?.initializer == .ones && p["h.0.ln_1.bias"]?.ruleIndex == 3)
        for (bad, fragment) in [(#"{"rules": [{"init": "normal", "stdd": 1}]}"#, "unknown key"),
                                (#"{"rules": [{"init": "normal", "std": true}]}"#, "finite number"),
                                (#"{"rules": [{"init": "normal", "std": -1}]}"#, "std"),
                                (#"{"rules": [{"init": "bogus"}]}"#, "unknown initializer"),
                                (#"{"rules": [{"role": "weights", "init": "zeros"}]}"#, "role"),
                                (#"{"rules": []}"#, "empty"), (#"{"rules": [{"std": 1}]}"#, "init"),
                                (#"{"rules": [{"init": "zeros"}], "unmatched": "ignore"}"#, "unmatched")] {
            do { _ = try InitRecipe(rulesJSON: Data(bad.utf8)); Issue.record("accepted \(bad)") } catch {
                #expect(error.description.contains(fragment), "\(bad): \(error.description)")
            }
        }
    }

    @Test("pytorch-default bounds and stds equal what torch.nn modules produce (when torch is importable)")
    func againstTorch() throws {
        guard let python = ProcessInfo.processInfo.environment["WEIGHTINIT_PYTHON"] else {
            print("torch leg skipped: WEIGHTINIT_PYTHON is not set (scripts/test.sh sets it)"); return
        }
        let script = """
        import json, sys
        try:
            import torch
        except Exception:
            print(json.dumps({"torch": False})); sys.exit(0)
        torch.manual_seed(0)
        out = {"torch": True}
        def rec(name, t):
            t = t.detach().double()
            out[name] = {"max": t.abs().max().item(), "std": t.std(unbiased=False).item(), "mean": t.mean().item(), "n": t.numel()}
        lin = torch.nn.Linear(300, 2000); rec("fc.weight", lin.weight); rec("fc.bias", lin.bias)
        conv = torch.nn.Conv2d(16, 320, 3); rec("conv.weight", conv.weight); rec("conv.bias", conv.bias)
        emb = torch.nn.Embedding(1000, 640); rec("emb.weight", emb.weight)
        ln = torch.nn.LayerNorm(64); rec("ln.weight", ln.weight); rec("ln.bias", ln.bias)
        print(json.dumps(out))
        """
        let proc = Process()
        proc.executableURL = URL(fileURLWithPath: python)
        proc.arguments = ["-c", script]
        let pipe = Pipe()
        proc.standardOutput = pipe
        try proc.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        proc.waitUntilExit()
        let obj = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        guard obj["torch"] as? Bool == true else { print("torch leg skipped: torch is not importable by \(python)"); return }
        print("torch leg ran")
        let spec = ModelSpec(parameters: [
            ParameterSpec(name: "fc.weight", shape: [2000, 300], role: .weight), ParameterSpec(name: "fc.bias", shape: [2000], role: .bias),
            ParameterSpec(name: "conv.weight", shape: [320, 16, 3, 3], role: .weight), ParameterSpec(name: "conv.bias", shape: [320], role: .bias),
            ParameterSpec(name: "emb.weight", shape: [1000, 640], role: .embedding),
            ParameterSpec(name: "ln.weight", shape: [64], role: .normWeight), ParameterSpec(name: "ln.bias", shape: [64], role: .normBias),
        ])
        for p in try InitRecipe.pytorchDefault().plan(spec, seed: 0) {
            let t = try #require(obj[p.spec.name] as? [String: Double])
            let n = t["n"]!, std = t["std"]!, mx = t["max"]!
            // The sample std of n draws has relative standard error ≈ √((κ−1)/(4n)) ≤ 1/√n; 6 of them.
            let tol = 6 / n.squareRoot()
            print("\(p.spec.name): torch std \(std) max \(mx); ours expected std \(p.expectedStd) bound \(p.expectedBound ?? .nan)")
            if p.expectedStd == 0 { #expect(std == 0 && abs(t["mean"]! - p.expectedMean) < 1e-12, "\(p.spec.name)") }
            else { #expect(abs(std / p.expectedStd - 1) < tol, "\(p.spec.name) std \(std) vs \(p.expectedStd)") }
            if let bound = p.expectedBound, p.expectedStd > 0 {
                // torch's max|w| lies below the bound and within a few 1/n of it.
                #expect(mx <= bound * (1 + 1e-6) && mx >= bound * (1 - 20 / n), "\(p.spec.name) max \(mx) vs bound \(bound)")
            }
        }
    }
}
