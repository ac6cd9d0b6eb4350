// What the two caches hold and freeing them: clipmed's own cache ($CLIPMED_CACHE: compiled graphs keyed by the
// checkpoint, embedded report corpora) and the Hugging Face hub cache (models--ORG--NAME with blobs/, refs/
// and snapshots/, shared with Python), as huggingface_hub's scan-cache and delete-cache show and free it.
// Nothing outside the two cache folders is ever removed, and no symbolic link is followed out of them.
import { lstat, readdir, readFile, readlink, rm, stat } from 'node:fs/promises';
import { basename, join, relative, resolve, sep } from 'node:path';
import { ConfigError } from '../index.ts';

export interface ClipmedCacheEntry {
  /** graph (a compiled model), corpus (embedded report texts), tmp (left by an interrupted write), other */
  kind: 'graph' | 'corpus' | 'tmp' | 'other';
  /** the key: a graph folder's name, a corpus file's stem, or the path relative to the cache */
  key: string;
  path: string;
  size: number;
  /** the latest access or modification of its files, ISO 8601 */
  lastUsed: string;
  /** for graphs: the graph format version, the family, the checkpoint's sha256, and whether it is complete */
  graphVersion?: number;
  family?: string;
  checkpointSha256?: string;
  complete?: boolean;
}

export interface HubRevision {
  commit: string;
  refs: string[];
  files: number;
  /** bytes of the distinct blobs its files point to */
  size: number;
  lastModified: string;
}

export interface HubRepo {
  repo: string;
  type: 'model' | 'dataset' | 'space';
  path: string;
  /** bytes of blobs/ (each file once, whatever the revisions sharing it) */
  size: number;
  revisions: HubRevision[];
  /** blobs no snapshot points to, and downloads that never finished */
  orphanBlobs: string[];
  incomplete: string[];
  lastModified: string;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Total size and latest access/modification under a path (symbolic links counted as themselves). */
async function usage(path: string): Promise<{ size: number; last: number }> {
  const st = await lstat(path);
  let size = st.isFile() ? st.size : 0;
  let last = Math.max(st.atimeMs, st.mtimeMs);
  if (st.isDirectory()) {
    for (const name of await readdir(path)) {
      const u = await usage(join(path, name));
      size += u.size;
      last = Math.max(last, u.last);
    }
  }
  return { size, last };
}

async function dirNames(path: string): Promise<string[]> {
  try {
    return (await readdir(path)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Every entry of clipmed's cache folder. */
export async function scanClipmedCache(root: string): Promise<ClipmedCacheEntry[]> {
  const out: ClipmedCacheEntry[] = [];
  for (const top of await dirNames(root)) {
    const p = join(root, top);
    const st = await lstat(p);
    if (top === 'graphs' && st.isDirectory()) {
      for (const key of await dirNames(p)) {
        const dir = join(p, key);
        const u = await usage(dir);
        const files = await dirNames(dir);
        let meta: { graphVersion?: number; family?: string; checkpointSha256?: string } | undefined;
        try {
          meta = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8'));
        } catch {
          meta = undefined; // no or unreadable meta.json: an entry that was never finished
        }
        out.push({
          kind: 'graph', key, path: dir, size: u.size, lastUsed: iso(u.last),
          graphVersion: meta?.graphVersion, family: meta?.family, checkpointSha256: meta?.checkpointSha256,
          complete: Boolean(meta) && !files.some((f) => f.endsWith('.tmp')),
        });
      }
    } else if (top === 'corpora' && st.isDirectory()) {
      for (const name of await dirNames(p)) {
        const u = await usage(join(p, name));
        out.push({ kind: name.endsWith('.tmp') ? 'tmp' : 'corpus', key: name.replace(/\.f32$/, ''), path: join(p, name), size: u.size, lastUsed: iso(u.last) });
      }
    } else {
      const u = await usage(p);
      out.push({ kind: top.endsWith('.tmp') ? 'tmp' : 'other', key: top, path: p, size: u.size, lastUsed: iso(u.last) });
    }
  }
  return out;
}

const REPO_TYPES = { models: 'model', datasets: 'dataset', spaces: 'space' } as const;

/** Every repository in a huggingface_hub cache folder, with its revisions, as `scan-cache` reports them. */
export async function scanHubCache(root: string): Promise<HubRepo[]> {
  const repos: HubRepo[] = [];
  for (const name of await dirNames(root)) {
    const m = /^(models|datasets|spaces)--(.+)$/.exec(name);
    if (!m) continue;
    const path = join(root, name);
    const blobs = new Map<string, { size: number; mtime: number }>();
    const incomplete: string[] = [];
    for (const b of await dirNames(join(path, 'blobs'))) {
      const st = await lstat(join(path, 'blobs', b));
      if (b.endsWith('.incomplete')) incomplete.push(b);
      else if (st.isFile()) blobs.set(b, { size: st.size, mtime: st.mtimeMs });
    }
    const refs = new Map<string, string[]>();
    const refsDir = join(path, 'refs');
    const walkRefs = async (dir: string): Promise<void> => {
      for (const r of await dirNames(dir)) {
        const p = join(dir, r);
        if ((await lstat(p)).isDirectory()) await walkRefs(p);
        else {
          const commit = (await readFile(p, 'utf8')).trim();
          refs.set(commit, [...(refs.get(commit) ?? []), relative(refsDir, p).split(sep).join('/')]);
        }
      }
    };
    await walkRefs(refsDir);
    const used = new Set<string>();
    const revisions: HubRevision[] = [];
    for (const commit of await dirNames(join(path, 'snapshots'))) {
      const snap = join(path, 'snapshots', commit);
      const own = new Set<string>();
      let files = 0;
      let last = (await lstat(snap)).mtimeMs;
      const walk = async (dir: string): Promise<void> => {
        for (const f of await dirNames(dir)) {
          const p = join(dir, f);
          const st = await lstat(p);
          if (st.isDirectory()) await walk(p);
          else {
            files++;
            last = Math.max(last, st.mtimeMs);
            if (st.isSymbolicLink()) own.add(basename(await readlink(p)));
          }
        }
      };
      await walk(snap);
      for (const b of own) used.add(b);
      const size = [...own].reduce((s, b) => s + (blobs.get(b)?.size ?? 0), 0);
      revisions.push({ commit, refs: refs.get(commit) ?? [], files, size, lastModified: iso(last) });
    }
    const size = [...blobs.values()].reduce((s, b) => s + b.size, 0);
    const last = Math.max(0, ...[...blobs.values()].map((b) => b.mtime), ...revisions.map((r) => Date.parse(r.lastModified)));
    repos.push({
      repo: m[2]!.split('--').join('/'), type: REPO_TYPES[m[1] as keyof typeof REPO_TYPES], path, size, revisions,
      orphanBlobs: [...blobs.keys()].filter((b) => !used.has(b)), incomplete, lastModified: iso(last),
    });
  }
  return repos;
}

export interface Removal {
  kind: string;
  /** what was (or, with a dry run, would be) removed */
  path: string;
  size: number;
  reason: string;
}

/** Remove what a plan lists (unless it is a dry run); every path must lie inside one of the roots. */
export async function applyRemovals(plan: Removal[], roots: string[], dryRun: boolean): Promise<void> {
  for (const r of plan) {
    const p = resolve(r.path);
    if (!roots.some((root) => p.startsWith(resolve(root) + sep))) throw new ConfigError(`refusing to remove a path outside the caches`, { file: p });
    if (!dryRun) await rm(p, { recursive: true, force: true });
  }
}

/** The blobs of a repository that only the given revisions use (what removing them frees). */
export function blobsOnlyIn(repo: HubRepo, commits: Set<string>, links: Map<string, Set<string>>): string[] {
  const keep = new Set<string>();
  for (const rev of repo.revisions) if (!commits.has(rev.commit)) for (const b of links.get(rev.commit) ?? []) keep.add(b);
  const drop = new Set<string>();
  for (const c of commits) for (const b of links.get(c) ?? []) if (!keep.has(b)) drop.add(b);
  return [...drop];
}

/** The blob names each snapshot of a repository links to. */
export async function snapshotLinks(repo: HubRepo): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  for (const rev of repo.revisions) {
    const own = new Set<string>();
    const walk = async (dir: string): Promise<void> => {
      for (const f of await dirNames(dir)) {
        const p = join(dir, f);
        const st = await lstat(p);
        if (st.isDirectory()) await walk(p);
        else if (st.isSymbolicLink()) own.add(basename(await readlink(p)));
      }
    };
    await walk(join(repo.path, 'snapshots', rev.commit));
    out.set(rev.commit, own);
  }
  return out;
}

/** Size of a blob (0 when it is gone). */
export async function blobSize(repo: HubRepo, blob: string): Promise<number> {
  try {
    return (await stat(join(repo.path, 'blobs', blob))).size;
  } catch {
    return 0;
  }
}

/**
 * A size as people write it: 500MB, 2GB, 1.5G, 800k (powers of 1000, as the hub shows sizes), or bytes.
 * @example parseSize('2GB') // 2000000000
 */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)b?\s*$/i.exec(text);
  if (!m) throw new ConfigError(`--max-size '${text}': expected a size such as 500MB or 2GB`);
  return Math.round(Number(m[1]) * 1000 ** ' kmgt'.indexOf((m[2] || ' ').toLowerCase()));
}

/**
 * A duration in days: 30d, 12h, 2w, or a bare number of days.
 * @example parseAge('2w') // 14
 */
export function parseAge(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([hdw]?)\s*$/i.exec(text);
  if (!m) throw new ConfigError(`--older-than '${text}': expected an age such as 30d, 12h or 2w`);
  const unit = (m[2] || 'd').toLowerCase();
  return Number(m[1]) * (unit === 'h' ? 1 / 24 : unit === 'w' ? 7 : 1);
}
