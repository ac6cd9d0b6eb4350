// Images named by DICOMweb URL: the server fetches them from a real PACS (Orthanc, started here) when the
// origin is allowed, and answers what `clipmed classify --json` prints for the same URL; other origins get 403.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DATA, isolateCache } from '../helpers/reference.ts';
import { startOrthanc, type OrthancServer } from '../helpers/orthanc.ts';
import { clipmedIn, MODEL, ROOT, serve, type Served } from './serve.ts';

const cache = isolateCache();
const env = { CLIPMED_CACHE: cache };
let orthanc: OrthancServer;
let server: Served;
let study: string;

before(async () => {
  orthanc = await startOrthanc();
  study = (await orthanc.upload(readFileSync(join(DATA, 'dicom/pydicom-test-files/CT_small.dcm')))).study;
  server = await serve(['--model', MODEL, '--quiet', '--dicomweb-origin', orthanc.url], env);
});
after(async () => {
  await server?.stop();
  await orthanc?.stop();
});

test('a dicomweb+http URL of an allowed origin is fetched and classified as the CLI classifies it', async () => {
  const url = `dicomweb+${orthanc.dicomWeb}/studies/${study}`;
  const r = await fetch(`${server.url}/v1/classify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ urls: [url], labels: ['normal', 'mass', 'effusion'] }) });
  const body = await r.json();
  assert.equal(r.status, 200, JSON.stringify(body));
  const cli = clipmedIn(ROOT, env, 'classify', '--model', MODEL, '--labels', 'normal,mass,effusion', url, '--json');
  assert.equal(cli.code, 0, cli.stderr);
  assert.deepEqual(body, JSON.parse(cli.stdout));
  assert.match(body.results[0].input, /^dicomweb\+http:\/\/127\.0\.0\.1:\d+\/dicom-web\/studies\/.+\/instances\//);
});

test('a URL of any other origin is refused before anything is fetched', async () => {
  const form = new FormData();
  form.append('url', 'dicomweb+http://10.0.0.1:8042/dicom-web/studies/1.2.3');
  form.append('labels', 'a,b');
  const r = await fetch(`${server.url}/v1/classify`, { method: 'POST', body: form });
  assert.equal(r.status, 403);
  const p = await r.json();
  assert.match(p.detail, /origin http:\/\/10\.0\.0\.1:8042 is not allowed: start the server with --dicomweb-origin/);
});
