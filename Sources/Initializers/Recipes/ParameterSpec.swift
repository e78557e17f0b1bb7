import Foundation

/// What a parameter is to a recipe: rules match on it, and bias rules find their weight by it.
public enum ParameterRole: String, Sendable, Hashable, Codable, CaseIterable {
    /// A Linear/Conv/Conv1D weight (≥ 2 dimensions; fans from its `KernelLayout`).
    case weight
    /// An additive bias (1-D); PyTorch-style recipes take its bound from the sibling weight's fan_in.
    case bias
    /// An embedding table `[num_embeddings, embedding_dim]` (token, position).
    case embedding
    /// The scale (gamma) of LayerNorm/RMSNorm.
    case normWeight = "norm-weight"
    /// The shift (beta) of LayerNorm.
    case normBias = "norm-bias"
    /// Anything else (scalars, buffers); only rules that name it match.
    case other
}

/// Element type of a parameter in the output file (safetensors dtype names).
public enum ParameterDType: String, Sendable, Hashable, Codable, CaseIterable {
    /// IEEE binary32.
    case f32 = "F32"
    /// IEEE binary64 (filled by the Double kernels: different values from F32 for the same key).
    case f64 = "F64"
    /// bfloat16: the F32 fill rounded to nearest even (NaN stays NaN).
    case bf16 = "BF16"
    /// IEEE binary16: the F32 fill rounded to nearest even (values beyond 65504 become ±inf).
    case f16 = "F16"

    /// Bytes per element.
    public var size: Int {
        switch self { case .f32: 4; case .f64: 8; case .bf16, .f16: 2 }
    }

    /// Parses `f32`/`F32`/`float32`, `f64`/`float64`/`double`, `bf16`/`bfloat16`, `f16`/`float16`/`half`.
    /// - Throws: `RecipeError.invalidSpec` naming the value and the accepted names.
    public init(name: String) throws(RecipeError) {
        switch name.lowercased() {
        case "f32", "float32", "float": self = .f32
        case "f64", "float64", "double": self = .f64
        case "bf16", "bfloat16": self = .bf16
        case "f16", "float16", "half": self = .f16
        default: throw .invalidSpec(what: "dtype '\(name)'", rule: "must be one of f32, f64, bf16, f16")
        }
    }
}

/// One named parameter of a model: its name, global shape, element type, role and the layout
/// its fans are read with.
///
/// Names are the framework's (`h.0.attn.c_attn.weight` for Hugging Face GPT-2,
/// `layers.3.attention.wo.weight` for torchtitan); the name alone selects the random key
/// (`ParameterKey`), so the bytes of a parameter do not depend on the rest of the model.
public struct ParameterSpec: Sendable, Hashable, Codable {
    /// The parameter's name (non-empty UTF-8, unique within a model).
    public var name: String
    /// The GLOBAL shape, row-major (`[]` is a scalar).
    public var shape: [Int]
    /// Element type in the output.
    public var dtype: ParameterDType
    /// What the parameter is (see `ParameterRole`).
    public var role: ParameterRole
    /// How fans are read from `shape`: `.outInSpatial` for `nn.Linear` `[out, in]` and conv OIHW,
    /// `.spatialInOut` for Hugging Face `Conv1D` (GPT-2) `[in, out]` and Keras kernels.
    public var layout: KernelLayout
    /// The block index (`h.3.…` → 3) used by depth-scaled recipes; `nil` outside blocks.
    public var layer: Int?

    /// A parameter; `layer` defaults to the first all-digit component of the name.
    public init(name: String, shape: [Int], dtype: ParameterDType = .f32, role: ParameterRole,
                layout: KernelLayout = .outInSpatial, layer: Int? = nil) {
        self.name = name; self.shape = shape; self.dtype = dtype; self.role = role; self.layout = layout
        self.layer = layer ?? ParameterSpec.layerIndex(in: name)
    }

    /// A parameter whose role and layout are inferred from its name and shape (`inferRole`, `inferLayout`).
    public init(inferringFrom name: String, shape: [Int], dtype: ParameterDType = .f32) {
        self.init(name: name, shape: shape, dtype: dtype, role: ParameterSpec.inferRole(name: name, shape: shape),
                  layout: ParameterSpec.inferLayout(name: name, shape: shape))
    }

    /// Number of elements (1 for a scalar). - Throws: `.sizeOverflow` when it overflows `Int`.
    public func elementCount() throws(RecipeError) -> Int {
        if shape.contains(0) { return 0 }     // empty, however large the other dimensions
        var n = 1
        for d in shape {
            let (p, o) = n.multipliedReportingOverflow(by: d)
            guard !o else { throw .sizeOverflow(what: "parameter '\(name)' shape \(shape)") }
            n = p
        }
        return n
    }

    /// Bytes in the output (`elementCount · dtype.size`). - Throws: `.sizeOverflow`.
    public func byteCount() throws(RecipeError) -> Int {
        let (b, o) = try elementCount().multipliedReportingOverflow(by: dtype.size)
        guard !o else { throw .sizeOverflow(what: "parameter '\(name)' shape \(shape)") }
        return b
    }

    /// The first component of a dotted name that is all digits (`model.layers.12.mlp…` → 12).
    public static func layerIndex(in name: String) -> Int? {
        for part in name.split(separator: ".") where !part.isEmpty && part.allSatisfy({ $0.isASCII && $0.isNumber }) {
            return Int(part)
        }
        return nil
    }

    /// The role a name and shape suggest (used by `--like` and by JSON specs without a role):
    /// a component containing `norm` or equal to `ln`/starting with `ln_` makes a norm parameter
    /// (`…bias` → norm-bias, otherwise norm-weight); a 2-D `…weight` whose module is `wte`,
    /// `wpe`, `embed*`, `*embedding*` or `tok_embeddings` is an embedding; a name ending in
    /// `bias` is a bias; ≥ 2 dimensions make a weight; anything else is `other`.
    public static func inferRole(name: String, shape: [Int]) -> ParameterRole {
        let parts = name.lowercased().split(separator: ".").map(String.init)
        let last = parts.last ?? ""
        let module = parts.count >= 2 ? parts[parts.count - 2] : ""
        let isNorm = parts.dropLast().contains { $0.contains("norm") || $0 == "ln" || $0.hasPrefix("ln_") }
        if isNorm && shape.count <= 1 { return last.contains("bias") || last == "beta" ? .normBias : .normWeight }
        let embedding = ["wte", "wpe", "tok_embeddings", "embed_tokens", "embed_positions", "word_embeddings", "position_embeddings"]
        if shape.count == 2 && (embedding.contains(module) || module.hasPrefix("embed") || module.contains("embedding")) { return .embedding }
        if last.hasSuffix("bias") { return .bias }
        if shape.count >= 2 { return .weight }
        return .other
    }

    /// The layout a name suggests: Hugging Face `Conv1D` modules (`c_attn`, `c_proj`, `c_fc`,
    /// `q_attn` of GPT-2) store `[in, out]` (`.spatialInOut`); everything else `.outInSpatial`.
    public static func inferLayout(name: String, shape: [Int]) -> KernelLayout {
        let parts = name.split(separator: ".").map(String.init)
        let module = parts.count >= 2 ? parts[parts.count - 2] : ""
        if shape.count == 2 && ["c_attn", "c_proj", "c_fc", "q_attn"].contains(module) { return .spatialInOut }
        return .outInSpatial
    }
}

/// An ordered list of parameters — a model as a file sees it — with the two model properties
/// depth-scaled recipes need.
public struct ModelSpec: Sendable, Hashable, Codable {
    /// The parameters in model order (the order of the log; the file orders them itself).
    public var parameters: [ParameterSpec]
    /// Number of blocks N (`n_layer`); `nil` means: one more than the largest `layer` of any parameter.
    public var layers: Int?
    /// Model width d (`n_embd`, `dim`); `nil` means: the second dimension of the first embedding.
    public var dim: Int?

    /// A spec; nothing is validated until `validate()`.
    public init(parameters: [ParameterSpec], layers: Int? = nil, dim: Int? = nil) {
        self.parameters = parameters; self.layers = layers; self.dim = dim
    }

    /// `layers` when given, else one more than the largest block index (nil when no parameter has one).
    public var layerCount: Int? { layers ?? parameters.compactMap(\.layer).max().map { $0 + 1 } }
    /// `dim` when given, else `shape[1]` of the first embedding.
    public var width: Int? { dim ?? parameters.first(where: { $0.role == .embedding && $0.shape.count == 2 })?.shape[1] }

    /// Total elements. - Throws: `.sizeOverflow`.
    public func elementCount() throws(RecipeError) -> Int {
        var total = 0
        for p in parameters {
            let (s, o) = total.addingReportingOverflow(try p.elementCount())
            guard !o else { throw .sizeOverflow(what: "model total") }
            total = s
        }
        return total
    }

    /// Total bytes of the tensor data. - Throws: `.sizeOverflow`.
    public func byteCount() throws(RecipeError) -> Int {
        var total = 0
        for p in parameters {
            let (s, o) = total.addingReportingOverflow(try p.byteCount())
            guard !o else { throw .sizeOverflow(what: "model total") }
            total = s
        }
        return total
    }

    /// Checks every rule a spec must follow: at least one parameter; names non-empty, at most
    /// 1024 UTF-8 bytes, without control characters, unique; dimensions ≥ 0; element counts and
    /// byte sizes that fit in `Int`; weights and embeddings with ≥ 2 dimensions; `layers`, `dim` ≥ 1.
    /// - Throws: `RecipeError` naming the first offending parameter and the rule.
    public func validate() throws(RecipeError) {
        guard !parameters.isEmpty else { throw .invalidSpec(what: "model spec", rule: "must list at least one parameter") }
        var seen = Set<String>()
        for p in parameters {
            guard !p.name.isEmpty else { throw .invalidSpec(what: "parameter name", rule: "must not be empty") }
            guard p.name.utf8.count <= 1024 else { throw .invalidSpec(what: "parameter '\(p.name.prefix(40))…'", rule: "name must be at most 1024 UTF-8 bytes") }
            guard !p.name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw .invalidSpec(what: "parameter '\(p.name)'", rule: "name must not contain control characters")
            }
            guard seen.insert(p.name).inserted else { throw .duplicateName(p.name) }
            guard p.shape.count <= 16 else { throw .invalidSpec(what: "parameter '\(p.name)'", rule: "at most 16 dimensions, got \(p.shape.count)") }
            if let bad = p.shape.first(where: { $0 < 0 }) {
                throw .invalidSpec(what: "parameter '\(p.name)' shape \(p.shape)", rule: "dimension \(bad) must be ≥ 0")
            }
            if p.role == .weight || p.role == .embedding, p.shape.count < 2 {
                throw .invalidSpec(what: "parameter '\(p.name)' shape \(p.shape)", rule: "a \(p.role.rawValue) needs ≥ 2 dimensions")
            }
            if let l = p.layer, l < 0 { throw .invalidSpec(what: "parameter '\(p.name)' layer \(l)", rule: "must be ≥ 0") }
            _ = try p.byteCount()
        }
        if let l = layers, l < 1 { throw .invalidSpec(what: "layers \(l)", rule: "must be ≥ 1") }
        if let d = dim, d < 1 { throw .invalidSpec(what: "dim \(d)", rule: "must be ≥ 1") }
        _ = try byteCount()
    }
}

// MARK: - Per-parameter keys

/// The random key of a named parameter: `RandomKey(seed: seed).folding(in: fnv1a64(name))`.
///
/// `fnv1a64` is 64-bit FNV-1a (Fowler–Noll–Vo; offset basis `0xcbf29ce484222325`, prime
/// `0x100000001b3`) of the name's UTF-8 bytes — a standard, dependency-free hash with published
/// test vectors: `""` → `0xcbf29ce484222325`, `"a"` → `0xaf63dc4c8601ec8c`, `"foobar"` →
/// `0x85944171f73967e8`. The key depends only on `(seed, name)`, so adding, removing or
/// reordering parameters changes no other parameter's bytes, in any process.
/// Check a name by hand:
/// `python3 -c 'h=0xcbf29ce484222325
/// for b in "wte.weight".encode(): h=((h^b)*0x100000001b3)%2**64
/// print(hex(h))'`
public enum ParameterKey {
    /// 64-bit FNV-1a of `name`'s UTF-8 bytes.
    public static func fnv1a64(_ name: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in name.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        return h
    }

    /// The key of parameter `name` under `seed`.
    public static func key(seed: UInt64, name: String) -> RandomKey {
        RandomKey(seed: seed).folding(in: fnv1a64(name))
    }
}

// MARK: - JSON

extension KernelLayout {
    /// The spec-file names of the layouts: `out-in` (alias `out-in-spatial`, `oihw`, `linear`),
    /// `in-out` (`spatial-in-out`, `conv1d`, `hwio`, `keras`), `in-out-transposed`
    /// (`conv-transpose`, PyTorch ConvTranspose `[in, out/groups, k…]`), `spatial-out-in-transposed`.
    public init(specName: String) throws(RecipeError) {
        switch specName.lowercased() {
        case "out-in", "out-in-spatial", "oihw", "linear": self = .outInSpatial
        case "in-out", "spatial-in-out", "conv1d", "hwio", "keras": self = .spatialInOut
        case "in-out-transposed", "conv-transpose", "in-out-spatial-transposed": self = .inOutSpatialTransposed
        case "spatial-out-in-transposed", "keras-conv-transpose": self = .spatialOutInTransposed
        default: throw .invalidSpec(what: "layout '\(specName)'", rule: "must be one of out-in, in-out, in-out-transposed, spatial-out-in-transposed")
        }
    }

    /// The name `init(specName:)` reads (explicit axes print as `axes(in,out)`).
    public var specName: String {
        switch self {
        case .outInSpatial: "out-in"
        case .spatialInOut: "in-out"
        case .inOutSpatialTransposed: "in-out-transposed"
        case .spatialOutInTransposed: "spatial-out-in-transposed"
        case let .axes(i, o): "axes(\(i),\(o))"
        }
    }
}

extension ModelSpec {
    /// Reads the JSON spec format (documented in the README, "Model specs"):
    ///
    /// ```json
    /// {"layers": 2, "dim": 64,
    ///  "parameters": [
    ///    {"name": "wte.weight", "shape": [1000, 64], "role": "embedding"},
    ///    {"name": "h.0.attn.c_attn.weight", "shape": [64, 192], "layout": "in-out", "dtype": "bf16"},
    ///    {"name": "h.0.attn.c_attn.bias", "shape": [192]}]}
    /// ```
    ///
    /// `name` and `shape` are required; `dtype` defaults to `defaultDType`, `role` and `layout`
    /// are inferred from the name and shape when absent (`ParameterSpec.inferRole`/`inferLayout`),
    /// `layer` from the name. Unknown keys are rejected (a typo must not be ignored). The spec
    /// is validated (`validate()`).
    /// - Throws: `RecipeError.invalidSpec` naming the parameter (by index and name) and the rule.
    public init(json data: Data, defaultDType: ParameterDType = .f32) throws(RecipeError) {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw .invalidSpec(what: "spec file", rule: "must be valid JSON (\(error.localizedDescription))")
        }
        guard let root = object as? [String: Any] else { throw .invalidSpec(what: "spec file", rule: "must be a JSON object with a \"parameters\" array") }
        for k in root.keys where !["parameters", "layers", "dim", "name", "comment"].contains(k) {
            throw .invalidSpec(what: "spec key '\(k)'", rule: "unknown; valid keys: parameters, layers, dim, name, comment")
        }
        guard let list = root["parameters"] as? [Any] else { throw .invalidSpec(what: "spec file", rule: "\"parameters\" must be an array") }
        func integer(_ v: Any?, _ what: String) throws(RecipeError) -> Int? {
            guard let v else { return nil }
            guard let n = v as? NSNumber, !isJSONBool(n), let i = Int(exactly: n.doubleValue),
                  n.doubleValue.rounded() == n.doubleValue, abs(n.doubleValue) < 9.0e15 else {
                throw .invalidSpec(what: what, rule: "must be an integer, got \(v)")
            }
            return i
        }
        var params: [ParameterSpec] = []
        for (i, item) in list.enumerated() {
            guard let entry = item as? [String: Any] else { throw .invalidSpec(what: "parameters[\(i)]", rule: "must be an object") }
            guard let name = entry["name"] as? String else { throw .invalidSpec(what: "parameters[\(i)]", rule: "needs a string \"name\"") }
            let label = "parameters[\(i)] '\(name)'"
            for k in entry.keys where !["name", "shape", "dtype", "role", "layout", "layer"].contains(k) {
                throw .invalidSpec(what: "\(label) key '\(k)'", rule: "unknown; valid keys: name, shape, dtype, role, layout, layer")
            }
            guard let rawShape = entry["shape"] as? [Any] else { throw .invalidSpec(what: label, rule: "needs a \"shape\" array of integers") }
            var shape: [Int] = []
            for d in rawShape { shape.append(try integer(d, "\(label) shape")!) }
            var dtype = defaultDType
            if let d = entry["dtype"] {
                guard let s = d as? String else { throw .invalidSpec(what: "\(label) dtype", rule: "must be a string") }
                dtype = try ParameterDType(name: s)
            }
            var role = ParameterSpec.inferRole(name: name, shape: shape)
            if let r = entry["role"] {
                guard let s = r as? String, let parsed = ParameterRole(rawValue: s.lowercased()) else {
                    throw .invalidSpec(what: "\(label) role \(r)", rule: "must be one of \(ParameterRole.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                role = parsed
            }
            var layout = ParameterSpec.inferLayout(name: name, shape: shape)
            if let l = entry["layout"] {
                guard let s = l as? String else { throw .invalidSpec(what: "\(label) layout", rule: "must be a string") }
                layout = try KernelLayout(specName: s)
            }
            let layer = try integer(entry["layer"], "\(label) layer")
            params.append(ParameterSpec(name: name, shape: shape, dtype: dtype, role: role, layout: layout, layer: layer))
        }
        self.init(parameters: params, layers: try integer(root["layers"], "layers"), dim: try integer(root["dim"], "dim"))
        try validate()
    }
}

/// Whether a number from `JSONSerialization` was a JSON `true`/`false` (Foundation stores those
/// as NSNumbers of type char, `objCType` "c"); such values are never accepted where a number is expected.
func isJSONBool(_ n: NSNumber) -> Bool {
    String(cString: n.objCType) == "c"
}
