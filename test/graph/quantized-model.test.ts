// `dtype: int8 | q4 | fp16` on a real checkpoint (the open_clip fixture): embeddings against fp32 with the
// accuracy goals, the quantised graphs cached beside the fp32 ones and reused, and a damaged one rebuilt.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { ClipModel, decodeImageFile } from '../../src/index.ts';

process.env.CLIPMED_CACHE = mkdtempSync(join(tmpdir(), 'clipmed-quant-'));
const MODEL = '../shared/fixtures/open_clip/tiny-gelu-safetensors';
const IMAGES = ['../shared/data/pneumonia-cxr/test/NORMAL/IM-0023-0001.jpeg', '../shared/data/pneumonia-cxr/test/PNEUMONIA/person100_bacteria_475.jpeg', '../shared/data/covid-cxr-notes/images/ARDSSevere.jpg'];
const TEXTS = ['a chest x-ray showing pneumonia', 'no acute cardiopulmonary process', 'right pleural effusion', 'cardiomegaly'];

function rowCosines(a: Float32Array, b: Float32Array, dim: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < a.length / dim; r++) {
    let ab = 0, aa = 0, bb = 0;
    for (let i = r * dim; i < (r + 1) * dim; i++) { ab += a[i]! * b[i]!; aa += a[i]! * a[i]!; bb += b[i]! * b[i]!; }
    out.push(ab / Math.sqrt(aa * bb));
  }
  return out;
}

async function embed(dtype?: 'int8' | 'q4' | 'fp16') {
  const m = await ClipModel.load(MODEL, { dtype, threads: 1 });
  const rasters = await Promise.all(IMAGES.map((p) => decodeImageFile(p)));
  const image = (await m.embedRasters(rasters)).embeddings;
  const text = (await m.embedTexts(TEXTS)).embeddings;
  const out = { image, text, dim: m.embedDim, vision: m.compiled.visionPath, text_: m.compiled.textPath, cached: m.compiled.cached };
  await m.release();
  return out;
}

const goals = { int8: 0.99, q4: 0.95, fp16: 0.9999 } as const;

test('int8, q4 and fp16 embeddings of images and texts stay close to fp32 (cosine goals 0.99, 0.95, 0.9999)', async () => {
  const ref = await embed();
  for (const dtype of ['int8', 'q4', 'fp16'] as const) {
    const q = await embed(dtype);
    assert.ok(q.vision.endsWith(`vision.${dtype}.onnx`), q.vision);
    assert.equal(dirname(q.vision), dirname(ref.vision), 'cached beside the fp32 graphs');
    const cos = [...rowCosines(ref.image, q.image, ref.dim), ...rowCosines(ref.text, q.text, ref.dim)];
    assert.ok(Math.min(...cos) >= goals[dtype], `${dtype}: cosines ${cos.map((c) => c.toFixed(5)).join(' ')}`);
    assert.ok(Math.min(...cos) < 1, `${dtype} changed nothing: the graphs were not quantised`);
  }
});

test('quantised graphs are made once and reused; a damaged one is rebuilt, not trusted', async () => {
  const first = await embed('int8');
  const before = statSync(first.vision).mtimeMs;
  const again = await embed('int8');
  assert.equal(again.cached, true);
  assert.equal(statSync(again.vision).mtimeMs, before, 'reused, not rewritten');
  const bytes = readFileSync(first.vision);
  bytes[bytes.length - 100] ^= 0xff;
  writeFileSync(first.vision, bytes);
  const rebuilt = await embed('int8');
  assert.equal(rebuilt.cached, false);
  assert.deepEqual(rebuilt.image, first.image);
});

test('an unknown dtype is a typed error before any work', async () => {
  await assert.rejects(ClipModel.load(MODEL, { dtype: 'int3' as never }), /unknown --dtype 'int3'/);
});
