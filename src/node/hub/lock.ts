// One downloader per blob across processes (several CLI runs, or embedding workers on one machine, starting on
// the same model): without it two processes would append to the same `.incomplete` file. huggingface_hub locks
// `<cache>/.locks/models--ORG--NAME/<etag>.lock` with flock, which Node cannot call; this is an exclusive-create
// lock file of our own beside it, holding the owner's pid and host, touched while held, and taken over when the
// owner is gone (same host, dead pid) or the file has not been touched for STALE_MS (a crash on another host).
import { open, readFile, rm, stat, utimes, mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const STALE_MS = 30_000;
const REFRESH_MS = 5_000;
const POLL_MS = 200;

interface Owner {
  pid: number;
  host: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0); // signal 0: only asks whether the process exists
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, but belongs to another user
  }
}

async function owner(path: string): Promise<{ owner?: Owner; ageMs: number } | undefined> {
  try {
    const st = await stat(path);
    let o: Owner | undefined;
    try {
      o = JSON.parse(await readFile(path, 'utf8'));
    } catch {
      o = undefined; // just created and not yet written: judged by its age alone
    }
    return { owner: o, ageMs: Date.now() - st.mtimeMs };
  } catch {
    return undefined; // released meanwhile
  }
}

/**
 * Hold the lock at `path` while `fn` runs. `onWait` is told once when another process holds it.
 * @example await withFileLock(lockFile, () => download(), (m) => console.error(m))
 */
export async function withFileLock<T>(path: string, fn: () => Promise<T>, onWait: (message: string) => void): Promise<T> {
  await mkdir(dirname(path), { recursive: true });
  let told = false;
  for (;;) {
    try {
      const fh = await open(path, 'wx');
      await fh.writeFile(JSON.stringify({ pid: process.pid, host: hostname() } satisfies Owner));
      await fh.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const held = await owner(path);
    if (!held) continue;
    const o = held.owner;
    if ((o && o.host === hostname() && !alive(o.pid)) || held.ageMs > STALE_MS) {
      await rm(path, { force: true }); // its owner is gone
      continue;
    }
    if (!told) {
      onWait(`waiting for ${o ? `process ${o.pid} on ${o.host}` : 'another process'}, which is downloading the same file (lock ${path})`);
      told = true;
    }
    await sleep(POLL_MS);
  }
  const refresh = setInterval(() => {
    const now = new Date();
    utimes(path, now, now).catch(() => undefined); // a missed touch only risks a takeover after STALE_MS
  }, REFRESH_MS);
  refresh.unref();
  try {
    return await fn();
  } finally {
    clearInterval(refresh);
    await rm(path, { force: true });
  }
}
