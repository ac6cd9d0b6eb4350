// Building graphs from a checkpoint holds the weights once, not twice: ViT-B/16 with random weights (an open_clip
// folder, 571 MiB of float32) compiles in a child process whose peak RSS stays under 1.5x the checkpoint plus the
// child's baseline (Node, tsx and the library imported, measured here in a child that does nothing else: about
// 130 MiB on the development machine). Loading the compiled graphs and embedding a batch of 8 stays under 1.5x
// the weights plus the batch, plus the same baseline, and loads neither the tokenizer nor the text graph. No timing
// is asserted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vitB } from '../../src/models/random-weights.ts';
import { measure, writeOpenClipFolder } from '../helpers/build-memory.ts';

const work = mkdtempSync(join(tmpdir(), 'clipmed-build-memory-'));
test.after(() => rmSync(work, { recursive: true, force: true }));
const MiB = 2 ** 20;

test('ViT-B/16: building holds the weights once, and loading + embedding 8 images stays within 1.5x weights + batch', () => {
  const folder = join(work, 'vit-b-16');
  const cache = join(work, 'cache');
  const bytes = writeOpenClipFolder(folder, vitB(16));
  assert.ok(bytes > 500 * MiB, `checkpoint ${bytes} bytes`);
  const baseline = measure('baseline', folder, cache).maxRss;
  assert.ok(baseline < 400 * MiB, `baseline ${(baseline / MiB).toFixed(0)} MiB`);
  const build = measure('build', folder, cache);
  assert.equal(build.report.cached, false);
  const limit = 1.5 * bytes + baseline;
  assert.ok(build.maxRss < limit, `build peak RSS ${(build.maxRss / MiB).toFixed(0)} MiB, limit ${(limit / MiB).toFixed(0)} MiB (1.5 x ${(bytes / MiB).toFixed(0)} + baseline ${(baseline / MiB).toFixed(0)})`);
  const embed = measure('embed', folder, cache, 8);
  assert.equal(embed.report.rows, 8);
  // embedding images starts the image graph alone: no tokenizer, no text graph
  assert.deepEqual(embed.report.loaded, { tokenizer: false, vision: true, text: false });
  const batch = Number(embed.report.batchBytes);
  const embedLimit = 1.5 * (bytes + batch) + baseline;
  assert.ok(embed.maxRss < embedLimit, `load+embed peak RSS ${(embed.maxRss / MiB).toFixed(0)} MiB, limit ${(embedLimit / MiB).toFixed(0)} MiB`);
});
