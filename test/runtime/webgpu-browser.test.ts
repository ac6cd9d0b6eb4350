// onnxruntime-web's WebGPU provider in a real browser, on a machine without a GPU: Debian's chromium (driven by
// playwright-core) with --enable-unsafe-webgpu offers a SwiftShader adapter (google/swiftshader, a CPU WebGPU
// implementation). The page (webgpu-page/page.ts, bundled here by esbuild) runs clipmed's core through
// src/runtime/web-backend.ts with 'webgpu' and with 'wasm'; the embeddings agree with each other, with
// onnxruntime-node's CPU provider and with open_clip. Without the flag Chromium headless offers no adapter.
// onnxruntime-web 1.30's WebGPU MultiHeadAttention ignores `unidirectional` (the causal text towers came out 1.01
// from wasm): web-backend runs such graphs on wasm, and this checks that the image tower still runs on WebGPU.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { build } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';
import { ClipModel } from '../../src/index.ts';
import { webGpuMisreads } from '../../src/runtime/web-backend.ts';
import { FIXTURES, isolateCache, loadReference, maxRelError } from '../helpers/reference.ts';

isolateCache();
const ROOT = new URL('../../', import.meta.url).pathname;
const ORT_DIST = join(ROOT, 'node_modules/onnxruntime-web/dist');
const ref = loadReference('tiny-quickgelu');
let server: Server;
let url: string;
let browser: Browser;
let cpu: { text: Float32Array; image: Float32Array };
let graphs: { vision: string; text: string };

before(async () => {
  const model = await ClipModel.load(join(FIXTURES, 'tiny-quickgelu'), { threads: 1 });
  assert.ok(model.compiled.meta.spec, 'compiled model without a spec');
  cpu = { text: (await model.embedTexts(ref.texts)).embeddings, image: (await model.embedPixels(Float32Array.from(ref.random_pixel_values), 2)).embeddings };
  const { visionPath, textPath } = model.compiled;
  graphs = { vision: visionPath, text: textPath };
  await model.release();
  const bundle = await build({ entryPoints: [join(ROOT, 'test/runtime/webgpu-page/page.ts')], bundle: true, format: 'esm', platform: 'browser', write: false, logLevel: 'silent' });
  const files: Record<string, () => Buffer | string> = {
    '/': () => '<!doctype html><meta charset="utf-8"><title>clipmed webgpu</title><script type="module" src="/page.js"></script>',
    '/page.js': () => Buffer.from(bundle.outputFiles[0]!.contents),
    '/files/spec.json': () => JSON.stringify(model.compiled.meta.spec),
    '/files/vision.onnx': () => readFileSync(visionPath),
    '/files/vision.onnx.data': () => readFileSync(`${visionPath}.data`),
    '/files/text.onnx': () => readFileSync(textPath),
    '/files/text.onnx.data': () => readFileSync(`${textPath}.data`),
    '/files/bpe.txt.gz': () => readFileSync(join(ROOT, 'data/clip-bpe/bpe_simple_vocab_16e6.txt.gz')),
  };
  const types: Record<string, string> = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };
  server = createServer((req, res) => {
    const path = new URL(req.url!, 'http://x').pathname;
    try {
      const body = path.startsWith('/ort/') && /^[\w.-]+$/.test(path.slice(5)) ? readFileSync(join(ORT_DIST, path.slice(5))) : files[path]?.();
      if (body === undefined) throw new Error('not found');
      res.writeHead(200, { 'content-type': path === '/' ? 'text/html' : types[extname(path)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`; // loopback: a secure context, as WebGPU needs
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--enable-unsafe-webgpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});
after(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.close(resolve));
});

type Result = { text: number[]; image: number[]; adapter: string; providers: { vision: string; text: string } };

async function inPage(provider: 'wasm' | 'webgpu'): Promise<Result> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  try {
    await page.goto(url);
    await page.waitForFunction(() => (globalThis as unknown as { clipmedReady?: boolean }).clipmedReady === true, undefined, { timeout: 60_000 });
    return await page.evaluate(
      ([p, texts, pixels]) => (globalThis as unknown as { clipmedCheck: (p: string, t: string[], x: number[], n: number) => Promise<Result> }).clipmedCheck(p, texts, pixels, 2),
      [provider, ref.texts, ref.random_pixel_values] as const,
    );
  } catch (e) {
    throw new Error(`${provider} in the page: ${(e as Error).message}${errors.length ? ` (page errors: ${errors.join('; ')})` : ''}`);
  } finally {
    await page.close();
  }
}

test('webgpu in Chromium: onnxruntime-web on the SwiftShader adapter agrees with wasm, onnxruntime-node and open_clip', async () => {
  const gpu = await inPage('webgpu');
  assert.equal(gpu.adapter, 'google/swiftshader');
  assert.equal(gpu.providers.vision, 'webgpu');
  assert.match(gpu.providers.text, /^wasm \(WebGPU would misread MultiHeadAttention's unidirectional/);
  const wasm = await inPage('wasm');
  assert.deepEqual(wasm.providers, { vision: 'wasm', text: 'wasm' });
  assert.ok(maxRelError(gpu.text, wasm.text, 32) < 1e-5, 'text: webgpu vs wasm');
  assert.ok(maxRelError(gpu.image, wasm.image, 32) < 1e-5, 'image: webgpu vs wasm');
  assert.ok(maxRelError(gpu.text, cpu.text, 32) < 1e-5, 'text: webgpu vs onnxruntime-node cpu');
  assert.ok(maxRelError(gpu.image, cpu.image, 32) < 1e-5, 'image: webgpu vs onnxruntime-node cpu');
  assert.ok(maxRelError(gpu.text, ref.text_features.flat(), 32) < 1e-4, 'text: webgpu vs open_clip');
  assert.ok(maxRelError(gpu.image, ref.random_image_features.flat(), 32) < 1e-4, 'image: webgpu vs open_clip');
});

test('webgpu in Chromium: the graphs onnxruntime-web\'s WebGPU would misread are found by their bytes (the causal text tower)', () => {
  assert.match(webGpuMisreads(readFileSync(graphs.text)) ?? '', /unidirectional/);
  assert.equal(webGpuMisreads(readFileSync(graphs.vision)), undefined);
  assert.equal(webGpuMisreads(new TextEncoder().encode('unidirectiona')), undefined);
  assert.match(webGpuMisreads(new TextEncoder().encode('xxuunidirectional')) ?? '', /unidirectional/);
});
