// save(to:) / load(from:): the file is checked with an independent reader written here from
// the safetensors specification (8-byte little-endian header length, JSON header, data_offsets
// relative to the data section, F32 little-endian C order) — not with TensorFiles' reader —
// round trips are bitwise, and every mismatch throws the typed error naming the tensor, with
// the model unchanged.
import Foundation
import Testing
import MatrixModule
import NeuralNetwork
import TensorFiles

/// A safetensors file parsed by hand: name → (dtype, shape, raw bytes), and the metadata.
func parseSafetensorsByHand(_ path: String) throws -> (tensors: [String: (dtype: String, shape: [Int], bytes: [UInt8])], metadata: [String: String]) {
    let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    var n = 0
    for i in 0..<8 { n |= Int(data[i]) << (8 * i) }
    let header = try #require(try JSONSerialization.jsonObject(with: Data(data[8..<(8 + n)])) as? [String: Any])
    var tensors: [String: (String, [Int], [UInt8])] = [:]
    var metadata: [String: String] = [:]
    for (k, v) in header {
        if k == "__metadata__" { metadata = try #require(v as? [String: String]); continue }
        let entry = try #require(v as? [String: Any])
        let offsets = try #require(entry["data_offsets"] as? [Int])
        tensors[k] = (try #require(entry["dtype"] as? String), try #require(entry["shape"] as? [Int]),
                      Array(data[(8 + n + offsets[0])..<(8 + n + offsets[1])]))
    }
    return (tensors, metadata)
}

/// Little-endian F32 bytes of `values`.
func f32Bytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { v -> [UInt8] in let b = v.bitPattern; return (0..<4).map { UInt8((b >> (8 * $0)) & 0xFF) } }
}

func temporaryPath(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("wi-modelfile-\(getpid())-\(name)").path
}

@Suite("Model files (save/load, PyTorch names)")
struct ModelFileTests {
    @Test("Sequential: the file holds 0.weight [256, 784] … as F32 with format pt; load restores the bytes")
    func sequentialRoundTrip() throws {
        let model = try Sequential(sizes: [784, 256, 128, 10], activation: .relu, seed: 3)
        for (i, layer) in model.layers.enumerated() { for j in layer.bias.indices { layer.bias[j] = Float(i * 1000 + j) * 1e-3 } }
        let path = temporaryPath("seq.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try model.save(to: path)
        let (tensors, metadata) = try parseSafetensorsByHand(path)
        #expect(metadata == ["format": "pt"])
        #expect(Set(tensors.keys) == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"])
        for (i, layer) in model.layers.enumerated() {
            let w = try #require(tensors["\(2 * i).weight"]), b = try #require(tensors["\(2 * i).bias"])
            #expect(w.dtype == "F32" && w.shape == [layer.outputSize, layer.inputSize] && b.shape == [layer.outputSize])
            #expect(w.bytes == f32Bytes(layer.weight.elements) && b.bytes == f32Bytes(layer.bias))
        }
        let other = try Sequential(sizes: [784, 256, 128, 10], activation: .relu, seed: 99)
        try other.load(from: path)
        for (a, b) in zip(model.layers, other.layers) { #expect(a.weight == b.weight && a.bias == b.bias) }
    }

    @Test("identity hidden activation: no activation module, so the next Linear is the next index")
    func identityNames() throws {
        let model = try Sequential(sizes: [3, 4, 5, 2], activation: .identity)
        #expect(model.parameters.map(\.name) == ["0.weight", "0.bias", "1.weight", "1.bias", "2.weight", "2.bias"])
    }

    @Test("ResidualMLP with learned gates: names, 0-d gate tensors, bitwise round trip")
    func residualRoundTrip() throws {
        let model = try ResidualMLP(inputSize: 6, width: 5, depth: 2, classes: 3, activation: .relu, initialization: .rezero, seed: 1)
        model.blocks[1].gate.value = 0.375
        let path = temporaryPath("res.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try model.save(to: path)
        let (tensors, _) = try parseSafetensorsByHand(path)
        #expect(Set(tensors.keys) == ["input.weight", "input.bias", "blocks.0.first.weight", "blocks.0.first.bias", "blocks.0.second.weight",
                                      "blocks.0.second.bias", "blocks.0.gate", "blocks.1.first.weight", "blocks.1.first.bias",
                                      "blocks.1.second.weight", "blocks.1.second.bias", "blocks.1.gate", "output.weight", "output.bias"])
        let gate = try #require(tensors["blocks.1.gate"])
        #expect(gate.shape == [] && gate.bytes == f32Bytes([0.375]))
        let other = try ResidualMLP(inputSize: 6, width: 5, depth: 2, classes: 3, activation: .relu, initialization: .rezero, seed: 2)
        try other.load(from: path)
        #expect(other.flatValues.map(\.bitPattern) == model.flatValues.map(\.bitPattern))
    }

    @Test("loading another architecture throws the typed error naming the tensor; the model is unchanged")
    func mismatches() throws {
        let path = temporaryPath("mismatch.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Sequential(sizes: [5, 4, 3], activation: .relu, seed: 1).save(to: path)

        let wider = try Sequential(sizes: [5, 6, 3], activation: .relu, seed: 2)
        let before = wider.flatValues
        #expect(throws: ModelFileError.shapeMismatch(file: path, name: "0.weight", expected: [6, 5], found: [4, 5])) { try wider.load(from: path) }
        #expect(wider.flatValues == before)
        let deeper = try Sequential(sizes: [5, 4, 3, 3], activation: .relu, seed: 2)
        #expect(throws: ModelFileError.missingTensor(file: path, name: "4.weight")) { try deeper.load(from: path) }
        let shallower = try Sequential(sizes: [5, 3], activation: .relu, seed: 2)
        #expect(throws: ModelFileError.unexpectedTensor(file: path, name: "2.bias")) { try shallower.load(from: path) }
        let oneLayer = try Sequential(sizes: [5, 4], activation: .relu, seed: 2)
        #expect(throws: ModelFileError.unexpectedTensor(file: path, name: "2.bias")) { try oneLayer.load(from: path) }

        // The same names in F64: a dtype error naming the first tensor.
        let f64 = temporaryPath("f64.safetensors")
        defer { try? FileManager.default.removeItem(atPath: f64) }
        try SafetensorsWriter.write(path: f64, tensors: [("0.weight", .F64, [4, 5], [Float](repeating: 1, count: 20)), ("0.bias", .F64, [4], [1, 2, 3, 4]),
                                                         ("2.weight", .F64, [3, 4], [Float](repeating: 1, count: 12)), ("2.bias", .F64, [3], [1, 2, 3])])
        let target = try Sequential(sizes: [5, 4, 3], activation: .relu, seed: 2)
        #expect(throws: ModelFileError.self) { try target.load(from: f64) }
        do { try target.load(from: f64) } catch let e as ModelFileError {
            guard case let .dtypeMismatch(_, _, expected, found) = e else { Issue.record("\(e)"); return }
            #expect(expected == "F32" && found == "F64")
            print(e.description)
        }
        #expect(throws: (any Error).self) { try target.load(from: temporaryPath("does-not-exist")) }
    }

    @Test("ConvolutionalNetwork: default CNN names (0, 3, 7, 9) and OIHW shapes in the file; round trip; summary rows; rules")
    func cnn() throws {
        let cnn = try ConvolutionalNetwork.defaultCNN(seed: 1)
        let path = temporaryPath("cnn.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try cnn.save(to: path)
        let (tensors, _) = try parseSafetensorsByHand(path)
        #expect(tensors.mapValues(\.shape) == ["0.weight": [32, 1, 3, 3], "0.bias": [32], "3.weight": [64, 32, 3, 3], "3.bias": [64],
                                               "7.weight": [128, 3136], "7.bias": [128], "9.weight": [10, 128], "9.bias": [10]])
        let other = try ConvolutionalNetwork.defaultCNN(seed: 2)
        try other.load(from: path)
        #expect(other.flatValues.map(\.bitPattern) == cnn.flatValues.map(\.bitPattern))
        let rows = cnn.summary().layers
        #expect(rows.map(\.name) == ["0", "3", "7", "9"] && rows.map(\.kind) == ["Conv2D", "Conv2D", "Linear", "Linear"])
        #expect(rows[1].inputShape == [32, 14, 14] && rows[1].parameters == 64 * 32 * 9 + 64)
        // Rules over the CNN's names: conv weights orthogonal-free check via the documented keys.
        let ruled = try ConvolutionalNetwork(inputShape: [1, 6, 6], spec: [.conv(channels: 2, kernel: 3), .flatten, .dense(units: 3, activation: .identity)],
                                             initialization: .rules([ParameterRule("*.weight", .heNormal()), ParameterRule("*.bias", .constant(0.5))]), seed: 4)
        #expect(ruled.parameters.map(\.name) == ["0.weight", "0.bias", "3.weight", "3.bias"])
        #expect(ruled.parameters[1].values == [0.5, 0.5] && ruled.parameters[3].values == [0.5, 0.5, 0.5])
    }

    @Test("save refuses a directory as the target and leaves it alone")
    func refusesDirectory() throws {
        let dir = temporaryPath("a-directory")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: (any Error).self) { try Sequential(sizes: [2, 2], activation: .relu).save(to: dir) }
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory) && isDirectory.boolValue)
    }
}
