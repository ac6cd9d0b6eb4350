// Random-weight state dicts in the open_clip/OpenAI key layout, for benchmarks and tests:
// real sizes without downloading anything. Values are small uniform numbers from a seeded generator.
import type { StateDict, Tensor } from '../checkpoint/types.ts';
import type { ClipConfig } from './clip-config.ts';

/** OpenAI ViT-B/16 and ViT-B/32 (open_clip `model_configs/ViT-B-16.json`, `ViT-B-32.json`). */
export function vitB(patchSize: 16 | 32): ClipConfig {
  return {
    embedDim: 512,
    act: 'quick_gelu',
    vision: { imageSize: 224, patchSize, width: 768, layers: 12, headWidth: 64, mlpRatio: 4, layerScale: false, lnPre: true, poolType: 'tok', finalLnAfterPool: false },
    text: { contextLength: 77, vocabSize: 49408, width: 512, heads: 8, layers: 12, mlpRatio: 4, layerScale: false, causalMask: true, poolType: 'argmax', projBias: false, padId: 0 },
  };
}

function block(sd: StateDict, p: string, w: number, mlp: number, t: (shape: number[], scale?: number, offset?: number) => Tensor) {
  sd.set(`${p}.ln_1.weight`, t([w], 0.1, 1));
  sd.set(`${p}.ln_1.bias`, t([w]));
  sd.set(`${p}.attn.in_proj_weight`, t([3 * w, w]));
  sd.set(`${p}.attn.in_proj_bias`, t([3 * w]));
  sd.set(`${p}.attn.out_proj.weight`, t([w, w]));
  sd.set(`${p}.attn.out_proj.bias`, t([w]));
  sd.set(`${p}.ln_2.weight`, t([w], 0.1, 1));
  sd.set(`${p}.ln_2.bias`, t([w]));
  sd.set(`${p}.mlp.c_fc.weight`, t([mlp, w]));
  sd.set(`${p}.mlp.c_fc.bias`, t([mlp]));
  sd.set(`${p}.mlp.c_proj.weight`, t([w, mlp]));
  sd.set(`${p}.mlp.c_proj.bias`, t([w]));
}

/**
 * A random state dict with exactly the keys and shapes the CLIP graph builders expect for `cfg`.
 * @example randomClipStateDict(vitB(32)).get('visual.conv1.weight')!.shape // [768, 3, 32, 32]
 */
export function randomClipStateDict(cfg: ClipConfig, seed = 1): StateDict {
  let s = seed >>> 0;
  const rand = () => {
    // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const t = (shape: number[], scale = 0.02, offset = 0): Tensor => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = offset + scale * (2 * rand() - 1);
    return { dtype: 'float32', shape, data };
  };
  const v = cfg.vision;
  const x = cfg.text;
  const sd: StateDict = new Map();
  const grid = v.imageSize / v.patchSize;
  sd.set('visual.class_embedding', t([v.width]));
  sd.set('visual.positional_embedding', t([grid * grid + 1, v.width]));
  sd.set('visual.proj', t([v.width, cfg.embedDim]));
  sd.set('visual.conv1.weight', t([v.width, 3, v.patchSize, v.patchSize]));
  sd.set('visual.ln_pre.weight', t([v.width], 0.1, 1));
  sd.set('visual.ln_pre.bias', t([v.width]));
  for (let i = 0; i < v.layers; i++) block(sd, `visual.transformer.resblocks.${i}`, v.width, Math.round(v.width * v.mlpRatio), t);
  sd.set('visual.ln_post.weight', t([v.width], 0.1, 1));
  sd.set('visual.ln_post.bias', t([v.width]));
  sd.set('token_embedding.weight', t([x.vocabSize, x.width]));
  sd.set('positional_embedding', t([x.contextLength, x.width]));
  for (let i = 0; i < x.layers; i++) block(sd, `transformer.resblocks.${i}`, x.width, Math.round(x.width * x.mlpRatio), t);
  sd.set('ln_final.weight', t([x.width], 0.1, 1));
  sd.set('ln_final.bias', t([x.width]));
  sd.set('text_projection', t([x.width, cfg.embedDim]));
  sd.set('logit_scale', { dtype: 'float32', shape: [], data: Float32Array.of(Math.log(1 / 0.07)) });
  return sd;
}
