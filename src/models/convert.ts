// Checkpoint -> graphs: read the weights, settle the architecture, build both towers, check every key.
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readCheckpoint } from '../checkpoint/load.ts';
import type { StateDict } from '../checkpoint/types.ts';
import { CheckpointError } from '../errors.ts';
import { GRAPH_VERSION } from '../graph/builder.ts';
import type { PreprocessConfig } from '../image/preprocess.ts';
import { checkpointHash, exists, graphDir, writeAtomic } from '../runtime/graph-cache.ts';
import { inferOpenAIConfig, parseClipConfig, type ClipConfig, type OpenAIOverrides } from './clip-config.ts';
import { buildTextGraph, buildVisionGraph } from './clip-towers.ts';
import type { ResolvedSource } from './source.ts';
import { Weights } from './weights.ts';

/** OpenAI CLIP's normalisation constants (open_clip `constants.py`). */
export const OPENAI_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
export const OPENAI_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

export interface ModelMeta {
  graphVersion: number;
  format: ResolvedSource['format'];
  checkpointSha256: string;
  config: ClipConfig;
  preprocess: PreprocessConfig;
  /** exp(logit_scale) */
  logitScale: number;
  parameters: { vision: number; text: number };
}

export interface CompiledModel {
  meta: ModelMeta;
  dir: string;
  visionPath: string;
  textPath: string;
  /** true when the graphs came from the cache */
  cached: boolean;
}

function preprocessFrom(cfg: ClipConfig, pp: Record<string, unknown> | undefined): PreprocessConfig {
  const p = pp ?? {};
  return {
    size: cfg.vision.imageSize,
    mean: (p.mean as [number, number, number]) ?? OPENAI_MEAN,
    std: (p.std as [number, number, number]) ?? OPENAI_STD,
    interpolation: ((p.interpolation as string) ?? 'bicubic') as PreprocessConfig['interpolation'],
    resizeMode: ((p.resize_mode as string) ?? 'shortest') as PreprocessConfig['resizeMode'],
    fillColor: (p.fill_color as number) ?? 0,
  };
}

function logitScaleOf(sd: StateDict): number {
  const t = sd.get('logit_scale');
  if (!t || !(t.data instanceof Float32Array) || t.data.length !== 1) return 1 / 0.07; // CLIP's initial value
  return Math.exp(t.data[0]!);
}

/** Learned parameters in the checkpoint, split by tower (logit_scale counted with the text side, as one). */
function countParameters(sd: StateDict): { vision: number; text: number } {
  let vision = 0;
  let text = 0;
  for (const [k, t] of sd) {
    if (!(t.data instanceof Float32Array)) continue;
    if (k.startsWith('visual.')) vision += t.data.length;
    else text += t.data.length;
  }
  return { vision, text };
}

/** Settle the architecture and build both graphs from a state dict (no caching). */
export function buildGraphs(src: ResolvedSource, sd: StateDict, overrides: OpenAIOverrides = {}) {
  const config = src.format === 'open_clip'
    ? parseClipConfig(src.config!.model_cfg as Record<string, unknown>, src.weightsFile)
    : inferOpenAIConfig(sd, src.weightsFile, overrides);
  const w = new Weights(sd, src.weightsFile);
  const vision = buildVisionGraph(config, w);
  const text = buildTextGraph(config, w);
  // buffers and metadata that carry no weights for the graphs
  w.ignore('logit_scale', 'attn_mask', 'input_resolution', 'context_length', 'vocab_size');
  w.finish(['']);
  const preprocess = preprocessFrom(config, src.config?.preprocess_cfg as Record<string, unknown> | undefined);
  return { config, vision, text, preprocess, logitScale: logitScaleOf(sd) };
}

/**
 * Compile a model source into cached ONNX graphs, or find them in the cache.
 * The key covers the checkpoint bytes, the config text, the overrides and the graph builder's version.
 */
export async function compileModel(src: ResolvedSource, overrides: OpenAIOverrides = {}, log: (m: string) => void = () => {}): Promise<CompiledModel> {
  const sha = await checkpointHash(src.weightsFile);
  const key = createHash('sha256').update(`${sha}\n${src.configText ?? ''}\n${JSON.stringify(overrides)}\n${GRAPH_VERSION}`).digest('hex').slice(0, 24);
  const dir = graphDir(key);
  const visionPath = join(dir, 'vision.onnx');
  const textPath = join(dir, 'text.onnx');
  const metaPath = join(dir, 'meta.json');
  if ((await exists(metaPath)) && (await exists(visionPath)) && (await exists(textPath))) {
    const meta = JSON.parse(await readFile(metaPath, 'utf8')) as ModelMeta;
    return { meta, dir, visionPath, textPath, cached: true };
  }
  log(`converting ${src.weightsFile} (sha256 ${sha.slice(0, 12)}) into ONNX graphs`);
  const sd = await readCheckpoint(src.weightsFile);
  if (sd.size === 0) throw new CheckpointError('the checkpoint holds no tensors', { file: src.weightsFile });
  const built = buildGraphs(src, sd, overrides);
  const meta: ModelMeta = {
    graphVersion: GRAPH_VERSION,
    format: src.format,
    checkpointSha256: sha,
    config: built.config,
    preprocess: built.preprocess,
    logitScale: built.logitScale,
    parameters: countParameters(sd),
  };
  await mkdir(dir, { recursive: true });
  await writeAtomic(visionPath, built.vision.bytes);
  await writeAtomic(textPath, built.text.bytes);
  await writeAtomic(metaPath, JSON.stringify(meta, null, 2)); // last: its presence marks a complete entry
  return { meta, dir, visionPath, textPath, cached: false };
}
