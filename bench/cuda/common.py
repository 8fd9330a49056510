"""Shared by the CUDA harnesses: building emitted kernels into shared libraries and calling the attnc launch ABI."""
import ctypes
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor

import torch

DTYPES = {"f16": torch.float16, "bf16": torch.bfloat16, "f32": torch.float32, "i32": torch.int32}


def build(cu_files, arch="sm_90a", jobs=16):
    """Compiles each .cu into a .so beside it (in parallel); returns {path: error or None}."""

    def one(cu):
        so = cu[:-3] + ".so"
        cmd = ["nvcc", "-O3", "-shared", "-Xcompiler", "-fPIC", f"-gencode=arch=compute_{arch[3:]},code={arch}", "-o", so, cu]
        r = subprocess.run(cmd, capture_output=True, text=True)
        return cu, (None if r.returncode == 0 else r.stderr[-2000:])

    with ThreadPoolExecutor(jobs) as pool:
        return dict(pool.map(one, cu_files))


def load(so, name):
    fn = getattr(ctypes.CDLL(os.path.abspath(so)), f"attnc_{name}_launch")
    fn.restype = ctypes.c_int
    fn.argtypes = [ctypes.c_void_p] * 5
    return fn


def dims_of(manifest, tensor, sizes):
    """A tensor's dims: numbers, size or const names, or products of them written "HKV*G"."""
    def factor(f):
        if f.isdigit():
            return int(f)
        return sizes[f] if f in sizes else manifest["defines"][f]

    out = []
    for d in tensor["dims"]:
        if isinstance(d, int):
            out.append(d)
        else:
            n = 1
            for f in d.split("*"):
                n *= factor(f)
            out.append(n)
    return out


def call(fn, manifest, tensors, sizes, scalars, stream=0):
    """tensors: name -> torch tensor (any strides); returns the launch's cudaError_t value."""
    order = manifest["tensors"]
    ptrs = (ctypes.c_void_p * max(1, len(order)))(*[tensors[t["name"]].data_ptr() for t in order])
    strides = [s for t in order for s in tensors[t["name"]].stride()]
    st = (ctypes.c_int64 * max(1, len(strides)))(*strides)
    sz = (ctypes.c_int64 * max(1, len(manifest["sizes"])))(*[sizes[s] for s in manifest["sizes"]])
    sc = (ctypes.c_double * max(1, len(manifest["scalars"])))(*[float(scalars[s["name"]]) for s in manifest["scalars"]])
    return fn(ctypes.cast(ptrs, ctypes.c_void_p), ctypes.cast(st, ctypes.c_void_p), ctypes.cast(sz, ctypes.c_void_p),
              ctypes.cast(sc, ctypes.c_void_p), ctypes.c_void_p(stream))


def empty_like_layout(shape, dtype, layout):
    """A tensor of `shape`; with layout 'swapped', rank-4 tensors are stored [d0, d2, d1, d3] (e.g. [B, N, H, D])."""
    if layout == "swapped" and len(shape) == 4:
        a, b, c, d = shape
        return torch.empty((a, c, b, d), dtype=dtype, device="cuda").permute(0, 2, 1, 3)
    return torch.empty(shape, dtype=dtype, device="cuda")
