import MatrixModule

/// One row of `summary()`: a layer (or a learned scalar) of a model.
public struct LayerSummary: Sendable, Codable, Equatable {
    /// The PyTorch module path of the equivalent torch model (see `parameterNames` of each
    /// model), e.g. `"0"`, `"2"` for a `Sequential`, `"blocks.3.first"` for a `ResidualMLP`.
    public var name: String
    /// The kind of layer: `"Linear"` (a `Dense` layer), `"Conv2D"` or `"Gate"` (a learned residual scalar).
    public var kind: String
    /// Shape of one example entering the layer (e.g. `[784]`; `[]` for a gate).
    public var inputShape: [Int]
    /// Shape of one example leaving the layer (e.g. `[256]`; `[]` for a gate).
    public var outputShape: [Int]
    /// The activation applied after the layer (`"identity"` for logits; `"-"` for a gate).
    public var activation: String
    /// Learnable parameters of the layer: `out·in + out` for a Linear layer, 1 for a gate.
    public var parameters: Int
    /// How it was initialized (`Dense.initializationLabel`, `Conv2D.initializationLabel`, e.g. `"he-normal"`,
    /// `"orthogonal + lsuv"`; `"-"` when unknown).
    public var initialization: String

    /// A row with the given fields.
    public init(name: String, kind: String, inputShape: [Int], outputShape: [Int], activation: String, parameters: Int, initialization: String) {
        self.name = name; self.kind = kind; self.inputShape = inputShape; self.outputShape = outputShape
        self.activation = activation; self.parameters = parameters; self.initialization = initialization
    }
}

/// A model's layers as a table (Keras `model.summary()`, torchinfo's `summary`): one row per
/// layer with its PyTorch module name, per-example input and output shapes, parameter count and
/// initialization scheme. `description` is the printable table; the rows are `Codable` for JSON.
public struct ModelSummary: Sendable, Codable, Equatable, CustomStringConvertible {
    /// The rows, in forward order.
    public var layers: [LayerSummary]
    /// Total learnable parameters (sum of the rows).
    public var parameters: Int

    /// A summary of `layers`; `parameters` is their sum.
    public init(layers: [LayerSummary]) {
        self.layers = layers
        parameters = layers.reduce(0) { $0 + $1.parameters }
    }

    /// A left-aligned text table (`layer  kind  input  output  activation  parameters  init`)
    /// ending with the total.
    public var description: String {
        func shape(_ s: [Int]) -> String { s.isEmpty ? "-" : "[" + s.map(String.init).joined(separator: ", ") + "]" }
        let header = ["layer", "kind", "input", "output", "activation", "parameters", "init"]
        let rows = layers.map { [$0.name, $0.kind, shape($0.inputShape), shape($0.outputShape), $0.activation, "\($0.parameters)", $0.initialization] }
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = Swift.max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").replacingTrailingSpaces()
        }
        return ([line(header), line(widths.map { String(repeating: "-", count: $0) })] + rows.map(line)
                + ["total: \(parameters) parameters"]).joined(separator: "\n")
    }
}

private extension String {
    func replacingTrailingSpaces() -> String {
        var s = Substring(self)
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}

extension Dense {
    func summaryRow(name: String) -> LayerSummary {
        LayerSummary(name: name, kind: "Linear", inputShape: [inputSize], outputShape: [outputSize], activation: activation.name,
                     parameters: parameterCount, initialization: initializationLabel ?? "-")
    }
}

extension NetworkModel {
    /// The model's layers as a table: layer (PyTorch module path), kind, per-example input and
    /// output shapes, activation, parameters and initialization scheme; one row per module that
    /// holds parameters, in `parameters` order.
    ///
    /// `Sequential`: one row per `Dense` layer, named by its index in the equivalent
    /// `torch.nn.Sequential` (`0`, `2`, `4` for a ReLU MLP: the activations are modules too).
    /// `ResidualMLP`: `input`, per block `blocks.b.first`, `blocks.b.second` and (Fixup, ReZero)
    /// `blocks.b.gate`, then `output`. The names are those of `parameters` without the
    /// `.weight`/`.bias` suffix.
    public func summary() -> ModelSummary {
        var rows: [LayerSummary] = []
        for p in parameters {
            switch p.owner {
            case let .layer(layer, slot):
                guard slot == 0 else { continue }
                let module = p.name.hasSuffix("." + p.slot.name) ? String(p.name.dropLast(p.slot.name.count + 1)) : p.name
                if let dense = layer as? Dense {
                    rows.append(dense.summaryRow(name: module))
                } else if let conv = layer as? Conv2D {
                    rows.append(LayerSummary(name: module, kind: "Conv2D", inputShape: conv.inputShape, outputShape: conv.outputShape,
                                             activation: conv.activation.name, parameters: conv.parameterCount,
                                             initialization: conv.initializationLabel ?? "-"))
                } else {
                    rows.append(LayerSummary(name: module, kind: layer.layerDescription.split(separator: " ").first.map(String.init) ?? "Layer",
                                             inputShape: layer.inputShape, outputShape: layer.outputShape, activation: "-",
                                             parameters: layer.layerParameterCount, initialization: "-"))
                }
            case let .scalar(gate):
                var initial = "-"
                if let r = self as? ResidualMLP {
                    switch r.initialization { case .rezero: initial = "constant 0 (rezero)"; case .fixup: initial = "constant 1 (fixup)"; default: initial = "constant \(gate.value)" }
                }
                rows.append(LayerSummary(name: p.name, kind: "Gate", inputShape: [], outputShape: [], activation: "-",
                                         parameters: 1, initialization: initial))
            }
        }
        return ModelSummary(layers: rows)
    }
}
