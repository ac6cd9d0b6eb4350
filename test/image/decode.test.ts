import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { decodeImageFile } from '../../src/node/image-decode.ts';
import { ConfigError, DecodeError } from '../../src/errors.ts';
import { DATA } from '../helpers/reference.ts';

const dir = mkdtempSync(join(tmpdir(), 'clipmed-decode-'));
const W = 5;
const H = 3;
const rgba = Uint8Array.from({ length: W * H * 4 }, (_, i) => (i * 29 + 3) % 256);

async function write(name: string, img: Sharp): Promise<string> {
  const path = join(dir, name);
  writeFileSync(path, await img.toBuffer());
  return path;
}

test('grey JPEG stays one channel; colour JPEG is RGB', async () => {
  const grey = await decodeImageFile(join(DATA, 'covid-cxr-notes/images/4e43e48d52c9e2d4c6c1fb9bc1544f_jumbo.jpg'));
  assert.deepEqual([grey.width, grey.height, grey.channels, grey.data.length], [510, 512, 1, 510 * 512]);
  const colour = await decodeImageFile(join(DATA, 'covid-cxr-notes/images/000001-12.jpg'));
  assert.deepEqual([colour.width, colour.height, colour.channels], [373, 361, 3]);
});

test('RGBA PNG: alpha is dropped, not composited (PIL convert("RGB"))', async () => {
  const path = await write('rgba.png', sharp(rgba, { raw: { width: W, height: H, channels: 4 } }).png());
  const r = await decodeImageFile(path);
  assert.equal(r.channels, 3);
  const expected = new Uint8Array(W * H * 3);
  for (let i = 0; i < W * H; i++) expected.set(rgba.subarray(4 * i, 4 * i + 3), 3 * i);
  assert.deepEqual(r.data, expected);
});

test('grey + alpha PNG becomes one grey channel', async () => {
  const ga = Uint8Array.from({ length: W * H * 2 }, (_, i) => (i % 2 ? 10 : i * 7));
  const path = await write('ga.png', sharp(ga, { raw: { width: W, height: H, channels: 2 } }).toColourspace('b-w').png());
  const r = await decodeImageFile(path);
  assert.equal(r.channels, 1);
  assert.deepEqual([...r.data], Array.from({ length: W * H }, (_, i) => i * 14));
});

test('palette PNG is expanded to its colours', async () => {
  const colours = [[255, 0, 0], [0, 128, 255], [10, 20, 30]];
  const rgb = new Uint8Array(W * H * 3);
  for (let i = 0; i < W * H; i++) rgb.set(colours[i % 3]!, 3 * i);
  const path = await write('palette.png', sharp(rgb, { raw: { width: W, height: H, channels: 3 } }).png({ palette: true, colours: 4, dither: 0 }));
  const meta = await sharp(path).metadata();
  assert.equal(meta.isPalette, true);
  const r = await decodeImageFile(path);
  assert.equal(r.channels, 3);
  assert.deepEqual(r.data, rgb);
});

test('EXIF orientation is not applied, as PIL Image.open does not', async () => {
  const rgb = Uint8Array.from({ length: 8 * 2 * 3 }, (_, i) => i % 256);
  const path = await write('rot.jpg', sharp(rgb, { raw: { width: 8, height: 2, channels: 3 } }).jpeg().withMetadata({ orientation: 6 }));
  assert.equal((await sharp(path).metadata()).orientation, 6);
  const r = await decodeImageFile(path);
  assert.deepEqual([r.width, r.height], [8, 2]);
});

test('16-bit files ask for windowing; broken or missing files are DecodeErrors naming the file', async () => {
  const u16 = new Uint16Array(W * H).map((_, i) => i * 4000);
  const path16 = await write('grey16.png', sharp(u16, { raw: { width: W, height: H, channels: 1 } }).toColourspace('grey16').png());
  await assert.rejects(decodeImageFile(path16), (e: unknown) => e instanceof ConfigError && /window/.test(e.message) && e.file === path16);
  const junk = join(dir, 'junk.png');
  writeFileSync(junk, 'not an image');
  await assert.rejects(decodeImageFile(junk), (e: unknown) => e instanceof DecodeError && e.message.includes(junk));
  await assert.rejects(decodeImageFile(join(dir, 'missing.png')), DecodeError);
});
