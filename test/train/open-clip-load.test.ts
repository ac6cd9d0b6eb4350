// A folder written by `clipmed train` from an open_clip model config is loaded by open_clip v2.24.0
// (create_model_and_transforms) and embeds real chest X-rays and prompts as clipmed does, to 1e-4.
// The fixture (test/fixtures/train/make_open_clip_load.py) ran the same training command and kept open_clip's
// embeddings; this test trains again (deterministic: --no-shuffle --no-augment) and compares.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { ClipModel } from '../../src/index.ts';
import { cli, ROOT } from '../helpers/cli.ts';

const fx = join(ROOT, 'test/fixtures/train');
const spec = JSON.parse(readFileSync(join(fx, 'open_clip_load_spec.json'), 'utf8'));
const ref = JSON.parse(readFileSync(join(fx, 'open_clip_load.json'), 'utf8'));
const data = join(ROOT, '../shared/data/pneumonia-cxr');

function relErr(a: ArrayLike<number>, b: number[]): number {
  let num = 0;
  let den = 0;
  b.forEach((v, i) => {
    num += (a[i]! - v) ** 2;
    den += v * v;
  });
  return Math.sqrt(num / den);
}

test('a clipmed-trained folder embeds as open_clip v2.24.0 embeds it after loading it (1e-4)', async () => {
  const work = mkdtempSync(join(tmpdir(), 'clipmed-openclip-load-'));
  const rows = readFileSync(join(data, 'manifest.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
  const picked = [...rows.filter((r) => r[2] === 'normal').slice(0, 8), ...rows.filter((r) => r[2] === 'pneumonia').slice(0, 8)];
  const manifest = join(work, 'train.csv');
  writeFileSync(manifest, ['image,text', ...picked.map((r) => `${relative(work, join(data, r[0]!))},${r[2] === 'normal' ? 'a normal chest x-ray' : 'a chest x-ray showing pneumonia'}`)].join('\n') + '\n');
  const config = join(work, 'config.json');
  writeFileSync(config, JSON.stringify(spec.model_cfg));
  const out = join(work, 'out');
  const r = cli()('train', '--model', config, '--data', manifest, '--out', out, ...spec.args);
  assert.equal(r.code, 0, r.stderr);
  const model = await ClipModel.load(out, { threads: 1 });
  const img = await model.embedImageFiles(spec.images.map((p: string) => join(data, p)));
  const txt = await model.embedTexts(spec.texts);
  const D = model.embedDim;
  ref.image_embeds.forEach((row: number[], i: number) => {
    const e = relErr(img.embeddings.subarray(i * D, (i + 1) * D), row);
    assert.ok(e <= 1e-4, `image ${spec.images[i]}: relative difference ${e.toExponential(2)} from open_clip`);
  });
  ref.text_embeds.forEach((row: number[], i: number) => {
    const e = relErr(txt.embeddings.subarray(i * D, (i + 1) * D), row);
    assert.ok(e <= 1e-4, `text '${spec.texts[i]}': relative difference ${e.toExponential(2)} from open_clip`);
  });
  assert.ok(Math.abs(Math.log(model.meta.score.logitScale) - ref.logit_scale) <= 1e-5, `logit_scale ${Math.log(model.meta.score.logitScale)} vs open_clip ${ref.logit_scale}`);
  await model.release();
});
