import Foundation
import Initializers
import MatrixModule

/// How a residual MLP's branches are initialized.
public enum ResidualInitialization: Sendable, Hashable, Codable {
    /// He normal on every layer (the activation's gain), branch gates fixed at 1 (not learned):
    /// the residual stream's variance grows with every block.
    case standard
    /// Fixup (Zhang, Dauphin & Ma 2019): the last layer of each branch and the output layer are
    /// zero, the branch's other layers are He-initialized and scaled by `L^(−1/(2m−2))` (L blocks,
    /// m = 2 layers per branch, so `L^(−1/2)`), and each branch gets a learned scalar multiplier
    /// initialized to 1. Fixup's scalar biases are subsumed by the zero-initialized per-unit
    /// biases of every `Dense` layer.
    case fixup
    /// ReZero / SkipInit (Bachlechner et al. 2020; De & Smith 2020): every branch is multiplied by a
    /// learned scalar gate initialized to 0, so each block starts as the identity; layers He.
    case rezero
    /// A given scheme on every layer (gates fixed at 1).
    case all(Initializer)
}

/// One residual block `h ↦ h + g·F(h)`, `F(h) = W₂·f(W₁h + b₁) + b₂`, width → width.
public final class ResidualBlock {
    /// The branch's first layer (with the activation) and second layer (linear).
    public let first: Dense, second: Dense
    /// The branch multiplier `g` (learned unless `gateIsLearned` is false).
    public let gate: ScalarParameter
    public let gateIsLearned: Bool
    /// The block's output `h + g·F(h)` from the last forward pass, `[batch, width]`.
    public private(set) var output = Matrix<Float>(rows: 0, columns: 0)
    private var input = Matrix<Float>(rows: 0, columns: 0)
    private var scaled = Matrix<Float>(rows: 0, columns: 0)
    private var inputGradient = Matrix<Float>(rows: 0, columns: 0)

    init(width: Int, activation: Activation, gate: Float, learned: Bool) {
        first = Dense(inputSize: width, outputSize: width, activation: activation)
        second = Dense(inputSize: width, outputSize: width, activation: .identity)
        self.gate = ScalarParameter(gate)
        gateIsLearned = learned
    }

    func forward(_ h: Matrix<Float>) throws(MatrixError) -> Matrix<Float> {
        input = h
        let y = try second.forward(try first.forward(h))
        if output.rows != h.rows || output.columns != h.columns { output = Matrix(rows: h.rows, columns: h.columns) }
        let g = gate.value
        output.withUnsafeMutableBufferPointer { o in
            h.withUnsafeBufferPointer { x in y.withUnsafeBufferPointer { yy in for i in 0..<o.count { o[i] = x[i] + g * yy[i] } } }
        }
        return output
    }

    func backward(_ dOut: Matrix<Float>) throws(MatrixError) -> Matrix<Float> {
        if scaled.rows != dOut.rows || scaled.columns != dOut.columns {
            scaled = Matrix(rows: dOut.rows, columns: dOut.columns)
            inputGradient = Matrix(rows: dOut.rows, columns: dOut.columns)
        }
        let g = gate.value
        let y = second.output
        var dg = 0.0
        scaled.withUnsafeMutableBufferPointer { s in
            dOut.withUnsafeBufferPointer { d in y.withUnsafeBufferPointer { yy in
                for i in 0..<s.count { s[i] = g * d[i]; dg += Double(d[i] * yy[i]) }
            } }
        }
        gate.gradient = gateIsLearned ? Float(dg) : 0
        let dBranch = try first.backward(try second.backward(scaled))
        inputGradient.withUnsafeMutableBufferPointer { o in
            dOut.withUnsafeBufferPointer { d in dBranch.withUnsafeBufferPointer { b in for i in 0..<o.count { o[i] = d[i] + b[i] } } }
        }
        return inputGradient
    }
}

/// A residual MLP without normalization: `in → width` (activation), `depth` residual blocks
/// `h + g·F(h)` of two layers each, then `width → classes` (logits).
///
/// Layer keys: input layer `RandomKey(seed).folding(in: 0)`, block `b`'s layers
/// `folding(in: 1 + 2b)` and `folding(in: 2 + 2b)`, output layer `folding(in: 1 + 2·depth)`.
public final class ResidualMLP: NetworkModel {
    public let inputLayer: Dense
    public let blocks: [ResidualBlock]
    public let outputLayer: Dense
    public let initialization: ResidualInitialization

    /// - Throws: `TrainingError.invalidHyperparameter` for sizes < 1 or depth < 0;
    ///   `TrainingError.size` when the weights and gradients overflow `Int` or exceed the memory
    ///   available (`MemoryEstimate.residual`, checked before allocating); `InitializationError`.
    public init(inputSize: Int, width: Int, depth: Int, classes: Int, activation: Activation,
                initialization: ResidualInitialization = .standard, seed: UInt64 = 0, threads: Int? = nil) throws {
        for (name, v) in [("input size", inputSize), ("width", width), ("classes", classes)] where v < 1 {
            throw TrainingError.invalidHyperparameter(name: name, value: Double(v), rule: "must be ≥ 1")
        }
        guard depth >= 0 else { throw TrainingError.invalidHyperparameter(name: "depth", value: Double(depth), rule: "must be ≥ 0") }
        do {   // parameters and gradients, checked before any layer is allocated
            try CheckedSize.requireMemory(try MemoryEstimate.residual(inputSize: inputSize, width: width, depth: depth, classes: classes, batch: 0, optimizerSlots: 0),
                                          what: "a residual MLP of \(depth) blocks of width \(width)")
        } catch { throw TrainingError.size(error) }
        self.initialization = initialization
        inputLayer = Dense(inputSize: inputSize, outputSize: width, activation: activation)
        let gate: Float, learned: Bool
        switch initialization {
        case .standard, .all: gate = 1; learned = false
        case .fixup: gate = 1; learned = true
        case .rezero: gate = 0; learned = true
        }
        blocks = (0..<depth).map { _ in ResidualBlock(width: width, activation: activation, gate: gate, learned: learned) }
        outputLayer = Dense(inputSize: width, outputSize: classes, activation: .identity)
        let root = RandomKey(seed: seed)
        let he = Initializer.heNormal(mode: .fanIn, nonlinearity: activation.nonlinearity)
        let hidden: Initializer
        if case let .all(s) = initialization { hidden = s } else { hidden = he }
        try inputLayer.initialize(with: hidden, key: root.folding(in: 0), threads: threads)
        for (b, block) in blocks.enumerated() {
            switch initialization {
            case .standard, .rezero, .all:
                try block.first.initialize(with: hidden, key: root.folding(in: UInt64(1 + 2 * b)), threads: threads)
                try block.second.initialize(with: hidden, key: root.folding(in: UInt64(2 + 2 * b)), threads: threads)
            case .fixup:
                // He, scaled by L^(−1/(2m−2)) with m = 2 layers per branch.
                let g = activation.nonlinearity.gain * Foundation.pow(Double(max(depth, 1)), -1.0 / 2.0)
                try block.first.initialize(with: .varianceScaling(VarianceScaling(scale: g * g, mode: .fanIn, distribution: .normal)),
                                           key: root.folding(in: UInt64(1 + 2 * b)), threads: threads)
                try block.second.initialize(with: .zeros, key: root.folding(in: UInt64(2 + 2 * b)), threads: threads)
            }
        }
        if case .fixup = initialization {
            try outputLayer.initialize(with: .zeros, key: root.folding(in: UInt64(1 + 2 * depth)), threads: threads)
        } else {
            try outputLayer.initialize(with: .xavierUniform(), key: root.folding(in: UInt64(1 + 2 * depth)), threads: threads)
        }
    }

    public func forward(_ x: Matrix<Float>) throws(MatrixError) -> Matrix<Float> {
        var h = try inputLayer.forward(x)
        for block in blocks { h = try block.forward(h) }
        return try outputLayer.forward(h)
    }

    public func backward(_ gradient: Matrix<Float>) throws(MatrixError) -> Matrix<Float> {
        var g = try outputLayer.backward(gradient)
        for block in blocks.reversed() { g = try block.backward(g) }
        return try inputLayer.backward(g)
    }

    public var denseLayers: [Dense] { [inputLayer] + blocks.flatMap { [$0.first, $0.second] } + [outputLayer] }
    public var scalarParameters: [ScalarParameter] { blocks.filter(\.gateIsLearned).map(\.gate) }
    /// Names as a PyTorch module with attributes `input` (`Linear`), `blocks` (a `ModuleList`
    /// of blocks with `first`, `second` and, when learned, the `nn.Parameter` `gate`) and
    /// `output` would give: `"input.weight"`, `"input.bias"`, `"blocks.0.first.weight"`, …,
    /// `"blocks.0.gate"`, …, `"output.weight"`, `"output.bias"`.
    public var parameters: [ModelParameter] {
        func dense(_ prefix: String, _ d: Dense) -> [ModelParameter] {
            [ModelParameter(name: "\(prefix).weight", layer: d, slot: 0), ModelParameter(name: "\(prefix).bias", layer: d, slot: 1)]
        }
        var out = dense("input", inputLayer)
        for (b, block) in blocks.enumerated() {
            out += dense("blocks.\(b).first", block.first) + dense("blocks.\(b).second", block.second)
            if block.gateIsLearned { out.append(ModelParameter(name: "blocks.\(b).gate", scalar: block.gate)) }
        }
        return out + dense("output", outputLayer)
    }
    public var summary: String { "\(inputLayer.inputSize)-\(inputLayer.outputSize)×\(blocks.count) residual blocks-\(outputLayer.outputSize)" }

    /// Per-stage statistics from the last forward/backward pass: the input layer, each block
    /// (activation = the residual stream after the block; pre-activation = the branch's first
    /// layer; gradient norm = the branch's combined `√(‖∂L/∂W₁‖² + ‖∂L/∂W₂‖²)`), and the output layer.
    public func blockStatistics() -> [LayerStatistics] {
        var stats = [Diagnostics.summarize(inputLayer, index: 0)]
        for (b, block) in blocks.enumerated() {
            var s = Diagnostics.summarize(block.first, index: b + 1)
            let (m, sd) = Diagnostics.meanStd(block.output)
            s.activationMean = m; s.activationStd = sd
            s.activation = "residual(\(block.first.activation.name))"
            s.gradientNorm = (block.first.weightGradient.frobeniusNorm() * block.first.weightGradient.frobeniusNorm()
                              + block.second.weightGradient.frobeniusNorm() * block.second.weightGradient.frobeniusNorm()).squareRoot()
            stats.append(s)
        }
        stats.append(Diagnostics.summarize(outputLayer, index: blocks.count + 1))
        return stats
    }
}
