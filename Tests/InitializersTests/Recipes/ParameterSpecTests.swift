// Specs, JSON spec files and per-name keys. Oracles: FNV-1a vectors computed by a Python
// one-liner (docs/README) and the published FNV test vectors; the reference Philox in TestSupport.
import Foundation
import Testing
@testable import Initializers

@Suite("Recipes: parameter specs and keys")
struct ParameterSpecTests {
    /// `python3 -c 'h=0xcbf29ce484222325\nfor b in NAME.encode(): h=((h^b)*0x100000001b3)%2**64\nprint(hex(h))'`
    static let fnvVectors: [(String, UInt64)] = [
        ("", 0xcbf2_9ce4_8422_2325), ("a", 0xaf63_dc4c_8601_ec8c), ("foobar", 0x8594_4171_f739_67e8),
        ("wte.weight", 0x61d3_a46d_83bc_4189), ("h.0.attn.c_proj.weight", 0x5de3_f523_3242_a7d1),
        ("layers.0.attention.wo.weight", 0x6631_80ba_f95f_85fb),
    ]

    @Test("FNV-1a 64 of parameter names matches the vectors computed in Python")
    func fnvVectors() {
        for (name, h) in Self.fnvVectors { #expect(ParameterKey.fnv1a64(name) == h, "\(name)") }
    }

    @Test("a parameter's key is Philox(counter = (hash lo, hash hi, 0, 0xF01DF01D), key = seed words)")
    func keyDerivation() {
        for seed: UInt64 in [0, 1, 0xDEAD_BEEF_0123_4567] {
            for (name, h) in Self.fnvVectors {
                let ref = refPhilox((UInt32(truncatingIfNeeded: h), UInt32(truncatingIfNeeded: h >> 32), 0, 0xF01D_F01D),
                                    (UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32)))
                let k = ParameterKey.key(seed: seed, name: name)
                #expect(k.k0 == ref[0] && k.k1 == ref[1], "seed \(seed) name \(name)")
            }
        }
    }

    @Test("role and layout inference from names")
    func inference() {
        let cases: [(String, [Int], ParameterRole)] = [
            ("wte.weight", [50257, 768], .embedding), ("h.0.ln_1.weight", [768], .normWeight), ("h.0.ln_1.bias", [768], .normBias),
            ("h.0.attn.c_attn.weight", [768, 2304], .weight), ("h.0.attn.c_attn.bias", [2304], .bias),
            ("model.layers.3.input_layernorm.weight", [64], .normWeight), ("model.embed_tokens.weight", [10, 4], .embedding),
            ("layers.0.attention_norm.weight", [8], .normWeight), ("fc.weight", [3, 4], .weight), ("step", [], .other),
        ]
        for (n, s, r) in cases { #expect(ParameterSpec.inferRole(name: n, shape: s) == r, "\(n)") }
        #expect(ParameterSpec.inferLayout(name: "h.1.mlp.c_fc.weight", shape: [4, 16]) == .spatialInOut)
        #expect(ParameterSpec.inferLayout(name: "fc.weight", shape: [4, 16]) == .outInSpatial)
        #expect(ParameterSpec.layerIndex(in: "model.layers.12.mlp.up_proj.weight") == 12)
        #expect(ParameterSpec.layerIndex(in: "wte.weight") == nil)
    }

    @Test("JSON spec: defaults, inference, explicit fields")
    func jsonSpec() throws {
        let text = """
        {"layers": 2, "dim": 4, "parameters": [
          {"name": "wte.weight", "shape": [10, 4]},
          {"name": "h.1.attn.c_attn.weight", "shape": [4, 12], "dtype": "bf16"},
          {"name": "x", "shape": [3, 5], "role": "weight", "layout": "in-out", "layer": 7}]}
        """
        let spec = try ModelSpec(json: Data(text.utf8))
        #expect(spec.parameters.map(\.role) == [.embedding, .weight, .weight])
        #expect(spec.parameters[1].layout == .spatialInOut && spec.parameters[1].dtype == .bf16 && spec.parameters[1].layer == 1)
        #expect(spec.parameters[2].layout == .spatialInOut && spec.parameters[2].layer == 7)
        #expect(spec.layers == 2 && spec.dim == 4)
        #expect(try spec.byteCount() == (40 + 15) * 4 + 48 * 2)
    }

    @Test("JSON spec errors name the parameter and the rule", arguments: [
        (#"{"parameters": []}"#, "at least one"),
        (#"{"parameters": [{"name": "a", "shape": [2]}, {"name": "a", "shape": [3]}]}"#, "more than once"),
        (#"{"parameters": [{"name": "a", "shape": [-1]}]}"#, "≥ 0"),
        (#"{"parameters": [{"name": "a", "shape": [true]}]}"#, "integer"),
        (#"{"parameters": [{"name": "a", "shape": [2.5]}]}"#, "integer"),
        (#"{"parameters": [{"name": "a", "shape": [4294967296, 4294967296]}]}"#, "overflows"),
        (#"{"parameters": [{"name": "a", "shape": [2], "colour": 1}]}"#, "unknown"),
        (#"{"parameters": [{"name": "a", "shape": [2], "dtype": "int8"}]}"#, "f32"),
        (#"{"parameters": [{"name": "a", "shape": [2], "role": "weight"}]}"#, "≥ 2 dimensions"),
        (#"{"parameters": [{"name": "", "shape": [2]}]}"#, "empty"),
        (#"{"parameters": [{"name": "a\u0001", "shape": [2]}]}"#, "control"),
        (#"{"parameterz": []}"#, "unknown"),
        (#"[1, 2]"#, "object"),
        (#"{"parameters": "#, "valid JSON"),
    ])
    func jsonErrors(text: String, fragment: String) {
        do {
            _ = try ModelSpec(json: Data(text.utf8))
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.description.contains(fragment), "\(error.description)")
        }
    }
}
