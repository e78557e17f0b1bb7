import Foundation

/// What a recipe knows about the model while it picks an initializer for one parameter.
public struct RecipeContext: Sendable {
    /// The recipe's name (for error messages).
    public let recipe: String
    /// The whole model.
    public let model: ModelSpec
    let byName: [String: ParameterSpec]

    init(recipe: String, model: ModelSpec) {
        self.recipe = recipe; self.model = model
        var m: [String: ParameterSpec] = [:]
        for p in model.parameters { m[p.name] = p }
        byName = m
    }

    /// The number of blocks N. - Throws: `.missingContext` when the spec gives none and no name has a block index.
    public func layerCount(for p: ParameterSpec) throws(RecipeError) -> Int {
        guard let n = model.layerCount, n >= 1 else {
            throw .missingContext(recipe: recipe, parameter: p.name, need: "the number of layers (give \"layers\" in the spec)")
        }
        return n
    }

    /// The parameter's block index. - Throws: `.missingContext` when its name has none.
    public func layer(of p: ParameterSpec) throws(RecipeError) -> Int {
        guard let l = p.layer else {
            throw .missingContext(recipe: recipe, parameter: p.name, need: "a block index in its name (…layers.N…) or a \"layer\" field")
        }
        return l
    }

    /// Fans of `p` from its global shape and layout. - Throws: `.initializer` for fewer than 2 dimensions.
    public func fans(of p: ParameterSpec) throws(RecipeError) -> Fans {
        do { return try Fans(shape: p.shape, layout: p.layout) } catch { throw .initializer(parameter: p.name, error) }
    }

    /// The weight a bias belongs to: the same name with its last component `bias` replaced by
    /// `weight` (`h.0.mlp.c_fc.bias` → `h.0.mlp.c_fc.weight`). - Throws: `.missingContext` when absent.
    public func siblingWeight(of p: ParameterSpec) throws(RecipeError) -> ParameterSpec {
        var parts = p.name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        if let last = parts.last { parts[parts.count - 1] = last.replacingOccurrences(of: "bias", with: "weight") }
        let name = parts.joined(separator: ".")
        guard name != p.name, let w = byName[name], w.shape.count >= 2 else {
            throw .missingContext(recipe: recipe, parameter: p.name, need: "its weight '\(name)' (≥ 2-D) in the spec to take fan_in from")
        }
        return w
    }
}

/// One rule of a recipe: a name glob and/or a set of roles, and the initializer for the
/// parameters it matches.
///
/// Globs match the WHOLE name: `*` matches any run of characters (dots included), `?` one
/// character, everything else itself. `*c_proj.weight` matches `h.3.attn.c_proj.weight`.
public struct InitRule: Sendable {
    /// How a matched parameter's initializer is chosen.
    public enum Action: Sendable {
        /// The same initializer for every match.
        case fixed(Initializer)
        /// An initializer computed from the parameter and the model (depth scaling, sibling fans).
        case derived(@Sendable (ParameterSpec, RecipeContext) throws(RecipeError) -> Initializer)
    }
    /// Name globs; the rule matches when any matches (`[]` = every name).
    public var patterns: [String]
    /// Roles; the rule matches when the parameter has one of them (`[]` = every role).
    public var roles: [ParameterRole]
    /// The initializer.
    public var action: Action
    /// What the rule does, for the init log (e.g. `N(0, 0.02/√(2·n_layer))`).
    public var summary: String

    /// A rule; `summary` defaults to the fixed initializer's name.
    public init(patterns: [String] = [], roles: [ParameterRole] = [], action: Action, summary: String? = nil) {
        self.patterns = patterns; self.roles = roles; self.action = action
        if let summary { self.summary = summary } else if case let .fixed(i) = action { self.summary = i.name } else { self.summary = "derived" }
    }

    /// A rule with a fixed initializer.
    public init(patterns: [String] = [], roles: [ParameterRole] = [], _ initializer: Initializer, summary: String? = nil) {
        self.init(patterns: patterns, roles: roles, action: .fixed(initializer), summary: summary)
    }

    /// Whether the rule applies to `p`.
    public func matches(_ p: ParameterSpec) -> Bool {
        (roles.isEmpty || roles.contains(p.role)) && (patterns.isEmpty || patterns.contains { InitRule.glob($0, matches: p.name) })
    }

    /// How the rule is shown in the log: its patterns and roles.
    public var selector: String {
        var parts: [String] = []
        if !patterns.isEmpty { parts.append(patterns.joined(separator: "|")) }
        if !roles.isEmpty { parts.append("role=" + roles.map(\.rawValue).joined(separator: "|")) }
        return parts.isEmpty ? "*" : parts.joined(separator: " ")
    }

    /// Glob match of the whole `name` (`*` any run, `?` one character), iterative with one
    /// backtrack point: O(|pattern|·|name|) at worst, never exponential.
    public static func glob(_ pattern: String, matches name: String) -> Bool {
        let p = Array(pattern.unicodeScalars), s = Array(name.unicodeScalars)
        var i = 0, j = 0, star = -1, mark = 0
        while j < s.count {
            if i < p.count && (p[i] == "?" || (p[i] != "*" && p[i] == s[j])) { i += 1; j += 1 }
            else if i < p.count && p[i] == "*" { star = i; mark = j; i += 1 }
            else if star >= 0 { i = star + 1; mark += 1; j = mark }
            else { return false }
        }
        while i < p.count && p[i] == "*" { i += 1 }
        return i == p.count
    }
}

/// What a recipe does with a parameter no rule matches.
public enum UnmatchedPolicy: String, Sendable, Codable {
    /// Throw `RecipeError.unmatchedParameters` listing them (the default).
    case error
    /// Leave them at zero, and say so in the init log.
    case zeros
}

/// A parameter after its recipe was applied: the rule that matched, the initializer, its key,
/// and what the initializer promises for its shape.
public struct PlannedParameter: Sendable {
    /// The parameter.
    public let spec: ParameterSpec
    /// Index of the matching rule, `nil` when unmatched and kept at zero.
    public let ruleIndex: Int?
    /// The matching rule's selector and summary (`"*c_proj.weight: N(0, 0.02/√(2·n_layer))"`).
    public let rule: String
    /// The initializer.
    public let initializer: Initializer
    /// `ParameterKey.key(seed:name:)`.
    public let key: RandomKey
    /// fan_in/fan_out when the parameter has ≥ 2 dimensions and a valid layout.
    public let fans: Fans?
    /// `√scale` for variance-scaling schemes (the gain they apply), else `nil`.
    public let gain: Double?
    /// Mean, std and bound (`max|w|`, `nil` when unbounded) the initializer promises for the shape.
    public let expectedMean: Double, expectedStd: Double, expectedBound: Double?
}

/// An initialization recipe: ordered rules, first match wins.
///
/// ```swift
/// let spec = try ModelPreset.spec("gpt2")
/// let plan = try InitRecipe.named("gpt2").plan(spec, seed: 0)
/// ```
public struct InitRecipe: Sendable {
    /// The recipe's name (`gpt2`, `rules:my.json`, …).
    public var name: String
    /// The rules, in order; the first that matches a parameter decides.
    public var rules: [InitRule]
    /// What happens to parameters no rule matches.
    public var unmatched: UnmatchedPolicy

    /// A recipe from rules.
    public init(name: String, rules: [InitRule], unmatched: UnmatchedPolicy = .error) {
        self.name = name; self.rules = rules; self.unmatched = unmatched
    }

    /// Applies the rules to every parameter of `model` and resolves each to an initializer, a
    /// key (`ParameterKey.key(seed:name:)`) and its promised statistics. Nothing is filled.
    /// - Throws: `RecipeError.unmatchedParameters` listing every parameter no rule matches
    ///   (unless `unmatched == .zeros`), `.initializer` when a scheme rejects a parameter's shape
    ///   or hyper-parameters, `.missingContext` when a rule needs what the spec lacks.
    public func plan(_ model: ModelSpec, seed: UInt64) throws(RecipeError) -> [PlannedParameter] {
        try model.validate()
        let context = RecipeContext(recipe: name, model: model)
        var out: [PlannedParameter] = []
        var missing: [String] = []
        for p in model.parameters {
            var index: Int? = nil
            var initializer = Initializer.zeros
            var label = "(unmatched: zeros)"
            if let i = rules.firstIndex(where: { $0.matches(p) }) {
                index = i
                switch rules[i].action {
                case let .fixed(x): initializer = x
                case let .derived(f): initializer = try f(p, context)
                }
                label = "\(rules[i].selector): \(rules[i].summary)"
            } else if unmatched == .error {
                missing.append(p.name)
                continue
            }
            do throws(InitializationError) { try initializer.validate() } catch { throw .initializer(parameter: p.name, error) }
            let fans = p.shape.count >= 2 ? try? Fans(shape: p.shape, layout: p.layout) : nil
            var gain: Double? = nil
            if case let .varianceScaling(vs) = initializer { gain = vs.scale.squareRoot() }
            let e: (mean: Double, std: Double, bound: Double?)
            do { e = try initializer.expectedStatistics(shape: p.shape, layout: p.layout) } catch { throw .initializer(parameter: p.name, error) }
            out.append(PlannedParameter(spec: p, ruleIndex: index, rule: label, initializer: initializer,
                                        key: ParameterKey.key(seed: seed, name: p.name), fans: fans, gain: gain,
                                        expectedMean: e.mean, expectedStd: e.std, expectedBound: e.bound))
        }
        if !missing.isEmpty { throw .unmatchedParameters(missing) }
        return out
    }
}

// MARK: - Built-in recipes

extension InitRecipe {
    /// The built-in recipe names (`he`, `xavier`, `lecun` and any fan-based scheme name such as
    /// `he-uniform` or `xavier-normal` are the scheme-by-role recipes).
    public static let builtInNames = ["pytorch-default", "keras-default", "gpt2", "llama", "olmo-mitchell", "deepnet", "he", "xavier", "lecun"]

    /// A built-in recipe from `NAME[:key=value,…]`.
    ///
    /// Options: `gpt2:initializer_range=0.02`, `llama:depth_init=true`, `deepnet:layers=N`
    /// (overrides the spec's layer count). Every recipe also takes `unmatched=error|zeros`.
    /// - Throws: `.unknownRecipe`, `.invalidOption`.
    public static func named(_ text: String) throws(RecipeError) -> InitRecipe {
        let (name, options) = try ModelPreset.parseOptions(text, owner: "recipe")
        var opts: [String: String] = [:]
        var unmatched = UnmatchedPolicy.error
        for (k, v) in options {
            if k == "unmatched" {
                guard let u = UnmatchedPolicy(rawValue: v.lowercased()) else {
                    throw .invalidOption(owner: "recipe \(name)", key: k, value: v, rule: "must be error or zeros")
                }
                unmatched = u
            } else { opts[k] = v }
        }
        func allow(_ keys: [String]) throws(RecipeError) {
            for (k, v) in opts where !keys.contains(k) {
                throw .invalidOption(owner: "recipe \(name)", key: k, value: v,
                                     rule: keys.isEmpty ? "this recipe takes no options but unmatched" : "unknown key; valid: \(keys.joined(separator: ", ")), unmatched")
            }
        }
        func number(_ key: String, _ def: Double) throws(RecipeError) -> Double {
            guard let s = opts[key] else { return def }
            guard let v = Double(s), v.isFinite, v > 0 else { throw .invalidOption(owner: "recipe \(name)", key: key, value: s, rule: "must be a finite number > 0") }
            return v
        }
        var recipe: InitRecipe
        switch name.lowercased() {
        case "pytorch-default", "pytorch", "torch": try allow([]); recipe = pytorchDefault()
        case "keras-default", "keras": try allow([]); recipe = kerasDefault()
        case "gpt2", "hf-gpt2": try allow(["initializer_range"]); recipe = gpt2(initializerRange: try number("initializer_range", 0.02))
        case "llama", "torchtitan":
            try allow(["depth_init"])
            recipe = llama(depthInit: try opts["depth_init"].map { (v) throws(RecipeError) in try ModelPreset.boolOption(v, key: "depth_init", owner: "recipe llama") } ?? true)
        case "olmo-mitchell", "mitchell": try allow([]); recipe = olmoMitchell()
        case "deepnet":
            try allow(["layers"])
            recipe = deepnet(layers: try opts["layers"].map { (v) throws(RecipeError) in try ModelPreset.sizeOption(v, key: "layers", owner: "recipe deepnet", max: 1 << 20) })
        case "he", "kaiming": try allow([]); recipe = byRole(.heNormal(), name: "he")
        case "xavier", "glorot": try allow([]); recipe = byRole(.xavierUniform(), name: "xavier")
        case "lecun": try allow([]); recipe = byRole(.lecunNormal(), name: "lecun")
        default:
            guard let scheme = try? Initializer(name: name), scheme.usesFans else { throw .unknownRecipe(name: name, valid: builtInNames) }
            try allow([])
            recipe = byRole(scheme, name: scheme.name)
        }
        recipe.unmatched = unmatched
        return recipe
    }

    /// Norms and biases as every framework sets them: norm weights 1, norm biases 0, biases 0.
    static let normRules = [InitRule(roles: [.normWeight], .ones), InitRule(roles: [.normBias], .zeros)]

    /// PyTorch module defaults. Reproduces `reset_parameters` of torch/nn/modules/linear.py
    /// (`nn.Linear`: `kaiming_uniform_(weight, a=√5)`, i.e. U(±1/√fan_in); bias U(±1/√fan_in)
    /// with the weight's fan_in, 0 when fan_in is 0), torch/nn/modules/conv.py (`_ConvNd`: the
    /// same two formulas with fan_in = in/groups·kernel), torch/nn/modules/sparse.py
    /// (`nn.Embedding`: `normal_(weight)`, N(0, 1)) and torch/nn/modules/normalization.py
    /// (`nn.LayerNorm`: weight 1, bias 0). Weights use `VarianceScaling(scale: 2/(1+5) = 1/3,
    /// fan_in, uniform)`: bound √3·√(1/3)/√fan_in = 1/√fan_in.
    public static func pytorchDefault() -> InitRecipe {
        let linear = VarianceScaling(scale: Nonlinearity.leakyReLU(negativeSlope: 5.0.squareRoot()).gainSquared, mode: .fanIn, distribution: .uniform)
        return InitRecipe(name: "pytorch-default", rules: [
            InitRule(roles: [.embedding], .normal(mean: 0, std: 1), summary: "N(0, 1) (nn.Embedding)"),
            InitRule(roles: [.normWeight], .ones, summary: "ones (nn.LayerNorm)"),
            InitRule(roles: [.normBias], .zeros, summary: "zeros (nn.LayerNorm)"),
            InitRule(roles: [.weight], .varianceScaling(linear), summary: "kaiming_uniform(a=√5) = U(±1/√fan_in) (nn.Linear/Conv)"),
            InitRule(roles: [.bias], action: .derived { (p, ctx) throws(RecipeError) in
                let fanIn = try ctx.fans(of: ctx.siblingWeight(of: p)).fanIn
                if fanIn == 0 { return .zeros }
                let bound = 1 / Double(fanIn).squareRoot()
                return .uniform(low: -bound, high: bound)
            }, summary: "U(±1/√fan_in of the weight) (nn.Linear/Conv bias)"),
        ])
    }

    /// Keras defaults: keras/src/layers/core/dense.py and keras/src/layers/convolutional/base_conv.py
    /// (`kernel_initializer="glorot_uniform"`, `bias_initializer="zeros"`),
    /// keras/src/layers/core/embedding.py (`embeddings_initializer="uniform"`, which
    /// keras/src/initializers/random_initializers.py defines as `RandomUniform(-0.05, 0.05)`),
    /// keras/src/layers/normalization/layer_normalization.py (gamma ones, beta zeros).
    /// Use `layout: .spatialInOut` in the spec for Keras kernels (`[in, out]`, HWIO).
    public static func kerasDefault() -> InitRecipe {
        InitRecipe(name: "keras-default", rules: [
            InitRule(roles: [.embedding], .uniform(low: -0.05, high: 0.05), summary: "U(±0.05) (Embedding)"),
            InitRule(roles: [.weight], .xavierUniform(), summary: "glorot_uniform (Dense/Conv)"),
            InitRule(roles: [.bias], .zeros),
        ] + normRules)
    }

    /// Hugging Face GPT-2: `GPT2PreTrainedModel._init_weights` in
    /// transformers/src/transformers/models/gpt2/modeling_gpt2.py — Linear/Conv1D weights and
    /// embeddings N(0, initializer_range = 0.02), biases 0, LayerNorm weight 1 and bias 0, then
    /// every parameter named `c_proj.weight` (attention and MLP output projections) re-drawn
    /// from N(0, initializer_range/√(2·n_layer)) (the GPT-2 paper's residual scaling).
    public static func gpt2(initializerRange r: Double = 0.02) -> InitRecipe {
        InitRecipe(name: "gpt2", rules: [
            InitRule(patterns: ["*c_proj.weight"], roles: [.weight], action: .derived { (p, ctx) throws(RecipeError) in
                let n = try ctx.layerCount(for: p)
                return .normal(mean: 0, std: r / (2 * Double(n)).squareRoot())
            }, summary: "N(0, \(r)/√(2·n_layer))"),
            InitRule(roles: [.weight, .embedding], .normal(mean: 0, std: r), summary: "N(0, \(r))"),
            InitRule(roles: [.bias], .zeros),
        ] + normRules)
    }

    /// Output projections of Llama-style blocks in both naming schemes (torchtitan, HF).
    static let llamaDepthScaled = ["*.wo.weight", "*.w2.weight", "*.w3.weight", "*o_proj.weight", "*down_proj.weight", "*up_proj.weight"]
    static let llamaOutput = ["output.weight", "lm_head.weight", "*.output.weight", "*.lm_head.weight"]

    /// torchtitan's Llama 3 initialization (torchtitan/models/llama3/model/model.py:
    /// `Transformer.init_weights`, `TransformerBlock`, `Attention.init_weights`,
    /// `FeedForward.init_weights`): token embedding N(0, 1); wq, wk, wv, w1 `trunc_normal_(std=0.02)`
    /// (absolute bounds ±2, PyTorch's default); wo, w2, w3 `trunc_normal_(std=init_std)` with
    /// `init_std = 0.02/√(2·(layer_id+1))` (`depth_init`, the default) or `0.02/√(2·n_layers)`;
    /// the output layer `trunc_normal_(std=d^-½, a=-3·d^-½, b=3·d^-½)`; RMSNorm weights 1.
    /// HF names map as q/k/v_proj → wq/wk/wv, o_proj → wo, gate_proj → w1, down_proj → w2,
    /// up_proj → w3, lm_head → output.
    public static func llama(depthInit: Bool = true) -> InitRecipe {
        InitRecipe(name: "llama", rules: [
            InitRule(patterns: llamaOutput, roles: [.weight], action: .derived { (p, ctx) throws(RecipeError) in
                let d = try ctx.fans(of: p).fanIn
                let s = 1 / Double(d).squareRoot()
                return .truncatedNormal(mean: 0, std: s, a: -3 * s, b: 3 * s)
            }, summary: "trunc_normal(0, d^-½, ±3σ)"),
            InitRule(patterns: llamaDepthScaled, roles: [.weight], action: .derived { (p, ctx) throws(RecipeError) in
                let denominator = depthInit ? 2 * Double(try ctx.layer(of: p) + 1) : 2 * Double(try ctx.layerCount(for: p))
                return .truncatedNormal(mean: 0, std: 0.02 / denominator.squareRoot(), a: -2, b: 2)
            }, summary: depthInit ? "trunc_normal(0, 0.02/√(2·(layer+1)), ±2)" : "trunc_normal(0, 0.02/√(2·n_layers), ±2)"),
            InitRule(roles: [.embedding], .normal(mean: 0, std: 1), summary: "N(0, 1)"),
            InitRule(roles: [.weight], .truncatedNormal(mean: 0, std: 0.02, a: -2, b: 2), summary: "trunc_normal(0, 0.02, ±2)"),
            InitRule(roles: [.bias], .zeros),
        ] + normRules)
    }

    /// Output projections of transformer blocks under the names OLMo, GPT-2, Llama and fairseq use.
    static let outputProjections = ["*attn_out.weight", "*ff_out.weight", "*c_proj.weight", "*o_proj.weight", "*.wo.weight",
                                    "*out_proj.weight", "*down_proj.weight", "*.w2.weight", "*fc2.weight"]

    /// OLMo's "mitchell" initialization (allenai/OLMo olmo/initialization.py `init_weights` with
    /// `InitFnType.mitchell`, called from olmo/model.py `OLMoSequentialBlock.reset_parameters`):
    /// every Linear weight and embedding `trunc_normal_(std=σ, a=-3σ, b=3σ)` with σ = 1/√d, d the
    /// effective input dimension (fan_in; d_model for embeddings `[vocab, d_model]`), and the
    /// block output projections (attn_out, ff_out, and their GPT-2/Llama names) additionally
    /// divided by √(2·(layer_id+1)); biases 0, norms 1/0.
    public static func olmoMitchell() -> InitRecipe {
        @Sendable func mitchell(_ p: ParameterSpec, _ ctx: RecipeContext, depth: Bool) throws(RecipeError) -> Initializer {
            var s = 1 / Double(try ctx.fans(of: p).fanIn).squareRoot()
            if depth, let l = p.layer { s /= (2 * Double(l + 1)).squareRoot() }
            return .truncatedNormal(mean: 0, std: s, a: -3 * s, b: 3 * s)
        }
        return InitRecipe(name: "olmo-mitchell", rules: [
            InitRule(patterns: outputProjections, roles: [.weight], action: .derived { (p, c) throws(RecipeError) in try mitchell(p, c, depth: true) },
                     summary: "trunc_normal(0, 1/√fan_in/√(2·(layer+1)), ±3σ)"),
            InitRule(roles: [.weight, .embedding], action: .derived { (p, c) throws(RecipeError) in try mitchell(p, c, depth: false) },
                     summary: "trunc_normal(0, 1/√fan_in, ±3σ)"),
            InitRule(roles: [.bias], .zeros),
        ] + normRules)
    }

    /// DeepNet (Wang et al. 2022, "DeepNet: Scaling Transformers to 1,000 Layers", Fig. 2 and
    /// Table 1; microsoft/torchscale torchscale/architecture/decoder.py): for a decoder-only model
    /// of N blocks, β = (8N)^-¼; `xavier_normal_(w, gain=β)` on the value, output and
    /// feed-forward projections (v_proj/wv, out_proj/o_proj/wo/c_proj, fc1/fc2/c_fc, w1/w2/w3,
    /// gate/up/down_proj), `xavier_normal_(w, gain=1)` on q and k projections; token embeddings
    /// and the output layer N(0, d^-½) (torchscale's `embed_tokens`/`output_projection`); biases 0,
    /// norms 1/0. Fused q/k/v weights (GPT-2's `c_attn`) match no rule: the paper scales only v.
    public static func deepnet(layers: Int? = nil) -> InitRecipe {
        @Sendable func beta(_ p: ParameterSpec, _ ctx: RecipeContext) throws(RecipeError) -> Double {
            var n = 0
            if let layers { n = layers } else { n = try ctx.layerCount(for: p) }
            return Foundation.pow(8 * Double(n), -0.25)
        }
        let scaled = ["*v_proj.weight", "*.wv.weight", "*out_proj.weight", "*o_proj.weight", "*.wo.weight", "*attn_out.weight",
                      "*c_proj.weight", "*fc1.weight", "*fc2.weight", "*c_fc.weight", "*.w1.weight", "*.w2.weight", "*.w3.weight",
                      "*gate_proj.weight", "*up_proj.weight", "*down_proj.weight"]
        let unscaled = ["*q_proj.weight", "*k_proj.weight", "*.wq.weight", "*.wk.weight"]
        return InitRecipe(name: "deepnet", rules: [
            InitRule(patterns: llamaOutput, roles: [.weight], action: .derived { (p, ctx) throws(RecipeError) in
                .normal(mean: 0, std: 1 / Double(try ctx.fans(of: p).fanIn).squareRoot())
            }, summary: "N(0, d^-½)"),
            InitRule(patterns: scaled, roles: [.weight], action: .derived { (p, ctx) throws(RecipeError) in
                .xavierNormal(gain: try beta(p, ctx))
            }, summary: "xavier_normal(gain β = (8N)^-¼)"),
            InitRule(patterns: unscaled, roles: [.weight], .xavierNormal(gain: 1), summary: "xavier_normal(gain 1)"),
            InitRule(roles: [.embedding], action: .derived { (p, ctx) throws(RecipeError) in
                .normal(mean: 0, std: 1 / Double(try ctx.fans(of: p).fanIn).squareRoot())
            }, summary: "N(0, d^-½)"),
            InitRule(roles: [.bias], .zeros),
        ] + normRules)
    }

    /// One fan-based scheme for every weight and embedding (fans from each parameter's shape and
    /// layout; an embedding `[vocab, d]` has fan_in d), biases 0, norms 1/0. `he` is
    /// `kaiming_normal_` (fan_in, ReLU gain √2), `xavier` `xavier_uniform_`, `lecun` LeCun normal
    /// (truncated, Keras/JAX).
    public static func byRole(_ scheme: Initializer, name: String) -> InitRecipe {
        InitRecipe(name: name, rules: [
            InitRule(roles: [.weight, .embedding], scheme),
            InitRule(roles: [.bias], .zeros),
        ] + normRules)
    }
}

// MARK: - Rules files

extension InitRecipe {
    /// Reads a user recipe (format in the README, "Recipes"):
    ///
    /// ```json
    /// {"unmatched": "error",
    ///  "rules": [
    ///    {"match": "*c_proj.weight", "init": "normal", "std": 0.0028867513},
    ///    {"role": ["weight", "embedding"], "init": "normal", "std": 0.02},
    ///    {"role": "bias", "init": "zeros"},
    ///    {"match": ["*ln_*.weight", "*norm.weight"], "init": "ones"}]}
    /// ```
    ///
    /// Each rule has `init` (a scheme name, `Initializer.canonicalName`), optionally `match`
    /// (a glob or a list) and `role` (a role or a list), and the scheme's hyper-parameters
    /// (`value, low, high, mean, std, a, b, k, gain, scale, mode, distribution, nonlinearity,
    /// negative_slope, sparsity, groups`). Unknown keys are rejected. `unmatched` is `error`
    /// (default) or `zeros`.
    /// - Throws: `RecipeError.invalidRule` naming the rule index and the problem.
    public init(rulesJSON data: Data, name: String = "rules") throws(RecipeError) {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw .invalidRule(index: -1, rule: "the rules file must be valid JSON (\(error.localizedDescription))")
        }
        guard let root = object as? [String: Any], let list = root["rules"] as? [Any] else {
            throw .invalidRule(index: -1, rule: "the rules file must be an object with a \"rules\" array")
        }
        for k in root.keys where !["rules", "unmatched", "name", "comment"].contains(k) {
            throw .invalidRule(index: -1, rule: "unknown top-level key '\(k)'; valid: rules, unmatched, name, comment")
        }
        var unmatched = UnmatchedPolicy.error
        if let u = root["unmatched"] {
            guard let s = u as? String, let p = UnmatchedPolicy(rawValue: s) else { throw .invalidRule(index: -1, rule: "\"unmatched\" must be \"error\" or \"zeros\"") }
            unmatched = p
        }
        guard !list.isEmpty else { throw .invalidRule(index: -1, rule: "\"rules\" must not be empty") }
        let numeric = ["value", "low", "high", "mean", "std", "a", "b", "k", "gain", "scale", "sparsity", "negative_slope"]
        var rules: [InitRule] = []
        for (i, item) in list.enumerated() {
            guard let r = item as? [String: Any] else { throw .invalidRule(index: i, rule: "must be an object") }
            for k in r.keys where !(["match", "role", "init", "mode", "distribution", "nonlinearity", "groups", "comment"] + numeric).contains(k) {
                throw .invalidRule(index: i, rule: "unknown key '\(k)'")
            }
            func strings(_ key: String) throws(RecipeError) -> [String] {
                guard let v = r[key] else { return [] }
                if let s = v as? String { return [s] }
                if let a = v as? [Any], !a.isEmpty, a.allSatisfy({ $0 is String }) { return a as! [String] }
                throw .invalidRule(index: i, rule: "\"\(key)\" must be a string or a non-empty list of strings")
            }
            let patterns = try strings("match")
            var roles: [ParameterRole] = []
            for s in try strings("role") {
                guard let role = ParameterRole(rawValue: s.lowercased()) else {
                    throw .invalidRule(index: i, rule: "role '\(s)' is not one of \(ParameterRole.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                roles.append(role)
            }
            guard let scheme = r["init"] as? String else { throw .invalidRule(index: i, rule: "needs \"init\": a scheme name") }
            var p = SchemeParameters()
            var numbers: [String: Double] = [:]
            for key in numeric {
                guard let v = r[key] else { continue }
                guard let n = v as? NSNumber, !isJSONBool(n), n.doubleValue.isFinite else {
                    throw .invalidRule(index: i, rule: "\"\(key)\" must be a finite number, got \(v)")
                }
                numbers[key] = n.doubleValue
            }
            p.value = numbers["value"]; p.low = numbers["low"]; p.high = numbers["high"]; p.mean = numbers["mean"]; p.std = numbers["std"]
            p.a = numbers["a"]; p.b = numbers["b"]; p.k = numbers["k"]; p.gain = numbers["gain"]; p.scale = numbers["scale"]
            p.sparsity = numbers["sparsity"]
            if let g = r["groups"] {
                guard let n = g as? NSNumber, let v = Int(exactly: n.doubleValue) else { throw .invalidRule(index: i, rule: "\"groups\" must be an integer") }
                p.groups = v
            }
            if let m = r["mode"] {
                guard let s = m as? String, let mode = FanMode(rawValue: s.lowercased().replacingOccurrences(of: "_", with: "-")) else {
                    throw .invalidRule(index: i, rule: "\"mode\" must be one of \(FanMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                p.mode = mode
            }
            if let d = r["distribution"] {
                guard let s = d as? String, let dist = VarianceScaling.Distribution(rawValue: s.lowercased().replacingOccurrences(of: "_", with: "-")) else {
                    throw .invalidRule(index: i, rule: "\"distribution\" must be one of uniform, normal, truncated-normal")
                }
                p.distribution = dist
            }
            if let nl = r["nonlinearity"] {
                guard let s = nl as? String else { throw .invalidRule(index: i, rule: "\"nonlinearity\" must be a string") }
                do { p.nonlinearity = try Nonlinearity(name: s, parameter: numbers["negative_slope"].map { "\($0)" }) }
                catch { throw .invalidRule(index: i, rule: error.description) }
            } else if numbers["negative_slope"] != nil {
                throw .invalidRule(index: i, rule: "\"negative_slope\" needs \"nonlinearity\": \"leaky_relu\"")
            }
            let initializer: Initializer
            do {
                initializer = try Initializer(name: scheme, parameters: p)
                try initializer.validate()
            } catch { throw .invalidRule(index: i, rule: error.description) }
            rules.append(InitRule(patterns: patterns, roles: roles, initializer, summary: scheme))
        }
        self.init(name: (root["name"] as? String) ?? name, rules: rules, unmatched: unmatched)
    }
}
