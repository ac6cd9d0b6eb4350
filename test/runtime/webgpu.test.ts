// --device webgpu checked for correctness on a machine without a GPU: onnxruntime-node's bundled WebGPU provider
// (Dawn over Vulkan) runs on Chromium's SwiftShader, a CPU Vulkan driver that Debian's chromium package ships
// (/usr/lib/chromium/vk_swiftshader_icd.json; the Vulkan loader is Debian's libvulkan1). Mesa 22's lavapipe is not
// enough: Dawn refuses it ("Vulkan shaderUniform*ArrayDynamicIndexing required"). Where VK_ICD_FILENAMES is already
// set (a machine with a GPU), that driver is used instead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { ClipModel, UnsupportedError } from '../../src/index.ts';
import { FIXTURES, FIXTURE_MODELS, isolateCache, loadReference, maxRelError, minCosine, referenceImages, tempDir } from '../helpers/reference.ts';

const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
process.env.VK_ICD_FILENAMES ??= SWIFTSHADER; // read by the Vulkan loader when Dawn first starts, later in this process
isolateCache();

test('webgpu: a Vulkan driver is there for Dawn (Chromium\'s SwiftShader unless VK_ICD_FILENAMES names another)', () => {
  for (const f of process.env.VK_ICD_FILENAMES!.split(':')) assert.ok(existsSync(f), `${f} is missing: install Debian's chromium (and libvulkan1), or set VK_ICD_FILENAMES`);
});

for (const name of FIXTURE_MODELS) {
  test(`webgpu: ${name} image and text embeddings agree with the CPU provider and with open_clip`, async () => {
    const ref = loadReference(name);
    const model = join(FIXTURES, name);
    const cpu = await ClipModel.load(model, { threads: 1 });
    const gpu = await ClipModel.load(model, { threads: 1, device: 'webgpu' });
    const dim = cpu.embedDim;
    const [tc, tg] = [await cpu.embedTexts(ref.texts), await gpu.embedTexts(ref.texts)];
    assert.ok(maxRelError(tg.embeddings, ref.text_features.flat(), dim) < 1e-4, 'text vs open_clip');
    assert.ok(maxRelError(tg.embeddings, tc.embeddings, dim) < 1e-5, 'text vs cpu');
    const pixels = Float32Array.from(ref.random_pixel_values);
    const [ic, ig] = [await cpu.embedPixels(pixels, 2), await gpu.embedPixels(pixels, 2)];
    assert.ok(maxRelError(ig.embeddings, ref.random_image_features.flat(), dim) < 1e-4, 'random pixels vs open_clip');
    assert.ok(maxRelError(ig.embeddings, ic.embeddings, dim) < 1e-5, 'random pixels vs cpu');
    const files = await gpu.embedImageFiles(referenceImages(ref));
    assert.ok(maxRelError(files.embeddings, ref.image_features.flat(), dim) < 1e-4, 'X-ray files vs open_clip');
    await cpu.release();
    await gpu.release();
  });
}

test('webgpu: the matrix products, attention and LayerNorms run on the WebGPU provider (ONNX Runtime\'s profile)', async () => {
  const ref = loadReference('tiny-quickgelu');
  const m = await ClipModel.load(join(FIXTURES, 'tiny-quickgelu'), { threads: 1 });
  const dir = tempDir('clipmed-webgpu-profile-');
  const s = await ort.InferenceSession.create(m.compiled.visionPath, { executionProviders: ['webgpu'], enableProfiling: true, profileFilePrefix: join(dir, 'vision') });
  const [n, c, h, w] = [2, 3, 64, 64];
  const out = await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', Float32Array.from(ref.random_pixel_values), [n, c, h, w]) });
  assert.ok(Object.keys(out).length > 0);
  await s.release(); // writes the profile
  const file = readdirSync(dir).find((f) => f.endsWith('.json'));
  assert.ok(file, `no profile in ${dir}`);
  const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Array<{ cat?: string; args?: { op_name?: string; provider?: string } }>;
  const ran = events.filter((e) => e.cat === 'Node' && e.args?.provider);
  const heavy = ran.filter((e) => /^(MatMul|Gemm|Conv|MultiHeadAttention|Attention|LayerNormalization|SkipLayerNormalization|BiasGelu|FastGelu|Gelu)$/.test(e.args!.op_name!));
  assert.ok(heavy.length >= 10, `only ${heavy.length} heavy nodes in the profile`);
  const elsewhere = heavy.filter((e) => e.args!.provider !== 'WebGpuExecutionProvider').map((e) => `${e.args!.op_name} on ${e.args!.provider}`);
  assert.deepEqual(elsewhere, []);
  assert.ok(heavy.some((e) => e.args!.op_name === 'MultiHeadAttention'));
  await m.release();
});

test('webgpu: --dtype fp16 computes in half precision (cosine 0.999 to fp32), or says the adapter has no shader-f16', async () => {
  const ref = loadReference('tiny-quickgelu');
  const model = join(FIXTURES, 'tiny-quickgelu');
  const cpu = await ClipModel.load(model, { threads: 1 });
  const half = await ClipModel.load(model, { threads: 1, device: 'webgpu', dtype: 'fp16' });
  assert.match(half.compiled.visionPath, /vision\.fp16c\.onnx$/); // the fp16-compute graphs (src/graph/half.ts)
  const pixels = Float32Array.from(ref.random_pixel_values);
  try {
    assert.ok(minCosine((await half.embedPixels(pixels, 2)).embeddings, (await cpu.embedPixels(pixels, 2)).embeddings, 32) > 0.999);
    assert.ok(minCosine((await half.embedTexts(ref.texts)).embeddings, (await cpu.embedTexts(ref.texts)).embeddings, 32) > 0.999);
    assert.notEqual(process.env.VK_ICD_FILENAMES, SWIFTSHADER, 'SwiftShader has no shader-f16, yet fp16 ran');
  } catch (e) {
    // Chromium's SwiftShader offers no half-precision shaders: ONNX Runtime's "Program Cast requires f16 but the
    // device does not support it", as a typed error that says what to use instead
    assert.ok(e instanceof UnsupportedError, String(e));
    assert.match(e.message, /device 'webgpu': this adapter has no half-precision shaders \(WebGPU's shader-f16\).*use --dtype fp32 \(.*requires f16 but the device does not support it/);
  }
  await cpu.release();
  await half.release();
});

test('webgpu: on the command line it agrees with cpu; with no Vulkan driver it is a typed error that says what to install', async () => {
  const { cli } = await import('../helpers/cli.ts');
  const ref = loadReference('tiny-quickgelu');
  const clipmed = cli({ CLIPMED_CACHE: tempDir('clipmed-webgpu-cli-') });
  const embed = (env: Record<string, string>, ...extra: string[]) =>
    cli({ CLIPMED_CACHE: process.env.CLIPMED_CACHE!, ...env })('embed', '--model', join(FIXTURES, 'tiny-quickgelu'), '--text', ref.texts[0]!, '--json', '--threads', '1', ...extra);
  const cpu = clipmed('embed', '--model', join(FIXTURES, 'tiny-quickgelu'), '--text', ref.texts[0]!, '--json', '--threads', '1');
  const gpu = embed({}, '--device', 'webgpu');
  assert.equal(cpu.code, 0, cpu.stderr);
  assert.equal(gpu.code, 0, gpu.stderr);
  const vec = (r: { stdout: string }) => JSON.parse(r.stdout).texts[0].embedding as number[];
  assert.ok(maxRelError(vec(gpu), vec(cpu), 32) < 1e-5);
  const none = embed({ VK_ICD_FILENAMES: '/nonexistent/no_icd.json' }, '--device', 'webgpu');
  assert.notEqual(none.code, 0);
  assert.match(none.stderr, /device 'webgpu': onnxruntime-node's WebGPU provider could not start \(Failed to get a WebGPU adapter/);
  assert.match(none.stderr, /VK_ICD_FILENAMES.*\/nonexistent\/no_icd\.json/);
  assert.match(none.stderr, /SwiftShader \(VK_ICD_FILENAMES=\/usr\/lib\/chromium\/vk_swiftshader_icd\.json\)/);
  assert.match(none.stderr, /^clipmed: UnsupportedError: /m);
  assert.doesNotMatch(none.stderr, /^\s+at .*\.(ts|js):\d+/m); // a message, not a stack trace (Dawn prints its own warnings)
});
