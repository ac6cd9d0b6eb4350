// The pretrained registry is data: every entry names a family, a template set that exists, a source and a
// scoring rule consistent with its family.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/errors.ts';
import { FAMILIES } from '../../src/models/families.ts';
import { getSpec, listModels, PRETRAINED } from '../../src/models/pretrained.ts';
import { getTemplateSet } from '../../src/tasks/templates.ts';

const EXPECTED = ['biomedclip', 'pubmedclip', 'plip', 'chexzero', 'quiltnet-b-32', 'quiltnet-b-16', 'quiltnet-b-16-pmb', 'unimed-clip-b-16', 'medsiglip-448', 'conch', 'pubmedclip-rn50', 'pubmedclip-rn50x4', 'biovil', 'biovil-t', 'medclip-vit', 'medclip-resnet', 'gloria-resnet50'];

test('pretrained: the registry lists the seventeen models in order', () => {
  assert.deepEqual(listModels(), EXPECTED);
});

test('pretrained: every entry is consistent (family built or marked unsupported, templates exist, scoring fits)', () => {
  const built = new Set(FAMILIES.map((f) => f.name));
  for (const name of listModels()) {
    const s = getSpec(name);
    assert.equal(s.supported, built.has(s.family), `${name}: supported must say whether family '${s.family}' is registered`);
    const set = getTemplateSet(s.templates);
    assert.ok(set.templates.length > 0 || Object.keys(set.classPrompts ?? {}).length > 0, name); // MedCLIP's set is prompts per class
    assert.equal(s.scoring === 'sigmoid', s.family === 'siglip', `${name}: sigmoid scoring goes with SigLIP`);
    assert.ok(s.sizeMB > 0 && s.license.length > 0 && s.paper.length > 0, name);
    if (s.source.kind === 'hub') assert.match(s.source.repo, /^[\w.-]+\/[\w.-]+$/, name);
    else assert.match(s.source.url, /^https:\/\//, name);
    assert.ok(s.source.files.length > 0, name);
    if (s.unverified) assert.ok(s.note, `${name}: an unverified entry says which facts in its note`);
  }
});

test('pretrained: CheXzero is a manual download with its published preprocessing and pair scoring', () => {
  const s = getSpec('chexzero');
  assert.equal(s.source.kind, 'manual');
  assert.equal(s.scoring, 'positive-negative-pair');
  assert.ok(getTemplateSet(s.templates).negativeTemplates);
  const steps = s.preprocess!.steps;
  // CheXzero resizes the RGB image, then pasting it onto an 'L' canvas makes it grey
  assert.deepEqual(steps.map((x) => x.op), ['resize', 'grayscale', 'pad', 'repeat-channels', 'normalize', 'resize']);
  assert.deepEqual(steps[4], { op: 'normalize', mean: 101.48761, std: 83.43944, scale: '0-255' });
  assert.equal(steps[0]!.op === 'resize' && steps[0]!.size, 320);
  assert.equal(steps[5]!.op === 'resize' && steps[5]!.interpolation, 'bicubic');
});

test('pretrained: the custom-text models and gating', () => {
  assert.equal(PRETRAINED.biomedclip.source.repo, 'microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224');
  assert.ok((PRETRAINED.biomedclip.source.files as readonly string[]).includes('vocab.txt'));
  for (const n of ['biomedclip', 'quiltnet-b-16-pmb', 'unimed-clip-b-16'] as const) assert.equal(PRETRAINED[n].family, 'open_clip_custom_text');
  assert.deepEqual(listModels().filter((n) => getSpec(n).gated), ['medsiglip-448', 'conch']);
  assert.equal(getSpec('conch').supported, true);
  assert.deepEqual(getSpec('conch').source.files, ['meta.yaml', 'pytorch_model.bin']);
});

test('pretrained: an unknown name is a ConfigError listing the known ones', () => {
  assert.throws(() => getSpec('biomedclip2'), (e: Error) => e instanceof ConfigError && /expected one of biomedclip, pubmedclip/.test(e.message));
});
