/// Parameter sets of common models, with the names and shapes their reference implementations
/// store, selected by `NAME[:key=value,…]` (e.g. `gpt2`, `gpt2-xl`, `llama-1b:layers=4,vocab=32000`).
///
/// - GPT-2 (Radford et al. 2019), Hugging Face `GPT2Model` names and shapes
///   (transformers/src/transformers/models/gpt2/modeling_gpt2.py): `wte.weight [vocab, d]`,
///   `wpe.weight [positions, d]`, per block `h.N.ln_1.{weight,bias} [d]`,
///   `h.N.attn.c_attn.weight [d, 3d]` (HF `Conv1D`, layout `[in, out]`), `h.N.attn.c_attn.bias [3d]`,
///   `h.N.attn.c_proj.weight [d, d]`, `…bias [d]`, `h.N.ln_2.*`, `h.N.mlp.c_fc.weight [d, ffn]`,
///   `…bias [ffn]`, `h.N.mlp.c_proj.weight [ffn, d]`, `…bias [d]`, then `ln_f.{weight,bias}`.
///   The LM head is tied to `wte` and not stored. Sizes: `gpt2` 12×768 (124 439 808 parameters),
///   `gpt2-medium` 24×1024, `gpt2-large` 36×1280, `gpt2-xl` 48×1600 (1 557 611 200). Keys:
///   `layers`, `dim`, `heads`, `vocab` (50257), `positions` (1024), `ffn` (4·dim), `prefix`.
/// - Llama-style decoders `(layers, dim, heads, kv_heads, ffn, vocab)`: RMSNorm weights, no
///   biases, grouped-query attention (`wk`/`wv` have `kv_heads·dim/heads` rows), SwiGLU feed-forward,
///   untied output. `names=torchtitan` (default; torchtitan/models/llama3/model/model.py):
///   `tok_embeddings.weight`, `layers.N.attention.{wq,wk,wv,wo}.weight`,
///   `layers.N.feed_forward.{w1,w2,w3}.weight`, `layers.N.{attention_norm,ffn_norm}.weight`,
///   `norm.weight`, `output.weight`; `names=hf` (transformers' modeling_llama.py):
///   `model.embed_tokens.weight`, `model.layers.N.self_attn.{q,k,v,o}_proj.weight`,
///   `model.layers.N.mlp.{gate,up,down}_proj.weight`, `model.layers.N.{input,post_attention}_layernorm.weight`,
///   `model.norm.weight`, `lm_head.weight`. `tied=true` drops the output matrix.
///   Presets: `llama` (torchtitan's debug model: 6×256, 16 heads, ffn 768, vocab 2000),
///   `llama-1b` (Llama 3.2 1B shapes: 16×2048, 32/8 heads, ffn 8192, vocab 128256, untied:
///   1 498 482 688 parameters), `llama2-7b` (32×4096, 32/32, 11008, 32000), `llama3-8b`
///   (32×4096, 32/8, 14336, 128256).
public enum ModelPreset {
    /// The preset names `spec(_:)` accepts.
    public static let names = ["gpt2", "gpt2-small", "gpt2-medium", "gpt2-large", "gpt2-xl", "llama", "llama-1b", "llama2-7b", "llama3-8b"]

    /// The spec of `text` = `NAME[:key=value,…]` with every parameter of element type `dtype`.
    /// - Throws: `RecipeError.unknownPreset` for an unknown name, `.invalidOption` for an unknown
    ///   key, a non-integer or out-of-range value (sizes 1…2²⁴, heads dividing dim, kv_heads dividing heads).
    public static func spec(_ text: String, dtype: ParameterDType = .f32) throws(RecipeError) -> ModelSpec {
        let (name, options) = try parseOptions(text, owner: "preset")
        switch name.lowercased() {
        case "gpt2", "gpt2-small": return try gpt2(layers: 12, dim: 768, heads: 12, options: options, owner: name, dtype: dtype)
        case "gpt2-medium": return try gpt2(layers: 24, dim: 1024, heads: 16, options: options, owner: name, dtype: dtype)
        case "gpt2-large": return try gpt2(layers: 36, dim: 1280, heads: 20, options: options, owner: name, dtype: dtype)
        case "gpt2-xl": return try gpt2(layers: 48, dim: 1600, heads: 25, options: options, owner: name, dtype: dtype)
        case "llama": return try llama(LlamaShape(layers: 6, dim: 256, heads: 16, kvHeads: 16, ffn: 768, vocab: 2000), options: options, owner: name, dtype: dtype)
        case "llama-1b": return try llama(LlamaShape(layers: 16, dim: 2048, heads: 32, kvHeads: 8, ffn: 8192, vocab: 128_256), options: options, owner: name, dtype: dtype)
        case "llama2-7b": return try llama(LlamaShape(layers: 32, dim: 4096, heads: 32, kvHeads: 32, ffn: 11008, vocab: 32000), options: options, owner: name, dtype: dtype)
        case "llama3-8b": return try llama(LlamaShape(layers: 32, dim: 4096, heads: 32, kvHeads: 8, ffn: 14336, vocab: 128_256), options: options, owner: name, dtype: dtype)
        default: throw .unknownPreset(name: name, valid: names)
        }
    }

    /// Splits `NAME:k=v,k=v` into the name and an ordered option list.
    /// - Throws: `.invalidItem` for an empty item (`a=1,,b=2`, a trailing comma, nothing after the
    ///   colon), an item without `=` or an empty key (named as `--owner`, the command-line option);
    ///   `.invalidOption` for a repeated key.
    public static func parseOptions(_ text: String, owner: String) throws(RecipeError) -> (String, [(String, String)]) {
        guard let colon = text.firstIndex(of: ":") else { return (text.trimmingCharacters(in: .whitespaces), []) }
        let name = String(text[..<colon]).trimmingCharacters(in: .whitespaces)
        var options: [(String, String)] = []
        let items = text[text.index(after: colon)...].split(separator: ",", omittingEmptySubsequences: false)
        for (i, item) in items.enumerated() {
            guard !item.allSatisfy({ $0 == " " || $0 == "\t" }) else {
                throw .invalidItem(option: "--\(owner)", text: text, item: String(item), position: i + 1, count: items.count,
                                   rule: "options are key=value separated by single commas, no empty item")
            }
            let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2, !pair[0].isEmpty else {
                throw .invalidItem(option: "--\(owner)", text: text, item: item.trimmingCharacters(in: .whitespaces), position: i + 1, count: items.count,
                                   rule: pair.count == 2 ? "the key before '=' is empty (options are key=value)" : "no '=' (options are key=value, separated by commas)")
            }
            guard !options.contains(where: { $0.0 == pair[0] }) else {
                throw .invalidOption(owner: "\(owner) \(name)", key: pair[0], value: pair[1], rule: "given twice")
            }
            options.append((pair[0], pair[1]))
        }
        return (name, options)
    }

    static func sizeOption(_ value: String, key: String, owner: String, max: Int = 1 << 24) throws(RecipeError) -> Int {
        guard let v = Int(value), v >= 1, v <= max else {
            throw .invalidOption(owner: owner, key: key, value: value, rule: "must be an integer in 1…\(max)")
        }
        return v
    }

    static func boolOption(_ value: String, key: String, owner: String) throws(RecipeError) -> Bool {
        switch value.lowercased() {
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: throw .invalidOption(owner: owner, key: key, value: value, rule: "must be true or false")
        }
    }

    static func gpt2(layers: Int, dim: Int, heads: Int, options: [(String, String)], owner: String, dtype: ParameterDType) throws(RecipeError) -> ModelSpec {
        var n = layers, d = dim, h = heads, vocab = 50257, positions = 1024, ffn: Int? = nil, prefix = ""
        for (k, v) in options {
            switch k {
            case "layers", "n_layer": n = try sizeOption(v, key: k, owner: owner, max: 4096)
            case "dim", "n_embd": d = try sizeOption(v, key: k, owner: owner)
            case "heads", "n_head": h = try sizeOption(v, key: k, owner: owner)
            case "vocab", "vocab_size": vocab = try sizeOption(v, key: k, owner: owner)
            case "positions", "n_positions": positions = try sizeOption(v, key: k, owner: owner)
            case "ffn", "n_inner": ffn = try sizeOption(v, key: k, owner: owner)
            case "prefix": prefix = v
            default:
                throw .invalidOption(owner: owner, key: k, value: v, rule: "unknown key; valid: layers, dim, heads, vocab, positions, ffn, prefix")
            }
        }
        guard d % h == 0 else { throw .invalidOption(owner: owner, key: "heads", value: "\(h)", rule: "must divide dim \(d)") }
        let f = ffn ?? 4 * d
        var p: [ParameterSpec] = []
        func add(_ name: String, _ shape: [Int], _ role: ParameterRole, _ layout: KernelLayout = .outInSpatial) {
            p.append(ParameterSpec(name: prefix + name, shape: shape, dtype: dtype, role: role, layout: layout))
        }
        add("wte.weight", [vocab, d], .embedding)
        add("wpe.weight", [positions, d], .embedding)
        for i in 0..<n {
            add("h.\(i).ln_1.weight", [d], .normWeight); add("h.\(i).ln_1.bias", [d], .normBias)
            add("h.\(i).attn.c_attn.weight", [d, 3 * d], .weight, .spatialInOut); add("h.\(i).attn.c_attn.bias", [3 * d], .bias)
            add("h.\(i).attn.c_proj.weight", [d, d], .weight, .spatialInOut); add("h.\(i).attn.c_proj.bias", [d], .bias)
            add("h.\(i).ln_2.weight", [d], .normWeight); add("h.\(i).ln_2.bias", [d], .normBias)
            add("h.\(i).mlp.c_fc.weight", [d, f], .weight, .spatialInOut); add("h.\(i).mlp.c_fc.bias", [f], .bias)
            add("h.\(i).mlp.c_proj.weight", [f, d], .weight, .spatialInOut); add("h.\(i).mlp.c_proj.bias", [d], .bias)
        }
        add("ln_f.weight", [d], .normWeight); add("ln_f.bias", [d], .normBias)
        let spec = ModelSpec(parameters: p, layers: n, dim: d)
        try spec.validate()
        return spec
    }

    struct LlamaShape { var layers, dim, heads, kvHeads, ffn, vocab: Int }

    static func llama(_ base: LlamaShape, options: [(String, String)], owner: String, dtype: ParameterDType) throws(RecipeError) -> ModelSpec {
        var s = base, hf = false, tied = false
        for (k, v) in options {
            switch k {
            case "layers", "n_layers": s.layers = try sizeOption(v, key: k, owner: owner, max: 4096)
            case "dim": s.dim = try sizeOption(v, key: k, owner: owner)
            case "heads", "n_heads": s.heads = try sizeOption(v, key: k, owner: owner)
            case "kv_heads", "kv-heads", "n_kv_heads": s.kvHeads = try sizeOption(v, key: k, owner: owner)
            case "ffn", "hidden_dim", "intermediate_size": s.ffn = try sizeOption(v, key: k, owner: owner)
            case "vocab", "vocab_size": s.vocab = try sizeOption(v, key: k, owner: owner)
            case "tied": tied = try boolOption(v, key: k, owner: owner)
            case "names":
                switch v.lowercased() {
                case "hf", "huggingface": hf = true
                case "torchtitan", "titan", "meta": hf = false
                default: throw .invalidOption(owner: owner, key: k, value: v, rule: "must be hf or torchtitan")
                }
            default:
                throw .invalidOption(owner: owner, key: k, value: v, rule: "unknown key; valid: layers, dim, heads, kv_heads, ffn, vocab, names, tied")
            }
        }
        guard s.dim % s.heads == 0 else { throw .invalidOption(owner: owner, key: "heads", value: "\(s.heads)", rule: "must divide dim \(s.dim)") }
        guard s.heads % s.kvHeads == 0 else { throw .invalidOption(owner: owner, key: "kv_heads", value: "\(s.kvHeads)", rule: "must divide heads \(s.heads)") }
        let d = s.dim, kv = s.kvHeads * (s.dim / s.heads), f = s.ffn
        var p: [ParameterSpec] = []
        func add(_ name: String, _ shape: [Int], _ role: ParameterRole) {
            p.append(ParameterSpec(name: name, shape: shape, dtype: dtype, role: role))
        }
        if hf {
            add("model.embed_tokens.weight", [s.vocab, d], .embedding)
            for i in 0..<s.layers {
                let b = "model.layers.\(i)."
                add(b + "self_attn.q_proj.weight", [d, d], .weight); add(b + "self_attn.k_proj.weight", [kv, d], .weight)
                add(b + "self_attn.v_proj.weight", [kv, d], .weight); add(b + "self_attn.o_proj.weight", [d, d], .weight)
                add(b + "mlp.gate_proj.weight", [f, d], .weight); add(b + "mlp.up_proj.weight", [f, d], .weight)
                add(b + "mlp.down_proj.weight", [d, f], .weight)
                add(b + "input_layernorm.weight", [d], .normWeight); add(b + "post_attention_layernorm.weight", [d], .normWeight)
            }
            add("model.norm.weight", [d], .normWeight)
            if !tied { add("lm_head.weight", [s.vocab, d], .weight) }
        } else {
            add("tok_embeddings.weight", [s.vocab, d], .embedding)
            for i in 0..<s.layers {
                let b = "layers.\(i)."
                add(b + "attention.wq.weight", [d, d], .weight); add(b + "attention.wk.weight", [kv, d], .weight)
                add(b + "attention.wv.weight", [kv, d], .weight); add(b + "attention.wo.weight", [d, d], .weight)
                add(b + "feed_forward.w1.weight", [f, d], .weight); add(b + "feed_forward.w2.weight", [d, f], .weight)
                add(b + "feed_forward.w3.weight", [f, d], .weight)
                add(b + "attention_norm.weight", [d], .normWeight); add(b + "ffn_norm.weight", [d], .normWeight)
            }
            add("norm.weight", [d], .normWeight)
            if !tied { add("output.weight", [s.vocab, d], .weight) }
        }
        let spec = ModelSpec(parameters: p, layers: s.layers, dim: d)
        try spec.validate()
        return spec
    }
}
