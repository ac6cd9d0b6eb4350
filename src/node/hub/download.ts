// Downloading one blob into the hub cache: stream to `blobs/<etag>.incomplete`, resume it with a Range request
// after an interruption (in this run, with bounded retries, or in the next), then check the size and the content
// hash against the ETag before the blob takes its final name. As in huggingface_hub (file_download.py:
// http_get, _download_to_tmp_and_move), the partial file is kept across runs; unlike it, the content is verified.
import { createHash } from 'node:crypto';
import { createReadStream, writeSync } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DecodeError, NetworkError, type ClipmedError } from '../../errors.ts';
import { exists } from './cache.ts';
import { follow, header, isTransportError, statusError, transportError, type FileMetadata, type RequestContext } from './http.ts';
import { withFileLock } from './lock.ts';
import type { HubProgress } from './settings.ts';

export interface DownloadJob {
  ctx: RequestContext;
  meta: FileMetadata;
  /** final path, `blobs/<etag>` */
  blob: string;
  /** lock file that keeps other processes from downloading the same blob at the same time */
  lock: string;
  onProgress?: (p: HubProgress) => void;
  onWarning: (message: string) => void;
  /** the ETag is not a content hash (or is weak): check the size only; the caller names the blob by its sha256 */
  unhashed?: boolean;
}

const MAX_RETRY_WAIT_MS = 8000;
/** Downloads in progress in this process, by blob path: a second caller waits for the first. */
const inflight = new Map<string, Promise<void>>();

/** Download `job.meta.downloadUrl` into `job.blob`, verified. */
export function downloadBlob(job: DownloadJob): Promise<void> {
  const running = inflight.get(job.blob);
  if (running) return running;
  const p = download(job).finally(() => inflight.delete(job.blob));
  inflight.set(job.blob, p);
  return p;
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

function download(job: DownloadJob): Promise<void> {
  return withFileLock(
    job.lock,
    async () => {
      if (!(await exists(job.blob))) await downloadLocked(job); // else: done by the process we waited for
    },
    job.onWarning,
  );
}

async function downloadLocked(job: DownloadJob): Promise<void> {
  const { ctx, meta, blob } = job;
  const part = `${blob}.incomplete`;
  const { retries, retryDelayMs } = ctx.settings;
  await mkdir(dirname(blob), { recursive: true });
  for (let attempt = 0; ; attempt++) {
    try {
      // The first try uses the CDN URL the HEAD gave; retries ask the hub again, as a signed URL may have expired.
      await fetchInto(part, job, attempt === 0 ? meta.downloadUrl : ctx.url);
      break;
    } catch (e) {
      if (!isTransportError(e)) throw e;
      if (attempt >= retries) {
        const have = await sizeOf(part);
        // Not a transport error any more: the cache cannot stand in for a file it is still downloading.
        const inner = e as ClipmedError;
        const why = inner.file && inner.message.startsWith(`${inner.file}: `) ? inner.message.slice(inner.file.length + 2) : inner.message;
        throw new NetworkError(
          `download of ${ctx.file} stopped after ${have} of ${meta.size ?? 'unknown'} bytes (${retries} retries): ${why}. ` +
            `The partial file ${part} is kept; run again to resume it`,
          { file: ctx.url, cause: e, status: inner instanceof NetworkError ? inner.status : undefined },
        );
      }
      await sleep(Math.min(retryDelayMs * 2 ** attempt, MAX_RETRY_WAIT_MS));
    }
  }
  await verify(part, job);
  await rename(part, blob);
}

/** One request: append the rest of the file to `part` (or start it afresh when the server ignores the Range). */
async function fetchInto(part: string, job: DownloadJob, from: string): Promise<void> {
  const { ctx, meta } = job;
  const size = meta.size;
  let have = await sizeOf(part);
  if (size !== undefined && have > size) {
    await rm(part, { force: true }); // longer than the file can be: not a prefix of it
    have = 0;
  }
  job.onProgress?.({ file: ctx.file, done: have, total: size });
  if (size !== undefined && have === size) return; // finished by an earlier run that stopped before verifying
  const range: Record<string, string> = have > 0 ? { range: `bytes=${have}-` } : {};
  const { res, url } = await follow('GET', from, ctx, range, ctx.settings.downloadTimeoutMs);
  const status = res.statusCode ?? 0;
  if ((status === 401 || status === 403) && url.href !== new URL(ctx.url).href) {
    res.resume(); // not the hub refusing the user (that is the resolve URL's answer): the CDN refusing its signed URL
    throw transportError(`${url.host} refused the download URL (HTTP ${status}); its signature may have expired`, ctx);
  }
  if (status === 206) {
    const m = /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(header(res.headers, 'content-range') ?? '');
    if (!m || Number(m[1]) !== have) {
      res.resume();
      await rm(part, { force: true });
      throw transportError(`the server answered the resume from byte ${have} with Content-Range ${JSON.stringify(res.headers['content-range'])}; starting over`, ctx);
    }
  } else if (status === 200) {
    have = 0; // the whole file came back: the Range was ignored
  } else if (status === 416 && have > 0) {
    res.resume();
    await rm(part, { force: true });
    throw transportError(`the server refused to resume from byte ${have} (HTTP 416); starting over`, ctx);
  } else {
    res.resume();
    throw statusError(res, ctx);
  }
  const fh = await open(part, have > 0 ? 'a' : 'w');
  const { minBytesPerSecond, speedWindowMs } = ctx.settings;
  let speedCheck: NodeJS.Timeout | undefined;
  try {
    // Written synchronously as each chunk arrives: a stream that breaks discards what it still buffers, so an
    // interruption would otherwise lose bytes already received (and the resume would start earlier than it could).
    await new Promise<void>((resolve, reject) => {
      let windowStart = have;
      if (minBytesPerSecond > 0) {
        // a server that trickles a byte every few seconds never trips the idle timeout: measure the speed too
        speedCheck = setInterval(() => {
          const got = have - windowStart;
          windowStart = have;
          if (got < (minBytesPerSecond * speedWindowMs) / 1000) {
            res.destroy(new Error(`only ${got} bytes in ${speedWindowMs / 1000} s, slower than the ${minBytesPerSecond} bytes/s accepted`));
          }
        }, speedWindowMs);
        speedCheck.unref();
      }
      res.on('data', (chunk: Buffer) => {
        if (size !== undefined && have + chunk.length > size) {
          // never more than the hub announced: a server that keeps sending must not fill the disk
          res.destroy();
          reject(new DecodeError(`${ctx.file}: the server sent more than the ${size} bytes the hub announced; the download was stopped and deleted`, { file: ctx.url }));
          return;
        }
        writeSync(fh.fd, chunk);
        have += chunk.length;
        job.onProgress?.({ file: ctx.file, done: have, total: size });
      });
      res.on('end', resolve);
      res.on('error', reject);
      res.on('close', () => (res.complete ? resolve() : reject(new Error('the connection closed early'))));
    });
  } catch (e) {
    if (e instanceof DecodeError) {
      await fh.close();
      await rm(part, { force: true });
      throw e;
    }
    throw transportError(`connection lost after ${have} bytes of ${ctx.file}: ${(e as Error).message}`, ctx, e);
  } finally {
    clearInterval(speedCheck);
    await fh.close().catch(() => undefined);
  }
  if (!res.complete) throw transportError(`connection closed after ${have} bytes of ${ctx.file}`, ctx);
}

export async function hashFile(path: string, algorithm: string, prefix?: string): Promise<string> {
  const h = createHash(algorithm);
  if (prefix !== undefined) h.update(prefix);
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 22 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/**
 * The size must be the announced one and the content must hash to the ETag: sha256 for LFS files, the git blob
 * sha1 (`sha1("blob <size>\0" + content)`) for the small files git stores itself. A bad download is deleted.
 */
async function verify(part: string, job: DownloadJob): Promise<void> {
  const { ctx, meta } = job;
  const got = await sizeOf(part);
  const fail = async (message: string) => {
    await rm(part, { force: true });
    return new DecodeError(`${message}; the bad download was deleted, run again to download it afresh`, { file: ctx.url });
  };
  if (meta.size !== undefined && got !== meta.size) throw await fail(`${ctx.file}: downloaded ${got} bytes, the hub announced ${meta.size}`);
  let kind: string;
  let actual: string;
  if (job.unhashed) return; // named by the sha256 of these bytes by the caller, never by the ETag
  if (/^[0-9a-f]{64}$/.test(meta.etag)) {
    kind = 'sha256';
    actual = await hashFile(part, 'sha256');
  } else if (/^[0-9a-f]{40}$/.test(meta.etag)) {
    kind = 'git blob sha1';
    actual = await hashFile(part, 'sha1', `blob ${got}\0`);
  } else {
    return; // not a content hash: the caller passes unhashed and names the blob by its sha256
  }
  if (actual !== meta.etag) throw await fail(`${ctx.file} is corrupted: expected ${kind} ${meta.etag}, got ${actual}`);
}
