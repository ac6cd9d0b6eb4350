// On-disk cache of compiled graphs, keyed by the checkpoint's sha256 (and the config that shaped the graph),
// so that a second run loads the ONNX files directly instead of reading and converting the checkpoint.
// A small memo maps (path, size, mtime) to the checkpoint hash so the hash is not recomputed every run.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile, realpath } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** `$CLIPMED_CACHE`, else `$XDG_CACHE_HOME/clipmed`, else `~/.cache/clipmed`. */
export function cacheRoot(): string {
  if (process.env.CLIPMED_CACHE) return process.env.CLIPMED_CACHE;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'clipmed');
}

/** Write a file atomically (temp file + rename), so an interrupted run never leaves a half-written graph. */
export async function writeAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 22 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** sha256 of a file, memoised by (real path, size, mtime) in the cache root. */
export async function checkpointHash(path: string): Promise<string> {
  const real = await realpath(path);
  const st = await stat(real);
  const memoKey = `${real}|${st.size}|${st.mtimeMs}`;
  const memoFile = join(cacheRoot(), 'hashes.json');
  let memo: Record<string, string> = {};
  try {
    memo = JSON.parse(await readFile(memoFile, 'utf8'));
  } catch {
    memo = {}; // no memo yet, or an unreadable one: it is only a memo, so start afresh
  }
  const known = memo[memoKey];
  if (known) return known;
  const hash = await sha256File(real);
  memo[memoKey] = hash;
  await mkdir(cacheRoot(), { recursive: true });
  await writeAtomic(memoFile, JSON.stringify(memo, null, 1));
  return hash;
}

export function graphDir(key: string): string {
  return join(cacheRoot(), 'graphs', key);
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
