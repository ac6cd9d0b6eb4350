// The decode pool (worker threads) against decoding on this thread: the same rasters to the byte, the same model
// inputs to the float, the same typed errors naming the same files, in the inputs' order, with a bounded lookahead.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClipmedError, ConfigError } from '../../src/errors.ts';
import { preprocess, type PreprocessConfig } from '../../src/image/preprocess.ts';
import type { Raster } from '../../src/image/types.ts';
import { getProtocol, runProtocolBatch } from '../../src/image/protocol.ts';
import { toDisplayRaster } from '../../src/io/raster.ts';
import { attachModelInput, ClipModelCore, preprocessForModel, type ImageInputSpec } from '../../src/models/clip-model-core.ts';
import { loadEntry, planInputs, type InputEntry, type LoadedInputs } from '../../src/node/io/inputs.ts';
import { decodeInOrder, DecodePool, defaultDecodeThreads, parseDecodeThreads, poolThreads, type DecodeTaskOptions, type DecodeTaskResult } from '../../src/node/decode-pool.ts';
import { DATA } from '../helpers/reference.ts';

const CXR = join(DATA, 'pneumonia-cxr/test');
const PYDICOM = join(DATA, 'dicom/pydicom-test-files');
const CLIP: PreprocessConfig = { size: 224, mean: [0.48145466, 0.4578275, 0.40821073], std: [0.26862954, 0.26130258, 0.27577711], interpolation: 'bicubic', resizeMode: 'shortest' };

interface Seen { sources: string[]; rasters: Raster[]; pixels: Float32Array[]; failures: Array<{ input: string; error: Error }> }

/** A model as far as preprocessing goes (no graphs). */
function coreFor(spec: ImageInputSpec): ClipModelCore {
  return new ClipModelCore({ embedDim: 1, patchTokens: { grid: 1, width: 1 }, preprocess: spec.preprocess, text: {} as never, score: {} as never }, {} as never, { name: spec.name, protocol: spec.protocol });
}

/** What the commands did before the pool, on this thread: loadEntry, toDisplayRaster, the model's preprocessing. */
async function sequential(entries: InputEntry[], o: DecodeTaskOptions): Promise<Seen> {
  const seen: Seen = { sources: [], rasters: [], pixels: [], failures: [] };
  for (const e of entries) {
    const out: LoadedInputs = { images: [], failures: [], skipped: [] };
    await loadEntry(out, e, { window: o.window });
    seen.failures.push(...out.failures);
    for (const { image } of out.images) {
      try {
        const raster = toDisplayRaster(image, o.frame ?? 0);
        seen.sources.push(image.source);
        seen.rasters.push(raster);
        if (o.input) {
          seen.pixels.push(coreFor(o.input).preprocessRasters([raster]));
        }
      } catch (err) {
        seen.failures.push({ input: image.source, error: err as Error });
      }
    }
  }
  return seen;
}

async function pooled(threads: number, entries: InputEntry[], o: DecodeTaskOptions, lookahead = 4): Promise<Seen> {
  const pool = new DecodePool(threads, o);
  const seen: Seen = { sources: [], rasters: [], pixels: [], failures: [] };
  try {
    for await (const r of decodeInOrder(pool, entries, lookahead)) {
      assert.equal(r.fatal, undefined);
      seen.failures.push(...r.failures);
      for (const im of r.images) {
        seen.sources.push(im.source);
        seen.rasters.push(im.raster);
        if (im.pixels) seen.pixels.push(im.pixels);
      }
    }
  } finally {
    await pool.close();
  }
  return seen;
}

function assertSame(got: Seen, want: Seen): void {
  assert.deepEqual(got.sources, want.sources);
  assert.equal(got.rasters.length, want.rasters.length);
  got.rasters.forEach((r, i) => {
    const w = want.rasters[i]!;
    assert.deepEqual([r.width, r.height, r.channels], [w.width, w.height, w.channels], got.sources[i]);
    assert.ok(Buffer.from(r.data).equals(Buffer.from(w.data)), `${got.sources[i]}: raster bytes differ`);
  });
  assert.equal(got.pixels.length, want.pixels.length);
  got.pixels.forEach((p, i) => assert.ok(Buffer.from(p.buffer, p.byteOffset, p.byteLength).equals(Buffer.from(want.pixels[i]!.buffer, want.pixels[i]!.byteOffset, want.pixels[i]!.byteLength)), `${got.sources[i]}: model input differs`));
  assert.equal(got.failures.length, want.failures.length, JSON.stringify(got.failures.map((f) => f.error.message)));
  got.failures.forEach((f, i) => {
    const w = want.failures[i]!;
    assert.equal(f.input, w.input);
    assert.equal(f.error.constructor, w.error.constructor, `${f.input}: ${f.error.name} vs ${w.error.name}`);
    assert.equal(f.error.name, w.error.name);
    assert.equal(f.error.message, w.error.message);
    if (w.error instanceof ClipmedError) assert.equal((f.error as ClipmedError).file, w.error.file);
  });
}

describe('DecodePool', () => {
  let dir: string;
  let mixed: InputEntry[];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'clipmed-decode-pool-'));
    writeFileSync(join(dir, 'not-an-image.png'), 'these bytes are no image');
    writeFileSync(join(dir, 'cut.png'), Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(20, 7)]));
    const names = [
      join(CXR, 'NORMAL/IM-0001-0001.jpeg'), // JPEG through sharp
      join(PYDICOM, 'CT_small.dcm'), // 16-bit DICOM, its own window
      join(PYDICOM, 'MR_truncated.dcm'), // malformed DICOM: a DecodeError naming it
      join(dir, 'not-an-image.png'), // not an image at all: UnsupportedError
      join(PYDICOM, 'JPEG2000.dcm'), // a WASM codec (OpenJPEG), registered in the worker too
      join(dir, 'cut.png'), // a PNG signature and nothing after it
      join(PYDICOM, 'MR_small_RLE.dcm'),
      join(DATA, 'nifti/anatomical.nii'), // NIfTI: the middle axial slice
      join(dir, 'missing.jpeg'), // planned as 'failed': answered without a worker
      join(CXR, 'PNEUMONIA'), // a folder, walked in order
    ];
    mixed = (await planInputs(names)).entries.slice(0, 24);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('gives the rasters, model inputs and typed failures of decoding on this thread, in order', async () => {
    const o: DecodeTaskOptions = { input: { preprocess: CLIP, name: 'test model' } };
    const want = await sequential(mixed, o);
    assert.ok(want.failures.length >= 4 && want.rasters.length >= 15, `${want.failures.length} failures, ${want.rasters.length} images`);
    assert.ok(want.failures.some((f) => f.input.endsWith('MR_truncated.dcm') && f.error.name === 'DecodeError'));
    assertSame(await pooled(2, mixed, o), want);
    assertSame(await pooled(1, mixed, o, 1), want);
    assertSame(await pooled(0, mixed, o), want);
  });

  it('applies a window and a preprocessing protocol as the model would', async () => {
    const o: DecodeTaskOptions = { window: 'lung', input: { preprocess: { ...CLIP, size: 224 }, protocol: 'chexzero', name: 'test model' } };
    const entries = mixed.slice(0, 8);
    const want = await sequential(entries, o);
    // the protocol's own function on the same raster: what ClipModelCore.preprocessRasters ran
    assert.deepEqual(want.pixels[0], runProtocolBatch([want.rasters[0]!], getProtocol('chexzero')));
    assertSame(await pooled(2, entries, o), want);
    const plain = await pooled(2, entries, { input: { preprocess: CLIP, name: 'm' } });
    assert.deepEqual(plain.pixels[0], preprocess([plain.rasters[0]!], CLIP));
  });

  it('keeps the inputs\' order and at most `lookahead` entries ahead of the caller', async () => {
    const files = readdirSync(join(CXR, 'NORMAL')).sort().slice(0, 30).map((f) => join(CXR, 'NORMAL', f));
    const { entries } = await planInputs(files);
    const pool = new DecodePool(2, {});
    let asked = 0;
    const decode = pool.decode.bind(pool);
    pool.decode = (e) => {
      asked++;
      return decode(e);
    };
    const order: string[] = [];
    let received = 0;
    try {
      for await (const r of decodeInOrder(pool, entries, 5)) {
        received++;
        assert.ok(asked - received <= 5, `${asked} asked, ${received} taken`);
        order.push(...r.images.map((i) => i.source));
        // a slow consumer: the workers must wait for it, not run ahead
        await new Promise((res) => setTimeout(res, 5));
      }
    } finally {
      await pool.close();
    }
    assert.deepEqual(order, files);
  });

  it('a model input that cannot be made (protocol size against the model) is fatal, as embedRasters throws it', async () => {
    const pool = new DecodePool(1, { input: { preprocess: { ...CLIP, size: 448 }, protocol: 'chexzero', name: 'big model' } });
    const results: DecodeTaskResult[] = [];
    try {
      for await (const r of decodeInOrder(pool, mixed.slice(0, 1), 2)) results.push(r);
    } finally {
      await pool.close();
    }
    assert.ok(results[0]!.fatal instanceof ConfigError);
    assert.match(results[0]!.fatal!.message, /protocol 'chexzero' makes 224x224 images but big model takes 448x448/);
  });

  it('a model takes the inputs made in the workers for its own transform only', async () => {
    const spec: ImageInputSpec = { preprocess: CLIP, name: 'm' };
    const got = await pooled(2, mixed.slice(0, 3), { input: spec });
    const [a, b] = got.rasters as [Raster, Raster];
    // attached pixels are what preprocessRasters returns, whatever they hold: here a marker, to see them used
    const marker = new Float32Array(got.pixels[0]!.length).fill(7);
    attachModelInput(a, spec, marker);
    attachModelInput(b, spec, got.pixels[1]!);
    const model = coreFor(spec);
    const both = model.preprocessRasters([a, b]);
    assert.ok(both.subarray(0, marker.length).every((v) => v === 7));
    assert.deepEqual(both.subarray(marker.length), preprocessForModel([b], spec));
    // another transform, or a batch where one raster has nothing attached: made here from the rasters
    const other: ImageInputSpec = { preprocess: { ...CLIP, interpolation: 'bilinear' }, name: 'm' };
    assert.deepEqual(coreFor(other).preprocessRasters([a, b]), preprocessForModel([a, b], other));
    const fresh = { ...a, data: a.data.slice() };
    assert.deepEqual(model.preprocessRasters([fresh, b]), preprocessForModel([fresh, b], spec));
  });

  it('is closed once, and refuses work after', async () => {
    const pool = new DecodePool(1, {});
    await pool.close();
    await assert.rejects(pool.decode(mixed[0]!), ConfigError);
  });

  it('--decode-threads: 0 to 64, else a ConfigError', () => {
    assert.equal(parseDecodeThreads('0'), 0);
    assert.equal(parseDecodeThreads('3'), 3);
    assert.ok(parseDecodeThreads(undefined) >= 1);
    for (const bad of ['-1', '1.5', 'two', '65']) assert.throws(() => parseDecodeThreads(bad), ConfigError);
  });

  it('poolThreads: one input in place; a first chunk with a single default thread in place; what the user asks for otherwise', () => {
    const d = defaultDecodeThreads();
    assert.equal(poolThreads(undefined, 1, 32), 0);
    assert.equal(poolThreads('2', 1, 32), 0);
    assert.equal(poolThreads(undefined, 8, 32), d < 2 ? 0 : Math.min(d, 8));
    assert.equal(poolThreads(undefined, 33, 32), Math.min(d, 33));
    assert.equal(poolThreads('1', 8, 32), 1); // asked for: a worker even for a few inputs
    assert.equal(poolThreads('4', 3, 32), 3);
    assert.equal(poolThreads('0', 100, 32), 0);
    assert.throws(() => poolThreads('-1', 8, 32), ConfigError);
  });
});
