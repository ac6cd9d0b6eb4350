// clipmed classify SLIDE.svs: MI-Zero zero-shot classification of a generated pyramidal slide
// (test/fixtures/wsi/make_slide.py) with the fixture model; the tile grid and the pooled scores checked
// against a direct computation: the tissue fraction of every grid cell, and each tile embedded and scored here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { ClipModel, detectTissue, openSlideFile } from '../../src/index.ts';
import { cli } from '../helpers/cli.ts';
import { FIXTURES, isolateCache, tempDir } from '../helpers/reference.ts';

const cache = isolateCache();
const clipmed = cli({ CLIPMED_CACHE: cache });
const model = join(FIXTURES, 'tiny-quickgelu');
const SLIDE = new URL('../fixtures/wsi/slide.svs', import.meta.url).pathname;
const LABELS = ['tumor', 'normal tissue', 'background'];
const TEMPLATE = 'an H&E image of {}';

test('classify SLIDE.svs --json: tiles, per-tile logits and top-K pooled scores as computed directly', async () => {
  const heat = join(tempDir(), 'maps', 'heat.png');
  const r = clipmed('classify', '--model', model, '--labels', LABELS.join(','), '-T', TEMPLATE, SLIDE, '--magnification', '10', '--tile-size', '64', '--top-k', '4', '--heatmap', heat, '--json');
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(out.labels, LABELS);
  assert.deepEqual([out.grid.columns, out.grid.rows, out.grid.level, out.grid.readSize], [8, 6, 1, 64]);
  assert.equal(out.topK, 4);

  // the grid: every 128x128 level-0 cell whose tissue fraction on the mask is at least one half, row by row
  const slide = await openSlideFile(SLIDE);
  const mask = await detectTissue(slide);
  const expected: string[] = [];
  for (let row = 0; row < 6; row++) {
    for (let col = 0; col < 8; col++) {
      let on = 0;
      for (let y = row * 16; y < row * 16 + 16; y++) for (let x = col * 16; x < col * 16 + 16; x++) on += mask.mask[y * mask.width + x]!;
      if (on / 256 >= 0.5) expected.push(`${col},${row}`);
    }
  }
  assert.deepEqual(out.tiles.map((t: { col: number; row: number }) => `${t.col},${t.row}`), expected);

  // each tile: its level-1 region embedded here, scored against the prompt embeddings with the logit scale
  const m = await ClipModel.load(model, { threads: 1 });
  const txt = await m.embedTexts(LABELS.map((l) => TEMPLATE.replace('{}', l)), { normalize: true });
  const scale = m.meta.score.logitScale;
  const D = txt.dim;
  const logits: number[][] = [];
  for (const t of out.tiles) {
    const region = await slide.readRegion(1, t.x / 2, t.y / 2, 64, 64);
    const e = await m.embedRasters([region], { normalize: true });
    logits.push(LABELS.map((_, j) => scale * e.embeddings.reduce((s, v, k) => s + v * txt.embeddings[j * D + k]!, 0)));
  }
  await m.release();
  out.tiles.forEach((t: { logits: number[] }, i: number) => t.logits.forEach((v, j) => assert.ok(Math.abs(v - logits[i]![j]!) < 1e-3, `tile ${i} class ${j}: ${v} vs ${logits[i]![j]}`)));
  // pooling: the mean of the 4 highest tile logits per class, then softmax
  const pooled = LABELS.map((_, j) => logits.map((l) => l[j]!).sort((a, b) => b - a).slice(0, 4).reduce((s, v) => s + v, 0) / 4);
  const z = pooled.map((v) => Math.exp(v - Math.max(...pooled)));
  const sum = z.reduce((s, v) => s + v, 0);
  LABELS.forEach((l, j) => assert.ok(Math.abs(out.scores[l] - z[j]! / sum) < 1e-4, `${l}: ${out.scores[l]} vs ${z[j]! / sum}`));

  // the heatmap: written whole over the lowest level (128x96)
  assert.equal(out.heatmap, heat);
  assert.ok(existsSync(heat));
  const meta = await sharp(heat).metadata();
  assert.deepEqual([meta.width, meta.height], [128, 96]);
});

test('classify on a slide: one class, no tissue, or a magnification above the scan are typed errors', () => {
  const one = clipmed('classify', '--model', model, '--labels', 'tumor', SLIDE);
  assert.notEqual(one.code, 0);
  assert.match(one.stderr, /at least two classes/);
  const high = clipmed('classify', '--model', model, '--labels', 'a,b', SLIDE, '--magnification', '40');
  assert.notEqual(high.code, 0);
  assert.match(high.stderr, /above the slide's 20x/);
});

test('classify on a slide draws a progress bar over the tiles on a terminal (run under script(1) for a pty)', () => {
  const cmd = [process.execPath, new URL('../../bin/clipmed.js', import.meta.url).pathname, 'classify', '--model', model, '--labels', 'a,b', SLIDE, '--magnification', '10', '--tile-size', '64'].map((a) => `'${a}'`).join(' ');
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', env: { ...process.env, CLIPMED_CACHE: cache } });
  assert.equal(r.status, 0, r.stdout);
  assert.match(r.stdout, /embedding tiles \[█+\] 14\/14/);
});

test('classify on a DICOM whole-slide image (a folder of VOLUME instances) gives the tiles and scores of the same slide as SVS', () => {
  const args = ['--model', model, '--labels', LABELS.join(','), '-T', TEMPLATE, '--magnification', '10', '--tile-size', '64', '--json'];
  const svs = JSON.parse(clipmed('classify', SLIDE, ...args).stdout);
  const r = clipmed('classify', new URL('../fixtures/wsi/dicom-wsi', import.meta.url).pathname, ...args);
  assert.equal(r.code, 0, r.stderr);
  const dcm = JSON.parse(r.stdout);
  assert.equal(dcm.slide.format, 'dicom-wsi');
  assert.deepEqual(dcm.tiles.map((t: { col: number; row: number }) => [t.col, t.row]), svs.tiles.map((t: { col: number; row: number }) => [t.col, t.row]));
  for (const l of LABELS) assert.ok(Math.abs(dcm.scores[l] - svs.scores[l]) < 1e-3, `${l}: ${dcm.scores[l]} vs ${svs.scores[l]}`);
});
