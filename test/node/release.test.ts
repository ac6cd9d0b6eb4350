// Release files (MedCLIP's zips): the mirror setting, the download into clipmed's cache, its errors, and the
// streamed unzip of one member, against a loopback HTTP server started here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { ConfigError, DecodeError, NetworkError } from '../../src/errors.ts';
import { fetchRelease, releaseUrl, unzipMember } from '../../src/node/release.ts';

const PUBLISHED = 'https://storage.googleapis.com/pytrial/medclip-vit-pretrained.zip';

async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; endpoint: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const a = server.address();
  return { server, endpoint: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}` };
}

/** Run `fn` with a fresh cache and the given environment, restoring it after. */
async function withEnv(env: Record<string, string | undefined>, fn: () => Promise<void>): Promise<void> {
  const keys = ['CLIPMED_CACHE', 'CLIPMED_RELEASE_ENDPOINT', 'HF_HUB_OFFLINE', 'HF_HOME', ...Object.keys(env)];
  const saved = new Map(keys.map((k) => [k, process.env[k]]));
  const home = mkdtempSync(join(tmpdir(), 'clipmed-release-'));
  Object.assign(process.env, { CLIPMED_CACHE: join(home, 'cache'), HF_HOME: join(home, 'hf') });
  delete process.env.CLIPMED_RELEASE_ENDPOINT;
  delete process.env.HF_HUB_OFFLINE;
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  try {
    await fn();
  } finally {
    for (const [k, v] of saved) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
}

test('release: CLIPMED_RELEASE_ENDPOINT keeps the published path on the mirror; a bad value is a ConfigError', async () => {
  await withEnv({}, async () => assert.equal(releaseUrl(PUBLISHED), PUBLISHED));
  await withEnv({ CLIPMED_RELEASE_ENDPOINT: 'http://127.0.0.1:8000/' }, async () => assert.equal(releaseUrl(PUBLISHED), 'http://127.0.0.1:8000/pytrial/medclip-vit-pretrained.zip'));
  await withEnv({ CLIPMED_RELEASE_ENDPOINT: 'file:///tmp' }, async () => assert.throws(() => releaseUrl(PUBLISHED), (e: unknown) => e instanceof ConfigError && /CLIPMED_RELEASE_ENDPOINT/.test(e.message)));
});

test('release: downloaded once into the cache (size checked); a missing file and offline without a copy are NetworkErrors naming the URL', async () => {
  const body = Buffer.from(zipSync({ 'pytorch_model.bin': new Uint8Array(70_000).map((_, i) => (i * 31) % 251) }));
  let gets = 0;
  const { server, endpoint } = await serve((req, res) => {
    if (req.url !== '/pytrial/medclip-vit-pretrained.zip') return void res.writeHead(404).end();
    if (req.method === 'GET') gets++;
    res.writeHead(200, { 'content-length': String(body.length) });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  try {
    await withEnv({ CLIPMED_RELEASE_ENDPOINT: endpoint }, async () => {
      const path = await fetchRelease(PUBLISHED);
      assert.deepEqual(readFileSync(path), body);
      assert.equal(await fetchRelease(PUBLISHED), path);
      assert.equal(gets, 1, 'the second call finds the cached file');
      await assert.rejects(fetchRelease('https://storage.googleapis.com/pytrial/medclip-pretrained.zip'), (e: unknown) => e instanceof NetworkError && /HTTP 404/.test(e.message) && e.message.includes(`${endpoint}/pytrial/medclip-pretrained.zip`));
      process.env.HF_HUB_OFFLINE = '1';
      assert.equal(await fetchRelease(PUBLISHED), path, 'offline, the cached copy answers');
      await assert.rejects(fetchRelease('https://storage.googleapis.com/pytrial/other.zip'), (e: unknown) => e instanceof NetworkError && /HF_HUB_OFFLINE/.test(e.message));
    });
  } finally {
    server.close();
  }
});

test('release: unzipMember streams one member out, atomically; a missing member or a damaged stream is an error naming the zip', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'clipmed-unzip-'));
  const weights = new Uint8Array(randomBytes(300_000)); // incompressible: the zip is as long as the member
  const zip = join(dir, 'release.zip');
  writeFileSync(zip, zipSync({ 'README.txt': new TextEncoder().encode('x'), 'pytorch_model.bin': weights }, { level: 6 }));
  await unzipMember(zip, 'pytorch_model.bin', join(dir, 'out.bin'));
  assert.equal(createHash('sha256').update(readFileSync(join(dir, 'out.bin'))).digest('hex'), createHash('sha256').update(weights).digest('hex'));
  await assert.rejects(unzipMember(zip, 'model.safetensors', join(dir, 'none.bin')), (e: unknown) => e instanceof ConfigError && e.message.includes(zip) && /holds README\.txt, pytorch_model\.bin/.test(e.message));
  assert.ok(!existsSync(join(dir, 'none.bin')));
  const cut = join(dir, 'cut.zip');
  writeFileSync(cut, readFileSync(zip).subarray(0, 150_000));
  await assert.rejects(unzipMember(cut, 'pytorch_model.bin', join(dir, 'cut.bin')), (e: unknown) => (e instanceof DecodeError || e instanceof ConfigError) && e.message.includes(cut));
  assert.ok(!existsSync(join(dir, 'cut.bin')), 'nothing is left under the final name');
});
