// clipmed explain (Xplainer): diagnosis = geometric mean of descriptor probabilities; unknown diseases refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { cli } from '../helpers/cli.ts';
import { DATA, FIXTURES, tempDir } from '../helpers/reference.ts';

const cache = tempDir('clipmed-cache-');
const run = cli({ CLIPMED_CACHE: cache });
const xray = join(DATA, 'pneumonia-cxr/test/PNEUMONIA/person100_bacteria_475.jpeg');

test('explain: each diagnosis is the geometric mean of its descriptors, which come most probable first', () => {
  const r = run('explain', xray, '--model', join(FIXTURES, 'tiny-quickgelu'), '-d', 'pneumonia,pleural effusion', '--json');
  assert.equal(r.code, 0, r.stderr);
  const d = JSON.parse(r.stdout).results[0].diagnoses as Array<{ disease: string; probability: number; descriptors: Array<{ probability: number }> }>;
  assert.deepEqual(d.map((x) => x.disease).sort(), ['pleural effusion', 'pneumonia']);
  for (const x of d) {
    const geo = Math.exp(x.descriptors.reduce((s, v) => s + Math.log(v.probability), 0) / x.descriptors.length);
    assert.ok(Math.abs(geo - x.probability) < 1e-9);
    for (let i = 1; i < x.descriptors.length; i++) assert.ok(x.descriptors[i - 1]!.probability >= x.descriptors[i]!.probability);
  }
});

test('explain: a disease without descriptors is a clear error', () => {
  const r = run('explain', xray, '--model', join(FIXTURES, 'tiny-quickgelu'), '-d', 'fracture');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /disease 'fracture': no descriptor set/);
});
