// A model folder on disk as the core sees models: names, and the bytes of a file when asked (read on demand
// and kept, so a reader asking twice reads once; weights are never read through this).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelFiles } from '../models/spec.ts';

/**
 * The files of `dir` (or only `names`, when given) as ModelFiles.
 * @example folderFiles('../shared/fixtures/open_clip/tiny-quickgelu').names.includes('open_clip_config.json') // true
 */
export function folderFiles(dir: string, names?: readonly string[]): ModelFiles {
  const list = names ?? readdirSync(dir).filter((n) => statSync(join(dir, n), { throwIfNoEntry: false })?.isFile());
  const cache = new Map<string, Uint8Array | undefined>();
  return {
    dir,
    names: list,
    read(name: string) {
      if (!list.includes(name)) return undefined;
      if (!cache.has(name)) cache.set(name, new Uint8Array(readFileSync(join(dir, name))));
      return cache.get(name);
    },
  };
}
