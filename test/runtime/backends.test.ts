// Backends by name: the core asks for a device, the platform registers what runs it. onnxruntime-node's CPU,
// onnxruntime-web's WebAssembly (the browser's runtime, here on Node) give the same embeddings; WebGPU without
// an adapter is a typed error that says what is missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ClipModel, UnsupportedError } from '../../src/index.ts';
import { listBackends, parseDevice, resolveBackend } from '../../src/runtime/backends.ts';
import { FIXTURES, isolateCache, loadReference, maxRelError } from '../helpers/reference.ts';

isolateCache();
const ref = loadReference('tiny-quickgelu');
const MODEL = join(FIXTURES, 'tiny-quickgelu');

test('backends: cpu, webgpu and wasm are registered; unknown devices are refused by name', () => {
  const names = listBackends().map((b) => b.name);
  for (const n of ['onnxruntime-node', 'onnxruntime-node-webgpu', 'onnxruntime-web-wasm']) assert.ok(names.includes(n), n);
  assert.equal(resolveBackend('cpu').name, 'onnxruntime-node (cpu)');
  assert.equal(resolveBackend('webgpu').name, 'onnxruntime-node (webgpu)');
  assert.throws(() => parseDevice('cuda'), (e: Error) => e instanceof UnsupportedError && /expected one of cpu, webgpu, wasm/.test(e.message));
});

test('backends: onnxruntime-web (wasm) agrees with onnxruntime-node (cpu) and with open_clip', async () => {
  const cpu = await ClipModel.load(MODEL, { threads: 1 });
  const wasm = await ClipModel.load(MODEL, { threads: 1, device: 'wasm' });
  const a = await cpu.embedTexts(ref.texts);
  const b = await wasm.embedTexts(ref.texts);
  assert.ok(maxRelError(b.embeddings, ref.text_features.flat(), 32) < 1e-4);
  assert.ok(maxRelError(b.embeddings, a.embeddings, 32) < 1e-5);
  const img = await wasm.embedPixels(Float32Array.from(ref.random_pixel_values), 2);
  assert.ok(maxRelError(img.embeddings, ref.random_image_features.flat(), 32) < 1e-4);
  await cpu.release();
  await wasm.release();
});

test('backends: webgpu runs, or says which adapter or driver is missing', async () => {
  const m = await ClipModel.load(MODEL, { threads: 1, device: 'webgpu' });
  try {
    const e = await m.embedTexts(ref.texts);
    assert.ok(maxRelError(e.embeddings, ref.text_features.flat(), 32) < 1e-3);
  } catch (e) {
    assert.ok(e instanceof UnsupportedError, String(e));
    assert.match((e as Error).message, /device 'webgpu'.*(adapter|driver)/s);
  }
  await m.release();
});

test('backends: --device on the command line (wasm agrees with cpu; an unknown device is refused)', async () => {
  const { cli } = await import('../helpers/cli.ts');
  const { tempDir } = await import('../helpers/reference.ts');
  const clipmed = cli({ CLIPMED_CACHE: tempDir('clipmed-device-') });
  const embed = (...extra: string[]) => clipmed('embed', '--model', MODEL, '--text', ref.texts[0]!, '--json', '--threads', '1', ...extra);
  const cpu = embed();
  const wasm = embed('--device', 'wasm');
  assert.equal(cpu.code, 0, cpu.stderr);
  assert.equal(wasm.code, 0, wasm.stderr);
  const vec = (r: { stdout: string }) => JSON.parse(r.stdout).texts[0].embedding as number[];
  assert.ok(maxRelError(vec(wasm), vec(cpu), 32) < 1e-5);
  const bad = embed('--device', 'cuda');
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /device 'cuda': expected one of cpu, webgpu, wasm/);
});
