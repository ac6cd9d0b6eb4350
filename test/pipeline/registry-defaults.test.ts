// The registry drives behaviour: a registered model's scoring rule and template set are the defaults of the
// zero-shot pipeline (and so of every command built on it); explicit options override them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCheckpoint } from '../../src/node/checkpoint-files.ts';
import { ClipModel } from '../../src/node/clip-model.ts';
import { getSpec } from '../../src/models/pretrained.ts';
import { buildClassifier, registryDefaults, scoringFor, scoringForClassifier } from '../../src/pipeline/zero-shot.ts';
import { FIXTURES, isolateCache, tempDir } from '../helpers/reference.ts';
import { torchSave } from '../helpers/torch-writer.ts';

isolateCache();
const overrides = { visionHeadWidth: 32, textHeadWidth: 16 };

/** The tiny fixture's weights saved as a bare OpenAI-format state dict under CheXzero's published file name. */
async function chexzeroNamedCheckpoint(): Promise<string> {
  const sd = await readCheckpoint(join(FIXTURES, 'tiny-quickgelu/open_clip_pytorch_model.bin'));
  const file = join(tempDir(), getSpec('chexzero').source.files[0]!);
  writeFileSync(file, torchSave(new Map([...sd].filter(([, t]) => t.data instanceof Float32Array))));
  return file;
}

test('registry defaults: CheXzero\'s file brings positive/negative pairs, its templates and its protocol', async () => {
  const model = await ClipModel.load(await chexzeroNamedCheckpoint(), { threads: 1, overrides });
  assert.equal(model.pretrained?.scoring, 'positive-negative-pair');
  assert.deepEqual(registryDefaults(model), { multilabel: true, templateSet: 'chexzero' });
  // one label is enough for pairs; the classifier has its negative side
  const c = await buildClassifier(model, { labels: ['pneumonia', 'effusion'] });
  assert.ok(c.negativeWeights);
  assert.equal(scoringFor(model, false).kind, 'pos-neg');
  assert.deepEqual(scoringForClassifier(model, c), { kind: 'pos-neg', logitScale: 1 });
  const explicit = await buildClassifier(model, { labels: ['pneumonia', 'effusion'], multilabel: true, templateSet: 'chexzero' });
  assert.deepEqual(Array.from(c.weights.data), Array.from(explicit.weights.data));
  // flags override: softmax over the labels with another template set
  const soft = await buildClassifier(model, { labels: ['pneumonia', 'effusion'], multilabel: false, templateSet: 'clip-medical' });
  assert.equal(soft.negativeWeights, undefined);
  assert.equal(scoringForClassifier(model, soft).kind, 'softmax');
  assert.notDeepEqual(Array.from(soft.weights.data), Array.from(c.weights.data));
  // the authors' preprocessing protocol came with the entry: 224 px images, which this 64 px tiny model refuses
  await assert.rejects(() => model.embedRasters([{ width: 8, height: 8, channels: 3, data: new Uint8Array(192) } as any]), /protocol 'chexzero' makes 224x224 images/);
  await model.release();
});

test('registry defaults: a model outside the registry keeps its own scoring and the generic templates', async () => {
  const model = await ClipModel.load(join(FIXTURES, 'tiny-quickgelu'), { threads: 1 });
  assert.equal(model.pretrained, undefined);
  assert.deepEqual(registryDefaults(model), {});
  const c = await buildClassifier(model, { labels: ['normal', 'pneumonia'] });
  assert.equal(c.negativeWeights, undefined);
  assert.equal(scoringFor(model, false).kind, 'softmax');
  const generic = await buildClassifier(model, { labels: ['normal', 'pneumonia'], templateSet: 'clip-medical' });
  assert.deepEqual(Array.from(c.weights.data), Array.from(generic.weights.data));
  await model.release();
});
