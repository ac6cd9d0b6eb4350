// Weights published as a release file rather than a hub repository (MedCLIP's zips on Google Cloud Storage):
// downloaded once into clipmed's cache with the hub client's downloader (resume after an interruption, idle
// timeouts, size checked, atomic rename), then the one file a model needs unzipped beside it. A mirror stands in
// for the publisher's host with CLIPMED_RELEASE_ENDPOINT (as HF_ENDPOINT does for the hub): the URL's path is kept
// and its origin replaced, e.g. https://storage.googleapis.com/pytrial/medclip-vit-pretrained.zip becomes
// http://127.0.0.1:8000/pytrial/medclip-vit-pretrained.zip.
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, existsSync, openSync, writeSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Unzip, UnzipInflate } from 'fflate';
import { ConfigError, DecodeError, NetworkError } from '../errors.ts';
import { exists } from './hub/cache.ts';
import { downloadBlob } from './hub/download.ts';
import { follow, header, normalizeEtag, type RequestContext } from './hub/http.ts';
import { hubSettings, type HubProgress } from './hub/settings.ts';
import { cacheRoot } from './graph-cache.ts';

export const RELEASE_ENDPOINT_ENV = 'CLIPMED_RELEASE_ENDPOINT';

/**
 * The URL to download a release from: the published one, or its path on the mirror CLIPMED_RELEASE_ENDPOINT names.
 * @example releaseUrl('https://storage.googleapis.com/pytrial/medclip-vit-pretrained.zip') // unchanged unless CLIPMED_RELEASE_ENDPOINT is set
 */
export function releaseUrl(url: string): string {
  const mirror = process.env[RELEASE_ENDPOINT_ENV];
  if (!mirror) return url;
  let m: URL;
  try {
    m = new URL(mirror);
    if (m.protocol !== 'http:' && m.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new ConfigError(`${RELEASE_ENDPOINT_ENV}=${JSON.stringify(mirror)}: expected an http(s) URL such as http://127.0.0.1:8000`);
  }
  const u = new URL(url);
  return `${mirror.replace(/\/+$/, '')}${u.pathname}${u.search}`;
}

/** The cache folder of a release URL: `<clipmed cache>/releases/<sha256 of the URL, 16 hex>`. */
export function releaseDir(url: string): string {
  return join(cacheRoot(), 'releases', createHash('sha256').update(url).digest('hex').slice(0, 16));
}

/**
 * The cached copy of a release (from the mirror when CLIPMED_RELEASE_ENDPOINT is set), or undefined.
 * @example cachedRelease('https://storage.googleapis.com/pytrial/medclip-vit-pretrained.zip') // '~/.cache/clipmed/releases/<hash>/medclip-vit-pretrained.zip' once downloaded
 */
export function cachedRelease(published: string): string | undefined {
  const url = releaseUrl(published);
  const path = join(releaseDir(url), decodeURIComponent(new URL(url).pathname.split('/').pop() ?? ''));
  return existsSync(path) ? path : undefined;
}

export interface ReleaseOptions {
  onProgress?: (p: HubProgress) => void;
  log?: (message: string) => void;
}

/**
 * The local path of a release file, downloaded into the cache when it is not there yet (from the mirror when
 * CLIPMED_RELEASE_ENDPOINT is set). Offline (HF_HUB_OFFLINE) only the cache answers.
 * @example await fetchRelease('https://storage.googleapis.com/pytrial/medclip-vit-pretrained.zip') // '~/.cache/clipmed/releases/<hash>/medclip-vit-pretrained.zip'
 */
export async function fetchRelease(published: string, o: ReleaseOptions = {}): Promise<string> {
  const url = releaseUrl(published);
  const name = decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '');
  if (!/^[A-Za-z0-9_.-]+$/.test(name) || name.startsWith('.')) throw new ConfigError(`release URL ${url}: its last path part ${JSON.stringify(name)} is not a plain file name`);
  const dir = releaseDir(url);
  const path = join(dir, name);
  if (await exists(path)) return path;
  const settings = hubSettings();
  if (settings.offline) throw new NetworkError(`HF_HUB_OFFLINE is set and ${name} has not been downloaded before (expected in ${dir})`, { file: url });
  await mkdir(dir, { recursive: true });
  const ctx: RequestContext = { settings, repo: new URL(url).host, revision: 'release', file: name, url };
  const { res, url: at } = await follow('HEAD', url, ctx, {}, settings.metadataTimeoutMs);
  res.resume();
  const status = res.statusCode ?? 0;
  if (status !== 200) throw new NetworkError(`the release file ${name} is not there: HTTP ${status} ${res.statusMessage ?? ''} for ${at.href}`, { file: url, status });
  const size = header(res.headers, 'content-length');
  if (size === undefined || !/^\d{1,15}$/.test(size)) throw new NetworkError(`the server did not say how large ${name} is (no Content-Length); a download without a size cannot be checked`, { file: url });
  o.log?.(`downloading ${url} (${(Number(size) / 1e6).toFixed(1)} MB) into ${dir}`);
  const etag = normalizeEtag(header(res.headers, 'etag') ?? 'release').replace(/[^A-Za-z0-9_.-]/g, '_');
  await downloadBlob({
    ctx,
    meta: { commit: 'release', etag, size: Number(size), downloadUrl: at.href },
    blob: path,
    lock: `${path}.lock`,
    onProgress: o.onProgress,
    onWarning: o.log ?? ((m) => process.emitWarning(m, 'ReleaseWarning')),
    unhashed: true,
  });
  return path;
}

/**
 * Unzip one member of a zip file into `dest` (streamed: the member may be larger than memory), atomically: the
 * file appears only once it is complete. A zip without the member is a ConfigError listing what it holds.
 * @example await unzipMember('medclip-vit-pretrained.zip', 'pytorch_model.bin', '/tmp/x/pytorch_model.bin')
 */
export async function unzipMember(zip: string, member: string, dest: string): Promise<void> {
  const tmp = `${dest}.${process.pid}.${Date.now()}.tmp`;
  const names: string[] = [];
  let fd: number | undefined;
  let written = 0;
  let done = false;
  let declared: number | undefined;
  let failure: Error | undefined;
  const unzip = new Unzip((file) => {
    names.push(file.name);
    if (file.name !== member || fd !== undefined) return;
    if (file.compression !== 0 && file.compression !== 8) {
      failure = new DecodeError(`${member} is compressed with method ${file.compression}; stored (0) and deflate (8) are read`, { file: zip });
      return;
    }
    fd = openSync(tmp, 'w');
    const bound = file.originalSize;
    declared = bound;
    file.ondata = (err, chunk, final) => {
      if (failure) return;
      if (err) {
        failure = new DecodeError(`${member} inside the zip is damaged: ${err.message}`, { file: zip });
        return;
      }
      written += chunk.length;
      if (bound !== undefined && written > bound) {
        failure = new DecodeError(`${member} inflates past the ${bound} bytes the zip declares`, { file: zip });
        return;
      }
      writeSync(fd!, chunk);
      if (final) done = true;
    };
    file.start();
  });
  unzip.register(UnzipInflate);
  try {
    // fflate reports a broken archive by throwing a bare Error: it becomes a DecodeError naming the zip
    const push = (bytes: Uint8Array, final: boolean) => {
      try {
        unzip.push(bytes, final);
      } catch (e) {
        throw failure ?? new DecodeError(`not a readable zip: ${(e as Error).message}`, { file: zip });
      }
      if (failure) throw failure;
    };
    for await (const chunk of createReadStream(zip, { highWaterMark: 1 << 22 })) push(new Uint8Array(chunk as Buffer), false);
    push(new Uint8Array(0), true);
    if (fd === undefined) throw new ConfigError(`the zip has no ${member}; it holds ${names.slice(0, 10).join(', ') || 'nothing'}`, { file: zip });
    if (!done || (declared !== undefined && written !== declared)) {
      throw new DecodeError(`${member} ends early: ${written} bytes inflated${declared !== undefined ? ` of the ${declared} the zip declares` : ''}; the zip is cut short or damaged`, { file: zip });
    }
    closeSync(fd);
    fd = undefined;
    await rename(tmp, dest);
  } finally {
    if (fd !== undefined) closeSync(fd);
    await rm(tmp, { force: true });
  }
}
