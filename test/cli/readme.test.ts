// The README's first command is a contract with every newcomer: it must run as written (from the checkout, after
// `npm ci`) and give the medical answer it promises with the model that ships in the repository.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { cli, ROOT } from '../helpers/cli.ts';

/** The words of a shell command line, with "double-quoted" words kept whole. */
function words(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

test("the README's first command classifies both held-out X-rays correctly with the shipped model", () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const first = /```sh\n([^\n]+)\n```/.exec(readme)![1]!;
  assert.match(first, /^ONNXRUNTIME_NODE_INSTALL=skip npm ci && npx clipmed /);
  const args = words(first.split('&& npx clipmed ')[1]!);
  const clipmed = cli({ CLIPMED_CACHE: mkdtempSync(join(tmpdir(), 'clipmed-readme-')) });
  const r = clipmed(...args, '--json');
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { results: Array<{ input: string; scores: Record<string, number> }> };
  assert.equal(out.results.length, 2);
  const best = (s: Record<string, number>) => Object.entries(s).sort((a, b) => b[1] - a[1])[0]![0];
  for (const row of out.results) assert.equal(best(row.scores), row.input.includes('PNEUMONIA') ? 'chest x-ray showing pneumonia' : 'normal chest x-ray', row.input);
});
