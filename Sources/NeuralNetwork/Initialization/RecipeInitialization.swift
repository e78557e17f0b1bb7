import Initializers

extension NetworkModel {
    /// The model as an initialization recipe sees it: one `ParameterSpec` per entry of
    /// `parameters` (its PyTorch name and shape, F32), with the role and layout inferred from the
    /// name and shape as for `weightinit init --like` (`ParameterSpec(inferringFrom:shape:)`:
    /// ≥ 2-D `…weight` → weight with layout `[out, in, k…]`, `…bias` → bias, a 0-d gate → other).
    public var modelSpec: ModelSpec {
        ModelSpec(parameters: parameters.map { ParameterSpec(inferringFrom: $0.name, shape: $0.shape) })
    }

    /// Initializes every parameter with a whole-model recipe (built-in, e.g.
    /// `InitRecipe.named("pytorch-default")`, or rules from a JSON file): each parameter gets the
    /// initializer of the first rule matching its PyTorch name and role, and the key
    /// `ParameterKey.key(seed: seed, name: name)` — so a parameter's bytes depend on the seed, its
    /// name, shape and rule only, and equal those `weightinit init --like FILE --recipe …` writes
    /// for a file with the same names and shapes (F32).
    ///
    /// Dense and Conv2D layers' `initializationLabel` (shown by `summary()`) becomes the matching rule.
    /// - Returns: the plan (rule, initializer, key, fans, promised statistics per parameter).
    /// - Throws: `RecipeError` (`.unmatchedParameters` listing every parameter no rule matches,
    ///   `.initializer` when a scheme rejects a shape, e.g. a fan-based scheme on a bias); nothing
    ///   is written then. `InitializationError` from a fill.
    @discardableResult
    public func initialize(recipe: InitRecipe, seed: UInt64, threads: Int? = nil) throws -> [PlannedParameter] {
        let params = parameters
        let plan = try recipe.plan(ModelSpec(parameters: params.map { ParameterSpec(inferringFrom: $0.name, shape: $0.shape) }), seed: seed)
        for (p, planned) in zip(params, plan) {
            try p.withBuffers { (values, _) throws(InitializationError) in
                try planned.initializer.fill(values, shape: planned.spec.shape, layout: planned.spec.layout, key: planned.key, threads: threads)
            }
            if case let .layer(layer, slot) = p.owner {
                let label = "\(recipe.name): \(planned.initializer.name)"
                if let dense = layer as? Dense {
                    dense.initializationLabel = slot == 0 ? label : (dense.initializationLabel ?? "-") + ", bias \(planned.initializer.name)"
                } else if let conv = layer as? Conv2D {
                    conv.initializationLabel = slot == 0 ? label : (conv.initializationLabel ?? "-") + ", bias \(planned.initializer.name)"
                }
            }
        }
        return plan
    }
}
