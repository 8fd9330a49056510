"""Profiling support: runs one attnc kernel (full, causal or document attention, bf16) a few times so ncu can
measure it. Usage: python3 ncu_target.py KERNELS_DIR TAG [N] [flash]"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from common import build, call, load  # noqa: E402

root, tag = sys.argv[1], sys.argv[2]
N = int(sys.argv[3]) if len(sys.argv) > 3 else 4096
errs = {k: e for k, e in build([os.path.join(root, tag + ".cu")]).items() if e}
assert not errs, errs
manifest = json.load(open(os.path.join(root, tag.split("__")[0] + ".json")))
fn = load(os.path.join(root, tag + ".so"), tag)
D = manifest["defines"]["D"]
B, H = max(1, 16384 // N), 2048 // D
q, k, v = (torch.randn(B, H, N, D, device="cuda", dtype=torch.bfloat16) for _ in range(3))
o = torch.empty_like(q)
tensors = {"q": q, "k": k, "v": v, "o": o}
if any(t["name"] == "doc" for t in manifest["tensors"]):
    # As bench.py: six documents a sequence, sorted ids.
    tensors["doc"] = torch.sort(torch.randint(0, 6, (B, N), device="cuda", dtype=torch.int32), dim=1).values
for _ in range(3):
    assert call(fn, manifest, tensors, {"B": B, "H": H, "N": N, "M": N}, {}) == 0
torch.cuda.synchronize()

if len(sys.argv) > 4 and sys.argv[4] == "flash":
    from torch.nn.attention import SDPBackend, sdpa_kernel
    import torch.nn.functional as F
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        for _ in range(3):
            F.scaled_dot_product_attention(q, k, v)
    torch.cuda.synchronize()
