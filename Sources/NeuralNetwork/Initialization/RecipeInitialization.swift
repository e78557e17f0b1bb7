import Initializers

extension NetworkModel {
    /// The model's parameters as a `ModelSpec`: PyTorch names and shapes (`parameters`), roles and
    /// layouts inferred from the names (`ParameterSpec.inferRole`: `0.weight` of a Dense/Conv2D is
    /// a weight with layout `[out, in]`/OIHW, `0.bias` a bias, scalar gates `other`), every
    /// parameter of element type `dtype`. Pass it to `InitRecipe.plan`, or to `weightinit init
    /// --spec` after encoding it with `JSONEncoder`.
    public func modelSpec(dtype: ParameterDType = .f32) -> ModelSpec {
        ModelSpec(parameters: parameters.map { ParameterSpec(inferringFrom: $0.name, shape: $0.shape, dtype: dtype) })
    }

    /// Initializes every parameter in place by `recipe`, each with its per-name key
    /// (`ParameterKey.key(seed:name:)`), so the values equal those `weightinit init` writes for
    /// `modelSpec()` with the same recipe and seed. Returns the plan (rule, scheme, fans and
    /// expected statistics per parameter).
    /// - Throws: `RecipeError` (unmatched parameters — scalar gates have role `other`, so give a
    ///   rule for them or use `unmatched: .zeros` — or a scheme that refuses a shape). Nothing is
    ///   written when planning fails.
    @discardableResult
    public func initialize(recipe: InitRecipe, seed: UInt64, threads: Int = 1) throws(RecipeError) -> [PlannedParameter] {
        let params = parameters
        let plan = try recipe.plan(modelSpec(), seed: seed)
        for (p, planned) in zip(params, plan) {
            try p.withBuffers { (v: UnsafeMutableBufferPointer<Float>, _: UnsafeMutableBufferPointer<Float>) throws(RecipeError) in
                _ = try ModelFill.fill([planned], into: [UnsafeMutableRawBufferPointer(v)], threads: threads)
            }
        }
        return plan
    }
}
