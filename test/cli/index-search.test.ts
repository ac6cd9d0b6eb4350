// clipmed index + clipmed search as a user runs them, checked against `clipmed embed --normalize --json`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cli } from '../helpers/cli.ts';
import { DATA, FIXTURES, tempDir } from '../helpers/reference.ts';

const clipmed = cli({ CLIPMED_CACHE: tempDir('clipmed-index-cache-') });
const model = join(FIXTURES, 'tiny-quickgelu');
const folder = join(DATA, 'pneumonia-cxr/test');
const files = ['NORMAL', 'PNEUMONIA'].flatMap((d) => readdirSync(join(folder, d)).sort().map((f) => join(folder, d, f)));
const db = join(tempDir('clipmed-index-db-'), 'archive');

interface Hit {
  path: string;
  score: number;
  meta: Record<string, unknown>;
}

function json(r: { code: number | null; stdout: string; stderr: string }) {
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** Brute-force ranking: cosine (float64) of each normalised embedding with the query, ties by path. */
function bruteForce(query: number[], rows: Array<{ path: string; embedding: number[] }>, k: number) {
  return rows
    .map((r) => ({ path: r.path, score: r.embedding.reduce((s, v, i) => s + v * query[i]!, 0) }))
    .sort((a, b) => b.score - a.score || (a.path < b.path ? -1 : 1))
    .slice(0, k);
}

/** Same order and scores within 1e-5; neighbours whose reference scores differ by under 1e-6 may swap. */
function assertSameRanking(got: Hit[], want: Array<{ path: string; score: number }>) {
  assert.equal(got.length, want.length);
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const g = got[i]!;
    assert.ok(Math.abs(g.score - w.score) <= 1e-5, `rank ${i}: score ${g.score} vs ${w.score}`);
    if (g.path !== w.path) {
      const tied = want.filter((x) => Math.abs(x.score - w.score) < 1e-6).map((x) => x.path);
      assert.ok(tied.includes(g.path), `rank ${i}: ${g.path} instead of ${w.path} (score ${w.score})`);
    }
  }
}

test('index a folder, then --exact search equals a brute-force ranking of clipmed embed --normalize', () => {
  const r = json(clipmed('index', folder, '--db', db, '--model', model, '--json', '--threads', '1'));
  assert.equal(r.written, files.length);
  assert.equal(r.rows, files.length);
  assert.deepEqual(r.failures, []);

  const query = files[17]!;
  const embedded = json(clipmed('embed', '--model', model, '--normalize', '--json', '--threads', '1', ...files.flatMap((f) => ['--image', f]), '--image', query, '--text', 'right lower lobe consolidation'));
  const rows = embedded.images.slice(0, files.length).map((i: { path: string; embedding: number[] }) => ({ path: resolve(i.path), embedding: i.embedding }));
  const qImage = embedded.images[files.length].embedding as number[];
  const qText = embedded.texts[0].embedding as number[];

  const byImage = json(clipmed('search', '--db', db, '--image', query, '--k', '25', '--exact', '--json'));
  assert.equal(byImage.model, resolve(model));
  assertSameRanking(byImage.results, bruteForce(qImage, rows, 25));
  assert.equal(byImage.results[0].path, resolve(query));

  const byText = json(clipmed('search', '--db', db, '--text', 'right lower lobe consolidation', '--k', '25', '--exact', '--json'));
  assertSameRanking(byText.results, bruteForce(qText, rows, 25));

  // a metadata filter: only the PNEUMONIA folder, ranked the same way among those rows
  const filtered = json(clipmed('search', '--db', db, '--image', query, '--k', '10', '--exact', '--where', "source LIKE '%/PNEUMONIA/%'", '--json'));
  assertSameRanking(filtered.results, bruteForce(qImage, rows.filter((x: { path: string }) => x.path.includes('/PNEUMONIA/')), 10));

  // without --exact (no vector index below the threshold: LanceDB's flat search) the same top 10
  const approx = json(clipmed('search', '--db', db, '--image', query, '--k', '10', '--json'));
  assertSameRanking(approx.results, bruteForce(qImage, rows, 10));
});

test('a re-run embeds only new or changed inputs; failures are listed and skipped; duplicates are grouped', () => {
  const dir = tempDir('clipmed-index-src-');
  const src = join(dir, 'images');
  mkdirSync(src);
  for (const f of files.slice(0, 6)) copyFileSync(f, join(src, f.split('/').pop()!));
  copyFileSync(files[0]!, join(src, 'copy-of-first.jpeg')); // an exact duplicate
  writeFileSync(join(src, 'broken.jpeg'), 'not a jpeg'); // sniffed as no image: skipped inside a folder
  writeFileSync(join(src, 'truncated.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13])); // a PNG that fails to decode
  const small = join(dir, 'db');

  const first = clipmed('index', src, '--db', small, '--model', model, '--json');
  assert.equal(first.code, 1, 'a failed input makes the exit code non-zero');
  const r1 = JSON.parse(first.stdout);
  assert.equal(r1.written, 7);
  assert.deepEqual(r1.failures.map((f: { input: string }) => f.input), [join(src, 'truncated.png')]);
  assert.deepEqual(r1.skipped.map((f: { input: string }) => f.input), [join(src, 'broken.jpeg')]);
  assert.match(first.stderr, /truncated\.png/);

  // nothing new: nothing embedded
  const r2 = JSON.parse(clipmed('index', src, '--db', small, '--model', model, '--json').stdout);
  assert.equal(r2.written, 0);
  assert.equal(r2.unchanged, 7);

  // one file changed, one added: two rows written, one replaced, still one row per file
  copyFileSync(files[10]!, join(src, files[1]!.split('/').pop()!));
  copyFileSync(files[11]!, join(src, 'new.jpeg'));
  const r3 = JSON.parse(clipmed('index', src, '--db', small, '--model', model, '--json').stdout);
  assert.equal(r3.written, 2);
  assert.equal(r3.replaced, 1);
  assert.equal(r3.rows, 8);

  const dup = json(clipmed('search', '--db', small, '--duplicates', '--threshold', '0.99999', '--json'));
  const withCopy = dup.groups.find((g: { paths: string[] }) => g.paths.includes(join(src, 'copy-of-first.jpeg')));
  assert.ok(withCopy, JSON.stringify(dup.groups));
  assert.ok(withCopy.paths.includes(join(src, files[0]!.split('/').pop()!)));
  assert.ok(withCopy.minScore >= 0.99999);
});

test('manifest reports are indexed: hybrid search ranks keyword matches up; labels filter', () => {
  const dir = tempDir('clipmed-index-notes-');
  const notes = join(DATA, 'covid-cxr-notes/metadata.csv');
  const hdb = join(dir, 'db');
  const r = json(clipmed('index', notes, '--db', hdb, '--model', model, '--text-column', 'clinical_notes', '--label-column', 'finding', '--json'));
  assert.ok(r.written > 200);
  assert.ok(r.indexes.some((d: string) => d.startsWith('full-text index')));
  const plain = json(clipmed('search', '--db', hdb, '--text', 'intubated', '--k', '5', '--json'));
  const hybrid = json(clipmed('search', '--db', hdb, '--text', 'intubated', '--k', '5', '--hybrid', '--keyword-weight', '1', '--json'));
  // every hybrid hit in the top 5 has the word in its report (the keyword outweighs the tiny model's cosines)
  for (const h of hybrid.results) assert.match(String(h.meta.report), /intubat/i, JSON.stringify(h));
  assert.ok(plain.results.some((h: Hit) => !/intubat/i.test(String(h.meta.report ?? ''))), 'the plain ranking differs');
  const covid = json(clipmed('search', '--db', hdb, '--text', 'pneumonia', '--k', '50', '--where', "label = 'COVID-19'", '--json'));
  assert.ok(covid.results.length > 0);
  for (const h of covid.results) assert.equal(h.meta.label, 'COVID-19');
});

test('search needs one query; an empty index, a bad filter or a missing folder is a clear error', () => {
  const none = clipmed('search', '--db', db);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /exactly one of --text/);
  const empty = clipmed('search', '--db', join(tempDir(), 'empty'), '--text', 'x');
  assert.equal(empty.code, 2);
  assert.match(empty.stderr, /no tables yet/);
  const badWhere = clipmed('search', '--db', db, '--text', 'x', '--where', 'nosuch = 1');
  assert.equal(badWhere.code, 2);
  assert.match(badWhere.stderr, /ConfigError: --where "nosuch = 1": No field named nosuch/);
  const noReports = clipmed('search', '--db', db, '--text', 'x', '--hybrid');
  assert.equal(noReports.code, 2);
  assert.match(noReports.stderr, /no report text in this table/);
  const missing = clipmed('index', '/nonexistent/folder', '--db', join(tempDir(), 'x'), '--model', model, '--json');
  assert.equal(missing.code, 1);
  assert.match(JSON.parse(missing.stdout).failures[0].error, /no such file or folder/);
});
