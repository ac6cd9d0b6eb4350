// Backends by name: the core asks for a device, the platform registers what runs it. onnxruntime-node's CPU,
// onnxruntime-web's WebAssembly (the browser's runtime, here on Node) give the same embeddings; CUDA without its
// provider libraries is a typed error that says what is missing and how to get it. (WebGPU: webgpu.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClipModel, UnsupportedError } from '../../src/index.ts';
import { listBackends, parseDevice, resolveBackend } from '../../src/runtime/backends.ts';
import { missingCudaProviderFiles, nodeBinFolder } from '../../src/node/ort-backend.ts';
import { FIXTURES, isolateCache, loadReference, maxRelError, tempDir } from '../helpers/reference.ts';

isolateCache();
const ref = loadReference('tiny-quickgelu');
const MODEL = join(FIXTURES, 'tiny-quickgelu');

test('backends: cpu, webgpu, cuda and wasm are registered; unknown devices are refused by name', () => {
  const names = listBackends().map((b) => b.name);
  for (const n of ['onnxruntime-node', 'onnxruntime-node-webgpu', 'onnxruntime-node-cuda', 'onnxruntime-web-wasm']) assert.ok(names.includes(n), n);
  assert.equal(resolveBackend('cpu').name, 'onnxruntime-node (cpu)');
  assert.equal(resolveBackend('webgpu').name, 'onnxruntime-node (webgpu)');
  assert.equal(resolveBackend(parseDevice('cuda')).name, 'onnxruntime-node (cuda)');
  assert.throws(() => parseDevice('tpu'), (e: Error) => e instanceof UnsupportedError && /device 'tpu': expected one of cpu, webgpu, cuda, wasm/.test(e.message));
});

test('backends: the CUDA provider libraries are looked for beside onnxruntime-node\'s binding', () => {
  assert.match(nodeBinFolder(), new RegExp(`onnxruntime-node/bin/napi-v6/${process.platform}/${process.arch}$`));
  const dir = tempDir('clipmed-cuda-bin-');
  assert.deepEqual(missingCudaProviderFiles(dir), ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so']);
  writeFileSync(join(dir, 'libonnxruntime_providers_shared.so'), '');
  assert.deepEqual(missingCudaProviderFiles(dir), ['libonnxruntime_providers_cuda.so']);
  mkdirSync(join(dir, 'libonnxruntime_providers_cuda.so'));
  assert.deepEqual(missingCudaProviderFiles(dir), []);
});

test('backends: cuda runs where its provider is installed, or says what is missing and how to install it', async () => {
  const missing = missingCudaProviderFiles();
  const m = await ClipModel.load(MODEL, { threads: 1, device: 'cuda' });
  try {
    const e = await m.embedTexts(ref.texts);
    assert.deepEqual(missing, [], 'ran although the provider libraries are missing');
    assert.ok(maxRelError(e.embeddings, ref.text_features.flat(), 32) < 1e-4);
  } catch (e) {
    assert.ok(e instanceof UnsupportedError, String(e));
    if (missing.length) {
      // this checkout's onnxruntime-node was installed with ONNXRUNTIME_NODE_INSTALL=skip (CONTRIBUTING.md)
      assert.match(e.message, new RegExp(`device 'cuda': onnxruntime-node's CUDA provider is not installed \\(${missing.join(', ')} missing from ${nodeBinFolder()}\\)`));
      assert.match(e.message, /ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node/);
    } else {
      assert.match(e.message, /device 'cuda': onnxruntime-node's CUDA provider could not start .*CUDA 12 and cuDNN 9/s);
    }
  }
  await m.release();
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
  const bad = embed('--device', 'tpu');
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /device 'tpu': expected one of cpu, webgpu, cuda, wasm/);
  if (missingCudaProviderFiles().length) {
    const cuda = embed('--device', 'cuda');
    assert.notEqual(cuda.code, 0);
    assert.match(cuda.stderr, /^clipmed: UnsupportedError: device 'cuda': onnxruntime-node's CUDA provider is not installed \(libonnxruntime_providers_cuda\.so/m);
  }
});
