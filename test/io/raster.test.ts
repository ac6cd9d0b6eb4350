// Rasters: exact 8/16-bit values through sharp, and the display window (full data range for 16 bits).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { ConfigError, DecodeError, LimitError, UnsupportedError } from '../../src/errors.ts';
import { toDisplayRaster, looksLikeRaster } from '../../src/io/raster.ts';
import { readRaster } from '../../src/node/io/raster.ts';
import { DATA } from '../helpers/reference.ts';

const W = 4;
const H = 3;
// 12-bit-like values plus both ends of 16 bits; none of them survives PIL's convert('RGB') (clips at 255)
const GREY16 = Uint16Array.from([0, 1, 255, 256, 1000, 2048, 4095, 12345, 30000, 40000, 65534, 65535]);
const lzw = { compression: 'lzw' } as const;

async function grey16(format: 'png' | 'tiff'): Promise<Buffer> {
  const img = sharp(GREY16, { raw: { width: W, height: H, channels: 1 } }).toColourspace('grey16');
  return format === 'png' ? img.png().toBuffer() : img.tiff(lzw).toBuffer();
}

/** What LINEAR_EXACT over [lo, hi] must give, written out independently of applyWindow. */
const exact = (x: number, lo: number, hi: number): number => Math.round(Math.min(255, Math.max(0, ((x - lo) / (hi - lo)) * 255)));

describe('readRaster', () => {
  for (const format of ['png', 'tiff'] as const) {
    it(`16-bit grey ${format}: exact values, full-range window, not clipped at 255`, async () => {
      const img = await readRaster(await grey16(format), { source: `g16.${format}` });
      assert.deepEqual([img.rows, img.columns, img.frames, img.samplesPerPixel, img.photometric], [H, W, 1, 1, 'MONOCHROME2']);
      assert.deepEqual(Array.from(img.data), Array.from(GREY16));
      assert.equal(img.meta.bitsStored, 16);
      assert.deepEqual(img.windows[0], { center: 65535 / 2, width: 65535, fn: 'LINEAR_EXACT' });
      const shown = toDisplayRaster(img);
      assert.deepEqual(Array.from(shown.data), Array.from(GREY16, (x) => exact(x, 0, 65535)));
      assert.equal(shown.data[6], 16); // 4095, where PIL's convert('RGB') gives 255
    });
  }

  it('16-bit window: data range by default, or the user window (LINEAR, DICOM formula)', async () => {
    const data = Uint16Array.from([100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1100, 4000]);
    const png = await sharp(data, { raw: { width: W, height: H, channels: 1 } }).toColourspace('grey16').png().toBuffer();
    const img = await readRaster(png, { source: 'range.png' });
    assert.deepEqual(img.windows[0], { center: 2050, width: 3900, fn: 'LINEAR_EXACT' });
    assert.deepEqual(Array.from(toDisplayRaster(img).data), Array.from(data, (x) => exact(x, 100, 4000)));
    const user = await readRaster(png, { source: 'range.png', window: '500,400' });
    assert.deepEqual(user.windows, [{ center: 500, width: 400 }]);
    // PS3.3 C.11.2.1.2.1: x <= c - 0.5 - (w-1)/2 -> 0; x > c - 0.5 + (w-1)/2 -> 255; else ((x - (c-0.5))/(w-1) + 0.5) * 255
    const linear = (x: number): number => (x <= 300.5 ? 0 : x > 699.5 ? 255 : Math.round(((x - 499.5) / 399 + 0.5) * 255));
    assert.deepEqual(Array.from(toDisplayRaster(user).data), Array.from(data, linear));
    assert.deepEqual(Array.from(toDisplayRaster(user).data.subarray(0, 8)), [0, 0, 0, 64, 128, 192, 255, 255]);
  });

  it('16-bit RGB TIFF and PNG keep every sample', async () => {
    const rgb = Uint16Array.from({ length: W * H * 3 }, (_, i) => (i * 5471) % 65536);
    for (const format of ['png', 'tiff'] as const) {
      const s = sharp(rgb, { raw: { width: W, height: H, channels: 3 } }).toColourspace('rgb16');
      const img = await readRaster(format === 'png' ? await s.png().toBuffer() : await s.tiff(lzw).toBuffer());
      assert.equal(img.samplesPerPixel, 3);
      assert.equal(img.photometric, 'RGB');
      assert.deepEqual(Array.from(img.data), Array.from(rgb));
    }
  });

  it('8-bit grey with alpha: alpha dropped, identity window', async () => {
    const ga = Uint8Array.from({ length: W * H * 2 }, (_, i) => (i % 2 ? 77 : i * 10));
    const png = await sharp(ga, { raw: { width: W, height: H, channels: 2 } }).toColourspace('b-w').png().toBuffer();
    const img = await readRaster(png);
    assert.equal(img.samplesPerPixel, 1);
    const stored = Array.from({ length: W * H }, (_, i) => i * 20);
    assert.deepEqual(Array.from(img.data), stored);
    assert.deepEqual(img.windows[0], { center: 127.5, width: 255, fn: 'LINEAR_EXACT' });
    assert.deepEqual(Array.from(toDisplayRaster(img).data), stored);
  });

  it('multi-page 16-bit TIFF gives frames; files read from disk name themselves', async () => {
    const page = await grey16('png');
    const tiff = await sharp([page, page], { join: { animated: true } }).toColourspace('grey16').tiff(lzw).toBuffer();
    const dir = mkdtempSync(join(tmpdir(), 'clipmed-raster-'));
    try {
      writeFileSync(join(dir, 'two.tif'), tiff);
      const img = await readRaster(join(dir, 'two.tif'));
      assert.equal(img.source, join(dir, 'two.tif'));
      assert.equal(img.frames, 2);
      assert.deepEqual(Array.from(img.data), [...GREY16, ...GREY16]);
      assert.deepEqual(Array.from(toDisplayRaster(img, 1).data), Array.from(GREY16, (x) => exact(x, 0, 65535)));
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('JPEG: a real chest X-ray decodes; a smooth image round-trips within JPEG error', async () => {
    const dir = join(DATA, 'pneumonia-cxr/test') + '/';
    const sub = readdirSync(dir, { withFileTypes: true }).find((d) => d.isDirectory());
    const folder = sub ? join(dir, sub.name) : dir;
    const name = readdirSync(folder).find((f) => f.endsWith('.jpeg') || f.endsWith('.jpg'));
    assert.ok(name, `no JPEG in ${folder}`);
    const xray = await readRaster(join(folder, name));
    assert.deepEqual([xray.rows, xray.columns, xray.meta.format], [224, 224, 'jpeg']);
    const smooth = Uint8Array.from({ length: 16 * 16 }, (_, i) => 40 + (i % 16) * 8);
    const jpg = await sharp(smooth, { raw: { width: 16, height: 16, channels: 1 } }).jpeg({ quality: 100 }).toBuffer();
    const img = await readRaster(jpg);
    const err = Math.max(...Array.from(img.data, (x, i) => Math.abs(x - smooth[Math.floor(i / img.samplesPerPixel)]!)));
    assert.ok(err <= 2, `max error ${err}`);
  });

  it('errors: not an image, truncated, too large, CMYK', async () => {
    const png = await grey16('png');
    assert.equal(looksLikeRaster(png), true);
    await assert.rejects(readRaster('/nonexistent/x.png'), (e: unknown) => e instanceof ConfigError && /^\/nonexistent\/x\.png: cannot read file/.test(e.message));
    await assert.rejects(readRaster(Uint8Array.from([1, 2, 3, 4]), { source: 'x.bin' }), (e: unknown) => e instanceof DecodeError && /^x\.bin: /.test(e.message));
    await assert.rejects(readRaster(png.subarray(0, 60), { source: 'cut.png' }), (e: unknown) => e instanceof DecodeError && /cut\.png/.test(e.message));
    await assert.rejects(readRaster(png, { source: 'big.png', maxPixels: 11 }), (e: unknown) => e instanceof LimitError && /maxPixels 11/.test(e.message));
    const cmyk = await sharp(Uint8Array.from({ length: 48 }, (_, i) => i * 5), { raw: { width: 4, height: 4, channels: 3 } }).toColourspace('cmyk').jpeg().toBuffer();
    await assert.rejects(readRaster(cmyk, { source: 'cmyk.jpg' }), (e: unknown) => e instanceof UnsupportedError && /cmyk/.test(e.message));
  });
});
