// The SigLIP family: transformers' SiglipModel (`model_type: "siglip"`), for MedSigLIP (google/medsiglip-448).
// Graphs follow transformers' modeling_siglip.py: SiglipVisionTransformer (patch conv with bias, learned
// positions, no class token, encoder, post_layernorm, the attention-pooling head) and SiglipTextTransformer
// (no causal mask, final_layer_norm, last-position pooling, `head` Linear). Scores are sigmoids:
// logits = exp(logit_scale) * cos(image, text) + logit_bias (SiglipModel.forward).
import type { StateDict } from '../checkpoint/types.ts';
import { ConfigError, UnsupportedError } from '../errors.ts';
import { GraphBuilder, type Value } from '../graph/builder.ts';
import { SentencePieceModel } from '../text/sentencepiece.ts';
import type { BuiltGraph } from './clip-towers.ts';
import { hfPreprocess, num, specialToken, sub, type HfFolder, type Json } from './hf-config.ts';
import { attend, hfActivation, hfEncoderLayer, hfEncoderLayerAt, parseHfActivation, type HfLayerSpec } from './hf-transformer.ts';
import type { HfTowerConfig } from './hf-clip-family.ts';
import { patchEmbed, tokenAt } from './towers/parts.ts';
import { layerNorm, linear } from './transformer.ts';
import type { Weights } from './weights.ts';

export interface SiglipConfig {
  vision: HfTowerConfig & { imageSize: number; patchSize: number };
  text: HfTowerConfig & { vocabSize: number; maxPositions: number; projectionSize: number };
}

function tower(c: Json, where: string, file: string): HfTowerConfig {
  return {
    width: num(c, 'hidden_size', 768, where, file),
    layers: num(c, 'num_hidden_layers', 12, where, file),
    heads: num(c, 'num_attention_heads', 12, where, file),
    mlpWidth: num(c, 'intermediate_size', 3072, where, file),
    act: parseHfActivation(c.hidden_act ?? 'gelu_pytorch_tanh', file),
    eps: num(c, 'layer_norm_eps', 1e-6, where, file),
  };
}

/**
 * Read a transformers SiglipConfig (defaults as SiglipTextConfig / SiglipVisionConfig).
 * @example parseSiglipConfig(JSON.parse(readFileSync('config.json', 'utf8'))).vision.imageSize // 448 for MedSigLIP
 */
export function parseSiglipConfig(cfg: Json, file = 'config.json'): SiglipConfig {
  if (cfg.model_type !== 'siglip') throw new UnsupportedError(`model_type '${String(cfg.model_type)}' is not 'siglip'`, { file });
  const t = sub(cfg, 'text_config', file);
  const v = sub(cfg, 'vision_config', file);
  if ((v.num_channels ?? 3) !== 3) throw new UnsupportedError(`vision_config.num_channels ${String(v.num_channels)}: only 3 is supported`, { file });
  if (v.vision_use_head === false) throw new UnsupportedError('vision_config.vision_use_head false: the image embedding is the attention-pooling head output', { file });
  const vt = tower(v, 'vision_config', file);
  const tt = tower(t, 'text_config', file);
  const text = { ...tt, vocabSize: num(t, 'vocab_size', 32000, 'text_config', file), maxPositions: num(t, 'max_position_embeddings', 64, 'text_config', file), projectionSize: num(t, 'projection_size', tt.width, 'text_config', file) };
  if (text.projectionSize !== vt.width) throw new ConfigError(`text_config.projection_size ${text.projectionSize} differs from vision hidden_size ${vt.width}: the embeddings cannot be compared`, { file });
  return { vision: { ...vt, imageSize: num(v, 'image_size', 224, 'vision_config', file), patchSize: num(v, 'patch_size', 16, 'vision_config', file) }, text };
}

const layerSpec = (c: HfTowerConfig): HfLayerSpec => ({ width: c.width, heads: c.heads, mlpWidth: c.mlpWidth, act: c.act, eps: c.eps });

/** The config of the `siglip-vision` tower (SiglipVisionConfig read as data). */
export type SiglipVisionTowerConfig = SiglipConfig['vision'];
/** The config of the `siglip-text` tower (SiglipTextConfig read as data). */
export type SiglipTextTowerConfig = SiglipConfig['text'];

/**
 * Inputs: `pixel_values` float32 [batch, 3, H, W].
 * Outputs: `image_embeds` [batch, width] (SiglipModel.get_image_features: the head's pooled output),
 * `patch_tokens` [batch, grid*grid, width] (after post_layernorm) and `patch_embeds` [batch, grid*grid, width]:
 * each token through the head's value and output projections and its residual MLP, i.e. what the head returns
 * when the probe attends to that token alone (the MaskCLIP reading of an attention-pooling head).
 * Keys: `{prefix}vision_model.*`.
 */
export function buildSiglipVision(v: SiglipVisionTowerConfig, w: Weights, prefix = ''): BuiltGraph {
  const W = v.width;
  const g = new GraphBuilder('siglip_vision');
  const grid = Math.floor(v.imageSize / v.patchSize);
  const P = grid * grid;
  const p = (k: string) => `${prefix}vision_model.${k}`;
  const pixels = g.input('pixel_values', 'float32', ['batch', 3, v.imageSize, v.imageSize]);
  let x = patchEmbed(g, pixels, w.param(g, p('embeddings.patch_embedding.weight'), [W, 3, v.patchSize, v.patchSize]), w.param(g, p('embeddings.patch_embedding.bias'), [W]), W, v.patchSize, P); // [B, P, W]
  x = g.add(x, w.param(g, p('embeddings.position_embedding.weight'), [P, W]));
  for (let i = 0; i < v.layers; i++) x = hfEncoderLayer(g, w, x, p(`encoder.layers.${i}`), layerSpec(v));
  const tokens = layerNorm(g, w, x, p('post_layernorm'), W, v.eps); // [B, P, W]

  // SiglipMultiheadAttentionPoolingHead: nn.MultiheadAttention(probe, tokens, tokens) with a packed in_proj;
  // the packed tensors stay whole under their own keys, split and transposed by graph ops that ONNX Runtime folds
  const h = p('head');
  const inW = w.param(g, `${h}.attention.in_proj_weight`, [3 * W, W]);
  const inB = w.param(g, `${h}.attention.in_proj_bias`, [3 * W]);
  const part = (i: number): [Value, Value] => {
    const rows = g.slice(inW, g.ints([i * W]), g.ints([(i + 1) * W]), g.ints([0])); // [W(out), W(in)]
    return [g.transpose(rows, [1, 0]), g.slice(inB, g.ints([i * W]), g.ints([(i + 1) * W]), g.ints([0]))];
  };
  const [wq, bq] = part(0);
  const [wk, bk] = part(1);
  const [wv, bv] = part(2);
  const probe = w.param(g, `${h}.probe`, [1, 1, W]);
  const probeB = g.expand(probe, g.concat([g.shape(pixels, 0, 1), g.ints([1, W])], 0)); // [B, 1, W]
  const q = g.add(g.matmul(probeB, wq), bq); // [B, 1, W]
  const k = g.add(g.matmul(tokens, wk), bk); // [B, P, W]
  const vals = g.add(g.matmul(tokens, wv), bv); // [B, P, W]
  const outT = w.linearT(g, `${h}.attention.out_proj.weight`, W, W);
  const outB = w.param(g, `${h}.attention.out_proj.bias`, [W]);
  const lnW = w.param(g, `${h}.layernorm.weight`, [W]);
  const lnB = w.param(g, `${h}.layernorm.bias`, [W]);
  const fc1T = w.linearT(g, `${h}.mlp.fc1.weight`, v.mlpWidth, W);
  const fc1B = w.param(g, `${h}.mlp.fc1.bias`, [v.mlpWidth]);
  const fc2T = w.linearT(g, `${h}.mlp.fc2.weight`, W, v.mlpWidth);
  const fc2B = w.param(g, `${h}.mlp.fc2.bias`, [W]);
  // residual = attention output; out = residual + mlp(layernorm(residual)) (the same weights for both outputs)
  const headTail = (a: Value): Value => {
    const r = g.add(g.matmul(a, outT), outB);
    const n = g.layerNorm(r, lnW, lnB, v.eps);
    const m = g.add(g.matmul(hfActivation(g, g.add(g.matmul(n, fc1T), fc1B), v.act), fc2T), fc2B);
    return g.add(r, m);
  };
  const pooled = headTail(attend(g, q, k, vals, W, v.heads)); // [B, 1, W]
  g.output(g.reshape(pooled, [-1, W]), 'image_embeds', 'float32', ['batch', W]);
  g.output(tokens, 'patch_tokens', 'float32', ['batch', P, W]);
  g.output(headTail(vals), 'patch_embeds', 'float32', ['batch', P, W]);
  w.ignore(p('embeddings.position_ids'));
  return g.built();
}

/**
 * Inputs: `input_ids` int64 [batch, max_position_embeddings] (padded to the full length: there is no causal
 * mask and the last position is pooled, so padding is part of the input, as SigLIP was trained).
 * Outputs: `text_embeds` [batch, projection_size] (SiglipModel.get_text_features). Keys: `{prefix}text_model.*`.
 */
export function buildSiglipText(t: SiglipTextTowerConfig, w: Weights, prefix = ''): BuiltGraph {
  const g = new GraphBuilder('siglip_text');
  const p = (k: string) => `${prefix}text_model.${k}`;
  const ids = g.input('input_ids', 'int64', ['batch', t.maxPositions]);
  let x = g.gather(w.param(g, p('embeddings.token_embedding.weight'), [t.vocabSize, t.width]), ids); // [B, T, width]
  x = g.add(x, w.param(g, p('embeddings.position_embedding.weight'), [t.maxPositions, t.width]));
  // only the last position of the last layer is read: that layer runs its query, MLP and final_layer_norm on it alone
  for (let i = 0; i < t.layers - 1; i++) x = hfEncoderLayer(g, w, x, p(`encoder.layers.${i}`), layerSpec(t));
  const lastIndex = g.expand(g.ints([t.maxPositions - 1], [1], 'last_index'), g.shape(ids, 0, 1)); // [B]
  const lastRow = t.layers > 0 ? hfEncoderLayerAt(g, w, x, p(`encoder.layers.${t.layers - 1}`), layerSpec(t), lastIndex) : tokenAt(g, x, -1, 'last_index'); // [B, width]
  const last = layerNorm(g, w, lastRow, p('final_layer_norm'), t.width, t.eps);
  const embeds = linear(g, w, last, p('head'), t.projectionSize, t.width);
  g.output(embeds, 'text_embeds', 'float32', ['batch', t.projectionSize]);
  w.ignore(p('embeddings.position_ids'));
  return g.built();
}

export function buildSiglipVisionGraph(cfg: SiglipConfig, w: Weights): BuiltGraph {
  return buildSiglipVision(cfg.vision, w);
}

export function buildSiglipTextGraph(cfg: SiglipConfig, w: Weights): BuiltGraph {
  return buildSiglipText(cfg.text, w);
}

/** SentencePiece model files a SigLIP folder may ship (SiglipTokenizer's `spiece.model`, or `tokenizer.model`). */
export const SPM_FILES = ['spiece.model', 'tokenizer.model'];

/** The tokenizer settings of a SigLIP folder: SentencePiece file, pad and end ids, context length, lower-casing. */
export function siglipTextSettings(f: HfFolder, cfg: SiglipConfig) {
  const name = SPM_FILES.find((n) => f.files.includes(n));
  if (!name) {
    const hint = f.files.includes('tokenizer.json') ? ' (tokenizer.json is there, but @huggingface/tokenizers is not a dependency of this build)' : '';
    throw new ConfigError(`no SentencePiece model (${SPM_FILES.join(' or ')}) in the folder${hint}`, { file: f.dir });
  }
  const file = `${f.dir}/${name}`;
  const bytes = f.read?.(name);
  if (!bytes) throw new ConfigError(`${name} is listed but its bytes were not read`, { file });
  const spm = SentencePieceModel.fromBytes(bytes, file);
  const idOf = (field: string, dflt: string) => {
    const piece = specialToken(f, field) ?? dflt;
    const id = spm.pieceToId(piece);
    if (id === undefined) throw new ConfigError(`${field} '${piece}' is not a piece of ${name}`, { file });
    return id;
  };
  const mml = f.tokenizerConfig?.model_max_length;
  const contextLength = typeof mml === 'number' && mml > 0 && mml <= cfg.text.maxPositions ? mml : cfg.text.maxPositions;
  if (contextLength !== cfg.text.maxPositions) {
    throw new UnsupportedError(`model_max_length ${contextLength} differs from max_position_embeddings ${cfg.text.maxPositions}: SigLIP pools the last position of a full-length input`, { file: f.dir });
  }
  const lower = f.tokenizerConfig?.do_lower_case;
  return { file: name, padId: idOf('pad_token', '</s>'), eosId: idOf('eos_token', '</s>'), unk: specialToken(f, 'unk_token') ?? '<unk>', lowercase: lower === undefined ? true : Boolean(lower), contextLength };
}

export function scalarOf(sd: StateDict, key: string, f: (x: number) => number, file: string): number {
  const t = sd.get(key);
  if (!t || !(t.data instanceof Float32Array) || t.data.length !== 1) throw new ConfigError(`SigLIP checkpoint has no scalar '${key}': the sigmoid scores need it`, { file });
  return f(t.data[0]!);
}
