// Shared helpers for comparing with the open_clip reference fixtures in ../shared/fixtures/open_clip/.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SHARED = new URL('../../../shared/', import.meta.url).pathname;
export const FIXTURES = join(SHARED, 'fixtures/open_clip');
export const DATA = join(SHARED, 'data');
export const FIXTURE_MODELS = ['tiny-quickgelu', 'tiny-gelu-safetensors'] as const;

export interface OpenClipReference {
  images: string[];
  texts: string[];
  tokens: number[][];
  pixel_values: number[];
  pixel_values_shape: number[];
  image_features: number[][];
  text_features: number[][];
  logit_scale: number;
  logits_per_image: number[][];
  random_pixel_values: number[];
  random_image_features: number[][];
  random_patch_tokens: number[];
  random_patch_tokens_shape: number[];
}

export function loadReference(model: string): OpenClipReference {
  return JSON.parse(readFileSync(join(FIXTURES, model, 'reference.json'), 'utf8'));
}

/** Where the fixture README says its three images are, under shared/data. */
const IMAGE_FOLDERS = ['pneumonia-cxr/test/NORMAL', 'pneumonia-cxr/test/PNEUMONIA', 'covid-cxr-notes/images'];

/** Image paths of the reference (bare file names in reference.json), resolved under shared/data. */
export function referenceImages(ref: OpenClipReference): string[] {
  return ref.images.map((name) => {
    const hit = IMAGE_FOLDERS.map((d) => join(DATA, d, name)).find((p) => existsSync(p));
    if (!hit) throw new Error(`reference image ${name} not found under ${DATA}`);
    return hit;
  });
}

/** Largest |a - b| over each row, divided by the row's largest |b|; the worst row. */
export function maxRelError(a: ArrayLike<number>, b: ArrayLike<number>, dim: number): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let r = 0; r < b.length / dim; r++) {
    let diff = 0;
    let mag = 0;
    for (let i = r * dim; i < (r + 1) * dim; i++) {
      diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
      mag = Math.max(mag, Math.abs(b[i]!));
    }
    worst = Math.max(worst, diff / mag);
  }
  return worst;
}

/** Smallest cosine similarity between corresponding rows. */
export function minCosine(a: ArrayLike<number>, b: ArrayLike<number>, dim: number): number {
  let worst = 1;
  for (let r = 0; r < b.length / dim; r++) {
    let ab = 0, aa = 0, bb = 0;
    for (let i = r * dim; i < (r + 1) * dim; i++) {
      ab += a[i]! * b[i]!;
      aa += a[i]! * a[i]!;
      bb += b[i]! * b[i]!;
    }
    worst = Math.min(worst, ab / Math.sqrt(aa * bb));
  }
  return worst;
}

/** A fresh temporary directory. */
export function tempDir(prefix = 'clipmed-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Point the graph cache at a fresh temporary directory for this test process. */
export function isolateCache(): string {
  const dir = tempDir('clipmed-cache-');
  process.env.CLIPMED_CACHE = dir;
  return dir;
}

/** scale * cos(image i, text j) + bias for every pair, row by image: open_clip's logits_per_image. */
export function logitsPerImage(images: Float32Array, texts: Float32Array, dim: number, scale: number, bias = 0): number[] {
  const unit = (m: Float32Array) => {
    const out = Float32Array.from(m);
    for (let r = 0; r < out.length / dim; r++) {
      const row = out.subarray(r * dim, (r + 1) * dim);
      const n = Math.hypot(...row);
      for (let k = 0; k < dim; k++) row[k]! /= n;
    }
    return out;
  };
  const ni = unit(images);
  const nt = unit(texts);
  const logits: number[] = [];
  for (let i = 0; i < ni.length / dim; i++) {
    for (let j = 0; j < nt.length / dim; j++) {
      let s = 0;
      for (let k = 0; k < dim; k++) s += ni[i * dim + k]! * nt[j * dim + k]!;
      logits.push(scale * s + bias);
    }
  }
  return logits;
}

/**
 * A failure with libvips's own words after "cannot decode <format>:" left out, for comparing failures between runs:
 * which of its messages for a cut JPEG comes first ("premature end of JPEG image" or "Warning treated as error due
 * to failOn setting") varies from run to run with libvips's threads. The class, the file and clipmed's words remain.
 * @example stableFailure({ input: 'cut.jpeg', error: 'DecodeError: cut.jpeg: cannot decode jpeg: VipsJpeg: premature end' }).error // 'DecodeError: cut.jpeg: cannot decode jpeg: …'
 */
export function stableFailure(f: { input: string; error: string }): { input: string; error: string } {
  return { input: f.input, error: f.error.replace(/(cannot decode \w+): .*$/s, '$1: …') };
}
