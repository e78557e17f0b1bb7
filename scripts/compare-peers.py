#!/usr/bin/env python3
"""Training throughput of the default MLP (784-256-128-10, ReLU, softmax cross-entropy,
SGD with Nesterov momentum 0.9, batch 128) in WeightInit and in peers, side by side, in one run;
and of the default CNN (conv 32 3x3 same -> ReLU -> max-pool 2 -> conv 64 3x3 same -> ReLU ->
max-pool 2 -> flatten -> dense 128 -> ReLU -> dense 10, batch 128, same optimizer) in WeightInit
and PyTorch (`--cnn-steps 0` skips it).

Peers: PyTorch (when `import torch` works; `--install-torch` tries `pip install torch`), and a
numpy-written loop (always: numpy ships with the machine). Every peer uses the same thread count,
synthetic standardized inputs, He-normal weights and the same number of steps.

Model init (section `model-init`): GPT-2 small (124 M parameters, F32) initialized the Hugging Face
way (`GPT2PreTrainedModel._init_weights`: N(0, 0.02), c_proj N(0, 0.02/√24), zero biases, LayerNorm
1/0) with torch tensors and saved with `safetensors.torch.save_file`, against
`weightinit bench --only model-init` (the same tensors straight into a safetensors file).

Orthogonal init (section `orthogonal`): `torch.nn.init.orthogonal_` on 1024x1024 and 4096x4096 Float
tensors (QR of a Gaussian with the sign fix, the same definition) against `weightinit bench --only
orthogonal` (which also reports LAPACK sgeqrf+sorgqr alone, the 8/3 n^3-at-sgemm-rate bound and whether
the bytes are identical for OpenBLAS 1/2/4/8 threads). Median of several calls per side, same thread
count, one run; `--repeat N` runs N rounds alternating the tools and reports the median over rounds and
(in parentheses) the minimum over rounds; the load average is printed with the result.

Usage: scripts/compare-peers.py [--threads 2] [--steps 600] [--sections train,model-init,cnn,orthogonal]
                                [--install-torch] [--binary PATH]
"""
import argparse, json, os, statistics, subprocess, sys, time

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
ap.add_argument("--steps", type=int, default=600)
ap.add_argument("--batch", type=int, default=128)
ap.add_argument("--cnn-steps", type=int, default=40, help="steps of the CNN comparison (0 skips it)")
ap.add_argument("--install-torch", action="store_true")
ap.add_argument("--binary", default=None, help="weightinit binary (default: build release and use it)")
ap.add_argument("--sections", default="train,model-init,cnn", help="comma-separated: train, model-init, cnn, orthogonal")
ap.add_argument("--repeat", type=int, default=1, help="rounds of the train, cnn and orthogonal sections, alternating the tools; medians are reported (orthogonal: also the minimum over rounds; a noisy VM needs 3 or more)")
ap.add_argument("--directory", default=None, help="directory for the model-init files (default: the temporary directory)")
args = ap.parse_args()
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = str(args.threads)
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sizes = [784, 256, 128, 10]
results = {}

# --- WeightInit ---
binary = args.binary
if binary is None:
    subprocess.run(["swift", "build", "-c", "release", "--product", "weightinit"], cwd=root, check=True, stdout=subprocess.DEVNULL)
    binpath = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=root, check=True, capture_output=True, text=True).stdout.strip()
    binary = os.path.join(binpath, "weightinit")
sections = [x.strip() for x in args.sections.split(',')]
if 'train' in sections:
    deep_sizes = [784] + [256] * 20 + [10]
    rounds = {"weightinit": [], "numpy": [], "pytorch": [], "deep_weightinit": [], "deep_pytorch": [],
              "weightinit_batch_split": [], "deep_weightinit_batch_split": []}
    def weightinit_train():
        out = subprocess.run([binary, "bench", "--only", "train", "--json", "--threads", str(args.threads)], capture_output=True, text=True, check=True)
        wtrain = json.loads(out.stdout)["train"]
        rounds["weightinit"].append(wtrain["samples_per_second"])
        rounds["deep_weightinit"].append(wtrain.get("deep_samples_per_second"))
        # Trainer.fit with the batch split over the threads (1 BLAS thread each), the weightinit train default.
        split = wtrain.get("batch_split") or []
        rounds["weightinit_batch_split"].append(split[0]["split_median"] if len(split) > 0 else None)
        rounds["deep_weightinit_batch_split"].append(split[1]["split_median"] if len(split) > 1 else None)

    # --- numpy ---
    def numpy_loop():
        import numpy as np
        rng = np.random.default_rng(0)
        W = [rng.standard_normal((o, i), dtype=np.float32) * np.float32(np.sqrt(2 / i)) for i, o in zip(sizes, sizes[1:])]
        b = [np.zeros(o, np.float32) for o in sizes[1:]]
        vW = [np.zeros_like(w) for w in W]; vb = [np.zeros_like(x) for x in b]
        x = rng.standard_normal((args.batch, 784), dtype=np.float32)
        y = np.arange(args.batch) % 10
        lr, mu = np.float32(0.01), np.float32(0.9)
        def step():
            hs = [x]; zs = []
            for k in range(3):
                z = hs[-1] @ W[k].T + b[k]; zs.append(z)
                hs.append(np.maximum(z, 0) if k < 2 else z)
            z = hs[-1]; z = z - z.max(1, keepdims=True); e = np.exp(z); p = e / e.sum(1, keepdims=True)
            g = p; g[np.arange(args.batch), y] -= 1; g /= args.batch
            for k in (2, 1, 0):
                if k < 2: g = g * (zs[k] > 0)
                gW = g.T @ hs[k]; gb = g.sum(0)
                if k > 0: g_prev = g @ W[k]
                for P, G, V in ((W[k], gW, vW[k]), (b[k], gb, vb[k])):
                    V *= mu; V += G; P -= lr * (G + mu * V)
                if k > 0: g = g_prev
        for _ in range(20): step()
        t = time.perf_counter()
        for _ in range(args.steps): step()
        return args.steps * args.batch / (time.perf_counter() - t)

    # --- PyTorch ---
    def torch_loop(layer_sizes=sizes, steps=None):
        import torch
        steps = steps or args.steps
        torch.set_num_threads(args.threads)
        torch.manual_seed(0)
        layers = []
        for k, (i, o) in enumerate(zip(layer_sizes, layer_sizes[1:])):
            lin = torch.nn.Linear(i, o); torch.nn.init.kaiming_normal_(lin.weight); torch.nn.init.zeros_(lin.bias)
            layers += [lin] + ([torch.nn.ReLU()] if k < len(layer_sizes) - 2 else [])
        model = torch.nn.Sequential(*layers)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
        lossf = torch.nn.CrossEntropyLoss()
        x = torch.randn(args.batch, layer_sizes[0]); y = torch.arange(args.batch) % layer_sizes[-1]
        def step():
            opt.zero_grad(set_to_none=True); lossf(model(x), y).backward(); opt.step()
        for _ in range(20): step()
        t = time.perf_counter()
        for _ in range(steps): step()
        return steps * args.batch / (time.perf_counter() - t)
    try:
        import torch  # noqa: F401
    except ImportError:
        if args.install_torch:
            subprocess.run([sys.executable, "-m", "pip", "install", "-q", "torch"], check=False)
    torch_ok = True
    for r in range(max(1, args.repeat)):
        weightinit_train()
        if r == 0: rounds["numpy"].append(numpy_loop())
        if torch_ok:
            try:
                rounds["pytorch"].append(torch_loop())
                rounds["deep_pytorch"].append(torch_loop(deep_sizes, steps=max(40, args.steps // 5)))
            except Exception as e:  # torch missing or broken
                torch_ok = False
                print(f"pytorch: not measured ({type(e).__name__}: {e}); pass --install-torch to try pip install torch", file=sys.stderr)
    def med(xs):
        xs = [x for x in xs if x is not None]
        return statistics.median(xs) if xs else None
    results["weightinit"] = med(rounds["weightinit"]); results["numpy"] = med(rounds["numpy"]); results["pytorch"] = med(rounds["pytorch"])
    deep = {"weightinit": med(rounds["deep_weightinit"]), "pytorch": med(rounds["deep_pytorch"]),
            "weightinit_batch_split": med(rounds["deep_weightinit_batch_split"])}
    results["weightinit_batch_split"] = med(rounds["weightinit_batch_split"])
    if args.repeat > 1:
        print(f"{args.repeat} rounds, medians; every round: " + json.dumps(rounds))

    print(f"default MLP 784-256-128-10, batch {args.batch}, SGD Nesterov, {args.threads} threads, {args.steps} steps")
    for name, sps in results.items():
        print(f"  {name:10s} {'not measured' if sps is None else f'{sps:10.0f} samples/s'}")
    print(f"deep MLP 784-(256x20)-10, batch {args.batch}, SGD Nesterov, {args.threads} threads")
    for name, sps in deep.items():
        print(f"  {name:10s} {'not measured' if sps is None else f'{sps:10.0f} samples/s'}")
    if deep.get("pytorch") and deep.get("weightinit"):
        print(f"  epoch-time ratio weightinit/pytorch: {deep['pytorch'] / deep['weightinit']:.3f}")
    if deep.get("pytorch") and deep.get("weightinit_batch_split"):
        print(f"  epoch-time ratio weightinit batch split/pytorch: {deep['pytorch'] / deep['weightinit_batch_split']:.3f}")
    if results.get("pytorch"):
        print(f"default MLP epoch-time ratio weightinit/pytorch: {results['pytorch'] / results['weightinit']:.3f}")
        if results.get("weightinit_batch_split"):
            print(f"default MLP epoch-time ratio weightinit batch split/pytorch: {results['pytorch'] / results['weightinit_batch_split']:.3f}")
    print(json.dumps({**{k: v for k, v in results.items()}, "deep": deep}))

# --- orthogonal init: torch.nn.init.orthogonal_ vs weightinit ---
if "orthogonal" in sections:
    def load_average():
        try:
            return " ".join(open("/proc/loadavg").read().split()[:3])
        except OSError:
            return "?"

    def torch_orthogonal():
        import torch
        torch.set_num_threads(args.threads)
        res = {"version": torch.__version__}
        for n, reps in ((1024, 5), (4096, 3)):
            w = torch.empty(n, n, dtype=torch.float32)
            torch.nn.init.orthogonal_(w)  # warm-up
            ts = []
            for _ in range(reps):
                t0 = time.perf_counter()
                torch.nn.init.orthogonal_(w)
                ts.append(time.perf_counter() - t0)
            res[f"{n}x{n}"] = sorted(ts)[len(ts) // 2]
        return res
    def weightinit_orthogonal():
        out = subprocess.run([binary, "bench", "--only", "orthogonal", "--json", "--threads", str(args.threads)],
                             capture_output=True, text=True, check=True)
        return json.loads(out.stdout)
    load_before = load_average()
    # --repeat rounds, alternating the tools (torch first in each round). Every round's value is that tool's
    # median over its calls in the round (torch: 5 calls at 1024², 3 at 4096²; weightinit: see `bench`);
    # the report gives the median over rounds and the minimum over rounds, and the ratio of each.
    peer_rounds, bench_rounds = [], []
    torch_ok = True
    for r in range(max(1, args.repeat)):
        if torch_ok:
            try:
                peer_rounds.append(torch_orthogonal())
            except Exception as e:
                torch_ok = False
                print(f"pytorch orthogonal: not measured ({type(e).__name__}: {e})", file=sys.stderr)
        bench_rounds.append(weightinit_orthogonal())
    bench = bench_rounds[0]
    ours = {r["shape"]: r for r in bench["orthogonal"]}
    rounds = max(1, args.repeat)
    print(f"orthogonal init, Float, {args.threads} threads, OpenBLAS {bench['backend']['openblas_version']} ({bench['backend']['core']})"
          + (f", torch {peer_rounds[0]['version']}" if peer_rounds else "") + f"; load average {load_before} before, {load_average()} after"
          + f"; {rounds} round{'s' if rounds > 1 else ''} alternating the tools: median over rounds (min over rounds)")
    summary = {}
    for shape in ("1024x1024", "4096x4096"):
        r = ours.get(shape)
        if r is None:
            continue
        mine = [{x["shape"]: x for x in b["orthogonal"]}[shape]["seconds"] for b in bench_rounds]
        theirs = [p[shape] for p in peer_rounds]
        w_med, w_min = statistics.median(mine), min(mine)
        line = (f"  {shape}: weightinit {w_med:.3f} s ({w_min:.3f}) (its QR alone {r['householder_seconds']:.3f} s = {r['householder_gflops']:.0f} GFLOP/s; "
                f"LAPACK geqrf+orgqr alone {r['qr_seconds']:.3f} s; bound {r['lower_bound_seconds']:.3f} s at sgemm {r['sgemm_gflops']:.0f} GFLOP/s; "
                f"max|QtQ-I| {r['max_orthogonality_error']:.1e}; bytes for OpenBLAS threads {'/'.join(map(str, r['blas_threads_checked']))}: "
                f"{'identical' if r.get('identical_across_blas_threads') else 'NOT CHECKED' if r.get('identical_across_blas_threads') is None else 'DIFFER'})")
        summary[shape] = {"weightinit_seconds_rounds": mine, "weightinit_seconds_median": w_med, "weightinit_seconds_min": w_min}
        if theirs:
            t_med, t_min = statistics.median(theirs), min(theirs)
            line += f"; torch {t_med:.3f} s ({t_min:.3f}); ratio weightinit/torch {w_med / t_med:.2f} ({w_min / t_min:.2f})"
            summary[shape].update({"pytorch_seconds_rounds": theirs, "pytorch_seconds_median": t_med, "pytorch_seconds_min": t_min,
                                   "ratio_median": w_med / t_med, "ratio_min": w_min / t_min})
        print(line)
    print(json.dumps({"orthogonal": {"weightinit": ours, "pytorch": peer_rounds[0] if peer_rounds else None, "rounds": summary}}))

# --- model init: GPT-2 small into a safetensors file ---
if "model-init" in sections:
    import tempfile
    directory = args.directory or tempfile.gettempdir()
    init = {}
    cmd = [binary, "bench", "--only", "model-init", "--json", "--threads", str(args.threads), "--bench-directory", directory]
    r = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)["model_init"]
    init["weightinit"] = {"seconds": r["seconds"], "fsync_seconds": r["fsync_seconds"], "dd_fsync_seconds": r.get("dd_fsync_seconds"),
                          "ratio_to_dd": r.get("ratio_to_dd"), "bytes": r["bytes"]}

    def torch_gpt2(reps=3):
        import math, torch
        from safetensors.torch import save_file
        torch.set_num_threads(args.threads)
        L, d, V, P = 12, 768, 50257, 1024
        shapes = [("wte.weight", (V, d), "emb"), ("wpe.weight", (P, d), "emb")]
        for i in range(L):
            h = f"h.{i}."
            shapes += [(h + "ln_1.weight", (d,), "one"), (h + "ln_1.bias", (d,), "zero"),
                       (h + "attn.c_attn.weight", (d, 3 * d), "w"), (h + "attn.c_attn.bias", (3 * d,), "zero"),
                       (h + "attn.c_proj.weight", (d, d), "proj"), (h + "attn.c_proj.bias", (d,), "zero"),
                       (h + "ln_2.weight", (d,), "one"), (h + "ln_2.bias", (d,), "zero"),
                       (h + "mlp.c_fc.weight", (d, 4 * d), "w"), (h + "mlp.c_fc.bias", (4 * d,), "zero"),
                       (h + "mlp.c_proj.weight", (4 * d, d), "proj"), (h + "mlp.c_proj.bias", (d,), "zero")]
        shapes += [("ln_f.weight", (d,), "one"), ("ln_f.bias", (d,), "zero")]
        best = None
        for _ in range(reps):
            path = os.path.join(directory, f"torch-gpt2-{os.getpid()}.safetensors")
            t0 = time.perf_counter()
            torch.manual_seed(0)
            tensors = {}
            with torch.no_grad():
                for name, shape, kind in shapes:
                    t = torch.empty(shape)
                    if kind in ("emb", "w"): t.normal_(0.0, 0.02)
                    elif kind == "proj": t.normal_(0.0, 0.02 / math.sqrt(2 * L))
                    elif kind == "one": t.fill_(1.0)
                    else: t.zero_()
                    tensors[name] = t
            t1 = time.perf_counter()
            save_file(tensors, path, metadata={"format": "pt"})
            t2 = time.perf_counter()
            os.unlink(path)
            cur = {"init_seconds": t1 - t0, "save_seconds": t2 - t1, "seconds": t2 - t0}
            if best is None or cur["seconds"] < best["seconds"]: best = cur
        return best
    try:
        init["pytorch"] = torch_gpt2()
    except Exception as e:
        init["pytorch"] = None
        print(f"pytorch model-init: not measured ({type(e).__name__}: {e})", file=sys.stderr)
    w = init["weightinit"]
    print(f"GPT-2 small (124 M parameters, F32, {w['bytes']} bytes) into a safetensors file, {args.threads} threads, in {directory}:")
    print(f"  weightinit init  {w['seconds']:.3f} s to the page cache; with fsync {w['fsync_seconds']:.3f} s"
          + (f" vs dd conv=fsync {w['dd_fsync_seconds']:.3f} s (ratio {w['ratio_to_dd']:.2f})" if w.get("dd_fsync_seconds") else ""))
    if init["pytorch"]:
        p = init["pytorch"]
        print(f"  pytorch          {p['seconds']:.3f} s (HF-style init {p['init_seconds']:.3f} s + safetensors save {p['save_seconds']:.3f} s); ratio {p['seconds'] / w['seconds']:.1f}x")
    print(json.dumps({"model_init": init}))


def torch_cnn_loop():
    import torch
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    lossf = nn.CrossEntropyLoss()
    x = torch.randn(128, 1, 28, 28); y = torch.arange(128) % 10
    def step():
        opt.zero_grad(set_to_none=True); lossf(model(x), y).backward(); opt.step()
    for _ in range(3): step()
    t = time.perf_counter()
    for _ in range(args.cnn_steps): step()
    return args.cnn_steps * 128 / (time.perf_counter() - t)
cnn = {}
if args.cnn_steps > 0 and "cnn" in sections:
    crounds = {"weightinit": [], "pytorch": []}
    for r in range(max(1, args.repeat)):
        out = subprocess.run([binary, "bench", "--only", "conv", "--json", "--threads", str(args.threads)], capture_output=True, text=True, check=True)
        crounds["weightinit"].append(json.loads(out.stdout)["conv"]["cnn_train_samples_per_second"])
        try:
            crounds["pytorch"].append(torch_cnn_loop())
        except Exception as e:
            print(f"pytorch CNN: not measured ({type(e).__name__}: {e})", file=sys.stderr)
            break
    for k, v in crounds.items():
        cnn[k] = statistics.median(v) if v else None
    if args.repeat > 1:
        print(f"{args.repeat} rounds, medians; every round: " + json.dumps(crounds))

if cnn:
    print(f"default CNN (conv 32, pool, conv 64, pool, dense 128, 10), batch 128, SGD Nesterov, {args.threads} threads, {args.cnn_steps} steps")
    for name, sps in cnn.items():
        print(f"  {name:10s} {'not measured' if sps is None else f'{sps:10.0f} samples/s'}")
