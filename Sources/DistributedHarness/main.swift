// The program the Distributed tests run under `mpirun` (not a product; built with the tests).
//
//   DistributedHarness fill DIR          sharded fills of every scheme on this world; rank 0 writes
//                                        the gathered bytes of case i to DIR/case-i.bin and prints
//                                        one JSON object describing the cases.
//   DistributedHarness collectives       all-reduce, broadcast, allgather(v) against closed forms, then
//                                        the same in 7-element chunks; rank 0 prints {"ok": true, …}.
//   DistributedHarness fail MODE RANK    rank RANK fails at iteration 3 of a loop of all-reduces the
//                                        others keep running: MODE error (abort through the
//                                        communicator), exit (exit(3) without MPI), kill (SIGKILL).
//   DistributedHarness train DIR STEPS BATCH   data-parallel training (see DataParallelTrainer);
//                                        rank r writes DIR/rank-r.bin (parameters after every step).
//   DistributedHarness checkpoint-guard DIR    2 steps of training, then the last rank changes one
//                                        parameter by one ulp and every rank asks for a checkpoint
//                                        (refused everywhere, nothing written); then a checkpoint
//                                        into a missing directory (rank 0's write fails, the others
//                                        learn it). Rank 0 prints what each rank saw.
import Distributed
import Foundation
import Initializers
import MatrixModule
import NeuralNetwork
import TensorFiles
#if canImport(Glibc)
import Glibc
#endif

struct FillCase: Codable {
    var index: Int
    var initializer: Initializer
    var shape: [Int]
    var dtype: String
    var seed: UInt64
    var file: String
}

/// The tensors of the `write` mode (the test writes the same ones in one process).
let writeCases: [(name: String, dtype: DType, shape: [Int], initializer: Initializer, key: UInt64)] = [
    ("layers.0.weight", .F32, [13, 300], .heUniform(), 1), ("layers.0.bias", .F32, [13], .normal(mean: 0, std: 0.02), 2),
    ("layers.1.weight", .BF16, [7, 5], .xavierNormal(), 3), ("head.weight", .F16, [2, 9], .truncatedNormal(mean: 0, std: 0.5, a: -1, b: 1), 4),
    ("scale", .F32, [], .constant(0.5), 5), ("embed", .F32, [1, 6], .normal(), 6), ("conv", .F32, [5, 4, 3, 3], .lecunNormal(), 7),
]

func output(_ object: Any) {
    let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    FileHandle.standardOutput.write(data)
    FileHandle.standardOutput.write(Data("\n".utf8))
}

func fail(_ comm: any Communicator, _ message: String) -> Never { comm.abort(code: 1, message: message) }

let args = CommandLine.arguments
let comm: any Communicator
do { comm = try DistributedLaunch.communicator(requested: true) } catch {
    FileHandle.standardError.write(Data("harness: \(error)\n".utf8)); exit(1)
}
guard args.count >= 2 else { fail(comm, "usage: DistributedHarness fill DIR | collectives | fail MODE RANK | train DIR STEPS BATCH") }

switch args[1] {
case "fill":
    guard args.count == 3 else { fail(comm, "fill needs an output directory") }
    let dir = args[2]
    // Every random and structured scheme; shapes whose rows do not divide by 2, 3, 4 or 7 and
    // shapes with fewer rows than ranks.
    let schemes: [Initializer] = [
        .uniform(low: -0.5, high: 2), .normal(mean: 0.1, std: 0.02), .truncatedNormal(mean: 0, std: 1, a: -0.5, b: 1.5),
        .truncatedNormalMatched(mean: 0, std: 0.3, k: 2), .xavierUniform(), .xavierNormal(gain: 5.0 / 3.0), .heUniform(), .heNormal(),
        .heNormal(mode: .fanOut), .lecunUniform(), .lecunNormal(), .varianceScaling(VarianceScaling(scale: 2, mode: .fanIn, distribution: .truncatedNormal)),
        .sparse(sparsity: 0.3, std: 0.05), .constant(0.25), .identity(gain: 2), .orthogonal(gain: 1.5),
    ]
    let shapes: [[Int]] = [[7, 5], [13, 300], [2, 9], [1, 6], [5, 4, 3, 3]]
    var cases: [FillCase] = []
    for (i, s) in schemes.enumerated() {
        for shape in shapes {
            if case .identity = s, shape.count != 2 { continue }
            if case .sparse = s, shape.count != 2 { continue }
            cases.append(FillCase(index: cases.count, initializer: s, shape: shape, dtype: "f32", seed: UInt64(100 + i), file: ""))
        }
    }
    cases.append(FillCase(index: cases.count, initializer: .dirac(groups: 1), shape: [6, 4, 3, 3], dtype: "f32", seed: 1, file: ""))
    cases.append(FillCase(index: cases.count, initializer: .deltaOrthogonal(gain: 1), shape: [6, 4, 3, 3], dtype: "f32", seed: 2, file: ""))
    for (s, shape) in [(Initializer.heNormal(), [11, 17]), (.truncatedNormal(mean: 0, std: 0.02, a: -0.04, b: 0.04), [9, 700]), (.orthogonal(), [10, 6])] {
        cases.append(FillCase(index: cases.count, initializer: s, shape: shape, dtype: "f64", seed: 77, file: ""))
    }
    // C29: a 1000×999 xavier_normal weight, seed 11.
    cases.append(FillCase(index: cases.count, initializer: .xavierNormal(), shape: [1000, 999], dtype: "f32", seed: 11, file: ""))
    var described: [[String: Any]] = []
    for var c in cases {
        c.file = "\(dir)/case-\(c.index).bin"
        let data: Data
        do {
            if c.dtype == "f64" {
                let t: [Double] = try ShardedInitialization.fillGathered(c.initializer, shape: c.shape, key: RandomKey(seed: c.seed), communicator: comm)
                data = t.withUnsafeBytes { Data($0) }
            } else {
                let t: [Float] = try ShardedInitialization.fillGathered(c.initializer, shape: c.shape, key: RandomKey(seed: c.seed), communicator: comm)
                data = t.withUnsafeBytes { Data($0) }
            }
        } catch { fail(comm, "case \(c.index) \(c.initializer.name) \(c.shape): \(error)") }
        if comm.isRoot {
            do { try data.write(to: URL(fileURLWithPath: c.file)) } catch { fail(comm, "writing \(c.file): \(error)") }
            let json = try! JSONSerialization.jsonObject(with: JSONEncoder().encode(c))
            described.append(json as! [String: Any])
        }
    }
    do { try comm.barrier() } catch { fail(comm, "\(error)") }
    if comm.isRoot { output(["world_size": comm.size, "cases": described]) }

case "collectives":
    // Closed forms: rank r contributes r + 1 (sum = N(N+1)/2), max N, min 1.
    let n = comm.size, r = comm.rank
    var checks: [String: Bool] = [:]
    do {
        var f = [Float](repeating: Float(r + 1), count: 1001)
        try comm.allReduce(&f, .sum)
        checks["sum_float"] = f.allSatisfy { $0 == Float(n * (n + 1) / 2) }
        var d = (0..<777).map { Double($0) * 0.5 + Double(r) }
        try comm.allReduce(&d, .sum)
        checks["sum_double"] = d.enumerated().allSatisfy { $1 == Double($0) * 0.5 * Double(n) + Double(n * (n - 1) / 2) }
        checks["max_uint64"] = try comm.allReduce(UInt64(r + 1), .max) == UInt64(n)
        checks["min_int64"] = try comm.allReduce(Int64(r + 1), .min) == 1
        var b = [UInt8](repeating: 0, count: 100_003)
        if r == n - 1 { for i in b.indices { b[i] = UInt8(truncatingIfNeeded: i &* 31) } }
        try comm.broadcast(&b, root: n - 1)
        checks["broadcast"] = b.indices.allSatisfy { b[$0] == UInt8(truncatingIfNeeded: $0 &* 31) }
        let counts = (0..<n).map { ($0 * 7) % 5 }         // includes zero-length parts
        let local = (0..<counts[r]).map { Int64(r * 1000 + $0) }
        let all = try comm.allGatherV(local, counts: counts)
        checks["allgatherv"] = all == (0..<n).flatMap { q in (0..<counts[q]).map { Int64(q * 1000 + $0) } }
        checks["allgather"] = try comm.allGather(UInt64(r * r)) == (0..<n).map { UInt64($0 * $0) }
        try comm.requireIdentical(0xABCD, what: "a constant")
        var mismatchCaught = false
        do { try comm.requireIdentical(UInt64(r == n - 1 ? 2 : 1), what: "a value") } catch DistributedError.mismatch { mismatchCaught = true }
        checks["mismatch_detected"] = n == 1 ? !mismatchCaught : mismatchCaught
        // The same with a 7-element (byte) message limit, so every call is chunked.
        if let world = comm as? MPICommunicator {
            let mpi = try world.limitingMessages(to: 7)
            var f = (0..<1000).map { Float($0) + Float(r) }
            try mpi.allReduce(&f, .sum)
            checks["sum_float_chunked"] = f.enumerated().allSatisfy { $1 == Float($0 * n + n * (n - 1) / 2) }
            var b = [UInt8](repeating: 0, count: 1000)
            if r == 0 { for i in b.indices { b[i] = UInt8(truncatingIfNeeded: i) } }
            try mpi.broadcast(&b, root: 0)
            checks["broadcast_chunked"] = b.indices.allSatisfy { b[$0] == UInt8(truncatingIfNeeded: $0) }
            let counts = (0..<n).map { 5 + $0 }
            let all = try mpi.allGatherV((0..<counts[r]).map { Int32(r * 100 + $0) }, counts: counts)
            checks["allgatherv_chunked"] = all == (0..<n).flatMap { q in (0..<counts[q]).map { Int32(q * 100 + $0) } }
        }
    } catch { fail(comm, "\(error)") }
    if comm.isRoot { output(["world_size": n, "checks": checks, "ok": checks.values.allSatisfy { $0 }]) }

case "fail":
    guard args.count == 4, let target = Int(args[3]) else { fail(comm, "fail needs MODE RANK") }
    let mode = args[2]
    var x = [Double](repeating: 1, count: 16)
    for iteration in 0..<100_000 {
        if comm.rank == target && iteration == 3 {
            switch mode {
            case "error": fail(comm, "injected failure at iteration \(iteration) (test)")
            case "exit":
                FileHandle.standardError.write(Data("harness: rank \(comm.rank) exits with status 3 at iteration \(iteration) (test)\n".utf8))
                exit(3)
            default:
                FileHandle.standardError.write(Data("harness: rank \(comm.rank) kills itself at iteration \(iteration) (test)\n".utf8))
                kill(getpid(), SIGKILL)
            }
        }
        do { try comm.allReduce(&x, .sum) } catch { fail(comm, "\(error)") }
        for i in x.indices { x[i] = 1 }
        usleep(10_000)
    }
    if comm.isRoot { output(["ok": false, "reason": "no rank failed"]) }

case "train":
    // Data-parallel training of a 20-16-10 ReLU MLP on synthetic data (299 training samples:
    // with batch 37 every epoch ends with a partial batch of 3, fewer rows than 4 ranks).
    // Rank r writes DIR/rank-r.bin: the flat parameters after every step; rank 0 also runs the
    // single-process Trainer (the oracle) with the same global batch and writes DIR/single.bin.
    guard args.count == 6, let epochs = Int(args[3]), let batchSize = Int(args[4]) else { fail(comm, "train needs DIR EPOCHS BATCH OPTIMIZER") }
    let dir = args[2]
    func synthetic(count: Int, seed: UInt64) -> LabeledData {
        var g = PhiloxGenerator(seed: seed)
        var w = PhiloxGenerator(seed: 99)          // the same labelling map for both splits
        let features = 20, classes = 10
        let map = (0..<(features * classes)).map { _ in Float(Double(w.next() % 2001) / 1000 - 1) }
        var inputs: [Float] = [], labels: [Int32] = []
        for _ in 0..<count {
            let x = (0..<features).map { _ in Float(Double(g.next() % 2001) / 1000 - 1) }
            var best = 0, bestValue = -Float.infinity
            for c in 0..<classes {
                var v: Float = 0
                for f in 0..<features { v += map[c * features + f] * x[f] }
                if v > bestValue { bestValue = v; best = c }
            }
            inputs += x; labels.append(Int32(best))
        }
        return try! LabeledData(features: features, inputs: inputs, labels: labels)
    }
    let train = synthetic(count: 299, seed: 1), test = synthetic(count: 101, seed: 2)
    var cfg = TrainingConfiguration()
    cfg.epochs = epochs; cfg.batchSize = batchSize; cfg.learningRate = 0.05; cfg.seed = 5
    switch args[5] {
    case "adam": cfg.optimizer = .adam(); cfg.learningRate = 0.003
    case "sgd-decay": cfg.optimizer = .sgd(momentum: 0.9, nesterov: true); cfg.weightDecay = 1e-3
    default: break
    }
    func record(_ model: any NetworkModel, into data: inout Data) { model.flatValues.withUnsafeBytes { data.append(contentsOf: $0) } }
    do {
        let model = try Sequential(sizes: [20, 16, 10], activation: .relu, seed: 3)
        // Small buckets (100 floats) so the 506 parameters and 2 counters span 6 all-reduces.
        let trainer = try DataParallelTrainer(model: model, configuration: cfg, communicator: comm, bucketBytes: 400)
        try trainer.verifyIdenticalModels(train: train, test: test)
        var trace = Data()
        let reports = try trainer.fit(train: train, test: test, stepEnded: { _ in record(model, into: &trace) })
        try trace.write(to: URL(fileURLWithPath: "\(dir)/rank-\(comm.rank).bin"))
        var single = Data()
        var singleAccuracy = 0.0
        if comm.isRoot {
            let reference = try Sequential(sizes: [20, 16, 10], activation: .relu, seed: 3)
            let oracle = try Trainer(model: reference, configuration: cfg)
            let r = try oracle.fit(train: train, test: test, progress: { _ in record(reference, into: &single) })
            singleAccuracy = r.last?.testAccuracy ?? 0
            try single.write(to: URL(fileURLWithPath: "\(dir)/single.bin"))
        }
        try comm.barrier()
        if comm.isRoot {
            output(["world_size": comm.size, "steps": trainer.allReduceStatistics.steps, "parameters": model.parameterCount,
                    "allreduce_calls": trainer.allReduceStatistics.calls, "allreduce_bytes_per_step": trainer.allReduceStatistics.bytesPerStep,
                    "test_accuracy": reports.last?.testAccuracy ?? 0, "single_test_accuracy": singleAccuracy,
                    "train_loss": reports.last?.trainLoss ?? 0])
        }
    } catch { fail(comm, "\(error)") }

case "checkpoint-guard":
    guard args.count == 3 else { fail(comm, "checkpoint-guard needs DIR") }
    let dir = args[2]
    do {
        var g = PhiloxGenerator(seed: 8)
        let inputs = (0..<(64 * 6)).map { _ in Float(Double(g.next() % 2001) / 1000 - 1) }
        let data = try LabeledData(features: 6, inputs: inputs, labels: (0..<64).map { Int32($0 % 10) })
        var cfg = TrainingConfiguration()
        cfg.epochs = 1; cfg.batchSize = 16; cfg.seed = 1
        let model = try Sequential(sizes: [6, 5, 10], activation: .relu, seed: 2)
        let trainer = try DataParallelTrainer(model: model, configuration: cfg, communicator: comm)
        _ = try trainer.fit(train: data, test: data, maxSteps: 2)
        let sameBefore = try comm.allGather(trainer.trainingStateChecksum()).allSatisfy { $0 == trainer.trainingStateChecksum() }
        // One ulp on one parameter of the last rank: the states now differ.
        let original = model.layers[0].bias[0]
        if comm.rank == comm.size - 1 { model.layers[0].bias[0] = original.nextUp }
        let path = "\(dir)/checkpoint.safetensors"
        var mismatch = "", mismatchCaught = false
        do { try trainer.writeCheckpoint(to: path, trainCount: data.count, features: data.features) } catch let e as DistributedError {
            if case .mismatch = e { mismatchCaught = true; mismatch = "\(e)" }
        }
        let written = FileManager.default.fileExists(atPath: path)
        let caught = try comm.allGather(Int32(mismatchCaught ? 1 : 0))
        // Rank 0 cannot write (missing directory): rank 0 gets the file error, the others .peerFailed.
        var writeError = ""
        var peerFailed = false
        model.layers[0].bias[0] = original
        do { try trainer.writeCheckpoint(to: "\(dir)/missing/checkpoint.safetensors", trainCount: data.count, features: data.features) } catch {
            if let d = error as? DistributedError, case .peerFailed(_, 0, _) = d { peerFailed = true }
            writeError = "\(error)"
        }
        let failures = try comm.allGather(Int32(comm.isRoot ? (writeError.isEmpty || peerFailed ? 0 : 1) : (peerFailed ? 1 : 0)))
        if comm.isRoot {
            output(["world_size": comm.size, "identical_before": sameBefore, "mismatch_on_ranks": caught.map(Int.init), "message": mismatch,
                    "file_written": written, "write_failure_seen_by_ranks": failures.map(Int.init), "write_error": writeError])
        }
    } catch { fail(comm, "\(error)") }

case "write":
    // One safetensors file written by every rank (ShardedSafetensors): tensors of several shapes
    // and float dtypes, including a scalar and tensors with fewer rows than ranks.
    guard args.count == 4, let chunk = Int(args[3]) else { fail(comm, "write needs OUT CHUNK_BYTES") }
    do {
        try ShardedSafetensors.write(path: args[2], tensors: writeCases.map { TensorSpec(name: $0.name, dtype: $0.dtype, shape: $0.shape) },
                                     communicator: comm, chunkBytes: chunk) { t, rows, bytes in
            let c = writeCases.first { $0.name == t.name }!
            let perRow = c.shape.dropFirst().reduce(1, *)
            var values = [Float](repeating: 0, count: rows.count * perRow)
            try values.withUnsafeMutableBufferPointer { p in
                try c.initializer.fillShard(p, shape: c.shape.isEmpty ? [1] : c.shape, rows: rows, key: RandomKey(seed: 7).folding(in: c.key))
            }
            values.withUnsafeBufferPointer { TensorConvert.store($0, as: t.dtype, into: bytes, at: 0) }
        }
    } catch { fail(comm, "\(error)") }
    if comm.isRoot { output(["world_size": comm.size, "ok": true]) }

default:
    fail(comm, "unknown mode \(args[1])")
}
