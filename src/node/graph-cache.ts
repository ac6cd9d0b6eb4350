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

/** Size and sha256 of each file of a cache entry, recorded when it is written and checked when it is used. */
export type FileRecord = Record<string, { size: number; sha256: string }>;

/**
 * Record the size and sha256 of `names` inside `dir` (call after writing them, before the entry is marked complete).
 * @example await recordFiles(dir, ['vision.onnx', 'vision.onnx.data']) // { 'vision.onnx': { size: 1234, sha256: '9f…' }, ... }
 */
export async function recordFiles(dir: string, names: string[]): Promise<FileRecord> {
  const out: FileRecord = {};
  for (const name of names) {
    const path = join(dir, name);
    if (!(await exists(path))) continue; // a graph without external data has no .data file
    out[name] = { size: (await stat(path)).size, sha256: await sha256File(path) };
  }
  return out;
}

/**
 * Why the files in `dir` no longer match their record (a missing, truncated or altered file), or undefined when they
 * all do. A cache entry that fails this is rebuilt rather than trusted: flipped bytes in a graph's weights would
 * otherwise change every embedding without an error.
 * @example await checkFiles(dir, meta.files) // undefined, or "vision.onnx.data: 1048576 bytes, 4194304 recorded"
 */
export async function checkFiles(dir: string, record: FileRecord | undefined, names: string[]): Promise<string | undefined> {
  if (!record || typeof record !== 'object') return 'no size and hash recorded (written by an older clipmed)';
  for (const name of names) {
    const want = record[name];
    const path = join(dir, name);
    if (!want) {
      if (await exists(path)) return `${name}: present but not recorded`;
      continue;
    }
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch {
      return `${name}: missing`;
    }
    if (size !== want.size) return `${name}: ${size} bytes, ${want.size} recorded`;
    const sha = await sha256File(path);
    if (sha !== want.sha256) return `${name}: sha256 ${sha.slice(0, 12)}…, ${String(want.sha256).slice(0, 12)}… recorded`;
  }
  return undefined;
}
