// clipmed embed decodes its --image files in the decode pool's worker threads: with 0 (the main thread), 1 and 2
// threads the same embeddings to the bit, in the order named, and the same failures naming the same files for a
// mix of good and bad files; each embedding is the library's on the raster decoded on this thread.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { ClipModel, decodeDicom, decodeImageFile, toDisplayRaster, WINDOW_PRESETS, type Raster } from '../../src/index.ts';
import { cli } from '../helpers/cli.ts';
import { DATA, FIXTURES, maxRelError, stableFailure, tempDir } from '../helpers/reference.ts';

const cache = tempDir('clipmed-embed-threads-cache-');
const clipmed = cli({ CLIPMED_CACHE: cache });
const model = join(FIXTURES, 'tiny-quickgelu');
const CXR = join(DATA, 'pneumonia-cxr/test/PNEUMONIA');
const PYDICOM = join(DATA, 'dicom/pydicom-test-files');

test('embed through 0, 1 and 2 decode threads: the same embeddings and the same failures for good and bad files', async () => {
  const dir = tempDir();
  const xrays = readdirSync(CXR).filter((f) => f.endsWith('.jpeg')).sort().slice(0, 4).map((f) => join(CXR, f));
  const notImage = join(dir, 'notes.txt');
  writeFileSync(notImage, 'not an image');
  const cut = join(dir, 'cut.jpeg');
  writeFileSync(cut, readFileSync(xrays[0]!).subarray(0, 3000));
  const deep = join(dir, 'deep.png');
  const u16 = Buffer.alloc(32 * 24 * 2);
  for (let i = 0; i < 32 * 24; i++) u16.writeUInt16LE((i * 977) % 65536, 2 * i);
  await sharp(u16, { raw: { width: 32, height: 24, channels: 1 } }).toColourspace('grey16').png().toFile(deep);
  const ct = join(PYDICOM, 'CT_small.dcm');
  const inputs = [
    xrays[0]!,
    join(PYDICOM, 'MR_truncated.dcm'), // malformed: the data set ends inside an element
    ct,
    notImage,
    xrays[1]!,
    join(dir, 'gone.jpeg'),
    join(PYDICOM, 'rtplan.dcm'), // DICOM without pixel data
    cut,
    join(PYDICOM, 'MR_small_RLE.dcm'),
    deep, // 16-bit: embed refuses to guess a window for a PNG
    xrays[2]!,
    dir, // a folder is not an image file
    xrays[3]!,
  ];
  const runs = [0, 1, 2].map((threads) => {
    const r = clipmed('embed', '--model', model, ...inputs.flatMap((p) => ['--image', p]), '--window', 'lung', '--batch-size', '3', '--json', '--threads', '1', '--decode-threads', String(threads));
    assert.equal(r.code, 1, r.stderr);
    return JSON.parse(r.stdout) as { images: Array<{ path: string; embedding: number[] }>; failures: Array<{ input: string; error: string }> };
  });
  const [main] = runs;
  assert.deepEqual(main!.images.map((i) => i.path), [xrays[0], ct, xrays[1], join(PYDICOM, 'MR_small_RLE.dcm'), xrays[2], xrays[3]]);
  assert.deepEqual(main!.failures.map((f) => [f.input, f.error.split(':')[0]]), [
    [join(PYDICOM, 'MR_truncated.dcm'), 'DecodeError'],
    [notImage, 'DecodeError'],
    [join(dir, 'gone.jpeg'), 'ConfigError'],
    [join(PYDICOM, 'rtplan.dcm'), 'DecodeError'],
    [cut, 'DecodeError'],
    [deep, 'ConfigError'],
    [dir, 'ConfigError'],
  ]);
  assert.match(main!.failures[2]!.error, /no such file or folder/);
  assert.match(main!.failures[5]!.error, /16-bit image/);
  for (const other of runs.slice(1)) {
    assert.deepEqual(other.failures.map(stableFailure), main!.failures.map(stableFailure));
    assert.deepEqual(other.images.map((i) => i.path), main!.images.map((i) => i.path));
    other.images.forEach((im, i) => assert.ok(im.embedding.every((v, d) => Object.is(v, main!.images[i]!.embedding[d])), `${im.path}: embedding differs from the main thread's`));
  }

  // the library on rasters decoded here: JPEGs through the PIL-equivalent decoder, DICOM through --window
  process.env.CLIPMED_CACHE = cache;
  const m = await ClipModel.load(model, { threads: 1 });
  try {
    const dicom = async (p: string): Promise<Raster> => toDisplayRaster(await decodeDicom(readFileSync(p), { source: p }), 0, WINDOW_PRESETS.lung);
    const rasters = [await decodeImageFile(xrays[0]!), await dicom(ct), await decodeImageFile(xrays[1]!), await dicom(join(PYDICOM, 'MR_small_RLE.dcm')), await decodeImageFile(xrays[2]!), await decodeImageFile(xrays[3]!)];
    const want = await m.embedRasters(rasters, { batchSize: 3 });
    assert.ok(maxRelError(main!.images.flatMap((i) => i.embedding), want.embeddings, m.embedDim) < 1e-6);
  } finally {
    await m.release();
  }
});
