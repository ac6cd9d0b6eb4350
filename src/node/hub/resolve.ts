// `hf-hub:ORG/NAME[@REVISION]` → a local snapshot folder holding the files a model needs, downloaded into the
// Hugging Face hub cache when missing. The flow is huggingface_hub's hf_hub_download, file by file: HEAD for the
// commit and content hash, reuse the blob when the cache has it, else download, verify, and link it into the
// snapshot; offline (HF_HUB_OFFLINE=1, or the hub unreachable) the answer comes from refs/ and snapshots/ alone.
import { ConfigError, NetworkError, type ClipmedError } from '../../errors.ts';
import { blobPath, lockPath, cachedCommit, checkRepoFile, exists, isMarkedMissing, linkSnapshot, markMissing, repoCache, snapshotDir, snapshotFile, writeRef, type RepoCache } from './cache.ts';
import { rename, rm } from 'node:fs/promises';
import { downloadBlob, hashFile } from './download.ts';
import { fileMetadata, isMissingFile, isTransportError, type FileMetadata, type RequestContext } from './http.ts';
import { hubSettings, isCommitSha, modelPage, parseHubSpec, resolveUrl, type HubProgress, type HubSettings, type HubSettingsOptions, type HubSpec } from './settings.ts';

/** A wanted file: one name, or alternatives tried in order (the first that exists is taken), possibly optional. */
export type HubFileSpec = string | readonly string[] | { readonly oneOf: readonly string[]; readonly optional?: boolean };

export interface ResolveHubOptions extends HubSettingsOptions {
  /** the files to make present; default: the model files of whichever layout the repo has (see MODEL_LAYOUTS) */
  files?: readonly HubFileSpec[];
  /** bytes done/total per file while downloading */
  onProgress?: (p: HubProgress) => void;
  /** things worth telling the user that do not stop the run (default: process.emitWarning) */
  onWarning?: (message: string) => void;
}

export interface HubSnapshot {
  /** `<cache>/models--ORG--NAME/snapshots/<commit>` */
  folder: string;
  repo: string;
  revision: string;
  commit: string;
  /** per wanted entry, the file taken (undefined for an optional one that the repo lacks) */
  files: (string | undefined)[];
}

/** An open_clip hub repo: the config and the weights (safetensors preferred). */
export const OPEN_CLIP_FILES: readonly HubFileSpec[] = ['open_clip_config.json', ['open_clip_model.safetensors', 'open_clip_pytorch_model.bin']];

/** A transformers repo: config, weights, and whichever preprocessing and tokenizer files it has. */
export const TRANSFORMERS_FILES: readonly HubFileSpec[] = [
  'config.json',
  ['model.safetensors', 'pytorch_model.bin'],
  ...['preprocessor_config.json', 'tokenizer_config.json', 'special_tokens_map.json', 'tokenizer.json', 'vocab.txt', 'vocab.json', 'merges.txt', 'spiece.model', 'tokenizer.model'].map(
    (f) => ({ oneOf: [f], optional: true }),
  ),
];

/** The layouts a model repo may have, by the config file that identifies each (open_clip's first, as it wins when both are there). */
export const MODEL_LAYOUTS: ReadonlyArray<readonly [string, readonly HubFileSpec[]]> = [
  ['open_clip_config.json', OPEN_CLIP_FILES],
  ['config.json', TRANSFORMERS_FILES],
];

interface Group {
  oneOf: string[];
  optional: boolean;
}

function groups(files: readonly HubFileSpec[]): Group[] {
  return files.map((f) => {
    const g = typeof f === 'string' ? { oneOf: [f], optional: false } : Array.isArray(f) ? { oneOf: [...f], optional: false } : { oneOf: [...(f as { oneOf: string[] }).oneOf], optional: !!(f as { optional?: boolean }).optional };
    if (g.oneOf.length === 0) throw new ConfigError('an empty list of alternative hub files was asked for');
    g.oneOf.forEach(checkRepoFile);
    return g;
  });
}

interface Run {
  spec: HubSpec;
  settings: HubSettings;
  cache: RepoCache;
  groups: Group[];
  onProgress?: (p: HubProgress) => void;
  onWarning: (message: string) => void;
}

/** The snapshot from the cache alone; throws a NetworkError that names every missing file and why the cache was used. */
async function fromCache(run: Run, why: string): Promise<HubSnapshot> {
  const { spec, cache } = run;
  const commit = await cachedCommit(cache, spec.revision);
  if (!commit) throw new NetworkError(`${why}, and the hub cache has no ${spec.repo}@${spec.revision} (no refs/${spec.revision})`, { file: cache.root });
  const files: (string | undefined)[] = [];
  const missing: string[] = [];
  for (const g of run.groups) {
    let found: string | undefined;
    for (const f of g.oneOf) if (await exists(snapshotFile(cache, commit, f))) { found = f; break; }
    if (!found && !g.optional) missing.push(g.oneOf.join(' or '));
    files.push(found);
  }
  const folder = snapshotDir(cache, commit);
  if (missing.length) throw new NetworkError(`${why}, and ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing from the cached snapshot`, { file: folder });
  return { folder, repo: spec.repo, revision: spec.revision, commit, files };
}

/** Ask the hub about every wanted file, downloading the ones the cache lacks. */
async function online(run: Run): Promise<HubSnapshot> {
  const { spec, settings, cache } = run;
  let commit: string | undefined = isCommitSha(spec.revision) ? spec.revision : undefined;
  const files: (string | undefined)[] = [];
  for (const g of run.groups) {
    let taken: string | undefined;
    let lastMissing: unknown;
    for (const file of g.oneOf) {
      if (commit && (await isMarkedMissing(cache, commit, file))) continue;
      // Once the first answer names the commit, ask for that commit, so that every file comes from one snapshot.
      const at = commit ?? spec.revision;
      const ctx: RequestContext = { settings, repo: spec.repo, revision: spec.revision, file, url: resolveUrl(settings.endpoint, spec.repo, at, file) };
      let meta;
      try {
        meta = await fileMetadata(ctx);
      } catch (e) {
        if (!isMissingFile(e)) throw e;
        lastMissing = e;
        if (commit) await markMissing(cache, commit, file);
        continue;
      }
      if (!commit) {
        commit = meta.commit;
        await writeRef(cache, spec.revision, commit);
      }
      let name = meta.etag;
      if (isContentHash(meta)) {
        const blob = blobPath(cache, meta.etag);
        if (!(await exists(blob))) await downloadBlob({ ctx, meta, blob, lock: lockPath(cache, meta.etag), onProgress: run.onProgress, onWarning: run.onWarning });
      } else {
        name = await downloadUnhashed(run, ctx, meta);
      }
      await linkSnapshot(cache, commit, file, name, run.onWarning);
      taken = file;
      break;
    }
    if (!taken && !g.optional) {
      if (g.oneOf.length === 1 && lastMissing) throw lastMissing;
      throw new NetworkError(`none of ${g.oneOf.join(', ')} found in ${spec.repo} at revision ${spec.revision} (HTTP 404)`, { file: modelPage(settings.endpoint, spec.repo), status: 404 });
    }
    files.push(taken);
  }
  if (!commit) throw new NetworkError(`no file of ${spec.repo} at revision ${spec.revision} was asked for or found`, { file: modelPage(settings.endpoint, spec.repo) });
  return { folder: snapshotDir(cache, commit), repo: spec.repo, revision: spec.revision, commit, files };
}

/** A strong ETag that is a sha256 (LFS) or a git blob sha1: the download is checked against it and named by it. */
function isContentHash(meta: FileMetadata): boolean {
  return !meta.weak && /^(?:[0-9a-f]{64}|[0-9a-f]{40})$/.test(meta.etag);
}

/**
 * A file whose ETag is weak or not a content hash (another server than the hub, a proxy): the ETag may name other
 * bytes tomorrow, so it never names a blob. The file is downloaded afresh under a private name, checked by size,
 * and stored as `blobs/<sha256 of what was downloaded>`; that name is returned.
 */
async function downloadUnhashed(run: Run, ctx: RequestContext, meta: FileMetadata): Promise<string> {
  const staging = blobPath(run.cache, `${meta.etag}.${process.pid}.unhashed`);
  await rm(`${staging}.incomplete`, { force: true }); // never resumed: its name does not identify its content
  await downloadBlob({ ctx, meta, blob: staging, lock: lockPath(run.cache, meta.etag), onProgress: run.onProgress, onWarning: run.onWarning, unhashed: true });
  const sha = await hashFile(staging, 'sha256');
  await rename(staging, blobPath(run.cache, sha));
  run.onWarning(`${ctx.file}: the ETag ${meta.weak ? `W/${meta.etag} is weak` : `${meta.etag} is not a content hash`}, so the download is named by its sha256 ${sha}`);
  return sha;
}

/** An error's message without the `file: ` prefix that ClipmedError adds. */
function bare(e: ClipmedError): string {
  return e.file && e.message.startsWith(`${e.file}: `) ? e.message.slice(e.file.length + 2) : e.message;
}

async function resolveFiles(spec: HubSpec, settings: HubSettings, files: readonly HubFileSpec[], options: ResolveHubOptions): Promise<HubSnapshot> {
  const run: Run = {
    spec,
    settings,
    cache: repoCache(settings.cacheDir, spec.repo),
    groups: groups(files),
    onProgress: options.onProgress,
    onWarning: options.onWarning ?? ((m) => process.emitWarning(m, 'HubWarning')),
  };
  if (settings.offline) return fromCache(run, `HF_HUB_OFFLINE is set, so ${spec.repo} must come from the cache`);
  // A commit never changes: when its snapshot already has everything, there is nothing to ask the hub.
  if (isCommitSha(spec.revision)) {
    try {
      return await fromCache(run, 'not cached');
    } catch {
      // not all there yet: ask the hub
    }
  }
  try {
    return await online(run);
  } catch (e) {
    if (!isTransportError(e)) throw e;
    const err = e as NetworkError;
    let snap: HubSnapshot;
    try {
      snap = await fromCache(run, bare(err));
    } catch (cacheErr) {
      const c = cacheErr as ClipmedError;
      throw new NetworkError(`${bare(c)} (${c.file})`, { file: err.file, cause: e, status: err.status });
    }
    run.onWarning(`${(e as Error).message}; using the cached snapshot ${snap.commit} of ${spec.repo}`);
    return snap;
  }
}

/**
 * Resolve an `hf-hub:` source to its snapshot folder, downloading what the cache lacks; with details.
 * @example const s = await resolveHubSnapshot('hf-hub:timm/ViT-B-16-SigLIP', { files: OPEN_CLIP_FILES }); // { folder: '~/.cache/huggingface/hub/models--timm--ViT-B-16-SigLIP/snapshots/<sha>', files: ['open_clip_config.json', 'open_clip_model.safetensors'], ... }
 */
export async function resolveHubSnapshot(source: string, options: ResolveHubOptions = {}): Promise<HubSnapshot> {
  const spec = parseHubSpec(source);
  const settings = hubSettings(options);
  if (options.files) return resolveFiles(spec, settings, options.files, options);
  // No list given: find which layout the repo has from its config file, then fetch that layout's files at the
  // same commit.
  const configs = MODEL_LAYOUTS.map(([config]) => config);
  const first = await resolveFiles(spec, settings, [configs], options);
  const layout = MODEL_LAYOUTS.find(([config]) => config === first.files[0])![1];
  const rest = await resolveFiles({ repo: spec.repo, revision: first.commit }, settings, layout, options);
  return { ...rest, revision: spec.revision };
}

/**
 * Resolve an `hf-hub:ORG/NAME[@REVISION]` source to a local folder with the files asked for (default: the model
 * files of the repo's layout), downloading into the Hugging Face cache what is missing.
 * @example await resolveHubSource('hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K') // '/home/me/.cache/huggingface/hub/models--laion--CLIP-ViT-B-32-laion2B-s34B-b79K/snapshots/<sha>'
 */
export async function resolveHubSource(source: string, options: ResolveHubOptions = {}): Promise<string> {
  return (await resolveHubSnapshot(source, options)).folder;
}
