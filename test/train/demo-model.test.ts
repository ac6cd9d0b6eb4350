// The committed demo model (models/clipmed-cxr-tiny, trained by `clipmed train`, see its README) gives a medical
// answer offline: on 60 held-out test X-rays its zero-shot pneumonia score separates the classes (AUROC well
// above chance), and open_clip's own loading of a clipmed-trained folder is checked in open-clip-load.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ClipModel, rocAuc } from '../../src/index.ts';
import { ROOT } from '../helpers/cli.ts';

test('demo model: zero-shot pneumonia AUROC on held-out test X-rays is well above chance', async () => {
  const data = join(ROOT, '../shared/data/pneumonia-cxr');
  const rows = readFileSync(join(data, 'manifest.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',')).filter((r) => r[1] === 'test');
  // every 10th test row of each class: 24 normal, 39 pneumonia
  const picked = rows.filter((_, i) => i % 10 === 0);
  const model = await ClipModel.load(join(ROOT, 'models/clipmed-cxr-tiny'), { threads: 1 });
  assert.ok(statSync(join(ROOT, 'models/clipmed-cxr-tiny/open_clip_model.safetensors')).size <= 3 * 2 ** 20, 'the demo weights must stay within 3 MiB');
  const img = await model.embedImageFiles(picked.map((r) => join(data, r[0]!)), { normalize: true, batchSize: 32 });
  const txt = await model.embedTexts(['normal chest x-ray', 'chest x-ray showing pneumonia'], { normalize: true });
  const D = model.embedDim;
  const scores = picked.map((_, i) => {
    let sn = 0;
    let sp = 0;
    for (let k = 0; k < D; k++) {
      sn += img.embeddings[i * D + k]! * txt.embeddings[k]!;
      sp += img.embeddings[i * D + k]! * txt.embeddings[D + k]!;
    }
    return sp - sn;
  });
  const auroc = rocAuc(scores, picked.map((r) => (r[2] === 'pneumonia' ? 1 : 0)));
  assert.ok(auroc >= 0.75, `zero-shot AUROC ${auroc.toFixed(3)} on ${picked.length} test images`);
  await model.release();
});
