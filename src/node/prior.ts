// Embedding with a previous image on Node (BioViL-T): the vision graph with a previous image is built once per
// compiled model and kept beside its graphs in the graph cache (vision-prior.onnx), then run by the model's
// backend on the current and the previous images, each preprocessed as the model's images are.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, ShapeError } from '../errors.ts';
import type { Raster } from '../image/types.ts';
import { normalizeRows, type ImageEmbeddings, type ImageEmbedOptions } from '../models/clip-model-core.ts';
import { buildPriorVisionGraph, hasPriorPath } from '../models/prior.ts';
import type { ModelSpec } from '../models/spec.ts';
import { readWeights } from './compile.ts';
import type { ClipModel } from './clip-model.ts';
import { writeGraphFiles } from './graph-files.ts';
import { nodeBackend } from './ort-backend.ts';

/** Whether a loaded model can take a previous image. */
export function takesPrior(model: ClipModel): boolean {
  const spec = model.meta.spec;
  return spec !== undefined && hasPriorPath(spec);
}

/** The prior graph's file in the model's cache entry, built and written (atomically) the first time. */
async function priorGraphPath(model: ClipModel, spec: ModelSpec): Promise<string> {
  const path = join(model.compiled.dir, 'vision-prior.onnx');
  if (existsSync(path)) return path;
  const sd = await readWeights(model.source);
  writeGraphFiles(buildPriorVisionGraph(spec, sd, model.source.weightsFile), path); // the weights file first, the model last
  return path;
}

/**
 * Embed current images each against a previous image of the same patient (previous[i] with current[i]).
 * @example const e = await embedWithPrior(biovilT, [today], [lastYear], { normalize: true }); e.dim // 128
 */
export async function embedWithPrior(model: ClipModel, current: Raster[], previous: Raster[], opts: ImageEmbedOptions & { threads?: number } = {}): Promise<ImageEmbeddings> {
  if (current.length !== previous.length) throw new ConfigError(`${current.length} current images but ${previous.length} previous ones; they are taken in pairs`);
  priorSpec(model);
  return embedPixelsWithPrior(model, model.preprocessRasters(current), model.preprocessRasters(previous), current.length, opts);
}

function priorSpec(model: ClipModel): ModelSpec {
  const spec = model.meta.spec;
  if (!spec || !hasPriorPath(spec)) throw new ConfigError(`${model.source.name} has no image path for a previous image (BioViL-T's temporal tower has one)`);
  return spec;
}

/** Embed preprocessed pixels [n, 3, H, W] of current images, each against the same row of `previous`. */
export async function embedPixelsWithPrior(model: ClipModel, current: Float32Array, previous: Float32Array, n: number, opts: ImageEmbedOptions & { threads?: number } = {}): Promise<ImageEmbeddings> {
  const spec = priorSpec(model);
  const s = model.meta.preprocess.size;
  const [h, w] = typeof s === 'number' ? [s, s] : s;
  const per = 3 * h * w;
  for (const [name, a] of [['current', current], ['previous', previous]] as const) {
    if (a.length !== n * per) throw new ShapeError(`${name} pixel values: expected ${n}x3x${h}x${w} = ${n * per} floats, got ${a.length}`);
  }
  const E = model.embedDim;
  const P = model.meta.patchTokens.grid ** 2;
  const W = model.meta.patchTokens.width;
  const out = new Float32Array(n * E);
  const tokens = opts.patchTokens ? new Float32Array(n * P * W) : undefined;
  const patchEmbeds = opts.patchEmbeds ? new Float32Array(n * P * E) : undefined;
  const session = await nodeBackend.create(await priorGraphPath(model, spec), { threads: opts.threads });
  try {
    const bs = opts.batchSize ?? 8;
    for (let i = 0; i < n; i += bs) {
      const b = Math.min(bs, n - i);
      const outputs = ['image_embeds', ...(tokens ? ['patch_tokens'] : []), ...(patchEmbeds ? ['patch_embeds'] : [])];
      const r = await session.run({
        pixel_values: { data: current.subarray(i * per, (i + b) * per), dims: [b, 3, h, w] },
        previous_pixel_values: { data: previous.subarray(i * per, (i + b) * per), dims: [b, 3, h, w] },
      }, outputs);
      out.set(r.image_embeds!.data as Float32Array, i * E);
      if (tokens) tokens.set(r.patch_tokens!.data as Float32Array, i * P * W);
      if (patchEmbeds) patchEmbeds.set(r.patch_embeds!.data as Float32Array, i * P * E);
    }
  } finally {
    await session.release();
  }
  if (opts.normalize) normalizeRows(out, E);
  return { embeddings: out, patchTokens: tokens, patchEmbeds, dim: E };
}
