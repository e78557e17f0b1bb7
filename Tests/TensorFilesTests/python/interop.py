"""Reference side of the TensorFiles interop tests (run by Tests/TensorFilesTests/InteropTests.swift).

usage: interop.py run DIR     -- write, then check (one interpreter start: importing torch is slow)
       interop.py write DIR   -- write the reference files (numpy.save, safetensors.numpy.save_file,
                                 safetensors.torch.save_file for BF16 when torch imports) into DIR
       interop.py check DIR   -- read the files the Swift side wrote (ours_*) with numpy / safetensors
                                 and compare every value with the formula; print one line per file

The values of every test array are a pure function of the element index that both sides compute in
IEEE float32: v(i) = (float32(i % 97) - 48) * float32(0.1); wider and narrower dtypes are casts of v.
"""
import json
import os
import sys

import numpy as np
from safetensors.numpy import load_file, save_file

try:
    import torch  # optional
    from safetensors.torch import save_file as torch_save_file
except Exception:  # pragma: no cover - torch is optional
    torch = None


def values(n):
    i = np.arange(n, dtype=np.int64)
    return (i % 97 - 48).astype(np.float32) * np.float32(0.1)


def arr(shape, dtype):
    n = int(np.prod(shape)) if len(shape) else 1
    v = values(n)
    if np.dtype(dtype).kind in "iu":
        v = (np.arange(n) % 97 - 48) if np.dtype(dtype).kind == "i" else (np.arange(n) % 251)
    return v.astype(dtype).reshape(shape)


# name -> {tensor: (shape, dtype)} ; metadata
SAFETENSORS = {
    "mixed": ({"w": ((3, 4), np.float32), "b": ((4,), np.float32), "d": ((2, 3), np.float64),
               "h": ((97,), np.float16), "s": ((), np.float32), "e": ((0, 5), np.float32),
               "i": ((3,), np.int64), "u": ((4,), np.uint8)}, {"format": "pt"}),
    "nometa": ({"x": ((7,), np.float32)}, None),
    "f16only": ({"a.weight": ((10, 20), np.float16), "a.bias": ((10,), np.float16)}, {"format": "pt"}),
    "empty": ({}, {"format": "pt"}),
}
NPY = {
    "f4_2x3": ((2, 3), np.float32),
    "f8_5": ((5,), np.float64),
    "f2_97": ((97,), np.float16),
    "f4_0d": ((), np.float32),
    "f4_0x5": ((0, 5), np.float32),
    "f4_big": ((3, 1000), np.float32),
    "i8_4": ((4,), np.int64),
    "u1_6": ((6,), np.uint8),
}


def write(d):
    legs = []
    for name, (spec, meta) in SAFETENSORS.items():
        save_file({k: arr(s, t) for k, (s, t) in spec.items()}, os.path.join(d, f"ref_{name}.safetensors"), metadata=meta)
    legs.append("safetensors.numpy.save_file")
    for name, (s, t) in NPY.items():
        np.save(os.path.join(d, f"ref_{name}.npy"), arr(s, t))
    np.save(os.path.join(d, "ref_fortran_2x3.npy"), np.asfortranarray(arr((2, 3), np.float32)))
    legs.append("numpy.save")
    if torch is not None:
        t = torch.from_numpy(values(6)).to(torch.bfloat16)
        torch_save_file({"g": t, "f": torch.from_numpy(values(3))}, os.path.join(d, "ref_bf16.safetensors"), metadata={"format": "pt"})
        legs.append("safetensors.torch.save_file (BF16)")
    print("legs: " + ", ".join(legs))


def check(d):
    for name, (spec, meta) in SAFETENSORS.items():
        p = os.path.join(d, f"ours_{name}.safetensors")
        got = load_file(p)
        assert set(got) == set(spec), (name, sorted(got))
        for k, (s, t) in spec.items():
            want = arr(s, t)
            assert got[k].dtype == want.dtype and got[k].shape == want.shape, (name, k, got[k].dtype, got[k].shape)
            assert np.array_equal(got[k], want), (name, k)
        # Second reader: plain json + numpy.frombuffer.
        raw = open(p, "rb").read()
        n = int.from_bytes(raw[:8], "little")
        hdr = json.loads(raw[8:8 + n])
        assert hdr.pop("__metadata__", None) == meta, (name, "metadata")
        names = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I64": np.int64, "U8": np.uint8}
        for k, info in hdr.items():
            b, e = info["data_offsets"]
            a = np.frombuffer(raw[8 + n + b:8 + n + e], dtype=names[info["dtype"]]).reshape(info["shape"])
            assert np.array_equal(a, arr(*spec[k])), (name, k)
        print(f"ok {name}.safetensors")
    for name, (s, t) in NPY.items():
        a = np.load(os.path.join(d, f"ours_{name}.npy"))
        want = arr(s, t)
        assert a.dtype == want.dtype and a.shape == want.shape and np.array_equal(a, want), name
        print(f"ok {name}.npy")
    if torch is not None:
        from safetensors.torch import load_file as torch_load
        g = torch_load(os.path.join(d, "ours_bf16.safetensors"))
        assert torch.equal(g["g"], torch.from_numpy(values(6)).to(torch.bfloat16))
        print("ok bf16.safetensors (torch)")


if __name__ == "__main__":
    def run(d):
        write(d)
        check(d)
    {"write": write, "check": check, "run": run}[sys.argv[1]](sys.argv[2])
