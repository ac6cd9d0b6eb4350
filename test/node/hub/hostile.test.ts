// Hostile and broken hub servers (issue 15), each a node:http server on loopback started here: a body that goes
// on past its announced size, a download that trickles, redirects without a size or to a file: URL, and weak
// ETags that must not name a blob.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DecodeError, NetworkError } from '../../../src/errors.ts';
import { resolveHubSource, type ResolveHubOptions } from '../../../src/node/hub/resolve.ts';

const COMMIT = 'c'.repeat(40);
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

function options(endpoint: string, extra: Partial<ResolveHubOptions> = {}) {
  const cacheDir = mkdtempSync(join(tmpdir(), 'clipmed-hostile-hub-'));
  const warnings: string[] = [];
  const o: ResolveHubOptions = { files: ['a.bin'], endpoint, cacheDir, token: undefined, offline: false, retries: 0, retryDelayMs: 1, onWarning: (m) => void warnings.push(m), ...extra };
  return { o, cacheDir, warnings, repoDir: join(cacheDir, 'models--org--m') };
}

/** Every file under `dir` with its size. */
function files(dir: string): Array<[string, number]> {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => [join(e.parentPath, e.name), statSync(join(e.parentPath, e.name)).size]);
}

test('a body that keeps coming past the announced size is stopped at that size and deleted', async () => {
  const content = Buffer.alloc(1000, 7);
  let sent = 0;
  const hub = await serve((req, res) => {
    res.writeHead(200, { 'x-repo-commit': COMMIT, etag: `"${sha256(content)}"`, ...(req.method === 'HEAD' ? { 'content-length': '1000' } : {}) });
    if (req.method === 'HEAD') return void res.end();
    const chunk = Buffer.alloc(64 * 1024, 7);
    const pump = () => { while (!res.destroyed && sent < 1 << 30) { sent += chunk.length; if (!res.write(chunk)) return void res.once('drain', pump); } };
    res.on('close', () => undefined);
    pump();
  });
  const { o, cacheDir } = options(hub.endpoint);
  try {
    await assert.rejects(resolveHubSource('hf-hub:org/m', o), (e: Error) => e instanceof DecodeError && /a\.bin: the server sent more than the 1000 bytes the hub announced/.test(e.message));
    assert.ok(sent < 64 << 20, `the server got to send ${sent} bytes`);
    for (const [path, size] of files(cacheDir)) assert.ok(size <= 1000 && !path.endsWith('.incomplete') && !path.endsWith('.lock'), `${path}: ${size} bytes`);
  } finally {
    await hub.stop();
  }
});

test('a download that trickles a byte at a time fails on the minimum speed and releases its lock', async () => {
  const hub = await serve((req, res) => {
    res.writeHead(200, { 'x-repo-commit': COMMIT, etag: `"${'e'.repeat(64)}"`, 'content-length': '100000' });
    if (req.method === 'HEAD') return void res.end();
    const t = setInterval(() => (res.destroyed ? clearInterval(t) : res.write('x')), 40);
    res.on('close', () => clearInterval(t));
  });
  const { o, cacheDir } = options(hub.endpoint, { minBytesPerSecond: 200, speedWindowMs: 400, retries: 1 });
  try {
    await assert.rejects(resolveHubSource('hf-hub:org/m', o), (e: Error) => e instanceof NetworkError && /slower than the 200 bytes\/s accepted/.test(e.message) && /stopped after \d+ of 100000 bytes \(1 retries\)/.test(e.message));
    assert.deepEqual(files(join(cacheDir, '.locks')), [], 'the lock is released');
    const partial = files(cacheDir).filter(([p]) => p.endsWith('.incomplete'));
    assert.equal(partial.length, 1, 'the partial file is kept for a resume');
  } finally {
    await hub.stop();
  }
});

test('a hub redirect without X-Linked-Size is a NetworkError (its Content-Length is the redirect body, not the file)', async () => {
  const hub = await serve((req, res) => {
    if (req.url?.startsWith('/cdn')) return void res.end('x'.repeat(50));
    res.writeHead(302, { location: '/cdn/a', 'x-repo-commit': COMMIT, 'x-linked-etag': `"${'a'.repeat(64)}"`, 'content-length': '20' }).end(req.method === 'HEAD' ? undefined : 'Found. Redirecting..');
  });
  try {
    await assert.rejects(resolveHubSource('hf-hub:org/m', options(hub.endpoint).o), (e: Error) => e instanceof NetworkError && /did not say how large a\.bin is \(its redirect has no X-Linked-Size\)/.test(e.message));
  } finally {
    await hub.stop();
  }
});

test('a redirect to a file: URL is refused, before and after the hub has named the commit', async () => {
  for (const headers of [{}, { 'x-repo-commit': COMMIT, 'x-linked-etag': `"${'a'.repeat(64)}"`, 'x-linked-size': '10' }]) {
    const hub = await serve((_req, res) => void res.writeHead(302, { location: 'file:///etc/passwd', ...headers }).end());
    try {
      await assert.rejects(resolveHubSource('hf-hub:org/m', options(hub.endpoint).o), (e: Error) => e instanceof NetworkError && /redirected to a file: URL; only http and https redirects are followed/.test(e.message));
    } finally {
      await hub.stop();
    }
  }
});

test('a weak ETag never names a blob: the file is stored by the sha256 of what came, and new bytes under the same ETag are not mistaken for the old', async () => {
  let content = Buffer.from('first version of the file');
  const hub = await serve((req, res) => {
    res.writeHead(200, { 'x-repo-commit': COMMIT, etag: 'W/"v1-25"', 'content-length': String(content.length) });
    res.end(req.method === 'HEAD' ? undefined : content);
  });
  const { o, repoDir, warnings } = options(hub.endpoint);
  try {
    const folder = await resolveHubSource('hf-hub:org/m', o);
    assert.deepEqual(readFileSync(join(folder, 'a.bin')), content);
    assert.deepEqual(readdirSync(join(repoDir, 'blobs')), [sha256(content)]);
    assert.match(warnings.join('\n'), /the ETag W\/v1-25 is weak, so the download is named by its sha256/);

    content = Buffer.from('second version, same size');
    assert.equal(content.length, 25);
    const again = await resolveHubSource('hf-hub:org/m', o);
    assert.deepEqual(readFileSync(join(again, 'a.bin')), content);
  } finally {
    await hub.stop();
  }
});
