// The graph builder: a graph written with external weights runs exactly as the same graph in memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { buildVisionGraph, nodeBackend, randomClipStateDict, ShapeError, GraphBuilder, Weights, writeGraphFiles, type ClipConfig } from '../../src/index.ts';
import { tempDir } from '../helpers/reference.ts';

const cfg: ClipConfig = {
  embedDim: 16,
  act: 'gelu',
  vision: { imageSize: 32, patchSize: 16, width: 32, layers: 1, headWidth: 16, mlpRatio: 4, layerScale: false, lnPre: true, poolType: 'tok', finalLnAfterPool: false },
  text: { contextLength: 8, vocabSize: 64, width: 16, heads: 1, layers: 1, mlpRatio: 4, layerScale: false, causalMask: true, poolType: 'argmax', projBias: false, padId: 0 },
};

test('writeGraphFiles keeps the weights beside the model and gives the same outputs', async () => {
  const built = buildVisionGraph(cfg, new Weights(randomClipStateDict(cfg), 'random'));
  const dir = tempDir();
  const path = join(dir, 'vision.onnx');
  writeGraphFiles(built, path);
  assert.ok(existsSync(`${path}.data`));
  assert.ok(statSync(path).size < 20_000, 'the model file holds the graph, not the weights');
  assert.ok(statSync(`${path}.data`).size >= built.parameters * 4 - 64 * 1024);
  const pixels = Float32Array.from({ length: 2 * 3 * 32 * 32 }, (_, i) => Math.sin(i));
  const feeds = { pixel_values: { data: pixels, dims: [2, 3, 32, 32] } };
  const fromFiles = await nodeBackend.create(path, { threads: 1 });
  const inMemory = await nodeBackend.create(built.bytes, { threads: 1 });
  const a = await fromFiles.run(feeds);
  const b = await inMemory.run(feeds);
  for (const k of ['image_embeds', 'patch_tokens', 'patch_embeds']) assert.deepEqual(Array.from(a[k]!.data), Array.from(b[k]!.data), k);
  await fromFiles.release();
  await inMemory.release();
});

test('an initializer whose data does not fit its dims, or a reused name, is a ShapeError', () => {
  const g = new GraphBuilder('t');
  assert.throws(() => g.weight('w', new Float32Array(3), [2, 2]), ShapeError);
  g.weight('x', new Float32Array(1), [1]);
  assert.throws(() => g.weight('x', new Float32Array(1), [1]), /used twice/);
});
