// POST /v1/search over an archive made by `clipmed index` (LanceDB): text and image queries answer what
// `clipmed search --json` prints for the same query.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isolateCache, tempDir } from '../helpers/reference.ts';
import { clipmedIn, MODEL, ROOT, serve, XRAYS, type Served } from './serve.ts';

const cache = isolateCache();
const env = { CLIPMED_CACHE: cache };
const db = join(tempDir(), 'archive');
const IMAGES = ['NORMAL/IM-0001-0001.jpeg', 'NORMAL/IM-0003-0001.jpeg', 'NORMAL/IM-0005-0001.jpeg', 'PNEUMONIA/person100_bacteria_475.jpeg', 'PNEUMONIA/person100_bacteria_477.jpeg'].map((p) => join(XRAYS, p));
let server: Served;

before(async () => {
  const r = clipmedIn(ROOT, env, 'index', '--db', db, '--model', MODEL, ...IMAGES, '--quiet', '--json');
  assert.equal(r.code, 0, r.stderr);
  server = await serve(['--model', MODEL, '--quiet', '--db', db], env);
});
after(async () => {
  await server?.stop();
});

test('a text query answers what `clipmed search --text --json` prints', async () => {
  const r = await fetch(`${server.url}/v1/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'right lower lobe pneumonia', k: 3, exact: true }) });
  const body = await r.json();
  assert.equal(r.status, 200, JSON.stringify(body));
  const cli = clipmedIn(ROOT, env, 'search', '--db', db, '--text', 'right lower lobe pneumonia', '--k', '3', '--exact', '--json');
  assert.equal(cli.code, 0, cli.stderr);
  assert.deepEqual(body, JSON.parse(cli.stdout));
  assert.equal(body.results.length, 3);
});

test('an image query (multipart file) ranks as `clipmed search --image --json`; itself first', async () => {
  const form = new FormData();
  form.append('file', new Blob([readFileSync(IMAGES[3]!)]), 'query.jpeg');
  form.append('exact', 'true');
  form.append('k', '5');
  const r = await fetch(`${server.url}/v1/search`, { method: 'POST', body: form });
  const body = await r.json();
  assert.equal(r.status, 200, JSON.stringify(body));
  const cli = JSON.parse(clipmedIn(ROOT, env, 'search', '--db', db, '--image', IMAGES[3]!, '--k', '5', '--exact', '--json').stdout);
  assert.deepEqual(body.results.map((h: { path: string }) => h.path), cli.results.map((h: { path: string }) => h.path));
  for (let i = 0; i < 5; i++) assert.ok(Math.abs(body.results[i].score - cli.results[i].score) < 1e-5, `hit ${i}`);
  assert.equal(body.results[0].path, IMAGES[3]);
  assert.ok(body.results[0].score > 0.9999);
});

test('a search with neither or both queries is a 400', async () => {
  const none = await fetch(`${server.url}/v1/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ k: 3 }) });
  assert.equal(none.status, 400);
  assert.match((await none.json()).detail, /exactly one query/);
});
