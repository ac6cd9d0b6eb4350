// Whole-slide images: levels and regions of a generated pyramidal slide (test/fixtures/wsi/make_slide.py) as
// Aperio SVS and tiled TIFF, equal to the bit to libvips' and OpenSlide's own reads; tissue, tiles, MI-Zero pooling.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { detectTissue, openSlideFile, otsuThreshold, poolTopK, readGridTile, slideHeatmap, tileGrid } from '../../src/index.ts';

const FIX = new URL('../fixtures/wsi/', import.meta.url).pathname;
// the same regions as make_slide.py's REGIONS: [x, y, width, height] per level, across tile boundaries
const REGIONS = [[200, 200, 96, 96], [100, 100, 64, 64], [100, 60, 48, 48], [30, 20, 64, 40]] as const;

test('slide levels, magnification and regions equal libvips (TIFF) and OpenSlide (SVS) reads', async () => {
  for (const [ext, format] of [['svs', 'aperio-svs'], ['tif', 'tiled-tiff']] as const) {
    const slide = await openSlideFile(`${FIX}slide.${ext}`);
    assert.equal(slide.format, format);
    assert.deepEqual(slide.levels.map((l) => [l.width, l.height, l.tileWidth, l.downsample]), [[1024, 768, 128, 1], [512, 384, 128, 2], [256, 192, 128, 4], [128, 96, 128, 8]]);
    assert.equal(slide.mpp, 0.5); // Aperio's MPP field; the TIFF's 20000 pixels per cm
    assert.equal(slide.magnification, 20);
    for (const [level, [x, y, w, h]] of REGIONS.entries()) {
      const got = await slide.readRegion(level, x, y, w, h);
      const ref = await sharp(`${FIX}ref-${ext}-${level}.png`).raw().toBuffer();
      assert.equal(got.data.length, ref.length);
      // equal to the bit: the same integer inverse DCT, upsampling and colour conversion as libjpeg
      assert.ok(Buffer.from(got.data).equals(ref), `${ext} level ${level} differs from libvips' read`);
    }
  }
});

test("Otsu's threshold maximises the between-class variance; tissue lies in the blobs, glass around them", async () => {
  const hist = Array.from({ length: 256 }, (_, i) => (i < 100 ? Math.exp(-((i - 60) ** 2) / 200) : Math.exp(-((i - 200) ** 2) / 50) * 3));
  const between = (t: number) => {
    const w0 = hist.slice(0, t + 1).reduce((s, v) => s + v, 0);
    const w1 = hist.slice(t + 1).reduce((s, v) => s + v, 0);
    const m0 = hist.slice(0, t + 1).reduce((s, v, i) => s + v * i, 0) / w0;
    const m1 = hist.slice(t + 1).reduce((s, v, i) => s + v * (i + t + 1), 0) / w1;
    return w0 * w1 * (m0 - m1) ** 2;
  };
  const t = otsuThreshold(hist);
  for (let u = 1; u < 255; u++) assert.ok(between(t) >= between(u) * (1 - 1e-9), `threshold ${t} vs ${u}`);
  const slide = await openSlideFile(`${FIX}slide.svs`);
  const mask = await detectTissue(slide);
  assert.equal(mask.level, 3);
  const at = (x: number, y: number) => mask.mask[Math.floor(y / 8) * mask.width + Math.floor(x / 8)];
  assert.equal(at(260, 250), 1); // the centre of the first blob (level-0 coordinates)
  assert.equal(at(700, 470), 1);
  assert.equal(at(10, 750), 0); // a corner of glass
});

test('tiles at a magnification: the level read, the grid and the tissue filter', async () => {
  const slide = await openSlideFile(`${FIX}slide.svs`);
  const g10 = await tileGrid(slide, { magnification: 10, tileSize: 64 });
  assert.deepEqual([g10.columns, g10.rows, g10.level, g10.readSize, g10.downsample], [8, 6, 1, 64, 2]);
  assert.ok(g10.tiles.length > 5 && g10.tiles.length < 48, String(g10.tiles.length));
  assert.ok(g10.tiles.every((t) => t.tissue >= 0.5 && t.size === 128));
  // the tile's pixels are the level's region
  const t = g10.tiles[0]!;
  const tile = await readGridTile(slide, g10, t);
  const region = await slide.readRegion(1, t.x / 2, t.y / 2, 64, 64);
  assert.deepEqual(tile.data, region.data);
  // 7x lies between levels: read from level 1 (10x) and resized
  const g7 = await tileGrid(slide, { magnification: 7, tileSize: 64, minTissue: 0 });
  assert.deepEqual([g7.level, g7.readSize], [1, 91]);
  assert.equal(g7.tiles.length, g7.columns * g7.rows);
  assert.equal((await readGridTile(slide, g7, g7.tiles[0]!)).width, 64);
  await assert.rejects(tileGrid(slide, { magnification: 40 }), /above the slide's 20x/);
});

test('MI-Zero pooling: the mean of the top K tile logits per class, then the model scoring', () => {
  const logits = { rows: 4, cols: 2, data: Float32Array.of(1, 0, 3, 0, 2, 5, 0, 1) };
  const s = poolTopK(logits, 2, { kind: 'softmax', logitScale: 1 });
  assert.deepEqual(Array.from(s.pooled), [2.5, 3]);
  const e = [Math.exp(2.5), Math.exp(3)];
  assert.ok(Math.abs(s.probs[0]! - e[0]! / (e[0]! + e[1]!)) < 1e-6);
  assert.equal(poolTopK(logits, 10, { kind: 'softmax', logitScale: 1 }).k, 4);
  assert.throws(() => poolTopK(logits, 0, { kind: 'softmax', logitScale: 1 }), /top-K/);
});

test('the heatmap paints each tile over the thumbnail and leaves the rest', async () => {
  const slide = await openSlideFile(`${FIX}slide.svs`);
  const grid = await tileGrid(slide, { magnification: 10, tileSize: 64 });
  const thumb = await slide.readLevel(3);
  const map = slideHeatmap(thumb, 8, grid, grid.tiles.map(() => 1), 1);
  const t = grid.tiles[0]!;
  const p = ((t.y / 8 + 2) * thumb.width + t.x / 8 + 2) * 3;
  assert.deepEqual(Array.from(map.data.subarray(p, p + 3)), [128, 0, 0]); // value 1: the dark red end of the ramp
  assert.deepEqual(map.data.subarray(0, 3), thumb.data.subarray(0, 3)); // the glass corner is no tile
});

test("a DICOM whole-slide image made of the TIFF's own JPEG tiles reads as the same pyramid", async () => {
  const dicom = await openSlideFile(`${FIX}dicom-wsi`);
  const tiff = await openSlideFile(`${FIX}slide.tif`);
  assert.equal(dicom.format, 'dicom-wsi');
  assert.deepEqual(dicom.levels.map((l) => [l.width, l.height, l.tileWidth, l.downsample]), [[1024, 768, 128, 1], [512, 384, 128, 2], [256, 192, 128, 4]]);
  assert.equal(dicom.mpp, 0.5);
  assert.equal(dicom.magnification, 20);
  for (let level = 0; level < 3; level++) {
    const a = await dicom.readLevel(level);
    const b = await tiff.readLevel(level);
    // the same JPEG samples; YBR_FULL_422 goes to RGB by PS3.3's formula (as pydicom), the TIFF's YCbCr by
    // libjpeg's fixed-point tables: at most one level apart, on a handful of samples
    let worst = 0;
    let off = 0;
    for (let i = 0; i < a.data.length; i++) {
      const d = Math.abs(a.data[i]! - b.data[i]!);
      worst = Math.max(worst, d);
      if (d) off++;
    }
    assert.ok(worst <= 1 && off < a.data.length / 1000, `level ${level}: worst ${worst}, ${off} samples differ`);
  }
});
