// The bridge from this package's models to recipes: names and shapes from the layer protocol,
// values equal to a direct fill with the per-name key, bounds from the closed form.
import Testing
import Initializers
@testable import NeuralNetwork

@Suite("NeuralNetwork: recipe initialization")
struct RecipeInitializationTests {
    @Test("Sequential.modelSpec has PyTorch names and shapes; pytorch-default fills U(±1/√fan_in) with per-name keys")
    func sequential() throws {
        let model = try Sequential(sizes: [30, 20, 5], activation: .relu, seed: 0)
        let spec = model.modelSpec
        #expect(spec.parameters.map(\.name) == model.parameters.map(\.name))
        #expect(spec.parameters.map(\.shape) == model.parameters.map(\.shape))
        #expect(spec.parameters.map(\.role) == [.weight, .bias, .weight, .bias])
        try model.initialize(recipe: InitRecipe.pytorchDefault(), seed: 5)
        for p in model.parameters {
            let fanIn = p.name.hasSuffix("weight") ? p.shape[1] : (p.name.hasPrefix(model.parameters[0].name.prefix(1)) ? 30 : 20)
            let bound = 1 / Double(fanIn).squareRoot()
            #expect(p.values.allSatisfy { abs(Double($0)) <= bound }, "\(p.name)")
            if p.name.hasSuffix("weight") {
                var ref = [Float](repeating: 0, count: p.count)
                try Initializer.kaimingUniform(nonlinearity: .leakyReLU(negativeSlope: 5.0.squareRoot()))   // torch: kaiming_uniform_(a=√5)
                    .fill(&ref, shape: p.shape, key: ParameterKey.key(seed: 5, name: p.name))
                #expect(p.values == ref, "\(p.name)")
            }
        }
    }
}
