import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ConfigError, ShapeError } from '../../src/errors.ts';
import { fromFlat } from '../../src/tasks/matrix.ts';
import { buildZeroShotClassifier, classifyZeroShot, predictLabels } from '../../src/tasks/zero-shot.ts';
import { buildPrompts, fillTemplate, getLabelSet, getTemplateSet, listTemplateSets } from '../../src/tasks/templates.ts';

const ref = JSON.parse(readFileSync(new URL('../fixtures/tasks/reference.json', import.meta.url), 'utf8')).zero_shot;
// open_clip's own outputs for the tiny test model, in the shared read-only folder beside the checkout
const openClip = JSON.parse(readFileSync(new URL('../../../shared/fixtures/open_clip/tiny-quickgelu/reference.json', import.meta.url), 'utf8'));

test('softmax logits reproduce open_clip logits_per_image within 1e-4', () => {
  const clf = buildZeroShotClassifier(openClip.texts, openClip.text_features.map((t: number[]) => [t]));
  const r = classifyZeroShot(openClip.image_features, clf, { kind: 'softmax', logitScale: openClip.logit_scale });
  assert.equal(r.logits.rows, 3);
  assert.equal(r.logits.cols, 4);
  // the runtime's flat [n, dim] buffers work too
  const flat = classifyZeroShot(fromFlat(Float32Array.from(openClip.image_features.flat()), 32), clf, { kind: 'softmax', logitScale: openClip.logit_scale });
  assert.deepEqual(flat.logits.data, r.logits.data);
  assert.throws(() => fromFlat(new Float32Array(33), 32), ShapeError);
  let worst = 0;
  openClip.logits_per_image.forEach((row: number[], i: number) => row.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - r.logits.data[i * 4 + j]!)))));
  assert.ok(worst < 1e-4, `max |logit - open_clip| = ${worst}`);
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(r.probs.data.subarray(i * 4, i * 4 + 4).reduce((a, b) => a + b, 0) - 1) < 1e-6);
});

test('template ensembling matches the PyTorch build_zero_shot_classifier math', () => {
  const clf = buildZeroShotClassifier(['a', 'b', 'c'], ref.class_embeddings);
  const d = clf.weights.rows;
  ref.weights.forEach((row: number[], i: number) => row.forEach((v, j) => assert.ok(Math.abs(v - clf.weights.data[i * 3 + j]!) < 1e-6)));
  assert.equal(d, 8);
  const r = classifyZeroShot(ref.images, clf, { kind: 'softmax', logitScale: ref.logit_scale });
  ref.logits.forEach((row: number[], i: number) => row.forEach((v, j) => assert.ok(Math.abs(v - r.logits.data[i * 3 + j]!) < 1e-4)));
  ref.probs.forEach((row: number[], i: number) => row.forEach((v, j) => assert.ok(Math.abs(v - r.probs.data[i * 3 + j]!) < 1e-5)));
});

test('sigmoid (SigLIP) and CheXzero positive/negative scoring', () => {
  const clf = buildZeroShotClassifier(['edema', 'effusion'], [[[1, 0, 0]], [[0, 1, 0]]], [[[0, 0, 1]], [[0.6, 0, 0.8]]]);
  const img = [[3, 0, 4]]; // unit: [0.6, 0, 0.8]
  const sig = classifyZeroShot(img, clf, { kind: 'sigmoid', logitScale: 10, logitBias: -5 });
  assert.ok(Math.abs(sig.logits.data[0]! - 1) < 1e-5); // 10 * 0.6 - 5
  assert.ok(Math.abs(sig.probs.data[0]! - 1 / (1 + Math.exp(-1))) < 1e-6);
  const pn = classifyZeroShot(img, clf, { kind: 'pos-neg', logitScale: 1 });
  // edema: softmax([0.6, 0.8])[0]; effusion: softmax([0, 1.0])[0]
  assert.ok(Math.abs(pn.probs.data[0]! - Math.exp(0.6) / (Math.exp(0.6) + Math.exp(0.8))) < 1e-6);
  assert.ok(Math.abs(pn.probs.data[1]! - 1 / (1 + Math.exp(1))) < 1e-6);
  assert.deepEqual(predictLabels({ labels: clf.labels, probs: pn.probs }, 0.4), [['edema']]);
  const noNeg = buildZeroShotClassifier(['x'], [[[1, 0, 0]]]);
  assert.throws(() => classifyZeroShot(img, noNeg, { kind: 'pos-neg', logitScale: 1 }), ConfigError);
});

test('zero-shot refuses mismatched shapes, NaN and bad scoring', () => {
  const clf = buildZeroShotClassifier(['a'], [[[1, 0]]]);
  assert.throws(() => classifyZeroShot([[1, 0, 0]], clf, { kind: 'softmax', logitScale: 1 }), ShapeError);
  assert.throws(() => classifyZeroShot([[1, NaN]], clf, { kind: 'softmax', logitScale: 1 }), ShapeError);
  assert.throws(() => classifyZeroShot([[1, 0]], clf, { kind: 'softmax', logitScale: -1 }), ConfigError);
  assert.throws(() => buildZeroShotClassifier(['a', 'b'], [[[1, 0]]]), ShapeError);
  assert.throws(() => buildZeroShotClassifier(['a', 'b'], [[[1, 0]], [[1, 0, 0]]]), ShapeError);
  assert.throws(() => buildZeroShotClassifier(['a'], [[[0, 0]]]), ShapeError);
});

test('templates and label sets are data with sources', () => {
  for (const name of listTemplateSets()) {
    const t = getTemplateSet(name);
    assert.ok(t.source.length > 10);
    for (const tpl of [...t.templates, ...(t.negativeTemplates ?? [])]) assert.equal(tpl.split('{}').length, 2, tpl);
  }
  assert.equal(getTemplateSet('conch').templates.length, 22);
  assert.deepEqual(buildPrompts(['edema'], getTemplateSet('chexzero')), { positive: [['edema']], negative: [['no edema']] });
  assert.equal(fillTemplate('this is a photo of {}', 'a tumor'), 'this is a photo of a tumor');
  assert.equal(getLabelSet('chexpert-5').length, 5);
  assert.throws(() => getLabelSet('chexpert-6'), ConfigError);
  assert.throws(() => getTemplateSet('dall-e'), ConfigError);
  assert.throws(() => fillTemplate('no placeholder', 'x'), ConfigError);
});
