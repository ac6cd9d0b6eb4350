#!/usr/bin/env python3
"""The PyTorch side of the one-shot GPU check (bench/gpu-check.sh; NOT RUN YET on a GPU: no session so far had one).

Usage: python3 bench/gpu_check_torch.py OUT_DIR [--runs N] [--batches 8,64] [--device cuda|cpu]
after bench/gpu-check.ts has written OUT_DIR (the ViT-B-16 open_clip folder with clipmed's random weights, the
pixels, clipmed's CPU fp32 embeddings of the first 8 images, and clipmed.json with its rows).

PyTorch runs the same image tower as open_clip v2.24's VisionTransformer does for this config (class-token pooling,
ln_pre, pre-LN residual blocks with torch.nn.MultiheadAttention and exact GELU, ln_post, proj), written here so that
the GPU machine needs no open_clip; `--device cpu` checks it against clipmed's CPU embeddings on any machine.
fp32 runs with PyTorch's defaults (no TF32 for matmuls), fp16 with the model and input in half precision.
Timed twice per batch: "e2e" from a host float32 tensor to host float32 embeddings, as clipmed is timed
(its session copies in and out), and "dev" with the input already on the GPU (synchronised), the model's speed alone.
Writes OUT_DIR/torch.json and prints (and writes OUT_DIR/table.md) one table with clipmed's rows.
"""
import json
import os
import statistics
import struct
import sys
import time
from collections import OrderedDict

import numpy as np
import torch
from torch import nn

out = sys.argv[1]
args = sys.argv[2:]
opt = lambda name, d: args[args.index(f"--{name}") + 1] if f"--{name}" in args else d
runs = int(opt("runs", "10"))
batches = [int(b) for b in opt("batches", "8,64").split(",")]
device = opt("device", "cuda")
S, CHECK = 224, 8


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    kinds = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        out[k] = torch.from_numpy(np.frombuffer(data[a:b], dtype=kinds[v["dtype"]]).reshape(v["shape"]).copy())
    return out


class Block(nn.Module):
    def __init__(self, width, heads, mlp):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(OrderedDict([("c_fc", nn.Linear(width, mlp)), ("gelu", nn.GELU()), ("c_proj", nn.Linear(mlp, width))]))

    def forward(self, x):
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width, layers, heads, mlp):
        super().__init__()
        self.resblocks = nn.ModuleList([Block(width, heads, mlp) for _ in range(layers)])

    def forward(self, x):
        for b in self.resblocks:
            x = b(x)
        return x


class Visual(nn.Module):
    """open_clip's image tower for a plain ViT config: [B, 3, S, S] -> [B, embed_dim] (not normalised)."""

    def __init__(self, image_size, patch, width, layers, heads, embed_dim):
        super().__init__()
        grid = image_size // patch
        self.conv1 = nn.Conv2d(3, width, patch, patch, bias=False)
        self.class_embedding = nn.Parameter(torch.zeros(width))
        self.positional_embedding = nn.Parameter(torch.zeros(grid * grid + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = Transformer(width, layers, heads, width * 4)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(torch.zeros(width, embed_dim))

    def forward(self, x):
        x = self.conv1(x).flatten(2).transpose(1, 2)  # [B, grid*grid, width]
        cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)
        x = self.transformer(self.ln_pre(x))
        return self.ln_post(x[:, 0]) @ self.proj


def build():
    cfg = json.load(open(os.path.join(out, "vitb16", "open_clip_config.json")))["model_cfg"]
    v = cfg["vision_cfg"]
    m = Visual(v["image_size"], v["patch_size"], v["width"], v["layers"], v["width"] // v.get("head_width", 64), cfg["embed_dim"])
    sd = read_safetensors(os.path.join(out, "vitb16", "open_clip_model.safetensors"))
    m.load_state_dict({k[len("visual."):]: t for k, t in sd.items() if k.startswith("visual.")}, strict=True)
    return m.eval()


def compare(a, b):
    a, b = a.astype(np.float64), b.astype(np.float64)
    cos = (a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1))
    rel = np.abs(a - b).max(1) / np.abs(b).max(1)
    return float(cos.min()), float(rel.max())


def sync():
    if device == "cuda":
        torch.cuda.synchronize()


def timed(fn):
    for _ in range(3):
        fn()
    sync()
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        sync()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


pixels = np.fromfile(os.path.join(out, "pixels.f32"), dtype=np.float32).reshape(-1, 3, S, S)
reference = np.fromfile(os.path.join(out, "cpu_fp32.f32"), dtype=np.float32).reshape(CHECK, -1)
model = build()
rows = []
info = {"torch": torch.__version__, "device": device}
try:  # newer PyTorch also has fp32_precision settings; these flags still say whether TF32 is on
    info["tf32_matmul"], info["cudnn_tf32"] = bool(torch.backends.cuda.matmul.allow_tf32), bool(torch.backends.cudnn.allow_tf32)
except Exception as e:  # noqa: BLE001 - only informative
    info["tf32"] = f"unknown ({e})"
if device == "cuda":
    info["gpu"] = torch.cuda.get_device_name(0)
for dtype_name, dtype in [("fp32", torch.float32), ("fp16", torch.float16)]:
    if device == "cpu" and dtype_name == "fp16":
        continue
    m = build().to(device=device, dtype=dtype) if dtype_name == "fp16" else model.to(device)
    row = {"runtime": "PyTorch", "device": device, "dtype": dtype_name, "imagesPerSecond": {}}
    with torch.inference_mode():
        first = m(torch.from_numpy(pixels[:CHECK]).to(device=device, dtype=dtype)).float().cpu().numpy()
        row["cosine"], row["maxRelError"] = compare(first, reference)
        for b in batches:
            host = torch.from_numpy(pixels[:b].copy())
            dev = host.to(device=device, dtype=dtype)
            row["imagesPerSecond"][f"e2e{b}"] = b / timed(lambda: m(host.to(device=device, dtype=dtype)).float().cpu())
            row["imagesPerSecond"][f"dev{b}"] = b / timed(lambda: m(dev))
    rows.append(row)
    print(f"PyTorch {device} {dtype_name}: cosine {row['cosine']:.7f}, max rel. error {row['maxRelError']:.2e}, images/s {row['imagesPerSecond']}", file=sys.stderr)

# clipmed's own graph through the Python onnxruntime's CUDA provider, where that build has one
clipmed = json.load(open(os.path.join(out, "clipmed.json")))
try:
    import onnxruntime as ort

    info["onnxruntime"] = f"{ort.__version__} {ort.get_available_providers()}"
    if device == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
        for r in clipmed["rows"]:
            if r["device"] == "cpu" and r.get("graph"):
                s = ort.InferenceSession(r["graph"], providers=["CUDAExecutionProvider"])
                row = {"runtime": "clipmed graph, onnxruntime-python", "device": "cuda", "dtype": "fp32", "imagesPerSecond": {}}
                first = s.run(["image_embeds"], {"pixel_values": pixels[:CHECK]})[0]
                row["cosine"], row["maxRelError"] = compare(first, reference)
                for b in batches:
                    x = pixels[:b].copy()
                    row["imagesPerSecond"][f"e2e{b}"] = b / timed(lambda: s.run(["image_embeds"], {"pixel_values": x}))
                rows.append(row)
except ImportError as e:
    info["onnxruntime"] = f"not importable: {e}"

json.dump({"info": info, "runs": runs, "batches": batches, "rows": rows}, open(os.path.join(out, "torch.json"), "w"), indent=2)

# the table
torch_fp = {r["dtype"]: r for r in rows if r["runtime"] == "PyTorch"}
head = ["runtime", "device", "dtype", "cosine to clipmed cpu fp32", "max rel. error"]
for b in batches:
    head += [f"img/s b{b}", f"x PyTorch e2e b{b}", f"PyTorch on-GPU img/s b{b}"]
lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
for r in clipmed["rows"] + rows:
    runtime = r.get("runtime", "clipmed")
    if r.get("error"):
        lines.append(f"| {runtime} | {r['device']} | {r['dtype']} | {r['error'][:300]} |" + " |" * (len(head) - 4))
        continue
    cells = [runtime, r["device"], r["dtype"], f"{r['cosine']:.6f}" if "cosine" in r else "(reference)", f"{r['maxRelError']:.2e}" if "maxRelError" in r else "-"]
    ref = torch_fp.get(r["dtype"])
    for b in batches:
        ips = r["imagesPerSecond"].get(f"batch{b}", r["imagesPerSecond"].get(f"e2e{b}"))
        cells.append(f"{ips:.1f}" if ips else "-")
        cells.append(f"{ips / ref['imagesPerSecond'][f'e2e{b}']:.2f}" if ips and ref and device == r["device"] else "-")
        dev = r["imagesPerSecond"].get(f"dev{b}")
        cells.append(f"{dev:.1f}" if dev else "-")
    lines.append("| " + " | ".join(cells) + " |")
table = "\n".join(lines)
note = f"ViT-B/16 image tower, random weights; {runs} timed runs (median) after warm-up; {json.dumps(info)}"
print(note)
print(table)
open(os.path.join(out, "table.md"), "w").write(note + "\n\n" + table + "\n")
