import ArgumentParser
import Foundation
import WeightInit

/// `weightinit bench`: the machine's limits and this package against them, in one process.
struct Bench: ToolCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure memset bandwidth and raw cblas_sgemm, and this package against them (ratios in one process).",
        discussion: """
        Sections: memset bandwidth (a 2-thread memset of 64 MiB, already touched); fill (every scheme at 256², \
        1024², 4096² Float and uniform/normal/truncated 4096² Double: GB/s, ratio to memset, checksums across \
        1/2/8 threads, peak-memory growth of in-place fills); fresh (He normal into a new 1 GiB Float matrix, page \
        faults included, three ways: zeros then fill, first touch in the fill threads, and that plus transparent huge \
        pages as Initializer.matrix does, each against the same fill of a touched matrix); orthogonal (Float 1024² and 4096²: the initializer, its QR alone, LAPACK sgeqrf+sorgqr alone, the 8/3·n³-at-sgemm-rate bound, orthogonality error, bytes across OpenBLAS 1/2/4/8 threads in child processes); gemm (raw cblas_sgemm vs the same product through Matrix, \
        n = 256…2048, GFLOP/s = 2n³/time); dense (batch 128: 784→256, 1024→1024, 4096→4096, forward and \
        forward+backward); train (samples/s of the default MLP and of the deep MLP 784-(256×20)-10 on synthetic data, and the cost of LSUV on the default MLP; then Trainer.fit samples/s and CPU µs per sample of both models with 1 training thread (its dense products split over --threads, the OpenBLAS thread setting) against the batch split over --threads with 1 thread each, alternating 3 rounds — this section sets OpenBLAS's thread count for its own measurements and restores it; JSON train.batch_split); \
        model-init (init --preset gpt2 --recipe gpt2 into a file in --bench-directory: seconds and GB/s to the \
        page cache, with --fsync, and dd conv=fsync of the same byte count); conv (batch 128: 1→32 3×3 on 28×28, \
        32→64 3×3 on 14×14, depthwise 64 3×3 on 14×14, 'same' padding, forward and forward+backward GFLOP/s with \
        forward = 2·N·O·OH·OW·(C/G)·kh·kw flops and forward+backward = 3× that, against one raw cblas_sgemm of the \
        layer's forward shape; and the default CNN's training samples/s on synthetic data); backend. --only \
        picks sections.

        Tables go to stdout when every section has run (progress on stderr). Times are wall-clock medians; the \
        machine may be noisy, so compare ratios measured in the same run. At 4096² each fill repetition is \
        preceded by a timed memset of the same buffer and the ratio uses that memset, since a VM's memory \
        bandwidth drifts. The 256² and 1024² fills fit in the caches while memset is measured on 64 MiB, so their \
        ratios can exceed 1; only the 4096² ratios compare like with like.

        JSON keys: memset_gbps, fill, fill_peak_memory_growth_bytes, fresh, orthogonal, gemm, dense, train, model_init, \
        conv, backend (sections left out by --only are absent). A fill row: scheme, shape ("4096x4096"), dtype, \
        threads, seconds, gbps, ratio_to_memset, memset_gbps (the memset the ratio uses), \
        checksums_equal_across_threads (1/2/8 threads, 4096² of the main random schemes). An orthogonal row \
        (Float n×n): shape, seconds (the initializer), householder_seconds (the blocked Householder QR alone), \
        householder_gflops, qr_seconds (LAPACK sgeqrf+sorgqr alone), ratio_to_qr (seconds ÷ qr_seconds), sgemm_gflops, \
        lower_bound_seconds (8/3·n³ at the sgemm rate), max_orthogonality_error (max |QᵀQ − I| in Double), checksum, \
        identical_across_blas_threads (whether child processes run with OPENBLAS_NUM_THREADS = each of \
        blas_threads_checked print the same checksum; the bench never changes its own thread count), blas_threads_checked. A gemm row: n, gflops_cblas, gflops_matrix, ratio. A dense row: layer, batch, \
        forward_gflops, forward_backward_gflops and the times in microseconds.

        Examples:
          weightinit bench --quick
          weightinit bench --only gemm,dense --json
          weightinit bench --only model-init,conv
        """)

    @OptionGroup var common: CommonOptions

    @Option(help: "Directory for the model-init files (default: the temporary directory).")
    var benchDirectory: String?

    @Flag(help: "Fewer repetitions and sizes (about a minute).")
    var quick = false

    @Option(help: "Run only these sections, comma-separated: fill, fresh, orthogonal, gemm, dense, train, model-init, conv (memset always runs).")
    var only: String?

    func wants(_ section: String) -> Bool {
        guard let only else { return true }
        return ((try? parseList(only.lowercased(), option: "--only")) ?? []).contains(section)
    }

    func validate() throws {
        if let only {
            let valid: Set = ["fill", "fresh", "orthogonal", "gemm", "dense", "train", "model-init", "conv"]
            let sections = try parseList(only.lowercased(), option: "--only")
            guard !sections.isEmpty else {
                throw ValidationError("--only '\(only)': need at least one section; valid: fill, fresh, orthogonal, gemm, dense, train, model-init, conv (leave --only out to run them all)")
            }
            for s in sections where !valid.contains(s) {
                throw ValidationError("--only: unknown section '\(s)'; valid: fill, fresh, orthogonal, gemm, dense, train, model-init, conv")
            }
        }
    }

    struct DenseResult: Encodable { var layer: String; var batch: Int; var forwardGflops: Double; var forwardBackwardGflops: Double; var forwardMicroseconds: Double; var forwardBackwardMicroseconds: Double }
    struct TrainResult: Encodable {
        var model: String; var batch: Int; var optimizer: String; var steps: Int; var samplesPerSecond: Double; var threads: Int; var lsuvSeconds: Double?
        /// The deep MLP (784, 20 hidden layers of 256, 10): steps timed, samples/s, and GFLOP/s counted as 3× the forward flops.
        var deepModel: String; var deepSteps: Int; var deepSamplesPerSecond: Double; var deepGflops: Double
        /// Trainer.fit samples/s, one BLAS call split over the cores vs the batch split over the cores (1 BLAS thread each).
        var batchSplit: [BatchSplitRow]
    }
    /// One model's batch-split comparison: `Trainer.fit` samples/s with `batchThreads` 1 and all cores in
    /// OpenBLAS, and with `batchThreads` = cores and 1 BLAS thread, measured alternately `repeats` times (medians).
    struct BatchSplitRow: Encodable {
        var model: String; var batch: Int; var steps: Int; var cores: Int
        var oneThreadSamplesPerSecond: [Double]; var splitSamplesPerSecond: [Double]
        var oneThreadMedian: Double; var splitMedian: Double; var speedup: Double
        /// Process CPU time (all threads, CLOCK_PROCESS_CPUTIME_ID) per sample in µs, medians: on a
        /// shared machine it shows the work each mode does when wall-clock ratios are unreliable.
        var oneThreadCpuMicrosecondsPerSample: Double; var splitCpuMicrosecondsPerSample: Double
    }
    struct GemmResult: Encodable { var n: Int; var gflopsCblas: Double; var gflopsMatrix: Double; var ratio: Double }
    struct Backend: Encodable { var openblasVersion: String; var core: String; var kernelOk: Bool; var threads: Int; var fillThreads: Int }
    /// Sections that did not run (`--only`) are absent from the JSON.
    struct Report: Encodable {
        var memsetGbps: Double
        var fill: [FillBench.Result]?
        var fresh: FreshBench.Result?
        var orthogonal: [FillBench.OrthogonalResult]?
        var gemm: [GemmResult]?
        var dense: [DenseResult]?
        var train: TrainResult?
        var modelInit: ModelInitBench.Result?
        var conv: ConvBench.Report?
        var backend: Backend
        /// Peak-memory growth (bytes) during an in-place 4096² Float fill, per scheme (0 = no allocation
        /// proportional to the tensor).
        var fillPeakMemoryGrowthBytes: [String: Int]?
    }

    func run() throws {
        // The model-init file is checked before any section runs (exit 64 naming --bench-directory).
        if wants("model-init") {
            let directory = benchDirectory ?? NSTemporaryDirectory()
            let files = try checkOutputDirectory(directory, option: "--bench-directory", create: false,
                                                 files: ["weightinit-bench-\(getpid()).safetensors"])
            try checkOutputs(files.map { ("--bench-directory", $0) })
        }
        common.apply()
        let fillThreads = common.threads ?? ProcessInfo.processInfo.activeProcessorCount
        let heap = wants("fill") ? try FillBench.allocationCheck(threads: fillThreads, seed: common.seed) : [:]

        let memset = FillBench.measureMemset(bytes: 64 << 20, threads: fillThreads, repetitions: quick ? 5 : 9)
        func section(_ name: String) { if !common.json { status("bench: \(name) …") } }
        section("fill")
        let fills = !wants("fill") ? nil : try FillBench.run(quick: quick, threads: fillThreads, memsetGBps: memset, seed: common.seed, verbose: false)
        if wants("orthogonal") { section("orthogonal") }
        let orth = !wants("orthogonal") ? nil : try FillBench.runOrthogonal(quick: quick, threads: fillThreads, seed: common.seed, verbose: false)
        if wants("gemm") { section("gemm") }
        let gemm = wants("gemm") ? benchGemm() : nil
        if wants("dense") { section("dense") }
        let dense = wants("dense") ? try benchDense() : nil
        if wants("train") { section("train") }
        let train = wants("train") ? try benchTrain() : nil
        if wants("fresh") { section("fresh") }
        let fresh = wants("fresh") ? try FreshBench.run(quick: quick, threads: fillThreads, seed: common.seed) : nil
        if wants("model-init") { section("model-init") }
        let modelInit = wants("model-init")
            ? try ModelInitBench.run(quick: quick, threads: fillThreads, seed: common.seed, directory: benchDirectory ?? NSTemporaryDirectory(), verbose: !common.json)
            : nil
        if wants("conv") { section("conv") }
        let conv = wants("conv") ? try ConvBench.run(quick: quick, seed: common.seed, verbose: !common.json) : nil
        let check = BLASBackend.kernelCheck()
        let report = Report(memsetGbps: memset, fill: fills, fresh: fresh, orthogonal: orth, gemm: gemm, dense: dense, train: train, modelInit: modelInit, conv: conv,
                            backend: Backend(openblasVersion: BLASBackend.version, core: check.core, kernelOk: check.kernelOK,
                                             threads: BLASBackend.threads, fillThreads: fillThreads),
                            fillPeakMemoryGrowthBytes: wants("fill") ? heap : nil)
        if common.json { try printJSON(report); return }
        printTables(report, check: check)
    }

    /// The results as tables on stdout (numbers right-aligned).
    func printTables(_ r: Report, check: BLASBackend.KernelCheck) {
        print("memset: \(fmt(r.memsetGbps, 2)) GB/s (64 MiB, \(r.backend.fillThreads) threads)")
        if let fill = r.fill {
            print("\nfill (GB/s of tensor bytes written; ratio = GB/s ÷ memset GB/s):")
            print(table(["scheme", "shape", "dtype", "ms", "GB/s", "ratio", "memset GB/s", "1/2/8 threads"], fill.map { f in
                [f.scheme, f.shape, f.dtype, fmt(f.seconds * 1e3, 3), fmt(f.gbps, 2), fmt(f.ratioToMemset, 3), fmt(f.memsetGbps, 1),
                 f.checksumsEqualAcrossThreads.map { $0 ? "equal" : "DIFFER" } ?? "-"]
            }, rightAligned: [3, 4, 5, 6]))
        }
        if let heap = r.fillPeakMemoryGrowthBytes, !heap.isEmpty {
            print("\npeak memory growth during an in-place 4096² Float fill (64 MiB):")
            print(table(["scheme", "bytes"], heap.sorted { $0.key < $1.key }.map { [$0.key, "\($0.value)"] }, rightAligned: [1]))
        }
        if let f = r.fresh {
            print("\nfresh: He normal into a new \(f.shape) Float matrix (1 GiB, page faults included) vs the same fill of a touched one, \(f.threads) threads, median of \(f.repetitions); transparent huge pages: \(f.transparentHugePages)")
            print(table(["how", "seconds", "GB/s", "÷ steady"], [
                ["steady state (touched)", fmt(f.steadySeconds, 3), fmt(f.steadyGbps, 2), "1.000"],
                ["zeros, then fill", fmt(f.zerosThenFillSeconds, 3), fmt(Double(f.bytes) / f.zerosThenFillSeconds / 1e9, 2), fmt(f.zerosThenFillRatio, 3)],
                ["first touch in fill threads", fmt(f.firstTouchSeconds, 3), fmt(Double(f.bytes) / f.firstTouchSeconds / 1e9, 2), fmt(f.firstTouchRatio, 3)],
                ["+ MADV_HUGEPAGE (Initializer.matrix)", fmt(f.hugePagesSeconds, 3), fmt(Double(f.bytes) / f.hugePagesSeconds / 1e9, 2), fmt(f.hugePagesRatio, 3)]],
                        rightAligned: [1, 2, 3]))
        }
        if let orth = r.orthogonal {
            print("\northogonal (Float; blocked Householder QR, bytes independent of the OpenBLAS thread count) vs LAPACK sgeqrf+sorgqr alone:")
            print(table(["shape", "orthogonal s", "Householder QR s", "GFLOP/s", "LAPACK QR s", "ratio to LAPACK", "bound s", "sgemm GFLOP/s", "max |QᵀQ − I|", "OpenBLAS threads"],
                        orth.map { o in
                            [o.shape, fmt(o.seconds, 3), fmt(o.householderSeconds, 3), fmt(o.householderGflops, 1), fmt(o.qrSeconds, 3),
                             fmt(o.ratioToQr, 3), fmt(o.lowerBoundSeconds, 3), fmt(o.sgemmGflops, 1), String(format: "%.2e", o.maxOrthogonalityError),
                             o.identicalAcrossBlasThreads.map { ($0 ? "identical " : "DIFFER ") + o.blasThreadsChecked.map(String.init).joined(separator: "/") } ?? "-"]
                        }, rightAligned: [1, 2, 3, 4, 5, 6, 7, 8]))
        }
        if let gemm = r.gemm {
            print("\ngemm: raw cblas_sgemm vs Matrix.gemm (C = A·B):")
            print(table(["n", "cblas GFLOP/s", "Matrix GFLOP/s", "ratio"], gemm.map { ["\($0.n)", fmt($0.gflopsCblas, 1), fmt($0.gflopsMatrix, 1), fmt($0.ratio, 3)] },
                        rightAligned: [0, 1, 2, 3]))
        }
        if let dense = r.dense {
            print("\ndense (batch 128, ReLU; forward = 2·B·in·out flops, forward+backward = 3× that):")
            print(table(["layer", "algorithm", "forward GFLOP/s", "forward µs", "fwd+bwd GFLOP/s", "fwd+bwd µs"], dense.map {
                [$0.layer, fmt($0.forwardGflops, 1), fmt($0.forwardMicroseconds, 1), fmt($0.forwardBackwardGflops, 1), fmt($0.forwardBackwardMicroseconds, 1)]
            }, rightAligned: [1, 2, 3, 4]))
        }
        if let t = r.train {
            print("\ntrain: default MLP \(fmt(t.samplesPerSecond, 0)) samples/s (batch \(t.batch), \(t.steps) steps, \(t.threads) BLAS threads)")
            print("train: deep MLP \(t.deepModel) \(fmt(t.deepSamplesPerSecond, 0)) samples/s, \(fmt(t.deepGflops, 1)) GFLOP/s (3× forward flops; batch \(t.batch), \(t.deepSteps) steps)")
            if let l = t.lsuvSeconds { print("LSUV on the default MLP, batch 1024: \(fmt(l * 1e3, 1)) ms") }
            if let c = t.batchSplit.first?.cores {
                print("\ntrain, Trainer.fit samples/s (batch \(t.batch)): 1 thread × \(c) BLAS threads vs batch split over \(c) threads × 1 BLAS thread, alternating, medians:")
                print(table(["model", "steps", "1×\(c) BLAS", "\(c)×1 split", "split ÷ 1", "CPU µs/sample 1×\(c)", "\(c)×1", "rounds 1×\(c)", "rounds \(c)×1"], t.batchSplit.map {
                    [$0.model, "\($0.steps)", fmt($0.oneThreadMedian, 0), fmt($0.splitMedian, 0), fmt($0.speedup, 2),
                     fmt($0.oneThreadCpuMicrosecondsPerSample, 1), fmt($0.splitCpuMicrosecondsPerSample, 1),
                     $0.oneThreadSamplesPerSecond.map { fmt($0, 0) }.joined(separator: " "), $0.splitSamplesPerSecond.map { fmt($0, 0) }.joined(separator: " ")]
                }, rightAligned: [1, 2, 3, 4, 5, 6]))
            }
        }
        if let m = r.modelInit {
            print("\nmodel-init: init --preset \(m.preset) --recipe \(m.recipe) (\(m.parameters) parameters, \(m.dtype), \(m.bytes) bytes), \(m.threads) threads, median of \(m.repetitions), in \(m.directory):")
            print(table(["to", "seconds", "GB/s"], [["page cache", fmt(m.seconds, 3), fmt(m.gbps, 2)],
                                                  ["with --fsync", fmt(m.fsyncSeconds, 3), fmt(Double(m.bytes) / m.fsyncSeconds / 1e9, 2)],
                                                  ["dd conv=fsync", m.ddFsyncSeconds.map { fmt($0, 3) } ?? "n/a", m.ddFsyncSeconds.map { fmt(Double(m.bytes) / $0 / 1e9, 2) } ?? "n/a"]],
                        rightAligned: [1, 2]))
            if let ratio = m.ratioToDd { print("--fsync ÷ dd conv=fsync: \(fmt(ratio, 3))") }
        }
        if let c = r.conv {
            print("\nconv (batch 128, 'same' padding, ReLU; forward = 2·N·O·OH·OW·(C/G)·kh·kw flops, forward+backward = 3× that; raw = one cblas_sgemm of the forward shape):")
            print(table(["layer", "algorithm", "forward GFLOP/s", "forward ms", "fwd+bwd GFLOP/s", "fwd+bwd ms", "raw GFLOP/s", "fwd+bwd ÷ raw"], c.layers.map {
                [$0.layer, $0.algorithm, fmt($0.forwardGflops, 1), fmt($0.forwardMilliseconds, 2), fmt($0.forwardBackwardGflops, 1), fmt($0.forwardBackwardMilliseconds, 2),
                 fmt($0.rawSgemmGflops, 1), fmt($0.forwardBackwardRatioToSgemm, 2)]
            }, rightAligned: [2, 3, 4, 5, 6, 7]))
            print("default CNN training: \(fmt(c.cnnTrainSamplesPerSecond, 0)) samples/s (batch 128, \(c.cnnTrainSteps) steps, \(c.threads) BLAS threads)")
        }
        print("\nbackend: OpenBLAS \(r.backend.openblasVersion), core \(r.backend.core)\(check.kernelOK ? "" : " (generic fallback: \(check.advice))"), \(r.backend.threads) BLAS threads")
    }

    /// Dense layers at batch 128: forward (1 gemm) and forward+backward (3 gemms), ReLU.
    func benchDense() throws -> [DenseResult] {
        var out: [DenseResult] = []
        for (i, o) in [(784, 256), (1024, 1024), (4096, 4096)] {
            let batch = 128
            let layer = Dense(inputSize: i, outputSize: o, activation: .relu)
            try layer.initialize(with: .heNormal(), key: RandomKey(seed: common.seed))
            var x = Matrix<Float>(rows: batch, columns: i)
            try Initializer.normal(mean: 0, std: 1).fill(&x, key: RandomKey(seed: 7))
            var dy = Matrix<Float>(rows: batch, columns: o)
            try Initializer.normal(mean: 0, std: 1).fill(&dy, key: RandomKey(seed: 8))
            let reps = quick ? (o >= 4096 ? 5 : 30) : (o >= 4096 ? 15 : 100)
            var f: [Double] = [], fb: [Double] = []
            for r in 0..<(reps + 2) {
                let t0 = now()
                try layer.forward(x)
                let t1 = now()
                try layer.forward(x); try layer.backward(dy)
                let t2 = now()
                if r >= 2 { f.append(t1 - t0); fb.append(t2 - t1) }
            }
            let flops = 2 * Double(batch * i * o)
            let d = DenseResult(layer: "\(i)→\(o)", batch: batch, forwardGflops: flops / median(f) / 1e9, forwardBackwardGflops: 3 * flops / median(fb) / 1e9,
                                forwardMicroseconds: median(f) * 1e6, forwardBackwardMicroseconds: median(fb) * 1e6)
            out.append(d)
        }
        return out
    }

    /// Training throughput of the default MLP (784-256-128-10, ReLU, SGD Nesterov, batch 128) on
    /// synthetic standardized inputs: forward, loss, backward and update per step.
    func benchTrain() throws -> TrainResult {
        let batch = 128, steps = quick ? 150 : 600
        let sps = try trainThroughput(sizes: [784, 256, 128, 10], batch: batch, steps: steps)
        // The deep MLP of issue 14: 784 → 20 hidden layers of 256 → 10, where 256×256 products at batch 128 sit far below sgemm speed.
        let deepSizes = [784] + Array(repeating: 256, count: 20) + [10], deepSteps = quick ? 30 : 120
        let deepSps = try trainThroughput(sizes: deepSizes, batch: batch, steps: deepSteps)
        let forwardFlopsPerSample = zip(deepSizes, deepSizes.dropFirst()).reduce(0.0) { $0 + 2 * Double($1.0 * $1.1) }
        // Cost of LSUV on the default MLP with a calibration batch of 1024 (synthetic N(0, 1) inputs).
        var calibration = Matrix<Float>(rows: 1024, columns: 784)
        try Initializer.normal(mean: 0, std: 1).fill(&calibration, key: RandomKey(seed: 4))
        let lsuvModel = try Sequential(sizes: [784, 256, 128, 10], activation: .relu, seed: common.seed)
        let l0 = now()
        try LSUV().initialize(lsuvModel, batch: calibration, seed: common.seed)
        let lsuv = now() - l0
        // Batch-split training (issue 14): Trainer.fit with the batch split over the cores and 1 BLAS
        // thread each, against batchThreads 1 with every core in OpenBLAS, alternating.
        let cores = max(1, common.threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let repeats = quick ? 2 : 3
        var split: [BatchSplitRow] = []
        for (name, sizes, n) in [("784-256-128-10 relu", [784, 256, 128, 10], quick ? 100 : 300), ("784-(256×20)-10 relu", deepSizes, quick ? 20 : 60)] {
            var one: [Double] = [], many: [Double] = [], oneCPU: [Double] = [], manyCPU: [Double] = []
            for _ in 0..<repeats {
                let a = try BLASBackend.withThreads(cores) { try trainerThroughput(sizes: sizes, batch: batch, steps: n, batchThreads: 1) }
                let b = try BLASBackend.withThreads(1) { try trainerThroughput(sizes: sizes, batch: batch, steps: n, batchThreads: cores) }
                one.append(a.samplesPerSecond); oneCPU.append(a.cpuMicrosecondsPerSample)
                many.append(b.samplesPerSecond); manyCPU.append(b.cpuMicrosecondsPerSample)
            }
            split.append(BatchSplitRow(model: name, batch: batch, steps: n, cores: cores, oneThreadSamplesPerSecond: one, splitSamplesPerSecond: many,
                                       oneThreadMedian: median(one), splitMedian: median(many), speedup: median(many) / median(one),
                                       oneThreadCpuMicrosecondsPerSample: median(oneCPU), splitCpuMicrosecondsPerSample: median(manyCPU)))
        }
        let r = TrainResult(model: "784-256-128-10 relu", batch: batch, optimizer: "sgd nesterov 0.9", steps: steps, samplesPerSecond: sps,
                            threads: BLASBackend.threads, lsuvSeconds: lsuv,
                            deepModel: "784-(256×20)-10 relu", deepSteps: deepSteps, deepSamplesPerSecond: deepSps,
                            deepGflops: 3 * forwardFlopsPerSample * deepSps / 1e9, batchSplit: split)
        return r
    }

    /// `Trainer.fit` samples/s of a ReLU MLP with `sizes` (the `weightinit train` defaults: SGD
    /// Nesterov 0.9, cosine schedule, He weights) on synthetic N(0, 1) inputs, `steps` timed steps
    /// after 10 warm-up steps of the same epoch, with `batchThreads` (the caller sets BLAS threads).
    func trainerThroughput(sizes: [Int], batch: Int, steps: Int, batchThreads: Int) throws -> (samplesPerSecond: Double, cpuMicrosecondsPerSample: Double) {
        func cpu() -> Double { var t = timespec(); clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9 }
        let model = try Sequential(sizes: sizes, activation: .relu, seed: common.seed)
        let count = (steps + 10) * batch, classes = sizes[sizes.count - 1]
        var x = Matrix<Float>(rows: count, columns: sizes[0])
        try Initializer.normal(mean: 0, std: 1).fill(&x, key: RandomKey(seed: 3))
        let train = try LabeledData(features: sizes[0], inputs: x.elements, labels: (0..<count).map { Int32($0 % classes) })
        let test = try LabeledData(features: sizes[0], inputs: Array(x.elements[0..<(batch * sizes[0])]), labels: Array(train.labels[0..<batch]))
        var cfg = TrainingConfiguration()
        cfg.epochs = 1; cfg.batchSize = batch; cfg.learningRate = 0.01; cfg.batchThreads = batchThreads
        let trainer = try Trainer(model: model, configuration: cfg)
        _ = try trainer.fit(train: train, test: test, maxSteps: 10)
        let c0 = cpu()
        let reports = try trainer.fit(train: train, test: test)     // the rest of the epoch: its samples/s counts this call's steps
        let c1 = cpu()         // includes the evaluation of one batch at the end of the epoch
        return (reports.last?.samplesPerSecond ?? 0, (c1 - c0) / Double(steps * batch) * 1e6)
    }

    /// Training samples/s of a ReLU MLP with `sizes` on synthetic N(0, 1) inputs (SGD Nesterov 0.9,
    /// learning rate 0.01, He-normal weights, no input gradient), after 20 warm-up steps.
    func trainThroughput(sizes: [Int], batch: Int, steps: Int) throws -> Double {
        let model = try Sequential(sizes: sizes, activation: .relu, seed: common.seed)
        let optimizer = try Optimizer(.sgd(momentum: 0.9, nesterov: true))
        var x = Matrix<Float>(rows: batch, columns: sizes[0])
        try Initializer.normal(mean: 0, std: 1).fill(&x, key: RandomKey(seed: 3))
        let labels = (0..<batch).map { Int32($0 % sizes[sizes.count - 1]) }
        var loss = SoftmaxCrossEntropy()
        func step() throws {
            let logits = try model.forward(x)
            _ = try loss.loss(logits: logits, labels: labels[...])
            try model.backward(loss.gradient)
            optimizer.step(model.layers, learningRate: 0.01)
        }
        return try model.withoutInputGradient { () throws -> Double in
            for _ in 0..<20 { try step() }
            let t0 = now()
            for _ in 0..<steps { try step() }
            return Double(steps * batch) / (now() - t0)
        }
    }

    func benchGemm() -> [GemmResult] {
        let sizes = [256, 512, 1024, 2048]
        var results: [GemmResult] = []
        for n in sizes {
            var state: UInt64 = 0x9E37_79B9_7F4A_7C15 &+ UInt64(n)
            func next() -> Float {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return Float(Int64(bitPattern: state >> 11) % 2001 - 1000) / 1000
            }
            let a = try! Matrix<Float>(rows: n, columns: n, elements: (0..<(n * n)).map { _ in next() })
            let b = try! Matrix<Float>(rows: n, columns: n, elements: (0..<(n * n)).map { _ in next() })
            var c = Matrix<Float>(rows: n, columns: n)
            var rawC = [Float](repeating: 0, count: n * n)
            let reps = quick ? max(3, min(15, (1 << 30) / (n * n * n))) : max(5, min(31, (1 << 32) / (n * n * n)))
            var rawTimes: [Double] = [], matTimes: [Double] = []
            for rep in 0..<(reps + 1) {   // first iteration is the warm-up
                let t0 = now()
                a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in rawC.withUnsafeMutableBufferPointer { pc in
                    BLASBackend.rawSgemmForBenchmark(n: n, a: pa, b: pb, c: pc) } } }
                let t1 = now()
                try! Matrix.gemm(a, b, into: &c)
                let t2 = now()
                if rep > 0 { rawTimes.append(t1 - t0); matTimes.append(t2 - t1) }
            }
            precondition(c.elements == rawC, "Matrix.gemm and cblas_sgemm disagree at n = \(n)")
            let flops = 2 * Double(n) * Double(n) * Double(n)
            let r = GemmResult(n: n, gflopsCblas: flops / median(rawTimes) / 1e9, gflopsMatrix: flops / median(matTimes) / 1e9,
                               ratio: median(rawTimes) / median(matTimes))
            results.append(r)
        }
        return results
    }
}
