"""Times attnc's fused CUDA kernels against torch SDPA (flash and cuDNN backends), FlexAttention (compiled)
and the unfused chain, in one run on one GPU. Prints TFLOP/s of useful work (4*B*H*N*M*D times the unmasked
fraction) and attnc's ratio to each peer.

Usage: python3 bench.py KERNELS_DIR [--quick] [--only VARIANT ...] [--shapes TAG ...]
(KERNELS_DIR from `tsx bench/cuda/make-bench.ts`). --only keeps those variants (full, causal, sliding, ...);
--shapes times only those other shapes beside each default (all of them without it; none with `--shapes -`).
"""
import argparse
import glob
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.nn.attention.flex_attention import create_block_mask, flex_attention
from triton.testing import do_bench

sys.path.insert(0, os.path.dirname(__file__))
from common import build, call, load  # noqa: E402

torch._dynamo.config.recompile_limit = 1000
torch._dynamo.config.cache_size_limit = 1000
flex = torch.compile(flex_attention, dynamic=False)


def configs(quick):
    out = []
    for D in (64, 128):
        for variant in ("full", "causal"):
            for N in ((4096,) if quick else (1024, 4096, 16384)):
                out.append(dict(variant=variant, D=D, N=N, B=max(1, 16384 // N), H=2048 // D))
    for variant in ("sliding", "alibi", "softcap", "document"):
        out.append(dict(variant=variant, D=128, N=8192, B=2, H=16))
    return out


def masks(cfg, doc):
    """mask_mod, score_mod and the dense boolean mask (for counting) of each variant."""
    W, cap = 1024, 30.0
    slopes = torch.exp2(-8.0 * torch.arange(1, cfg["H"] + 1, device="cuda") / cfg["H"])
    v = cfg["variant"]
    causal = lambda b, h, i, j: j <= i  # noqa: E731
    if v == "full":
        return None, None, {}
    if v == "causal":
        return causal, None, {}
    if v == "sliding":
        return (lambda b, h, i, j: (j <= i) & (j > i - W)), None, {"W": W}
    if v == "alibi":
        return causal, (lambda s, b, h, i, j: s + slopes[h] * (j - i)), {"slopes": slopes}
    if v == "softcap":
        return causal, (lambda s, b, h, i, j: cap * torch.tanh(s / cap)), {"cap": cap}
    if v == "document":
        return (lambda b, h, i, j: (j <= i) & (doc[b, i] == doc[b, j])), None, {"doc": doc}
    raise ValueError(v)


def unmasked_fraction(cfg, mask_mod):
    N = cfg["N"]
    if mask_mod is None:
        return 1.0
    i = torch.arange(N, device="cuda")[:, None]
    j = torch.arange(N, device="cuda")[None, :]
    total = 0
    for b in range(cfg["B"]):
        total += int(mask_mod(b, 0, i, j).sum())
    return total / (cfg["B"] * N * N)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kernels")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--shapes", nargs="*")
    args = ap.parse_args()
    runs = [c for c in configs(args.quick) if not args.only or c["variant"] in args.only]
    wanted = lambda cu: (  # noqa: E731
        any(os.path.basename(cu).startswith(f"{c['variant']}_D{c['D']}") for c in runs)
        and ("__" not in os.path.basename(cu) or args.shapes is None or os.path.basename(cu)[:-3].split("__")[1] in args.shapes)
    )
    errs = {k: e for k, e in build(sorted(filter(wanted, glob.glob(os.path.join(args.kernels, "*.cu"))))).items() if e}
    for k, e in errs.items():
        print("BUILD FAILED", k, e)
    torch.manual_seed(0)
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, {time.strftime('%Y-%m-%d')}")
    header = f"{'variant':9} {'D':>4} {'N':>6} {'B':>3} {'H':>3} | {'attnc':>7} {'flash':>7} {'cudnn':>7} {'flex':>7} {'unfused':>7} | {'/flash':>6} {'/cudnn':>6} {'/flex':>6} | err"
    print(header)
    for cfg in runs:
        B, H, N, D = cfg["B"], cfg["H"], cfg["N"], cfg["D"]
        q, k, v = (torch.randn(B, H, N, D, device="cuda", dtype=torch.bfloat16) for _ in range(3))
        doc = torch.sort(torch.randint(0, 6, (B, N), device="cuda", dtype=torch.int32), dim=1).values
        mask_mod, score_mod, extra = masks(cfg, doc)
        flops = 4 * B * H * N * N * D * unmasked_fraction(cfg, mask_mod)
        tag = f"{cfg['variant']}_D{D}"
        manifest = json.load(open(os.path.join(args.kernels, tag + ".json")))
        fn = load(os.path.join(args.kernels, tag + ".so"), tag)
        o = torch.empty_like(q)
        tensors = {"q": q, "k": k, "v": v, "o": o}
        if "slopes" in extra:
            tensors["slopes"] = extra["slopes"].float().contiguous()
        if "doc" in extra:
            tensors["doc"] = doc
        scalars = {s: extra[s] for s in ("W", "cap") if s in extra}
        sizes = {"B": B, "H": H, "N": N, "M": N}
        run_attnc = lambda: call(fn, manifest, tensors, sizes, scalars)  # noqa: E731
        rc = run_attnc()
        torch.cuda.synchronize()
        assert rc == 0, f"launch returned {rc}"
        times = {"attnc": do_bench(run_attnc, warmup=25, rep=100, return_mode="median")}
        is_causal = cfg["variant"] == "causal"
        if cfg["variant"] in ("full", "causal"):
            for name, backend in (("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)):
                try:
                    with sdpa_kernel(backend):
                        f = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=is_causal)  # noqa: E731
                        ref = f()
                        times[name] = do_bench(f, warmup=25, rep=100, return_mode="median")
                except Exception as e:  # noqa: BLE001
                    times[name] = None
                    print(f"  {name} unavailable: {str(e)[:120]}")
        block_mask = None if mask_mod is None else create_block_mask(mask_mod, B, None, N, N, device="cuda")
        fx = lambda: flex(q, k, v, score_mod=score_mod, block_mask=block_mask)  # noqa: E731
        ref = fx()
        times["flex"] = do_bench(fx, warmup=25, rep=100, return_mode="median")
        if B * H * N * N * 2 <= 8 * 2**30:
            def unfused():
                s = (q @ k.transpose(-1, -2)).float() / math.sqrt(D)
                i = torch.arange(N, device="cuda")
                if score_mod is not None:
                    s = score_mod(s, torch.arange(B, device="cuda")[:, None, None, None], torch.arange(H, device="cuda")[None, :, None, None], i[:, None], i[None, :])
                if mask_mod is not None:
                    s = s.masked_fill(~mask_mod(torch.arange(B, device="cuda")[:, None, None, None], 0, i[:, None], i[None, :]), float("-inf"))
                return torch.softmax(s, dim=-1).to(q.dtype) @ v
            times["unfused"] = do_bench(unfused, warmup=5, rep=30, return_mode="median")
        err = ((o.float() - ref.float()).norm() / ref.float().norm()).item()
        for so in sorted(glob.glob(os.path.join(args.kernels, tag + "__*.so"))):
            name = os.path.basename(so)[:-3]
            if args.shapes is not None and name.split("__")[1] not in args.shapes:
                continue
            shape_fn = load(so, name)
            o.fill_(float("nan"))
            rc = call(shape_fn, manifest, tensors, sizes, scalars)
            torch.cuda.synchronize()
            shape_err = ((o.float() - ref.float()).norm() / ref.float().norm()).item()
            t = do_bench(lambda: call(shape_fn, manifest, tensors, sizes, scalars), warmup=25, rep=100, return_mode="median")
            print(f"    shape {name.split('__')[1]:12} rc {rc} {flops / (t * 1e-3) / 1e12:7.1f} TFLOP/s  err {shape_err:.1e}", flush=True)
        # The default timed again after the peers and variants: in the 2026-11-23 runs the first timing of a masked
        # configuration read 10-20% below the same kernel timed later (cuda-notes.md, step 10).
        again = do_bench(run_attnc, warmup=25, rep=100, return_mode="median")
        print(f"    again              {flops / (again * 1e-3) / 1e12:7.1f} TFLOP/s (first timing {flops / (times['attnc'] * 1e-3) / 1e12:.1f})", flush=True)
        call(fn, manifest, tensors, sizes, scalars)
        torch.cuda.synchronize()
        tf = {k2: (flops / (t * 1e-3) / 1e12 if t else None) for k2, t in times.items()}
        fmt = lambda x: f"{x:7.1f}" if x else "      -"  # noqa: E731
        ratio = lambda p: f"{tf['attnc'] / tf[p]:6.2f}" if tf.get(p) else "     -"  # noqa: E731
        print(f"{cfg['variant']:9} {D:4} {N:6} {B:3} {H:3} | {fmt(tf['attnc'])} {fmt(tf.get('flash'))} {fmt(tf.get('cudnn'))} {fmt(tf.get('flex'))} {fmt(tf.get('unfused'))} | {ratio('flash')} {ratio('cudnn')} {ratio('flex')} | {err:.1e}", flush=True)


if __name__ == "__main__":
    main()
