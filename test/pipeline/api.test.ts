// pipeline(task, model) as transformers.js users know it, on the shared open_clip fixture: results agree with
// open_clip's own numbers (reference.json), and every kind of image input gives the same answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, pipeline } from '../../src/index.ts';
import { FIXTURES, isolateCache, loadReference, maxRelError, minCosine, referenceImages } from '../helpers/reference.ts';

isolateCache();
const MODEL = join(FIXTURES, 'tiny-quickgelu');
const ref = loadReference('tiny-quickgelu');
const images = referenceImages(ref);

function softmax(row: number[]): number[] {
  const m = Math.max(...row);
  const e = row.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

test('pipeline: zero-shot-image-classification gives [{label, score}] sorted, as open_clip scores them', async () => {
  const classify = await pipeline('zero-shot-image-classification', MODEL, { threads: 1 });
  const rows = await classify(images, ref.texts, { hypothesis_template: '{}' });
  assert.equal(rows.length, images.length);
  for (let i = 0; i < images.length; i++) {
    const want = softmax(ref.logits_per_image[i]!);
    for (let k = 1; k < rows[i]!.length; k++) assert.ok(rows[i]![k - 1]!.score >= rows[i]![k]!.score, 'sorted best first');
    for (const { label, score } of rows[i]!) assert.ok(Math.abs(score - want[ref.texts.indexOf(label)]!) < 2e-3, `${label}: ${score} vs ${want[ref.texts.indexOf(label)]}`);
  }
  const one = await classify(images[0]!, ['normal', 'pneumonia']);
  assert.equal(one.length, 2);
  assert.ok(Math.abs(one[0]!.score + one[1]!.score - 1) < 1e-5);
  await classify.dispose();
});

test('pipeline: paths, bytes, Buffers, Blobs, file: and http: URLs are the same image', async () => {
  const classify = await pipeline('zero-shot-image-classification', MODEL, { threads: 1 });
  const bytes = readFileSync(images[1]!);
  const server = createServer((req, res) => (req.url === '/x.jpeg' ? res.end(bytes) : res.writeHead(404).end()));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  try {
    const labels = ['normal', 'pneumonia', 'effusion'];
    const want = await classify(images[1]!, labels);
    for (const input of [new Uint8Array(bytes), bytes, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length), new Blob([bytes]), pathToFileURL(images[1]!), `http://127.0.0.1:${port}/x.jpeg`]) {
      assert.deepEqual(await classify(input as never, labels), want, Object.prototype.toString.call(input));
    }
    await assert.rejects(() => classify(`http://127.0.0.1:${port}/missing.jpeg`, labels), /HTTP 404/);
    await assert.rejects(() => classify(42 as never, labels), ConfigError);
  } finally {
    server.close();
    await classify.dispose();
  }
});

test('pipeline: image and text feature extraction give [n, D] tensors equal to open_clip\'s features', async () => {
  const image = await pipeline('image-feature-extraction', MODEL, { threads: 1 });
  const fi = await image(images);
  assert.deepEqual(fi.dims, [3, 32]);
  assert.ok(minCosine(fi.data, ref.image_features.flat(), 32) >= 0.9999);
  const unit = await image(images[0]!, { normalize: true });
  assert.ok(Math.abs(Math.hypot(...unit.data) - 1) < 1e-5);
  const text = await pipeline('feature-extraction', image.model);
  const ft = await text(ref.texts);
  assert.deepEqual(ft.dims, [4, 32]);
  assert.ok(maxRelError(ft.data, ref.text_features.flat(), 32) < 1e-4);
  await image.dispose();
});

test('pipeline: zero-shot-image-retrieval ranks images by a text query as open_clip\'s logits do', async () => {
  const retrieve = await pipeline('zero-shot-image-retrieval', MODEL, { threads: 1 });
  for (let t = 0; t < ref.texts.length; t++) {
    const hits = await retrieve(ref.texts[t]!, images);
    const want = images.map((_, i) => i).sort((a, b) => ref.logits_per_image[b]![t]! - ref.logits_per_image[a]![t]!);
    assert.deepEqual(hits.map((h) => h.index), want);
  }
  assert.equal((await retrieve(ref.texts[0]!, images, { topK: 1 })).length, 1);
  await assert.rejects(() => pipeline('text-generation' as never, MODEL), (e: Error) => e instanceof ConfigError && /zero-shot-image-classification/.test(e.message));
  await retrieve.dispose();
});
