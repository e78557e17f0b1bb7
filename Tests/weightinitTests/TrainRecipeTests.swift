// Whole-model recipes on this package's models: a Sequential initialized with
// `initialize(recipe:seed:)` and saved is byte-identical (sha256sum) to what
// `weightinit init --like` of that file writes with the same recipe and seed (per-name keys,
// independent of the model object), and pytorch-default keeps every weight and bias within
// PyTorch's nn.Linear bound 1/√fan_in (closed form).
import Foundation
import Testing
import WeightInit

@Suite("Recipes on models (train --recipe)")
struct TrainRecipeTests {
    @Test("initialize(recipe:) then save == weightinit init --like … --recipe (sha256); pytorch-default bounds")
    func recipeMatchesInitLike() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wi-recipe-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = try Sequential(sizes: [20, 16, 3], activation: .relu, seed: 1)
        try model.initialize(recipe: try InitRecipe.named("pytorch-default"), seed: 5)
        for layer in model.layers {
            let bound = Float(1 / Double(layer.inputSize).squareRoot())
            #expect(layer.weight.elements.allSatisfy { abs($0) <= bound } && layer.bias.allSatisfy { abs($0) <= bound })
            #expect(layer.bias.contains { $0 != 0 })
        }
        print(model.summary())
        let ours = dir + "/ours.safetensors", theirs = dir + "/init.safetensors"
        try model.save(to: ours)
        let (status, _, err) = try runTool(["init", "--like", ours, "--recipe", "pytorch-default", "--seed", "5", "--out", theirs])
        #expect(status == 0, "\(err)")
        #expect(try sha256sum(ours) == sha256sum(theirs))

        let (bad, _, badErr) = try runTool(["train", "--recipe", "he", "--init", "lsuv"])
        #expect(bad == 64, "\(badErr)")
    }
}
