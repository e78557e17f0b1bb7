// Interop of saved models with the Python side (python/model_interop.py), run when a Python
// with numpy and safetensors is available ($WEIGHTINIT_PYTHON, set by scripts/test.sh, or the
// repository's .build/venv): a small Sequential trained here and saved with `save(to:)` is read
// by `safetensors.numpy` (names, dtypes, [out, in] shapes) and run by a float64 numpy forward
// pass; when torch is importable, `torch.nn.Sequential(Linear, ReLU, …).load_state_dict(…)`
// (strict) predicts the same probabilities as `predict` within 1e-5. The test prints which legs ran.
import Foundation
import Testing
import MatrixModule
import NeuralNetwork
import TensorFiles

/// $WEIGHTINIT_PYTHON, else the repository's .build/venv interpreter, else nil.
func modelInteropPython() -> String? {
    if let p = ProcessInfo.processInfo.environment["WEIGHTINIT_PYTHON"], !p.isEmpty, FileManager.default.isExecutableFile(atPath: p) { return p }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let venv = root.appendingPathComponent(".build/venv/bin/python").path
    return FileManager.default.isExecutableFile(atPath: venv) ? venv : nil
}

@Suite("Saved models in numpy and PyTorch")
struct TorchInteropTests {
    @Test("a trained Sequential saved by us: safetensors.numpy reads it, torch load_state_dict predicts the same (1e-5)")
    func trainedSequential() throws {
        guard let python = modelInteropPython() else {
            print("skipped: no Python with numpy and safetensors (set WEIGHTINIT_PYTHON or run scripts/setup-python.sh); legs numpy, torch not run")
            return
        }
        let train = try CheckpointTests.blobs(count: 240, features: 12, seed: 3), test = try CheckpointTests.blobs(count: 64, features: 12, seed: 4)
        let model = try Sequential(sizes: [12, 16, 8, 3], activation: .relu, seed: 2)
        var cfg = TrainingConfiguration()
        cfg.epochs = 3; cfg.batchSize = 32; cfg.learningRate = 0.05
        let reports = try Trainer(model: model, configuration: cfg).fit(train: train, test: test)
        let predictions = try model.predict(test)

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wi-torch-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let modelPath = dir + "/model.safetensors", dataPath = dir + "/data.safetensors"
        try model.save(to: modelPath)
        try SafetensorsWriter.write(path: dataPath, tensors: [("x", .F32, [test.count, 12], test.inputs),
                                                              ("probabilities", .F32, [test.count, 3], predictions.probabilities.elements),
                                                              ("classes", .F32, [test.count], predictions.classes.map(Float.init))])
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("python/model_interop.py").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = [script, modelPath, dataPath]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "model_interop.py failed: \(String(decoding: e, as: UTF8.self))")
        guard p.terminationStatus == 0 else { return }
        let result = try #require(try JSONSerialization.jsonObject(with: o) as? [String: Any])
        let numpy = try #require(result["numpy"] as? [String: Any])
        let numpyDiff = try #require(numpy["max_abs_diff"] as? Double)
        print("trained 3 epochs (test accuracy \(reports.last!.testAccuracy)); numpy leg ran: max |p_numpy − p_ours| = \(numpyDiff)")
        #expect(numpyDiff < 1e-5 && numpy["argmax_equal"] as? Bool == true)
        let torch = try #require(result["torch"] as? [String: Any])
        if let reason = torch["skipped"] as? String {
            print("torch leg skipped: \(reason)")
        } else {
            let torchDiff = try #require(torch["max_abs_diff"] as? Double)
            print("torch leg ran (torch \(torch["version"] ?? "?"), \(torch["module"] ?? "")): max |p_torch − p_ours| = \(torchDiff)")
            #expect(torchDiff < 1e-5 && torch["argmax_equal"] as? Bool == true)
        }
    }
}
