// The Node side of manifests: the CSV read from disk, its image cells joined to the manifest's folder and
// looked up with stat; parsing and the row checks are in src/io/manifest.ts.
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parseManifest, type Manifest, type ManifestOptions, type ManifestPaths } from '../io/manifest.ts';

/** Paths relative to `root` on this file system. */
export function fileManifestPaths(root: string): ManifestPaths {
  return {
    path: (cell) => (isAbsolute(cell) ? cell : join(root, cell)),
    key: (path) => resolve(path),
    kind: (path) => {
      let st: ReturnType<typeof statSync> | undefined;
      try {
        st = statSync(path);
      } catch {
        st = undefined;
      }
      return !st ? 'missing' : st.isDirectory() ? 'folder' : 'file';
    },
  };
}

/**
 * Read a manifest CSV; relative image paths are taken from the manifest's folder (or `opts.root`).
 * @example (await readManifest('../shared/data/pneumonia-cxr/manifest.csv', { split: 'test' })).rows.length // 624
 */
export async function readManifest(file: string, opts: ManifestOptions = {}): Promise<Manifest> {
  return parseManifest(await readFile(file, 'utf8'), file, opts, fileManifestPaths(opts.root ?? dirname(file)));
}
