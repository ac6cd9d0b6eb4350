// Peak memory of building graphs from a checkpoint and of loading them, each in a child process of its own.
// Shared by test/node/build-memory.test.ts and bench/build-memory.bench.ts.
//  - writers of random-weight checkpoints at real sizes that write tensor by tensor (the writer's own memory
//    stays at one tensor): an open_clip ViT-B/16 folder and a transformers SigLIP folder (so400m layout);
//  - `measure('build' | 'embed' | 'baseline', folder, cache)`: a child (build-memory-child.mjs, on the sources under
//    tsx or on a built dist/ with plain Node) compiles the folder into the graph cache, or loads the cached graphs and
//    embeds a batch, and reports process.resourceUsage().maxRSS.
import { spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { ClipConfig } from '../../src/models/clip-config.ts';

const ROOT = new URL('../..', import.meta.url).pathname;

/** One tensor of a checkpoint to write: name and shape (float32), filled by a seeded generator. */
interface Spec { name: string; shape: number[]; scale?: number; offset?: number }

const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);

/**
 * Write float32 tensors as a safetensors file, one tensor at a time; values are small uniform numbers
 * (`offset + scale * u`, u in [-1, 1)) from mulberry32. Returns the file's size in bytes.
 */
export function writeRandomSafetensors(path: string, specs: Spec[], seed = 1): number {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const s of specs) {
    const n = numel(s.shape) * 4;
    header[s.name] = { dtype: 'F32', shape: s.shape, data_offsets: [offset, offset + n] };
    offset += n;
  }
  const json = Buffer.from(JSON.stringify(header));
  const padded = Buffer.alloc(json.length + ((8 - (json.length % 8)) % 8), 0x20);
  json.copy(padded);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(padded.length));
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, len);
    writeSync(fd, padded);
    let st = seed >>> 0;
    for (const s of specs) {
      const data = new Float32Array(numel(s.shape));
      const scale = s.scale ?? 0.02;
      const off = s.offset ?? 0;
      for (let i = 0; i < data.length; i++) {
        st = (st + 0x6d2b79f5) >>> 0;
        let x = st;
        x = Math.imul(x ^ (x >>> 15), x | 1);
        x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
        data[i] = off + scale * ((((x ^ (x >>> 14)) >>> 0) / 4294967296) * 2 - 1);
      }
      const bytes = new Uint8Array(data.buffer);
      for (let p = 0; p < bytes.length; ) p += writeSync(fd, bytes, p, Math.min(bytes.length - p, 1 << 28));
    }
  } finally {
    closeSync(fd);
  }
  return 8 + padded.length + offset;
}

function openClipBlock(p: string, w: number, mlp: number): Spec[] {
  return [
    { name: `${p}.ln_1.weight`, shape: [w], scale: 0.1, offset: 1 }, { name: `${p}.ln_1.bias`, shape: [w] },
    { name: `${p}.attn.in_proj_weight`, shape: [3 * w, w] }, { name: `${p}.attn.in_proj_bias`, shape: [3 * w] },
    { name: `${p}.attn.out_proj.weight`, shape: [w, w] }, { name: `${p}.attn.out_proj.bias`, shape: [w] },
    { name: `${p}.ln_2.weight`, shape: [w], scale: 0.1, offset: 1 }, { name: `${p}.ln_2.bias`, shape: [w] },
    { name: `${p}.mlp.c_fc.weight`, shape: [mlp, w] }, { name: `${p}.mlp.c_fc.bias`, shape: [mlp] },
    { name: `${p}.mlp.c_proj.weight`, shape: [w, mlp] }, { name: `${p}.mlp.c_proj.bias`, shape: [w] },
  ];
}

/** An open_clip folder (open_clip_config.json + open_clip_model.safetensors) of `cfg` with random weights; the checkpoint's bytes. */
export function writeOpenClipFolder(dir: string, cfg: ClipConfig): number {
  mkdirSync(dir, { recursive: true });
  const v = cfg.vision;
  const t = cfg.text;
  const grid = v.imageSize / v.patchSize;
  const specs: Spec[] = [
    { name: 'visual.class_embedding', shape: [v.width] },
    { name: 'visual.positional_embedding', shape: [grid * grid + 1, v.width] },
    { name: 'visual.proj', shape: [v.width, cfg.embedDim] },
    { name: 'visual.conv1.weight', shape: [v.width, 3, v.patchSize, v.patchSize] },
    { name: 'visual.ln_pre.weight', shape: [v.width], scale: 0.1, offset: 1 }, { name: 'visual.ln_pre.bias', shape: [v.width] },
  ];
  for (let i = 0; i < v.layers; i++) specs.push(...openClipBlock(`visual.transformer.resblocks.${i}`, v.width, Math.round(v.width * v.mlpRatio)));
  specs.push({ name: 'visual.ln_post.weight', shape: [v.width], scale: 0.1, offset: 1 }, { name: 'visual.ln_post.bias', shape: [v.width] });
  specs.push({ name: 'token_embedding.weight', shape: [t.vocabSize, t.width] }, { name: 'positional_embedding', shape: [t.contextLength, t.width] });
  for (let i = 0; i < t.layers; i++) specs.push(...openClipBlock(`transformer.resblocks.${i}`, t.width, Math.round(t.width * t.mlpRatio)));
  specs.push({ name: 'ln_final.weight', shape: [t.width], scale: 0.1, offset: 1 }, { name: 'ln_final.bias', shape: [t.width] });
  specs.push({ name: 'text_projection', shape: [t.width, cfg.embedDim] }, { name: 'logit_scale', shape: [], scale: 0, offset: Math.log(1 / 0.07) });
  const bytes = writeRandomSafetensors(join(dir, 'open_clip_model.safetensors'), specs);
  writeFileSync(join(dir, 'open_clip_config.json'), JSON.stringify({
    model_cfg: {
      embed_dim: cfg.embedDim, quick_gelu: cfg.act === 'quick_gelu',
      vision_cfg: { image_size: v.imageSize, layers: v.layers, width: v.width, patch_size: v.patchSize },
      text_cfg: { context_length: t.contextLength, vocab_size: t.vocabSize, width: t.width, heads: t.heads, layers: t.layers },
    },
    preprocess_cfg: {},
  }));
  return bytes;
}

/** Sizes of a SigLIP model in transformers' config terms (so400m-patch14-384 by default, MedSigLIP's layout). */
export interface SiglipSize {
  width: number; mlp: number; layers: number; heads: number; imageSize: number; patchSize: number; vocab: number; positions: number;
}
export const SO400M: SiglipSize = { width: 1152, mlp: 4304, layers: 27, heads: 16, imageSize: 384, patchSize: 14, vocab: 32000, positions: 64 };

function hfLayer(p: string, w: number, mlp: number): Spec[] {
  const out: Spec[] = [];
  for (const n of ['layer_norm1', 'layer_norm2']) out.push({ name: `${p}.${n}.weight`, shape: [w], scale: 0.1, offset: 1 }, { name: `${p}.${n}.bias`, shape: [w] });
  for (const n of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) out.push({ name: `${p}.self_attn.${n}.weight`, shape: [w, w] }, { name: `${p}.self_attn.${n}.bias`, shape: [w] });
  out.push({ name: `${p}.mlp.fc1.weight`, shape: [mlp, w] }, { name: `${p}.mlp.fc1.bias`, shape: [mlp] });
  out.push({ name: `${p}.mlp.fc2.weight`, shape: [w, mlp] }, { name: `${p}.mlp.fc2.bias`, shape: [w] });
  return out;
}

/**
 * A transformers SigLIP folder (config.json, model.safetensors, the tokenizer files of the tiny fixture) with
 * random weights of size `s`; returns the checkpoint's bytes and each tower's.
 */
export function writeSiglipFolder(dir: string, s: SiglipSize = SO400M): { bytes: number; vision: number; text: number } {
  mkdirSync(dir, { recursive: true });
  const W = s.width;
  const P = Math.floor(s.imageSize / s.patchSize) ** 2;
  const vision: Spec[] = [
    { name: 'vision_model.embeddings.patch_embedding.weight', shape: [W, 3, s.patchSize, s.patchSize] },
    { name: 'vision_model.embeddings.patch_embedding.bias', shape: [W] },
    { name: 'vision_model.embeddings.position_embedding.weight', shape: [P, W] },
  ];
  for (let i = 0; i < s.layers; i++) vision.push(...hfLayer(`vision_model.encoder.layers.${i}`, W, s.mlp));
  const h = 'vision_model.head';
  vision.push(
    { name: 'vision_model.post_layernorm.weight', shape: [W], scale: 0.1, offset: 1 }, { name: 'vision_model.post_layernorm.bias', shape: [W] },
    { name: `${h}.probe`, shape: [1, 1, W] },
    { name: `${h}.attention.in_proj_weight`, shape: [3 * W, W] }, { name: `${h}.attention.in_proj_bias`, shape: [3 * W] },
    { name: `${h}.attention.out_proj.weight`, shape: [W, W] }, { name: `${h}.attention.out_proj.bias`, shape: [W] },
    { name: `${h}.layernorm.weight`, shape: [W], scale: 0.1, offset: 1 }, { name: `${h}.layernorm.bias`, shape: [W] },
    { name: `${h}.mlp.fc1.weight`, shape: [s.mlp, W] }, { name: `${h}.mlp.fc1.bias`, shape: [s.mlp] },
    { name: `${h}.mlp.fc2.weight`, shape: [W, s.mlp] }, { name: `${h}.mlp.fc2.bias`, shape: [W] },
  );
  const text: Spec[] = [
    { name: 'text_model.embeddings.token_embedding.weight', shape: [s.vocab, W] },
    { name: 'text_model.embeddings.position_embedding.weight', shape: [s.positions, W] },
  ];
  for (let i = 0; i < s.layers; i++) text.push(...hfLayer(`text_model.encoder.layers.${i}`, W, s.mlp));
  text.push(
    { name: 'text_model.final_layer_norm.weight', shape: [W], scale: 0.1, offset: 1 }, { name: 'text_model.final_layer_norm.bias', shape: [W] },
    { name: 'text_model.head.weight', shape: [W, W] }, { name: 'text_model.head.bias', shape: [W] },
  );
  const tail: Spec[] = [{ name: 'logit_scale', shape: [1], scale: 0, offset: Math.log(10) }, { name: 'logit_bias', shape: [1], scale: 0, offset: -10 }];
  const bytes = writeRandomSafetensors(join(dir, 'model.safetensors'), [...vision, ...text, ...tail]);
  const size = (l: Spec[]) => l.reduce((n, t) => n + numel(t.shape) * 4, 0);
  const act = 'gelu_pytorch_tanh';
  writeFileSync(join(dir, 'config.json'), JSON.stringify({
    architectures: ['SiglipModel'], model_type: 'siglip', torch_dtype: 'float32',
    text_config: { model_type: 'siglip_text_model', vocab_size: s.vocab, hidden_size: W, intermediate_size: s.mlp, num_hidden_layers: s.layers, num_attention_heads: s.heads, max_position_embeddings: s.positions, hidden_act: act, layer_norm_eps: 1e-6, pad_token_id: 1, eos_token_id: 1 },
    vision_config: { model_type: 'siglip_vision_model', hidden_size: W, intermediate_size: s.mlp, num_hidden_layers: s.layers, num_attention_heads: s.heads, num_channels: 3, image_size: s.imageSize, patch_size: s.patchSize, hidden_act: act, layer_norm_eps: 1e-6 },
  }, null, 2));
  const tiny = join(ROOT, 'test/fixtures/siglip/tiny');
  for (const f of ['special_tokens_map.json', 'spiece.model', 'tokenizer_config.json']) copyFileSync(join(tiny, f), join(dir, f));
  const pre = JSON.parse(readFileSync(join(tiny, 'preprocessor_config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'preprocessor_config.json'), JSON.stringify({ ...pre, size: { height: s.imageSize, width: s.imageSize } }, null, 2));
  return { bytes, vision: size(vision), text: size(text) };
}

export interface Measured {
  /** peak resident set of the child, bytes */
  maxRss: number;
  /** what the child printed as JSON on its last stdout line */
  report: Record<string, unknown>;
}

const CHILD = new URL('./build-memory-child.mjs', import.meta.url).pathname;

/**
 * Run a child (build-memory-child.mjs): `build` compiles `folder` into `cache` (ONNX graphs + external data, no
 * session); `embed` loads the compiled model from the cache and embeds a batch of `batch` images of noise (its report
 * says what the model loaded: `loaded`); `baseline` imports the library and does nothing (Node, the library's own
 * code and, on the sources, tsx). By default the child runs the checkout's sources under tsx; with `dist` (a built
 * package's dist/ folder) it runs that with plain Node, as the installed `clipmed` does.
 */
export function measure(mode: 'build' | 'embed' | 'baseline', folder: string, cache: string, batch = 8, dist?: string): Measured {
  const [lib, ext, pre] = dist ? [dist, '.js', []] : [join(ROOT, 'src'), '.ts', ['--import', 'tsx']];
  const r = spawnSync(process.execPath, [...pre, CHILD, mode, folder, String(batch), lib, ext], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, CLIPMED_CACHE: cache }, maxBuffer: 1 << 24,
  });
  if (r.status !== 0) throw new Error(`the ${mode} child failed (${r.status ?? r.signal}): ${r.stderr.slice(-3000)}`);
  const lines = r.stdout.trim().split('\n');
  const report = JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
  return { maxRss: Number(report.maxRssKiB) * 1024, report };
}
