// The model spec and the tower registry: a spec is plain JSON, towers are looked up by kind, and graph
// parameters are the checkpoint's own tensors under their own keys (transposes are graph ops).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { readCheckpoint } from '../../src/node/checkpoint-files.ts';
import { UnsupportedError } from '../../src/errors.ts';
import { buildGraphs } from '../../src/node/compile.ts';
import { readModelSpec } from '../../src/models/readers/index.ts';
import { resolveLocalSource } from '../../src/node/source.ts';
import { memoryFiles } from '../../src/models/spec.ts';
import '../../src/models/towers/builtin.ts';
import { getTower, listTowers } from '../../src/models/towers/registry.ts';
import { FIXTURES } from '../helpers/reference.ts';

const BIOMED = new URL('../fixtures/biomedclip/tiny/', import.meta.url).pathname;

test('spec: the eight built-in tower kinds are registered by modality', () => {
  const kinds = (m: 'vision' | 'text') => listTowers(m).map((t) => t.kind);
  for (const k of ['open_clip-vit', 'timm-vit', 'hf-clip-vision', 'siglip-vision']) assert.ok(kinds('vision').includes(k), k);
  for (const k of ['open_clip-text', 'hf-bert', 'hf-clip-text', 'siglip-text']) assert.ok(kinds('text').includes(k), k);
  assert.throws(() => getTower('open_clip-text', 'vision'), (e: Error) => e instanceof UnsupportedError && /registered vision towers: open_clip-vit/.test(e.message));
});

test('spec: read from bytes, JSON-serialisable, naming towers, prefixes and files', async () => {
  const dir = join(FIXTURES, 'tiny-quickgelu');
  const { readFileSync } = await import('node:fs');
  const files = memoryFiles(dir, { 'open_clip_config.json': new Uint8Array(readFileSync(join(dir, 'open_clip_config.json'))) });
  const sd = await readCheckpoint(join(dir, 'open_clip_pytorch_model.bin'));
  const spec = readModelSpec({ format: 'open_clip', files, weightsFile: join(dir, 'open_clip_pytorch_model.bin'), sd });
  assert.deepEqual(JSON.parse(JSON.stringify(spec)), spec);
  assert.deepEqual([spec.vision.kind, spec.vision.prefix, spec.text.kind, spec.text.prefix], ['open_clip-vit', 'visual.', 'open_clip-text', '']);
  assert.deepEqual(spec.files, { config: [{ name: 'open_clip_config.json' }], weights: [{ name: 'open_clip_pytorch_model.bin' }], tokenizer: [] });
  assert.equal(spec.scoring.kind, 'softmax');

  const biomed = buildGraphs(await resolveLocalSource(BIOMED), await readCheckpoint(join(BIOMED, 'open_clip_pytorch_model.bin'))).spec;
  assert.deepEqual([biomed.vision.kind, biomed.text.kind, biomed.text.prefix], ['timm-vit', 'hf-bert', 'text.']);
  assert.deepEqual(biomed.files.tokenizer.map((f) => f.name), ['vocab.txt', 'tokenizer_config.json']);
});

test('spec: every float parameter of the graphs is a checkpoint tensor under its own key and shape', async () => {
  const { onnx } = onnxProto;
  for (const dir of [join(FIXTURES, 'tiny-quickgelu'), BIOMED]) {
    const src = await resolveLocalSource(dir);
    const sd = await readCheckpoint(src.weightsFile);
    const built = buildGraphs(src, sd);
    for (const graph of [built.vision, built.text]) {
      const inits = onnx.ModelProto.decode(graph.bytes).graph!.initializer!;
      const floats = inits.filter((t) => t.dataType === 1 && (t.dims ?? []).length >= 2 && !/mask/.test(t.name!));
      assert.ok(floats.length > 5);
      for (const t of floats) {
        const k = sd.get(t.name!);
        assert.ok(k, `${dir}: initializer ${t.name} is not a checkpoint key`);
        assert.deepEqual((t.dims ?? []).map(Number), k.shape, t.name!);
      }
      assert.ok(inits.some((t) => /mlp\.(c_fc|fc1)\.weight$|intermediate\.dense\.weight$/.test(t.name!)), 'Linear weights keep their [out, in] key');
    }
  }
});

test('spec: clipmed info prints the towers and gives the spec in --json', async () => {
  const { cli } = await import('../helpers/cli.ts');
  const { tempDir } = await import('../helpers/reference.ts');
  const dir = new URL('../fixtures/mixed-towers/tiny/', import.meta.url).pathname;
  const clipmed = cli({ CLIPMED_CACHE: tempDir('clipmed-info-') });
  const j = clipmed('info', '--model', dir, '--json');
  assert.equal(j.code, 0, j.stderr);
  const spec = JSON.parse(j.stdout).spec;
  assert.deepEqual([spec.vision.kind, spec.text.kind, spec.files.weights[0].name], ['timm-vit', 'open_clip-text', 'open_clip_pytorch_model.bin']);
  const t = clipmed('info', '--model', dir);
  assert.match(t.stdout, /towers\s+vision timm-vit \(keys visual\.\), text open_clip-text \(keys at the top level\)/);
  assert.doesNotMatch(t.stdout, /vision\s+ViT.*quick_gelu/, 'the timm tower is not described with open_clip\'s activation');
});
