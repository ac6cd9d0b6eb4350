#!/bin/bash
# One-shot GPU check for issue #12: PREPARED BUT NOT YET RUN ON A GPU. The session that wrote it had no GPU
# machine lent (the device tool's `status`: not drawn); everything it could check here, it checked on the CPU
# (the bundle, the PyTorch tower against clipmed's CPU embeddings, WebGPU on SwiftShader). Expect to fix small
# things on the first real run; the device budget (15 minutes, start included) allows one run and one rerun.
#
# Meant for the lent nvidia-h200 machine (Python 3.12 with torch+CUDA, no Node.js, no network). Steps:
#   here:   node bench/gpu-pack.mjs            (makes .gpu/: node, onnxruntime-node, the bundled check, libvulkan1)
#   device: run(command: 'bash bench/gpu-check.sh', carry: ['.gpu'], timeout_s: 540)
# It prints one table: clipmed's ViT-B/16 image embeddings on cpu (reference), webgpu (onnxruntime-node's Dawn on
# the GPU's Vulkan driver) and cuda (onnxruntime-node's CUDA provider: expected to fail with clipmed's typed error,
# since its provider libraries come from NuGet, which no machine here reaches; the row then says so), with
# --dtype fp32 and fp16 (on webgpu and cuda fp16 is src/graph/half.ts's graph: half-precision weights and arithmetic),
# each against cpu fp32 (cosine, max relative error) and in images/s at batch 8 and 64; PyTorch CUDA fp32 and fp16
# on the same weights (bench/gpu_check_torch.py) with the ratio clipmed/PyTorch; and clipmed's graph through the
# Python onnxruntime's CUDA provider if that build has one. Results: $OUT/table.md, clipmed.json, torch.json, logs.
# GPU_CHECK_ARGS / TORCH_CHECK_ARGS / PYTHON: extra arguments and the Python, for a dry run on a CPU machine, e.g.
#   GPU_CHECK_ARGS='--devices cpu,cuda --batches 2 --runs 1' TORCH_CHECK_ARGS='--device cpu --batches 2 --runs 1' PYTHON=/usr/bin/python3
set -u -o pipefail
cd "$(dirname "$0")/.."
RESULTS=${OUT:-/tmp/gpu-check-results}
WORK=/tmp/gpu-check
mkdir -p "$RESULTS" "$WORK"
[ -d .gpu ] || { echo "no .gpu/: run 'node bench/gpu-pack.mjs' here and carry .gpu"; exit 2; }

for f in .gpu/*.deb; do dpkg -x "$f" /; done
ldconfig
if command -v node >/dev/null && node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 20 ? 1 : 0)'; then NODE=node
else xz -dc .gpu/node.xz > /tmp/node && chmod +x /tmp/node && NODE=/tmp/node; fi
tar -xJf .gpu/ortnode.tar.xz
# Dawn finds the NVIDIA Vulkan driver through its ICD file; on these machines it sits under /usr/local/nvidia
ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "${VK_ICD_FILENAMES:-}${VK_DRIVER_FILES:-}" ] && [ -f "$ICD" ] && ! ls /usr/share/vulkan/icd.d/nvidia* /etc/vulkan/icd.d/nvidia* >/dev/null 2>&1; then
  export VK_DRIVER_FILES=$ICD
fi
{
  date -u; uptime; nvidia-smi -L; $NODE --version; ${PYTHON:-python3} -c 'import torch; print("torch", torch.__version__, torch.version.cuda)'
  echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-} VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-}"; ldconfig -p | grep -E 'libvulkan|libcudart|libcublas|libcudnn' | head
} 2>&1 | tee "$RESULTS/env.txt"

timeout 400 $NODE .gpu/gpu-check.mjs "$WORK" --runs 5 ${GPU_CHECK_ARGS:-} 2>&1 | grep -v 'XDG_RUNTIME_DIR' | tee "$RESULTS/clipmed.log"
PYTHONUNBUFFERED=1 timeout 120 ${PYTHON:-python3} bench/gpu_check_torch.py "$WORK" --runs 10 ${TORCH_CHECK_ARGS:-} 2>&1 | tee "$RESULTS/torch.log"
cp "$WORK"/clipmed.json "$WORK"/torch.json "$WORK"/table.md "$RESULTS"/ 2>/dev/null
echo "results in $RESULTS"
