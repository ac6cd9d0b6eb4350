// The HTTP API against a real `clipmed serve` on a random loopback port: auth, limits, bad input, backpressure,
// graceful shutdown, and answers equal to the CLI's --json for the same files.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import sharp from 'sharp';
import { readNpy } from '../../src/index.ts';
import { DATA, isolateCache, tempDir } from '../helpers/reference.ts';
import { clipmedIn, MODEL, ROOT, serve, XRAYS, type Served } from './serve.ts';

const cache = isolateCache();
const env = { CLIPMED_CACHE: cache };
const TOKEN = 'test-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };
const NORMAL = join(XRAYS, 'NORMAL');
const FILES = ['IM-0001-0001.jpeg', 'IM-0003-0001.jpeg', 'IM-0005-0001.jpeg'];
const CORPUS = join(DATA, 'iu-xray-reports/indiana_reports.csv');
// a second model (BiomedCLIP layout: BERT text tower, WordPiece), picked by the request's `model` field
const BIOMEDCLIP = join(ROOT, 'test/fixtures/biomedclip/tiny');
let server: Served;

before(async () => {
  server = await serve(
    ['--model', MODEL, '--model', BIOMEDCLIP, '--max-files', '4', '--max-body-mb', '1', '--max-pixels', '100000', '--concurrency', '1', '--queue', '0', '--corpus', CORPUS],
    { ...env, CLIPMED_TOKEN: TOKEN },
  );
});
after(async () => {
  await server?.stop('SIGKILL');
});

function form(files: string[], fields: Record<string, string | string[]>, dir = NORMAL): FormData {
  const f = new FormData();
  for (const name of files) f.append('file', new Blob([readFileSync(join(dir, name))], { type: 'image/jpeg' }), name);
  for (const [k, v] of Object.entries(fields)) for (const x of [v].flat()) f.append(k, x);
  return f;
}

async function post(path: string, body: BodyInit, headers: Record<string, string> = auth) {
  const r = await fetch(server.url + path, { method: 'POST', body, headers });
  const type = r.headers.get('content-type') ?? '';
  const data = type.includes('json') ? await r.json() : Buffer.from(await r.arrayBuffer());
  return { status: r.status, type, headers: r.headers, data: data as any };
}

test('auth: /v1 needs the bearer token (401 without or with a wrong one, as problem+json); /healthz does not', async () => {
  const none = await post('/v1/classify', form(FILES.slice(0, 1), { labels: 'normal,pneumonia' }), {});
  assert.equal(none.status, 401);
  assert.match(none.type, /application\/problem\+json/);
  assert.equal(none.data.status, 401);
  assert.match(none.data.detail, /Authorization: Bearer/);
  assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="clipmed"');
  const wrong = await post('/v1/classify', form(FILES.slice(0, 1), { labels: 'normal,pneumonia' }), { authorization: 'Bearer nope-nope-nope' });
  assert.equal(wrong.status, 401);
  assert.match(wrong.data.detail, /wrong bearer token/);
  assert.equal((await fetch(`${server.url}/v1/models`)).status, 401);
  const right = await post('/v1/classify', form(FILES.slice(0, 1), { labels: 'normal,pneumonia' }));
  assert.equal(right.status, 200);
  const health = await fetch(`${server.url}/healthz`);
  assert.equal(health.status, 200);
  assert.equal((await health.json()).status, 'ok');
});

test('POST /v1/classify answers exactly what `clipmed classify --json` prints for the same files', async () => {
  const cases: Array<{ fields: Record<string, string | string[]>; flags: string[]; model?: string }> = [
    { fields: { labels: 'normal,pneumonia' }, flags: ['--labels', 'normal,pneumonia'] },
    { fields: { labels: 'normal lungs,pneumonia,effusion', templates: ['a chest x-ray showing {}', 'an x-ray of {}'] }, flags: ['--labels', 'normal lungs,pneumonia,effusion', '-T', 'a chest x-ray showing {}', '-T', 'an x-ray of {}'] },
    { fields: { label_set: 'chexpert-5', multilabel: 'true' }, flags: ['--label-set', 'chexpert-5', '--multilabel'] },
    { fields: { labels: 'normal,pneumonia', model: 'tiny' }, flags: ['--labels', 'normal,pneumonia'], model: BIOMEDCLIP },
  ];
  const printed = [];
  for (const c of cases) {
    const cli = clipmedIn(NORMAL, env, 'classify', '--model', c.model ?? MODEL, ...c.flags, ...FILES, '--json');
    assert.equal(cli.code, 0, cli.stderr);
    const http = await post('/v1/classify', form(FILES, c.fields));
    assert.equal(http.status, 200, JSON.stringify(http.data));
    assert.deepEqual(http.data, JSON.parse(cli.stdout));
    printed.push(JSON.parse(cli.stdout));
  }
  // one raw body, named by ?filename=: the first file's row of the first case
  const raw = await post(`/v1/classify?labels=normal,pneumonia&filename=${FILES[0]}`, new Blob([readFileSync(join(NORMAL, FILES[0]!))]), { ...auth, 'content-type': 'image/jpeg' });
  assert.deepEqual(raw.data, { ...printed[0], results: printed[0].results.slice(0, 1) });
});

test('embed, explain, report and heatmap answer what their CLI commands compute', async () => {
  const emb = await post('/v1/embed', form(FILES.slice(0, 2), { text: ['pneumonia', 'no finding'], normalize: 'true' }));
  assert.equal(emb.status, 200);
  const cliEmb = JSON.parse(clipmedIn(NORMAL, env, 'embed', '--model', MODEL, '-i', FILES[0]!, '-i', FILES[1]!, '-t', 'pneumonia', '-t', 'no finding', '--normalize', '--json').stdout);
  assert.deepEqual(emb.data.texts, cliEmb.texts);
  for (let i = 0; i < 2; i++) {
    assert.equal(emb.data.images[i].path, cliEmb.images[i].path);
    const d = Math.max(...emb.data.images[i].embedding.map((v: number, k: number) => Math.abs(v - cliEmb.images[i].embedding[k])));
    assert.ok(d < 1e-6, `image ${i}: ${d}`);
  }

  const ex = await post('/v1/explain', form(FILES.slice(0, 1), { diseases: 'pneumonia,edema' }));
  assert.equal(ex.status, 200, JSON.stringify(ex.data));
  assert.deepEqual(ex.data, JSON.parse(clipmedIn(NORMAL, env, 'explain', '--model', MODEL, '-d', 'pneumonia,edema', FILES[0]!, '--json').stdout));

  const rep = await post('/v1/report', form(FILES.slice(0, 1), { k: '3' }));
  assert.equal(rep.status, 200, JSON.stringify(rep.data));
  assert.deepEqual(rep.data, JSON.parse(clipmedIn(NORMAL, env, 'report', '--model', MODEL, '--corpus', CORPUS, '-k', '3', FILES[0]!, '--json').stdout));

  const png = await post('/v1/heatmap', form(FILES.slice(0, 1), { prompt: 'pleural effusion' }));
  assert.equal(png.status, 200);
  assert.equal(png.type, 'image/png');
  const meta = await sharp(png.data).metadata();
  assert.deepEqual([meta.width, meta.height, meta.channels], [224, 224, 3]); // over the original image
  const npy = await post('/v1/heatmap', form(FILES.slice(0, 1), { prompt: 'pleural effusion', format: 'npy' }));
  const out = tempDir();
  const cliMap = clipmedIn(NORMAL, env, 'heatmap', '--model', MODEL, '-t', 'pleural effusion', '--npy', '-o', out, FILES[0]!, '--json');
  assert.equal(cliMap.code, 0, cliMap.stderr);
  const want = readNpy(readFileSync(JSON.parse(cliMap.stdout).heatmaps[0].npy), 'cli.npy');
  const got = readNpy(new Uint8Array(npy.data), 'response.npy');
  assert.deepEqual(got.shape, want.shape);
  assert.deepEqual(Array.from(got.data as Float32Array), Array.from(want.data as Float32Array));
  assert.ok(readFileSync(JSON.parse(cliMap.stdout).heatmaps[0].png).equals(png.data), 'the PNG overlay equals the CLI\'s');
});

test('limits: too many files, too large a body, too many pixels are 413 problems', async () => {
  const many = await post('/v1/classify', form([...FILES, ...FILES], { labels: 'a,b' }));
  assert.equal(many.status, 413);
  assert.match(many.data.detail, /too many images.*\(limit 4\)/);
  const big = new Uint8Array(1.5 * 2 ** 20);
  big.set([0xff, 0xd8, 0xff]);
  const raw = await post('/v1/classify?labels=a,b', new Blob([big]), { ...auth, 'content-type': 'application/octet-stream' });
  assert.equal(raw.status, 413);
  assert.match(raw.type, /problem\+json/);
  const f = new FormData();
  f.append('file', new Blob([big]), 'big.jpeg');
  f.append('labels', 'a,b');
  assert.equal((await post('/v1/classify', f)).status, 413);
  // 400 x 400 = 160000 pixels over the server's 100000
  const large = await sharp(join(NORMAL, FILES[0]!)).resize(400, 400).png().toBuffer();
  const px = await post('/v1/classify?labels=a,b&filename=large.png', new Blob([large]), { ...auth, 'content-type': 'image/png' });
  assert.equal(px.status, 413);
  assert.equal(px.data.error, 'LimitError');
  assert.match(px.data.detail, /large\.png/);
});

test('bad input: a malformed image, a non-image and a wrong content type are clear 4xx, and the server stays up', async () => {
  const jpeg = readFileSync(join(NORMAL, FILES[0]!));
  const truncated = new FormData();
  truncated.append('file', new Blob([jpeg.subarray(0, 600)]), 'truncated.jpeg');
  truncated.append('labels', 'a,b');
  const t = await post('/v1/classify', truncated);
  assert.equal(t.status, 422, JSON.stringify(t.data));
  assert.equal(t.data.error, 'DecodeError');
  assert.match(t.data.detail, /truncated\.jpeg/);
  const text = new FormData();
  text.append('file', new Blob(['hello, not an image']), 'notes.txt');
  text.append('labels', 'a,b');
  const n = await post('/v1/classify', text);
  assert.equal(n.status, 415);
  assert.match(n.data.detail, /notes\.txt: not a DICOM, NIfTI, PNG, JPEG or TIFF file/);
  const plain = await post('/v1/classify?labels=a,b', 'hello', { ...auth, 'content-type': 'text/plain' });
  assert.equal(plain.status, 415);
  assert.match(plain.data.detail, /multipart\/form-data/);
  const xml = await post('/v1/classify?labels=a,b', '<x/>', { ...auth, 'content-type': 'application/xml' });
  assert.equal(xml.status, 415);
  const nolabels = await post('/v1/classify', form(FILES.slice(0, 1), {}));
  assert.equal(nolabels.status, 400);
  assert.match(nolabels.data.detail, /labels/);
  const unknownModel = await post('/v1/classify', form(FILES.slice(0, 1), { labels: 'a,b', model: 'nope' }));
  assert.equal(unknownModel.status, 404);
  assert.match(unknownModel.data.detail, /no model 'nope' is loaded \(loaded: tiny-quickgelu, tiny\)/);
  // one good and one bad file: the good one is answered, the bad one listed, as the CLI does
  const mixed = form(FILES.slice(0, 1), { labels: 'a,b' });
  mixed.append('file', new Blob([jpeg.subarray(0, 600)]), 'truncated.jpeg');
  const m = await post('/v1/classify', mixed);
  assert.equal(m.status, 200);
  assert.equal(m.data.results.length, 1);
  assert.equal(m.data.failures[0].input, 'truncated.jpeg');
  assert.match(m.data.failures[0].error, /^DecodeError: /);
  assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  assert.equal((await post('/v1/classify', form(FILES.slice(0, 1), { labels: 'a,b' }))).status, 200);
});

test('OpenAPI document and docs page; search without --db is 501', async () => {
  const doc = await (await fetch(`${server.url}/openapi.json`)).json();
  for (const p of ['/v1/embed', '/v1/classify', '/v1/explain', '/v1/heatmap', '/v1/report', '/v1/search', '/v1/models', '/healthz']) assert.ok(doc.paths[p], p);
  assert.deepEqual(doc.components.securitySchemes.bearer, { type: 'http', scheme: 'bearer' });
  assert.equal((await fetch(`${server.url}/docs/`)).status, 200);
  const s = await post('/v1/search', JSON.stringify({ text: 'pneumonia' }), { ...auth, 'content-type': 'application/json' });
  assert.equal(s.status, 501);
  assert.match(s.data.detail, /no search index: start the server with --db/);
  const models = await (await fetch(`${server.url}/v1/models`, { headers: auth })).json();
  assert.equal(models.models[0].name, 'tiny-quickgelu');
  assert.equal(models.models[0].embedDim, 32);
  assert.deepEqual(models.models.map((m: { name: string; default: boolean }) => [m.name, m.default]), [['tiny-quickgelu', true], ['tiny', false]]);
  assert.equal(models.models[1].tokenizerFile, 'vocab.txt');
});

test('backpressure: with the only slot busy and no queue, a request gets 503 with Retry-After', async () => {
  // a first /v1/report with sentences embeds the whole corpus inside its slot (about a second)
  const slow = post('/v1/report', form(FILES.slice(0, 1), { sentences: 'true', k: '2' }));
  for (let i = 0; i < 2000; i++) {
    const h = await (await fetch(`${server.url}/healthz`)).json();
    if (h.queue.running === 1) break;
    await new Promise((r) => setTimeout(r, 2));
  }
  const busy = await post('/v1/classify', form(FILES.slice(0, 1), { labels: 'a,b' }));
  assert.equal(busy.status, 503);
  assert.equal(busy.headers.get('retry-after'), '1');
  assert.match(busy.data.detail, /busy/);
  const done = await slow;
  assert.equal(done.status, 200, JSON.stringify(done.data));
  assert.equal(typeof done.data.results[0].report, 'string');
  assert.equal((await post('/v1/classify', form(FILES.slice(0, 1), { labels: 'a,b' }))).status, 200);
});

test('logs: one request id per request, sent back as x-request-id, and no file names, labels or tokens', async () => {
  const r = await post('/v1/classify', form(FILES.slice(0, 1), { labels: 'sarcoidosis,normal' }), { ...auth, 'x-request-id': 'req-abc-123' });
  assert.equal(r.headers.get('x-request-id'), 'req-abc-123');
  for (let i = 0; i < 100 && !server.stdout().includes('"reqId":"req-abc-123","res"'); i++) await new Promise((res) => setTimeout(res, 50));
  const lines = server.stdout().trim().split('\n').map((l) => JSON.parse(l));
  const mine = lines.filter((l) => l.reqId === 'req-abc-123');
  assert.deepEqual(mine.map((l) => l.msg), ['incoming request', 'request completed']);
  assert.deepEqual(mine[0].req, { method: 'POST', path: '/v1/classify' });
  const all = server.stdout();
  for (const secret of [...FILES, 'sarcoidosis', TOKEN, 'truncated.jpeg', 'large.png', 'filename=']) assert.ok(!all.includes(secret), `the log holds ${secret}`);
});

test('refuses to listen off loopback without a token', async () => {
  const r = clipmedIn(process.cwd(), env, 'serve', '--model', MODEL, '--host', '0.0.0.0', '--port', '0');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /refusing to listen on 0\.0\.0\.0 without a token/);
});

test('graceful shutdown: SIGTERM lets an in-flight request finish, then the server exits 0', async () => {
  // a multipart upload that is still being sent when the signal comes
  const boundary = 'clipmedboundary';
  const head = `--${boundary}\r\ncontent-disposition: form-data; name="labels"\r\n\r\nnormal,pneumonia\r\n--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="${FILES[0]}"\r\ncontent-type: image/jpeg\r\n\r\n`;
  const jpeg = readFileSync(join(NORMAL, FILES[0]!));
  const url = new URL(server.url);
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: '/v1/classify', method: 'POST', headers: { ...auth, 'content-type': `multipart/form-data; boundary=${boundary}` } }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.write(head);
    req.write(jpeg.subarray(0, 1000));
    setTimeout(() => {
      const exited = server.stop('SIGTERM');
      setTimeout(() => {
        req.end(Buffer.concat([jpeg.subarray(1000), Buffer.from(`\r\n--${boundary}--\r\n`)]));
      }, 300);
      exited.then((code) => assert.equal(code, 0));
    }, 200);
  });
  const r = await answer;
  assert.equal(r.status, 200, r.body);
  assert.equal(JSON.parse(r.body).results[0].input, FILES[0]);
  assert.equal(await server.stop(), 0);
  assert.match(server.stderr(), /SIGTERM: finishing in-flight requests/);
});
