"""Times open_clip v2.24.0's training step (model forward, ClipLoss, backward, AdamW step, logit_scale clamp, as
training/train.py does it) on a model config and batch, with Debian's torch on the CPU. Used by
bench/train.bench.ts for the ratio of clipmed's training throughput to PyTorch's.

    PYTHONPATH=/tmp/open_clip/src /usr/bin/python3 bench/train_torch.py CONFIG.json BATCH THREADS RUNS
prints one JSON line: {"images_per_s": ..., "step_seconds": [...]}
"""
import json
import math
import sys
import time
import types

import torch

sys.modules.setdefault("ftfy", types.SimpleNamespace(fix_text=lambda s: s))
from open_clip.loss import ClipLoss  # noqa: E402
from open_clip.model import CLIP  # noqa: E402


def main():
    cfg = json.load(open(sys.argv[1]))
    batch, threads, runs = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = CLIP(**cfg, output_dict=True)
    model.train()
    exclude = lambda n, p: p.ndim < 2 or "bn" in n or "ln" in n or "bias" in n or "logit_scale" in n
    named = list(model.named_parameters())
    opt = torch.optim.AdamW(
        [{"params": [p for n, p in named if exclude(n, p)], "weight_decay": 0.0},
         {"params": [p for n, p in named if not exclude(n, p)], "weight_decay": 0.2}],
        lr=1e-3, betas=(0.9, 0.98), eps=1e-6)
    loss_fn = ClipLoss()
    size = cfg["vision_cfg"]["image_size"]
    ctx = cfg["text_cfg"]["context_length"]
    images = torch.randn(batch, 3, size, size)
    texts = torch.randint(1, 49000, (batch, ctx))
    texts[:, ctx // 2] = 49407
    texts[:, ctx // 2 + 1:] = 0
    times = []
    for i in range(runs + 1):
        t0 = time.perf_counter()
        opt.zero_grad()
        out = model(images, texts)
        loss = loss_fn(out["image_features"], out["text_features"], out["logit_scale"])
        loss.backward()
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        if i > 0:
            times.append(time.perf_counter() - t0)
    times.sort()
    print(json.dumps({"images_per_s": batch / times[len(times) // 2], "step_seconds": times}))


if __name__ == "__main__":
    main()
