#!/usr/bin/env node
// Runs every test/**/*.test.ts with Node's own test runner (through tsx), after a type check.
// Usage: npm test [-- PATTERN ...]   (a pattern keeps only test files whose path contains it)
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const patterns = process.argv.slice(2);

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}

const files = walk(join(root, 'test')).sort().filter((f) => patterns.length === 0 || patterns.some((p) => f.includes(p)));
if (files.length === 0) {
  console.error(`no test files match ${patterns.join(' ')}`);
  process.exit(1);
}
if (patterns.length === 0) {
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', root], { stdio: 'inherit' });
  if (tsc.status !== 0) process.exit(tsc.status ?? 1);
}
// every temporary folder the tests (and the servers they start) make goes under one folder of this run, removed
// at the end whatever the outcome: a run leaves nothing in the system's temporary folder (KEEP_TEST_TMP=1 keeps it)
const runTmp = mkdtempSync(join(tmpdir(), 'clipmed-tests-'));
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], {
  stdio: 'inherit',
  cwd: root,
  env: { ...process.env, TMPDIR: runTmp },
});
if (process.env.KEEP_TEST_TMP) console.error(`test temporary files kept in ${runTmp}`);
else rmSync(runTmp, { recursive: true, force: true });
process.exit(r.status ?? 1);
