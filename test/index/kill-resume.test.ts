// clipmed index killed with SIGKILL at random moments, 20 times, over the pediatric X-ray folder (5,840
// images), resumed each time: in the end every image is in the table exactly once and the embeddings equal
// those of an uninterrupted run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { mulberry32, openIndex, type ClipIndex } from '../../src/index.ts';
import { cli, ROOT } from '../helpers/cli.ts';
import { DATA, FIXTURES, tempDir } from '../helpers/reference.ts';

const env = { CLIPMED_CACHE: tempDir('clipmed-kill-cache-') };
const clipmed = cli(env);
const model = join(FIXTURES, 'tiny-quickgelu');
const folder = join(DATA, 'pneumonia-cxr'); // train/ and test/ (and manifest.csv, which is skipped: not an image)
const IMAGES = 5840;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Rows in the database's one table (0 before the table exists). */
async function rowCount(index: ClipIndex): Promise<number> {
  try {
    return await (await index.pickTable()).count();
  } catch {
    return 0;
  }
}

test('20 SIGKILLs at random moments, each resumed: every image exactly once, embeddings equal an uninterrupted run', async () => {
  const dir = tempDir('clipmed-kill-');
  const whole = join(dir, 'whole');
  const killed = join(dir, 'killed');

  const ref = clipmed('index', folder, '--db', whole, '--model', model, '--threads', '1', '--json');
  assert.equal(ref.code, 0, ref.stderr);
  assert.equal(JSON.parse(ref.stdout).written, IMAGES);

  const rand = mulberry32(20261128);
  const watcher = await openIndex(killed);
  const args = [join(ROOT, 'bin/clipmed.js'), 'index', folder, '--db', killed, '--model', model, '--threads', '1', '--batch-size', '32', '--quiet'];
  let kills = 0;
  let progressAtKills: number[] = [];
  try {
    while (kills < 20) {
      const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: 'ignore' });
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      if (kills % 4 === 0) {
        // during start-up, model loading, listing or the first batches
        await sleep(50 + rand() * 2500);
      } else {
        // while writing: after the table has grown by a random number of rows, then a little later
        const target = (await rowCount(watcher)) + 1 + Math.floor(rand() * 200);
        while (child.exitCode === null && (await rowCount(watcher)) < target) await sleep(20);
        await sleep(rand() * 100);
      }
      assert.equal(child.exitCode, null, `run ${kills + 1} finished before it could be killed; the test needs more work per run`);
      child.kill('SIGKILL');
      await exited;
      kills++;
      progressAtKills.push(await rowCount(watcher));
    }
  } finally {
    watcher.close();
  }
  assert.ok(progressAtKills.at(-1)! > 0 && progressAtKills.at(-1)! < IMAGES, `rows after the kills: ${progressAtKills.join(', ')}`);

  const last = clipmed('index', folder, '--db', killed, '--model', model, '--threads', '1', '--json');
  assert.equal(last.code, 0, last.stderr);
  const summary = JSON.parse(last.stdout);
  assert.equal(summary.rows, IMAGES);
  assert.equal(summary.written + summary.unchanged, IMAGES);

  const a = await openIndex(whole);
  const b = await openIndex(killed);
  try {
    const ra = await (await a.pickTable()).allVectors();
    const rb = await (await b.pickTable()).allVectors();
    assert.equal(rb.paths.length, IMAGES);
    assert.equal(new Set(rb.paths).size, IMAGES, 'a path is in the table more than once');
    assert.deepEqual([...rb.paths].sort(), [...ra.paths].sort());
    const D = ra.vectors.length / ra.paths.length;
    const at = new Map(ra.paths.map((p, i) => [p, i]));
    let maxDiff = 0;
    rb.paths.forEach((p, i) => {
      const j = at.get(p)!;
      for (let d = 0; d < D; d++) maxDiff = Math.max(maxDiff, Math.abs(rb.vectors[i * D + d]! - ra.vectors[j * D + d]!));
    });
    assert.ok(maxDiff <= 1e-6, `max |difference| of embeddings ${maxDiff}`);
  } finally {
    a.close();
    b.close();
  }
});
