// Scale-out through BullMQ on a real redis-server: the same folder indexed by 1, 2 and 4 `clipmed worker`
// processes gives the same rows as one process; a worker killed mid-shard loses nothing and writes nothing twice.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { openIndex } from '../../src/index.ts';
import { cli, cliAsync, ROOT } from '../helpers/cli.ts';
import { startRedis, type RedisServer } from '../helpers/redis.ts';
import { DATA, FIXTURES, tempDir } from '../helpers/reference.ts';

const env = { CLIPMED_CACHE: tempDir('clipmed-queue-cache-') };
const clipmed = cli(env);
const model = join(FIXTURES, 'tiny-quickgelu');
const folder = join(DATA, 'pneumonia-cxr/test'); // 624 images
const IMAGES = 624;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let redis: RedisServer;
let reference: Map<string, Float32Array>;

before(async () => {
  redis = await startRedis();
  const db = join(tempDir('clipmed-queue-ref-'), 'db');
  const r = clipmed('index', folder, '--db', db, '--model', model, '--threads', '1', '--json');
  assert.equal(r.code, 0, r.stderr);
  reference = await rowsOf(db);
  assert.equal(reference.size, IMAGES);
});
after(async () => {
  await redis?.stop();
});

async function rowsOf(db: string): Promise<Map<string, Float32Array>> {
  const index = await openIndex(db);
  try {
    const { paths, vectors } = await (await index.pickTable()).allVectors();
    assert.equal(new Set(paths).size, paths.length, 'a path is in the table more than once');
    const D = vectors.length / paths.length;
    return new Map(paths.map((p, i) => [p, vectors.subarray(i * D, (i + 1) * D)]));
  } finally {
    index.close();
  }
}

function assertSameRows(got: Map<string, Float32Array>) {
  assert.equal(got.size, reference.size);
  let maxDiff = 0;
  for (const [p, v] of reference) {
    const w = got.get(p);
    assert.ok(w, `missing ${p}`);
    for (let d = 0; d < v.length; d++) maxDiff = Math.max(maxDiff, Math.abs(v[d]! - w[d]!));
  }
  assert.ok(maxDiff <= 1e-6, `max |difference| ${maxDiff}`);
}

function startWorker(lockMs = 30_000): ChildProcess {
  return spawn(process.execPath, [join(ROOT, 'bin/clipmed.js'), 'worker', '--queue', redis.url, '--threads', '1', '--lock-ms', String(lockMs), '--quiet'], { env: { ...process.env, ...env }, stdio: 'ignore' });
}

async function stop(workers: ChildProcess[], signal: NodeJS.Signals = 'SIGTERM') {
  await Promise.all(workers.map((w) => (w.exitCode !== null ? undefined : new Promise((r) => { w.once('exit', r); w.kill(signal); }))));
}

for (const n of [1, 2, 4]) {
  test(`${n} worker(s) through Redis give the same rows as one process`, { timeout: 600_000 }, async () => {
    const workers = Array.from({ length: n }, () => startWorker());
    try {
      const db = join(tempDir('clipmed-queue-'), 'db');
      const r = await cliAsync(env, 'index', folder, '--db', db, '--model', model, '--queue', redis.url, '--shard-size', '48', '--json');
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout);
      assert.equal(out.written, IMAGES);
      assert.equal(out.rows, IMAGES);
      assertSameRows(await rowsOf(db));
      if (n === 2) {
        // the same run again: the shards' finished jobs are replaced, and every input is found unchanged
        const again = await cliAsync(env, 'index', folder, '--db', db, '--model', model, '--queue', redis.url, '--shard-size', '48', '--json');
        assert.equal(again.code, 0, again.stderr);
        const o = JSON.parse(again.stdout);
        assert.deepEqual([o.written, o.unchanged, o.rows], [0, IMAGES, IMAGES]);
      }
    } finally {
      await stop(workers);
    }
  });
}

test('a worker killed mid-shard: its shard is retried elsewhere, nothing lost, nothing twice; --status shows the queue', { timeout: 600_000 }, async () => {
  const db = join(tempDir('clipmed-queue-kill-'), 'db');
  const victim = startWorker(1500);
  const coordinator = spawn(process.execPath, [join(ROOT, 'bin/clipmed.js'), 'index', folder, '--db', db, '--model', model, '--queue', redis.url, '--shard-size', '200', '--batch-size', '16', '--json'], { env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  coordinator.stdout.on('data', (d) => (stdout += d));
  coordinator.stderr.on('data', (d) => (stderr += d));
  const run = new Promise<number | null>((r) => coordinator.once('exit', (code) => r(code)));
  // wait until the victim has committed part of its first shard, then kill it
  const watcher = await openIndex(db);
  let rows = 0;
  try {
    for (let i = 0; i < 6000 && rows === 0 && victim.exitCode === null; i++) {
      await sleep(20);
      rows = await watcher.pickTable().then((t) => t.count(), () => 0);
    }
  } finally {
    watcher.close();
    await stop([victim], 'SIGKILL');
  }
  assert.ok(rows > 0 && rows < IMAGES, `rows before the kill: ${rows}`);
  const status = await cliAsync(env, 'index', '--status', '--queue', redis.url, '--json');
  assert.equal(status.code, 0, status.stderr);
  const s = JSON.parse(status.stdout);
  assert.ok(s.counts.active + s.counts.waiting >= 1, status.stdout);
  const rescuer = startWorker(1500);
  try {
    assert.equal(await run, 0, stderr);
    assert.equal(JSON.parse(stdout).rows, IMAGES);
    assertSameRows(await rowsOf(db));
  } finally {
    await stop([rescuer, coordinator]);
  }
});
