// The package as a user installs it (issue 8, "a real package"): scripts/check-package.mjs builds, packs and
// unpacks the tarball into a fresh project; here its report is checked: what ships, a plain `node` import
// that classifies an X-ray (the same numbers as the checkout), the installed command, a NodeNext TypeScript
// consumer with no error, and a browser bundle of the `browser` entry with every import resolved.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { cli, ROOT } from '../helpers/cli.ts';
import { DATA, FIXTURES, isolateCache } from '../helpers/reference.ts';

interface Check {
  code: number;
  stdout: string;
  stderr: string;
}

const cache = isolateCache();

test('npm pack: the tarball installs and works from node, its command line, tsc (nodenext) and a browser bundle', () => {
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts/check-package.mjs'), '--json'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 26 });
  assert.ok(r.stdout.trim(), r.stderr);
  const report = JSON.parse(r.stdout) as { files: string[]; checks: Record<string, Check & { result?: { labels: string[]; probs: number[] } }> };

  // what ships: the compiled library with its types, the command, the data, the licence; no TypeScript sources
  for (const f of ['LICENSE', 'package.json', 'bin/clipmed.js', 'dist/index.js', 'dist/index.d.ts', 'dist/browser.js', 'dist/browser.d.ts', 'dist/cli/main.js', 'data/clip-bpe/bpe_simple_vocab_16e6.txt.gz', 'data/clip-bpe/README.md']) {
    assert.ok(report.files.includes(f), `${f} is not in the tarball`);
  }
  assert.deepEqual(report.files.filter((f) => f.startsWith('src/') || f.startsWith('test/') || (f.endsWith('.ts') && !f.endsWith('.d.ts'))), []);

  for (const [name, c] of Object.entries(report.checks)) assert.equal(c.code, 0, `${name}: ${c.stdout}${c.stderr}`);
  assert.equal(report.checks.tsc!.stdout + report.checks.tsc!.stderr, '', 'the TypeScript consumer has errors');
  assert.equal(report.checks.esbuild!.stderr, '');

  // the installed package gives the numbers the checkout gives
  const xray = join(DATA, 'pneumonia-cxr/test/PNEUMONIA/person100_bacteria_475.jpeg');
  const here = cli({ CLIPMED_CACHE: cache })('classify', '--model', join(FIXTURES, 'tiny-quickgelu'), '--labels', 'normal,pneumonia', xray, '--json');
  assert.equal(here.code, 0, here.stderr);
  const expected = JSON.parse(here.stdout).results[0].scores as Record<string, number>;
  const fromNode = report.checks.node!.result!;
  assert.deepEqual(fromNode.labels, ['normal', 'pneumonia']);
  fromNode.probs.forEach((p, j) => assert.ok(Math.abs(p - expected[fromNode.labels[j]!]!) < 1e-6, `${fromNode.labels[j]}: ${p} vs ${expected[fromNode.labels[j]!]}`));
  assert.deepEqual(JSON.parse(report.checks.bin!.stdout).results[0].scores, expected);
});
