// `clipmed embed` with 500 `--image` arguments died with SIGSEGV (exit 139): onnxruntime-node's telemetry SDK
// reads /proc/self/cmdline when the first session is created, recursing once per character, and a ~30 KB command
// line overflows the main thread's stack. The node backend turns that telemetry off; this runs a session in a
// child whose command line is 40 KB long.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;

test('an ONNX session starts in a process whose command line is 40 KB long (600 arguments)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'clipmed-argv-'));
  const script = join(dir, 'session.mts');
  writeFileSync(script, `
    import { GraphBuilder } from ${JSON.stringify(join(ROOT, 'src/graph/builder.ts'))};
    import { nodeBackend } from ${JSON.stringify(join(ROOT, 'src/node/ort-backend.ts'))};
    const g = new GraphBuilder('add');
    const x = g.input('x', 'float32', [2]);
    g.output(g.add(x, g.floats([1, 2])), 'y', 'float32', [2]);
    const s = await nodeBackend.create(g.toBytes(), { threads: 1 });
    const r = await s.run({ x: { data: Float32Array.of(10, 20), dims: [2] } });
    console.log(JSON.stringify({ y: [...r.y!.data], args: process.argv.length }));
  `);
  const args = Array.from({ length: 600 }, (_, i) => `--image=/data/pneumonia-cxr/test/PNEUMONIA/person${i}_bacteria_${1000 + i}.jpeg`);
  const env = { ...process.env };
  delete env.ORT_DISABLE_TELEMETRY; // as a user's shell has it
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, ...args], { encoding: 'utf8', env, cwd: ROOT });
  assert.equal(r.signal, null, `killed by ${r.signal}: ${r.stderr.slice(-500)}`);
  assert.equal(r.status, 0, r.stderr.slice(-2000));
  assert.deepEqual(JSON.parse(r.stdout.trim()), { y: [11, 22], args: 602 });
});
