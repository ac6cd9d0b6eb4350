// clipmed eval on the pneumonia test split: metrics agree with the classify output, HTML report, bad manifests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rocAuc } from '../../src/index.ts';
import { cli } from '../helpers/cli.ts';
import { DATA, FIXTURES, isolateCache, tempDir } from '../helpers/reference.ts';

const cache = isolateCache();
const model = join(FIXTURES, 'tiny-gelu-safetensors');

const clipmed = cli({ CLIPMED_CACHE: cache });

test('eval: AUROC and accuracy agree with classify on the same images; the HTML report is self-contained', () => {
  const dir = tempDir();
  // a small manifest: 20 normal and 20 pneumonia test images
  const rows = readFileSync(join(DATA, 'pneumonia-cxr/manifest.csv'), 'utf8').trim().split('\n').slice(1).filter((r) => r.includes(',test,'));
  const pick = [...rows.filter((r) => r.includes(',normal,')).slice(0, 20), ...rows.filter((r) => r.includes(',pneumonia,')).slice(0, 20)];
  const manifest = join(dir, 'small.csv');
  writeFileSync(manifest, `image,split,label,subtype\n${pick.map((r) => join(DATA, 'pneumonia-cxr', r)).join('\n')}\n`);
  const html = join(dir, 'report.html');
  const e = clipmed('eval', '--model', model, '--manifest', manifest, '-T', 'a chest x-ray showing {}', '--resamples', '200', '--html', html, '--json');
  assert.equal(e.code, 0, e.stderr);
  const ev = JSON.parse(e.stdout);
  assert.equal(ev.n, 40);
  assert.deepEqual(ev.classes, ['normal', 'pneumonia']);
  const c = clipmed('classify', '--model', model, '--labels', 'normal,pneumonia', '-T', 'a chest x-ray showing {}', '--manifest', manifest, '--json');
  const results = JSON.parse(c.stdout).results as Array<{ scores: Record<string, number> }>;
  const truth = pick.map((r) => (r.includes(',pneumonia,') ? 1 : 0));
  const auc = rocAuc(results.map((r) => r.scores.pneumonia!), truth);
  assert.ok(Math.abs(ev.auroc.perClass[0].auroc - auc) < 1e-9);
  assert.ok(ev.auroc.perClass[0].lo <= auc && auc <= ev.auroc.perClass[0].hi);
  const acc = results.filter((r, i) => (r.scores.pneumonia! > r.scores.normal! ? 1 : 0) === truth[i]).length / 40;
  assert.ok(Math.abs(ev.metrics.accuracy - acc) < 1e-9);
  const page = readFileSync(html, 'utf8');
  assert.match(page, /<svg/);
  assert.doesNotMatch(page, /<script|<link|src=/);
});

test('eval: labels outside the class list, or a single class, are errors, not numbers', () => {
  const dir = tempDir();
  const xray = join(DATA, 'pneumonia-cxr/test/NORMAL/IM-0023-0001.jpeg');
  // two different images: one image under two labels is an error of its own (a manifest that contradicts itself)
  const xray2 = join(DATA, 'pneumonia-cxr/test/PNEUMONIA/person100_bacteria_475.jpeg');
  const m = join(dir, 'm.csv');
  writeFileSync(m, `image,label\n${xray},normal\n${xray2},fracture\n`);
  const r = clipmed('eval', '--model', model, '--manifest', m, '--labels', 'normal,pneumonia');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /\["fracture"\].*not among the classes/);
  const one = join(dir, 'one.csv');
  writeFileSync(one, `image,label\n${xray},normal\n${xray2},normal\n`);
  const o = clipmed('eval', '--model', model, '--manifest', one, '--labels', 'normal,pneumonia');
  assert.equal(o.code, 2);
  assert.match(o.stderr, /only class "normal"/);
});
