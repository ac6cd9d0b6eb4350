// The server's bounded queue and its loopback rule, without a server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BusyError, WorkQueue } from '../../src/server/queue.ts';
import { isLoopback } from '../../src/server/listen.ts';

test('WorkQueue runs at most `concurrency` jobs, in arrival order, and refuses past maxQueued', async () => {
  const q = new WorkQueue(2, 2);
  const order: string[] = [];
  let running = 0;
  let peak = 0;
  const gates: Array<() => void> = [];
  const job = (name: string) => q.run(async () => {
    running++;
    peak = Math.max(peak, running);
    order.push(name);
    await new Promise<void>((r) => gates.push(r));
    running--;
    return name;
  });
  const jobs = ['a', 'b', 'c', 'd'].map(job);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual([q.active, q.queued], [2, 2]);
  await assert.rejects(q.run(async () => 'e'), (e: unknown) => e instanceof BusyError && e.retryAfter === 1 && /2 running and 2 queued/.test(e.message));
  while (gates.length > 0 || order.length < 4) {
    gates.shift()?.();
    await new Promise((r) => setImmediate(r));
  }
  assert.deepEqual(await Promise.all(jobs), ['a', 'b', 'c', 'd']);
  assert.deepEqual(order, ['a', 'b', 'c', 'd']);
  assert.equal(peak, 2);
  assert.deepEqual([q.active, q.queued], [0, 0]);
  // a failing job frees its slot too
  await assert.rejects(q.run(async () => { throw new Error('boom'); }), /boom/);
  assert.equal(q.active, 0);
});

test('isLoopback: 127.0.0.0/8, ::1 and localhost only', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost']) assert.ok(isLoopback(h), h);
  for (const h of ['0.0.0.0', '::', '192.168.1.10', '10.0.0.1', 'example.org', '128.0.0.1']) assert.ok(!isLoopback(h), h);
});
