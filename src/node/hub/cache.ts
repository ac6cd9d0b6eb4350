// The hub cache on disk, laid out exactly as huggingface_hub lays it out (its "Manage the cache" guide), so
// that files downloaded with Python are reused here and the other way round:
//
//   <cache>/models--ORG--NAME/blobs/<etag>                       the content, named by its hash
//   <cache>/models--ORG--NAME/blobs/<etag>.incomplete            a download in progress (resumed with Range)
//   <cache>/models--ORG--NAME/snapshots/<commit>/<file>          relative symlink to ../../blobs/<etag>
//   <cache>/models--ORG--NAME/refs/<revision>                    the commit sha the revision pointed at
//   <cache>/models--ORG--NAME/.no_exist/<commit>/<file>          empty marker: the file is not in that commit
//   <cache>/.locks/models--ORG--NAME/<etag>.lock                 huggingface_hub's flock (we add <etag>.clipmed.lock)
import { copyFile, lstat, mkdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { ConfigError } from '../../errors.ts';
import { isCommitSha } from './settings.ts';

export interface RepoCache {
  /** `<cache>/models--ORG--NAME` */
  root: string;
}

/** The folder of one model repo in the cache. */
export function repoCache(cacheDir: string, repo: string): RepoCache {
  return { root: join(cacheDir, `models--${repo.split('/').join('--')}`) };
}

/** A file name inside a repo: relative, forward slashes, no '..' (it becomes a path in the cache). */
export function checkRepoFile(file: string): string {
  if (!file || file.startsWith('/') || file.includes('\\') || file.split('/').some((p) => p === '' || p === '.' || p === '..')) {
    throw new ConfigError(`invalid file name in a hub repo: ${JSON.stringify(file)}`);
  }
  return file;
}

export const blobPath = (c: RepoCache, etag: string) => join(c.root, 'blobs', etag);
export const snapshotDir = (c: RepoCache, commit: string) => join(c.root, 'snapshots', commit);
export const snapshotFile = (c: RepoCache, commit: string, file: string) => join(snapshotDir(c, commit), ...file.split('/'));
/** `<cache>/.locks/models--ORG--NAME/<etag>.clipmed.lock`, beside huggingface_hub's own `<etag>.lock` (see lock.ts). */
export const lockPath = (c: RepoCache, etag: string) => join(dirname(c.root), '.locks', basename(c.root), `${etag}.clipmed.lock`);
const refPath = (c: RepoCache, revision: string) => join(c.root, 'refs', ...revision.split('/'));
const noExistPath = (c: RepoCache, commit: string, file: string) => join(c.root, '.no_exist', commit, ...file.split('/'));

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path); // follows symlinks: a dangling snapshot link counts as missing
    return true;
  } catch {
    return false;
  }
}

/** The commit a revision points at in the cache: the revision itself when it is a sha, else `refs/<revision>`. */
export async function cachedCommit(c: RepoCache, revision: string): Promise<string | undefined> {
  if (isCommitSha(revision)) return revision;
  try {
    const sha = (await readFile(refPath(c, revision), 'utf8')).trim();
    return isCommitSha(sha) ? sha : undefined;
  } catch {
    return undefined;
  }
}

/** Record that `revision` now points at `commit` (only when it changed, as the file may be shared with Python). */
export async function writeRef(c: RepoCache, revision: string, commit: string): Promise<void> {
  if (revision === commit) return;
  if ((await cachedCommit(c, revision)) === commit) return;
  const p = refPath(c, revision);
  await mkdir(dirname(p), { recursive: true });
  await writeFile(p, commit);
}

/** Mark a file as absent from a commit, so an offline run knows not to look for it. */
export async function markMissing(c: RepoCache, commit: string, file: string): Promise<void> {
  const p = noExistPath(c, commit, file);
  await mkdir(dirname(p), { recursive: true });
  await writeFile(p, '');
}

export async function isMarkedMissing(c: RepoCache, commit: string, file: string): Promise<boolean> {
  return exists(noExistPath(c, commit, file));
}

/**
 * Point `snapshots/<commit>/<file>` at `blobs/<etag>` with a relative symlink (as huggingface_hub does, so the cache
 * can be moved). Where the file system refuses symlinks, the blob is copied and `onWarning` says so.
 */
export async function linkSnapshot(c: RepoCache, commit: string, file: string, etag: string, onWarning: (m: string) => void): Promise<string> {
  const target = blobPath(c, etag);
  const link = snapshotFile(c, commit, file);
  await mkdir(dirname(link), { recursive: true });
  const rel = relative(dirname(link), target).split(sep).join('/');
  try {
    const st = await lstat(link);
    if (st.isSymbolicLink() && (await readlink(link)) === rel && (await exists(link))) return link;
    if (!st.isSymbolicLink() && st.isFile()) return link; // a copy made where symlinks are not allowed
    await rm(link, { force: true }); // a dangling link or one to an older blob
  } catch {
    // no link yet
  }
  try {
    await symlink(rel, link);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // Another resolve of the same model (in this process or another) linked it first.
    if (code === 'EEXIST' && (await readlink(link).catch(() => undefined)) === rel) return link;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EACCES') throw e;
    onWarning(`the file system refused a symlink (${code}); copied ${target} to ${link}, which uses twice the disk space`);
    await copyFile(target, link);
  }
  return link;
}
