// A cached graph's optimised copy (src/node/ort-optimized.ts): made once beside the graph, the same outputs to the
// bit as the graph optimised at load, none written outside the cache, and a damaged or altered copy made again.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { ClipModel } from '../../src/node/clip-model.ts';
import { nodeBackend } from '../../src/node/ort-backend.ts';
import { FIXTURES } from '../helpers/reference.ts';

describe('optimised graph copies', () => {
  let home: string;
  let saved: string | undefined;
  let vision: string;
  let pixels: Float32Array;
  let dims: number[];
  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'clipmed-ort-optimized-'));
    saved = process.env.CLIPMED_CACHE;
    process.env.CLIPMED_CACHE = join(home, 'cache');
    const m = await ClipModel.load(join(FIXTURES, 'tiny-quickgelu'), { threads: 1 });
    vision = m.compiled.visionPath;
    const s = m.meta.preprocess.size;
    const [h, w] = typeof s === 'number' ? [s, s] : s;
    dims = [3, 3, h, w];
    pixels = new Float32Array(3 * 3 * h * w).map((_, i) => Math.sin(i * 0.37));
    await m.release();
  });
  after(() => {
    if (saved === undefined) delete process.env.CLIPMED_CACHE;
    else process.env.CLIPMED_CACHE = saved;
    rmSync(home, { recursive: true, force: true });
  });

  const copies = () => readdirSync(dirname(vision)).filter((f) => f.startsWith(`${basename(vision)}.opt-`) && f.endsWith('.onnx'));
  const embed = async (path: string) => {
    const s = await nodeBackend.create(path, { threads: 1 });
    try {
      return (await s.run({ pixel_values: { data: pixels, dims } }, ['image_embeds'])).image_embeds!.data;
    } finally {
      await s.release();
    }
  };

  it('is made beside a cached graph once, and gives the graph\'s outputs to the bit', async () => {
    const cached = await embed(vision);
    assert.equal(copies().length, 1);
    // the same graph outside the cache: optimised at load as before, and nothing written beside it
    const elsewhere = join(home, 'elsewhere');
    mkdirSync(elsewhere);
    for (const f of ['vision.onnx', 'vision.onnx.data']) copyFileSync(join(dirname(vision), f), join(elsewhere, f));
    const plain = await embed(join(elsewhere, 'vision.onnx'));
    assert.deepEqual(readdirSync(elsewhere).sort(), ['vision.onnx', 'vision.onnx.data']);
    assert.ok(Buffer.from(cached.buffer, cached.byteOffset, cached.byteLength).equals(Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength)));
    const again = await embed(vision);
    assert.deepEqual(again, cached);
    assert.equal(copies().length, 1);
  });

  it('a copy whose weights no longer match their record is made again (not trusted more than the graph)', async () => {
    const want = await embed(vision);
    const [copy] = copies();
    const dir = dirname(vision);
    const data = readdirSync(dir).find((f) => f.startsWith(copy!) && f.endsWith('.data'))!;
    const bytes = readFileSync(join(dir, data));
    bytes[bytes.length >> 1]! ^= 0x40; // one bit of one weight
    writeFileSync(join(dir, data), bytes);
    assert.deepEqual(await embed(vision), want);
    const fixed = readFileSync(join(dir, readdirSync(dir).find((f) => f.startsWith(copies()[0]!) && f.endsWith('.data'))!));
    assert.notDeepEqual(fixed, bytes);
  });

  it('a damaged copy is made again', async () => {
    const want = await embed(vision);
    const [copy] = copies();
    writeFileSync(join(dirname(vision), copy!), 'not an ONNX model');
    assert.deepEqual(await embed(vision), want);
    assert.deepEqual(copies(), [copy]);
    assert.notEqual(readFileSync(join(dirname(vision), copy!), 'utf8'), 'not an ONNX model');
  });
});
