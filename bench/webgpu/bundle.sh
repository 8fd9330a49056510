#!/usr/bin/env bash
# Builds what the GPU machine runs: the cases (compiled here, with references) and one bundled run.mjs.
# Usage: bash bench/webgpu/bundle.sh [OUTDIR]   (default tmp/webgpu-bench)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-tmp/webgpu-bench}
npx tsx bench/webgpu/make.ts "$out/cases.json"
npx esbuild bench/webgpu/run.ts --bundle --platform=node --format=esm --target=node20 --external:webgpu --log-level=warning --outfile="$out/run.mjs"
# What the GPU machine needs beside node: the cases, xz-compressed, and the webgpu package without its binaries
# (gpu-webgpu-carry.sh carries dawn.node for linux-x64 compressed; see bench/webgpu/README.md).
xz -T2 -6 -f "$out/cases.json"
mkdir -p "$out/node_modules/webgpu/dist/linux-x64"
cp node_modules/webgpu/index.js node_modules/webgpu/package.json "$out/node_modules/webgpu/"
du -sh "$out"
