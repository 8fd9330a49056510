"""Correctness of emitted CUDA kernels on the GPU, against float64 references computed by attnc's interpreter.

Usage: python3 harness.py CASES_DIR [--only caseN ...] [--kernels REGEX ...] [--layouts contiguous,swapped] [--no-build]
--kernels keeps the cases whose kernel name matches one of the regular expressions (a shape tag such as g2b64sw,
or _sm90a$ for the defaults); only the kernels of the kept cases are built.
CASES_DIR comes from `tsx bench/cuda/make-cases.ts CASES_DIR`.
"""
import argparse
import json
import os
import re
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from common import DTYPES, build, call, dims_of, empty_like_layout, load  # noqa: E402

TOLERANCE = {"f16": 5e-3, "bf16": 2e-2, "f32": 1e-4, "i32": 0}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cases")
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--kernels", nargs="*")
    ap.add_argument("--layouts", default="contiguous,swapped")
    ap.add_argument("--no-build", action="store_true")
    args = ap.parse_args()
    kernels = os.path.join(args.cases, "kernels")
    cases = [
        c for c in json.load(open(os.path.join(args.cases, "cases.json")))
        if (not args.only or c["dir"] in args.only) and (not args.kernels or any(re.search(k, c["kernel"]) for k in args.kernels))
    ]
    if not args.no_build:
        sources = sorted({os.path.join(kernels, c["kernel"] + ".cu") for c in cases})
        errors = {cu: e for cu, e in build(sources).items() if e}
        for cu, e in errors.items():
            print(f"BUILD FAILED {cu}\n{e}")
        if errors:
            sys.exit(1)
    failures = 0
    count = 0
    # Each row is printed as it is checked, so that a kernel that never returns shows where (run under `timeout`).
    for case in cases:
        manifest = json.load(open(os.path.join(kernels, case["kernel"] + ".json")))
        fn = load(os.path.join(kernels, case["kernel"] + ".so"), case["kernel"])
        for layout in args.layouts.split(","):
            ok, detail = run_case(args.cases, case, manifest, fn, layout)
            failures += 0 if ok else 1
            count += 1
            print(f"{case['dir']:8} {case['note'][:60]:60} {layout:10} {'ok' if ok else 'FAIL':4} {detail}", flush=True)
    print(f"{count - failures} passed, {failures} failed")
    sys.exit(1 if failures else 0)


def run_case(root, case, manifest, fn, layout):
    sizes = case["sizes"]
    tensors = {}
    expected = {}
    for t in manifest["tensors"]:
        shape = dims_of(manifest, t, sizes)
        x = empty_like_layout(shape, DTYPES[t["dtype"]], layout)
        if t["role"] == "input":
            np_dtype = np.int32 if t["dtype"] == "i32" else np.float32
            data = np.fromfile(os.path.join(root, case["dir"], t["name"] + ".bin"), dtype=np_dtype).reshape(shape)
            x.copy_(torch.from_numpy(data).to(x.dtype))
        else:
            x.fill_(-12345 if t["dtype"] == "i32" else float("nan"))  # poison: every element must be written
            expected[t["name"]] = np.fromfile(os.path.join(root, case["dir"], t["name"] + ".expected.bin"), dtype=np.float64).reshape(shape)
        tensors[t["name"]] = x
    rc = call(fn, manifest, tensors, sizes, case["scalars"])
    torch.cuda.synchronize()
    if rc != 0:
        return False, f"launch returned {rc}"
    details = []
    ok = True
    for t in manifest["tensors"]:
        if t["role"] != "output":
            continue
        got = tensors[t["name"]].double().cpu().numpy()
        ref = expected[t["name"]]
        both_inf = np.isinf(ref) & (got == ref)
        finite = np.isfinite(ref)
        nan = int(np.isnan(got).sum())
        wrong_inf = int((~finite & ~both_inf).sum())
        diff = np.linalg.norm((got - ref)[finite]) / max(np.linalg.norm(ref[finite]), 1e-30)
        zeros = int(((ref == 0) & (got != 0)).sum())
        good = nan == 0 and wrong_inf == 0 and zeros == 0 and diff <= TOLERANCE[t["dtype"]]
        ok = ok and good
        details.append(f"{t['name']}: rel {diff:.2e} nan {nan} inf-mismatch {wrong_inf} nonzero-where-0 {zeros}")
    return ok, "; ".join(details)


if __name__ == "__main__":
    main()
