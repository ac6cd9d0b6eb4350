// Whether a registered model's hub repository is already downloaded: huggingface_hub's cache layout
// <cache>/models--ORG--NAME/snapshots/<revision>/ (the cache folder and repo folder come from src/node/hub/, which
// follows huggingface_hub's HF_HUB_CACHE / HF_HOME rules). Only looks; never downloads.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { repoCache } from './hub/cache.ts';
import { hubCacheDir } from './hub/settings.ts';

/**
 * A downloaded snapshot folder of `repo` ("org/name"), or undefined when none is cached; with several
 * revisions, the most recently modified.
 * @example cachedSnapshot('microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224') // '~/.cache/huggingface/hub/models--microsoft--BiomedCLIP-.../snapshots/<sha>' or undefined
 */
export function cachedSnapshot(repo: string, cacheDir = hubCacheDir()): string | undefined {
  const dir = join(repoCache(cacheDir, repo).root, 'snapshots');
  let revisions: string[];
  try {
    revisions = readdirSync(dir);
  } catch {
    return undefined; // no snapshots folder: not downloaded
  }
  const found = revisions
    .map((r) => ({ path: join(dir, r), st: statSync(join(dir, r), { throwIfNoEntry: false }) }))
    .filter((x) => x.st?.isDirectory())
    .sort((a, b) => b.st!.mtimeMs - a.st!.mtimeMs);
  return found[0]?.path;
}
