import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, ShapeError } from '../../src/errors.ts';
import { CXR_DESCRIPTORS, explainZeroShot, getCxrDescriptors, xplainerPrompts } from '../../src/tasks/xplainer.ts';

test('prompts follow Xplainer’s positive/negative wording', () => {
  const p = xplainerPrompts('pneumonia', ['air bronchograms']);
  assert.deepEqual(p, [{ descriptor: 'air bronchograms', positive: 'There are air bronchograms indicating pneumonia', negative: 'There are no air bronchograms indicating pneumonia' }]);
  assert.deepEqual(Object.keys(CXR_DESCRIPTORS).sort(), ['cardiomegaly', 'edema', 'pleural effusion', 'pneumonia', 'pneumothorax']);
  assert.throws(() => getCxrDescriptors('fracture'), ConfigError);
  assert.throws(() => xplainerPrompts('x', []), ConfigError);
});

test('diagnosis probability is the geometric mean of descriptor probabilities; contributions ranked', () => {
  const img = [1, 0, 0];
  const res = explainZeroShot(img, [{
    disease: 'edema',
    descriptors: ['a', 'b'],
    positive: [[1, 0, 0], [0, 1, 0]],
    negative: [[0, 1, 0], [1, 0, 0]],
  }], 2);
  const pa = 1 / (1 + Math.exp(-2)); // softmax([2, 0])[0]
  const pb = 1 / (1 + Math.exp(2));
  assert.ok(Math.abs(res[0]!.probability - Math.sqrt(pa * pb)) < 1e-6);
  assert.deepEqual(res[0]!.descriptors.map((d) => d.descriptor), ['a', 'b']);
  assert.ok(Math.abs(res[0]!.descriptors[0]!.probability - pa) < 1e-6);
});

test('explanations refuse mismatched shapes and NaN', () => {
  const ok = { disease: 'x', descriptors: ['a'], positive: [[1, 0]], negative: [[0, 1]] };
  assert.throws(() => explainZeroShot([1, 0, 0], [ok], 1), ShapeError);
  assert.throws(() => explainZeroShot([1, NaN], [ok], 1), ShapeError);
  assert.throws(() => explainZeroShot([1, 0], [{ ...ok, descriptors: ['a', 'b'] }], 1), ShapeError);
  assert.throws(() => explainZeroShot([1, 0], [ok], 0), ConfigError);
});
