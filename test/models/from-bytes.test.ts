// A model handed over as bytes, compiled in memory and run on onnxruntime-web (the browser's runtime): no file
// system between the bytes and the embeddings, and the same numbers as the reference implementations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../src/errors.ts';
import { compileFromBytes } from '../../src/models/from-bytes.ts';
import { memoryFiles } from '../../src/models/spec.ts';
import { tokenizerFromFiles } from '../../src/models/tokenizers.ts';
import '../../src/node/tokenizer-files.ts'; // the CLIP BPE merges that ship with clipmed are a file, read by the Node side
import { webBackend } from '../../src/runtime/web-backend.ts';
import { FIXTURES, maxRelError } from '../helpers/reference.ts';

const bytesOf = (dir: string) => Object.fromEntries(readdirSync(dir).filter((n) => n !== 'reference.json').map((n) => [n, new Uint8Array(readFileSync(join(dir, n)))]));

for (const [name, dir] of [
  ['open_clip (safetensors)', join(FIXTURES, 'tiny-gelu-safetensors')],
  ['transformers SigLIP', new URL('../fixtures/siglip/tiny/', import.meta.url).pathname],
] as const) {
  test(`from bytes: ${name} compiles in memory and runs on onnxruntime-web as the reference does`, async () => {
    const refDir = name.startsWith('open_clip') ? dir : join(dir, '..');
    const ref = JSON.parse(readFileSync(join(refDir, 'reference.json'), 'utf8')) as Record<string, any>;
    const files = bytesOf(dir);
    const { spec, vision, text } = compileFromBytes({ files, name });
    const backend = webBackend('wasm');
    const [vs, ts] = await Promise.all([backend.create(vision, { threads: 1 }), backend.create(text, { threads: 1 })]);
    try {
      const n = ref.pixel_values_shape[0];
      const size = spec.preprocess.size as number;
      const img = await vs.run({ pixel_values: { data: Float32Array.from(ref.pixel_values), dims: [n, 3, size, size] } }, ['image_embeds']);
      const E = spec.embedDim;
      assert.ok(maxRelError(img.image_embeds!.data, ref.image_features.flat(), E) < 1e-4);

      const tok = await tokenizerFromFiles(spec.tokenizer, memoryFiles(name, files));
      const C = spec.tokenizer.contextLength;
      const ids = tok.tokenize(ref.texts, C);
      assert.deepEqual(Array.from(ids), ref.tokens.flat());
      const out = await ts.run({ input_ids: { data: BigInt64Array.from(Array.from(ids), BigInt), dims: [ref.texts.length, C] } });
      assert.ok(maxRelError(out.text_embeds!.data, ref.text_features.flat(), E) < 1e-4);
    } finally {
      await vs.release();
      await ts.release();
    }
  });
}

test('from bytes: a torch file needs its tensors read first; missing weights are named', () => {
  const files = { 'open_clip_config.json': new Uint8Array(readFileSync(join(FIXTURES, 'tiny-quickgelu/open_clip_config.json'))), 'open_clip_pytorch_model.bin': new Uint8Array(8) };
  assert.throws(() => compileFromBytes({ files, weights: 'open_clip_pytorch_model.bin' }), /only safetensors are read from bytes/);
  assert.throws(() => compileFromBytes({ files: { 'open_clip_config.json': files['open_clip_config.json'] } }), (e: Error) => e instanceof ConfigError && /no weights/.test(e.message));
});

test('from bytes: ClipModelCore.fromGraphs on onnxruntime-web embeds and classifies as the Node ClipModel does', async () => {
  const { ClipModelCore } = await import('../../src/models/clip-model-core.ts');
  const { ClipModel, pipeline, decodeImageFile } = await import('../../src/index.ts');
  const { isolateCache, DATA } = await import('../helpers/reference.ts');
  isolateCache();
  const dir = join(FIXTURES, 'tiny-gelu-safetensors');
  const ref = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as Record<string, any>;
  const files = bytesOf(dir);
  const { spec, vision, text } = compileFromBytes({ files });
  const core = ClipModelCore.fromGraphs({ spec, vision, text, tokenizer: await tokenizerFromFiles(spec.tokenizer, memoryFiles('m', files)), backend: webBackend('wasm'), threads: 1 });
  const node = await ClipModel.load(dir, { threads: 1 });
  try {
    assert.ok(maxRelError((await core.embedTexts(ref.texts)).embeddings, ref.text_features.flat(), 32) < 1e-4);
    const raster = await decodeImageFile(join(DATA, 'pneumonia-cxr/test/NORMAL/IM-0023-0001.jpeg'));
    const a = await (await pipeline('zero-shot-image-classification', core))(raster, ['normal', 'pneumonia']);
    const b = await (await pipeline('zero-shot-image-classification', node))(raster, ['normal', 'pneumonia']);
    assert.deepEqual(a.map((x) => x.label), b.map((x) => x.label));
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]!.score - b[i]!.score) < 1e-5);
  } finally {
    await core.release();
    await node.release();
  }
});
