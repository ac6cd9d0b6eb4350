#!/usr/bin/python3
"""References for `npm run bench`: open_clip's own ViT-B/16 and ViT-B/32 (v2.24.0, random init) exported by
PyTorch's `torch.onnx.export`, and PyTorch's own CPU throughput on the same towers.

Run from the repository root with Debian's Python (python3-torch 1.13, python3-tqdm, python3-regex) and the
OpenMP OpenBLAS first on the library path (the reference BLAS or the pthread build make PyTorch 4-80x slower):
    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp \
    PYTHONPATH=<ftfy shim>:<open_clip v2.24.0>/src /usr/bin/python3 bench/export_open_clip.py OUT_DIR [--threads 2] [--runs 7] [--timing-only]
(`git --git-dir=<open_clip mirror> archive v2.24.0 src | tar -x`; the ftfy shim is a module `ftfy` whose
`fix_text` returns its input: tokenization is not exercised.)

With --timing-only the exports are left as they are and only PyTorch's timings are taken again.
Writes OUT_DIR/open_clip_<model>_image.onnx and _text.onnx (opset 17, dynamic batch; text at 77 tokens, as
open_clip's encode_text takes them), and OUT_DIR/torch_timing.json: median seconds per batch of image (batch 1
and 8) and text (batch 8 and 64 at 77 tokens) forward passes under torch.no_grad(), with the runs count.
"""
import json
import os
import sys
import time

import torch
import open_clip

out = sys.argv[1]
threads = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 2
runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 7
export = "--timing-only" not in sys.argv  # --timing-only: PyTorch's timings again, the exports kept
os.makedirs(out, exist_ok=True)
torch.set_num_threads(threads)
torch.manual_seed(0)


class Image(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, pixel_values):
        return self.m.encode_image(pixel_values)


class Text(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids):
        return self.m.encode_text(input_ids)


def median_seconds(fn):
    fn()
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return sorted(ts)[len(ts) // 2]


timing = {"torch": torch.__version__, "threads": threads, "runs": runs, "rows": []}
for name in ["ViT-B-16", "ViT-B-32"]:
    model = open_clip.create_model(name, pretrained=None).eval()
    img, txt = Image(model).eval(), Text(model).eval()
    tag = name.replace("-", "_")
    with torch.no_grad():
      if export:
        torch.onnx.export(img, (torch.randn(1, 3, 224, 224),), os.path.join(out, f"open_clip_{tag}_image.onnx"),
                          input_names=["pixel_values"], output_names=["image_embeds"],
                          dynamic_axes={"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}}, opset_version=17)
      ids = torch.randint(1, 49406, (8, 77))
      ids[:, -1] = 49407
      if export:
        torch.onnx.export(txt, (ids,), os.path.join(out, f"open_clip_{tag}_text.onnx"),
                          input_names=["input_ids"], output_names=["text_embeds"],
                          dynamic_axes={"input_ids": {0: "batch"}, "text_embeds": {0: "batch"}}, opset_version=17)
      for batch in [1, 8]:
          x = torch.randn(batch, 3, 224, 224)
          timing["rows"].append({"model": name, "what": "image", "batch": batch, "seconds": median_seconds(lambda: img(x))})
      for batch in [8, 64]:
          t = ids.repeat(batch // 8, 1)
          timing["rows"].append({"model": name, "what": "text (77 tokens)", "batch": batch, "seconds": median_seconds(lambda: txt(t))})
    print(name, "exported" if export else "timed", flush=True)
with open(os.path.join(out, "torch_timing.json"), "w") as f:
    json.dump(timing, f, indent=1)
