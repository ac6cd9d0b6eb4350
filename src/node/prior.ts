// Embedding with a previous image on Node (BioViL-T): the vision graph with a previous image is built once per
// compiled model and kept beside its graphs in the graph cache (vision-prior.onnx), then run by the model's
// backend on the current and the previous images, each preprocessed as the model's images are.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../errors.ts';
import type { Raster } from '../image/types.ts';
import type { ImageEmbeddings, ImageEmbedOptions } from '../models/clip-model-core.ts';
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
  const session = await nodeBackend.create(await priorGraphPath(model, spec), { threads: opts.threads });
  try {
    return await model.runVision(session, [
      { input: 'pixel_values', label: 'current pixel values', data: current },
      { input: 'previous_pixel_values', label: 'previous pixel values', data: previous },
    ], n, opts);
  } finally {
    await session.release();
  }
}
