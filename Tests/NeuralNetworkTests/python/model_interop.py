"""Interop leg of Tests/NeuralNetworkTests/Models/TorchInteropTests.swift.

Usage: model_interop.py MODEL.safetensors DATA.safetensors

MODEL is a ReLU MLP saved by WeightInit's `save(to:)`; DATA holds `x` [n, in] and WeightInit's
`probabilities` [n, classes] and `classes` [n] (as float32) for those inputs. Legs:
- numpy: safetensors.numpy reads the model; names are 0.weight, 0.bias, 2.weight, ... with
  [out, in] weights; a float64 numpy forward pass (x @ W.T + b, ReLU between) and softmax is
  compared with WeightInit's probabilities;
- torch (when importable): torch.nn.Sequential(Linear, ReLU, ..., Linear).load_state_dict of
  safetensors.torch.load_file(MODEL) (strict), softmax of its output compared the same way.
Prints one JSON object: {"numpy": {...}, "torch": {...} or {"skipped": reason}}.
"""
import json
import sys

import numpy as np
from safetensors.numpy import load_file

model_path, data_path = sys.argv[1], sys.argv[2]
weights = load_file(model_path)
data = load_file(data_path)
x, ours, our_classes = data["x"], data["probabilities"], data["classes"].astype(np.int64)

layers = sorted({int(name.split(".")[0]) for name in weights})
expected = sorted(f"{i}.{k}" for i in layers for k in ("weight", "bias"))
assert sorted(weights) == expected, f"names {sorted(weights)} != {expected}"
assert layers == list(range(0, 2 * len(layers), 2)), f"Linear indices {layers}: expected 0, 2, 4, ..."
for i in layers:
    w, b = weights[f"{i}.weight"], weights[f"{i}.bias"]
    assert w.dtype == np.float32 and b.dtype == np.float32
    assert w.ndim == 2 and b.shape == (w.shape[0],)

def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)

h = x.astype(np.float64)
for k, i in enumerate(layers):
    h = h @ weights[f"{i}.weight"].astype(np.float64).T + weights[f"{i}.bias"].astype(np.float64)
    if k < len(layers) - 1:
        h = np.maximum(h, 0)
p = softmax(h)
result = {"numpy": {"max_abs_diff": float(np.abs(p - ours).max()),
                    "argmax_equal": bool((p.argmax(axis=1) == our_classes).all()),
                    "names": expected}}

try:
    import torch
    from safetensors.torch import load_file as torch_load_file
except Exception as e:  # torch is optional
    result["torch"] = {"skipped": f"torch not importable ({type(e).__name__})"}
else:
    modules = []
    for k, i in enumerate(layers):
        out_features, in_features = weights[f"{i}.weight"].shape
        modules.append(torch.nn.Linear(in_features, out_features))
        if k < len(layers) - 1:
            modules.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*modules)
    missing = net.load_state_dict(torch_load_file(model_path), strict=True)
    with torch.no_grad():
        pt = torch.softmax(net(torch.from_numpy(x)), dim=1).numpy()
    result["torch"] = {"version": torch.__version__, "max_abs_diff": float(np.abs(pt.astype(np.float64) - ours).max()),
                       "argmax_equal": bool((pt.argmax(axis=1) == our_classes).all()),
                       "module": str(net).replace("\n", " ")}
print(json.dumps(result))
