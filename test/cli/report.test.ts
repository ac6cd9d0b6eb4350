// clipmed report: retrieval from the IU X-ray report corpus, cached corpus embeddings, bad corpora.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClipModel, readCorpus } from '../../src/index.ts';
import { cli } from '../helpers/cli.ts';
import { DATA, FIXTURES, isolateCache, tempDir } from '../helpers/reference.ts';

const cache = isolateCache();
const model = join(FIXTURES, 'tiny-quickgelu');
const corpus = join(DATA, 'iu-xray-reports/indiana_reports.csv');
const xray = join(DATA, 'pneumonia-cxr/test/NORMAL/IM-0023-0001.jpeg');

const clipmed = cli({ CLIPMED_CACHE: cache });

test('report returns the most similar IU reports, best first, distinct, and caches the corpus embeddings', async () => {
  const r = clipmed('report', xray, '--model', model, '--corpus', corpus, '-k', '4', '--json');
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  const got = out.results[0].retrieved as Array<{ text: string; score: number }>;
  assert.equal(got.length, 4);
  for (let i = 1; i < got.length; i++) assert.ok(got[i - 1]!.score >= got[i]!.score);
  assert.equal(new Set(got.map((g) => g.text.toLowerCase())).size, 4);
  // the best entry really is the corpus maximum, computed independently through the library
  const texts = await readCorpus(corpus);
  assert.ok(texts.includes(got[0]!.text));
  const m = await ClipModel.load(model, { threads: 1 });
  const img = await m.embedImageFiles([xray], { normalize: true });
  const t = await m.embedTexts(texts, { normalize: true });
  let best = -2;
  for (let j = 0; j < texts.length; j++) {
    let s = 0;
    for (let d = 0; d < 32; d++) s += img.embeddings[d]! * t.embeddings[j * 32 + d]!;
    best = Math.max(best, s);
  }
  assert.ok(Math.abs(best - got[0]!.score) < 1e-5);
  await m.release();
  assert.equal(readdirSync(join(cache, 'corpora')).length, 1);
  assert.doesNotMatch(clipmed('report', xray, '--model', model, '--corpus', corpus).stderr, /embedding a corpus/);
});

test('report --sentences composes a report from distinct sentences', () => {
  const r = clipmed('report', xray, '--model', model, '--corpus', corpus, '--column', 'findings,impression', '--sentences', '-k', '3', '--json');
  assert.equal(r.code, 0, r.stderr);
  const res = JSON.parse(r.stdout).results[0];
  assert.equal(res.retrieved.length, 3);
  assert.equal(res.report, res.retrieved.map((s: { text: string }) => (/[.!?]$/.test(s.text.trim()) ? s.text.trim() : `${s.text.trim()}.`)).join(' '));
});

test('an empty corpus or a missing column is a clear error', () => {
  const dir = tempDir();
  const empty = join(dir, 'empty.csv');
  writeFileSync(empty, 'uid,impression\n1,\n2,  \n');
  const r = clipmed('report', xray, '--model', model, '--corpus', empty);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /empty\.csv: the corpus has no text/);
  const c = clipmed('report', xray, '--model', model, '--corpus', corpus, '--column', 'summary');
  assert.match(c.stderr, /no column 'summary'/);
});
