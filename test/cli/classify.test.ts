// clipmed classify and probe as a user runs them, on a fixture model and the pediatric chest X-rays.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClipModel } from '../../src/index.ts';
import { cli } from '../helpers/cli.ts';
import { DATA, FIXTURES, isolateCache, tempDir } from '../helpers/reference.ts';

const cache = isolateCache();
const model = join(FIXTURES, 'tiny-quickgelu');
const xray = join(DATA, 'pneumonia-cxr/test/NORMAL/IM-0023-0001.jpeg');
const xray2 = join(DATA, 'pneumonia-cxr/test/PNEUMONIA/person100_bacteria_475.jpeg');

const clipmed = cli({ CLIPMED_CACHE: cache });

function cos(a: Float32Array, b: Float32Array) {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

test('classify --json: softmax over labels with the model logit scale, as open_clip computes it', async () => {
  const r = clipmed('classify', '--model', model, '--labels', 'normal,pneumonia', '-T', 'a chest x-ray showing {}', xray, xray2, '--json');
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(out.labels, ['normal', 'pneumonia']);
  assert.equal(out.results.length, 2);
  // independent check through the library: one template, so the class vector is the prompt embedding
  const m = await ClipModel.load(model, { threads: 1 });
  const img = await m.embedImageFiles([xray], { normalize: true });
  const txt = await m.embedTexts(['a chest x-ray showing normal', 'a chest x-ray showing pneumonia'], { normalize: true });
  const scale = m.meta.score.logitScale;
  const z = [0, 1].map((j) => scale * cos(img.embeddings, txt.embeddings.subarray(j * 32, (j + 1) * 32)));
  const p0 = 1 / (1 + Math.exp(z[1]! - z[0]!));
  assert.ok(Math.abs(out.results[0].scores.normal - p0) < 1e-5, `${out.results[0].scores.normal} vs ${p0}`);
  assert.ok(Math.abs(out.results[0].scores.normal + out.results[0].scores.pneumonia - 1) < 1e-6);
  await m.release();
});

test('classify --multilabel scores each label on its own (CheXzero pairs); --csv has a column per label', () => {
  const r = clipmed('classify', '--model', model, '--label-set', 'chexpert-5', '--multilabel', xray, '--csv');
  assert.equal(r.code, 0, r.stderr);
  const [header, row] = r.stdout.trim().split('\n');
  assert.equal(header, 'input,Atelectasis,Cardiomegaly,Consolidation,Edema,Pleural Effusion');
  const ps = row!.split(',').slice(1).map(Number);
  assert.equal(ps.length, 5);
  assert.ok(ps.every((p) => p > 0 && p < 1));
  assert.notEqual(ps.reduce((a, b) => a + b, 0).toFixed(3), '1.000'); // independent, not a softmax over labels
});

test('classify: bad labels and bad inputs are clear errors or reported skips', () => {
  const one = clipmed('classify', '--model', model, '--labels', 'pneumonia', xray);
  assert.equal(one.code, 2);
  assert.match(one.stderr, /ConfigError: labels: expected at least two labels/);
  const unknown = clipmed('classify', '--model', model, '--label-set', 'nope', xray);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /nope/);
  const dir = tempDir();
  const manifest = join(dir, 'm.csv');
  writeFileSync(manifest, `image,label\n${xray},normal\nmissing.jpeg,pneumonia\n`);
  const r = clipmed('classify', '--model', model, '--labels', 'normal,pneumonia', '--manifest', manifest, '--json');
  assert.equal(r.code, 1);
  const out = JSON.parse(r.stdout);
  assert.equal(out.results.length, 1);
  assert.match(out.failures[0].input, /missing\.jpeg$/);
});

test('probe: a linear probe on the pneumonia train split beats the majority class on the test split, and classify reuses it', () => {
  const dir = tempDir();
  const saved = join(dir, 'probe.json');
  const r = clipmed('probe', '--model', join(FIXTURES, 'tiny-gelu-safetensors'), '--manifest', join(DATA, 'pneumonia-cxr/manifest.csv'),
    '--shots', '150', '--test-split', 'test', '-o', saved, '--json');
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  assert.equal(s.test.images, 624);
  // chance here: always answering the majority class (pneumonia, 390 of 624) gets 0.625; a balanced guess 0.5
  assert.ok(s.test.accuracy > s.test.majorityClassAccuracy + 0.05, `accuracy ${s.test.accuracy} vs majority ${s.test.majorityClassAccuracy}`);
  assert.ok(s.test.balancedAccuracy > 0.6, `balanced accuracy ${s.test.balancedAccuracy}`);
  const c = clipmed('classify', '--model', join(FIXTURES, 'tiny-gelu-safetensors'), '--probe', saved, xray, '--json');
  assert.equal(c.code, 0, c.stderr);
  const scores = JSON.parse(c.stdout).results[0].scores;
  assert.deepEqual(Object.keys(scores), ['normal', 'pneumonia']);
});

test('classify --conformal: split-conformal sets calibrated on labelled images reach their coverage', () => {
  const dir = tempDir();
  const rows = readFileSync(join(DATA, 'pneumonia-cxr/manifest.csv'), 'utf8').trim().split('\n').slice(1);
  // every 13th training image for calibration, every 3rd test image to check: 400 and 208 images
  const cal = rows.filter((r) => r.includes(',train,')).filter((_, i) => i % 13 === 0);
  const tst = rows.filter((r) => r.includes(',test,')).filter((_, i) => i % 3 === 0);
  const write = (name: string, rs: string[]) => {
    writeFileSync(join(dir, name), `image,split,label,subtype\n${rs.map((r) => join(DATA, 'pneumonia-cxr', r)).join('\n')}\n`);
    return join(dir, name);
  };
  const label = new Map(tst.map((r) => [join(DATA, 'pneumonia-cxr', r.split(',')[0]!), r.split(',')[2]!]));
  const r = clipmed('classify', '--model', model, '--labels', 'normal,pneumonia', '--manifest', write('test.csv', tst), '--conformal', write('cal.csv', cal), '--alpha', '0.2', '--json');
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.conformal.n, cal.length);
  const results = out.results as Array<{ input: string; set: string[] }>;
  const coverage = results.filter((x) => x.set.includes(label.get(x.input)!)).length / results.length;
  // nominal 0.8; the calibration and test images come from different splits, so allow sampling error (~3 sd)
  assert.ok(coverage >= 0.8 - 0.09, `coverage ${coverage}`);
  const multilabel = clipmed('classify', '--model', model, '--labels', 'normal,pneumonia', '--multilabel', xray, '--conformal', write('c2.csv', cal));
  assert.equal(multilabel.code, 2);
  assert.match(multilabel.stderr, /--conformal needs one label per image/);
});
