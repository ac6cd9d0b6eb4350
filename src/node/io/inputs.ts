// The Node side of "the images the user named": files and folders through node:fs (folders walked recursively,
// sorted, links followed once, what cannot be read listed with why) and PNG/JPEG/TIFF through sharp; decoding
// by content and the dicomweb URLs are the core's (src/io/inputs.ts).
import type { Stats } from 'node:fs';
import { readdir, readFile, readlink, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ClipmedError, ConfigError, UnsupportedError } from '../../errors.ts';
import { isDicomWebUrl } from '../../io/dicomweb.ts';
import { loadEntryWith, type InputEntry, type InputPlatform, type LoadedInputs, type LoadInputsOptions } from '../../io/inputs.ts';
import { readRaster } from './raster.ts';
import './dicom-codecs.ts';

export { sniffFormat, type DicomDecoder, type InputEntry, type LoadedImage, type LoadedInputs, type LoadInputsOptions, type SniffedFormat } from '../../io/inputs.ts';

/** Files read with node:fs, rasters decoded with sharp. */
export const nodeInputPlatform: InputPlatform = {
  readFile: (path) => readFile(path),
  decodeRaster: (bytes, options) => readRaster(bytes, options),
};

/**
 * Read and decode files, folders and dicomweb URLs, collecting failures instead of stopping.
 * @example
 * const { images, failures } = await loadInputs(['scans/', 'brain.nii.gz', 'dicomweb+http://pacs/dicom-web/studies/1.2.3']);
 * images.map((x) => x.image.source) // ['scans/a.dcm', 'scans/b.png', 'brain.nii.gz#axial=90', 'dicomweb+http://...']
 */
export async function loadInputs(pathsOrUrls: string[], options: LoadInputsOptions = {}): Promise<LoadedInputs> {
  const plan = await planInputs(pathsOrUrls);
  const out: LoadedInputs = { images: [], failures: [], skipped: plan.skipped };
  for (const entry of plan.entries) await loadEntry(out, entry, options);
  return out;
}

/**
 * What `loadInputs` would decode, without reading any file: folders walked (paths only), in order, with the
 * inputs that cannot be read at all as 'failed' entries in their place. Memory is a path per file, so a
 * caller can stream the entries through `loadEntry` in bounded batches.
 * @example const { entries } = await planInputs(['scans/']); entries.length // 5840
 */
export async function planInputs(pathsOrUrls: string[]): Promise<{ entries: InputEntry[]; skipped: LoadedInputs['skipped'] }> {
  const entries: InputEntry[] = [];
  const failed = (input: string, error: Error) => entries.push({ input, source: input, kind: 'failed', inFolder: false, error });
  const skipped: LoadedInputs['skipped'] = [];
  for (const input of pathsOrUrls) {
    if (isDicomWebUrl(input)) {
      entries.push({ input, source: input, kind: 'dicomweb', inFolder: false });
      continue;
    }
    try {
      const st = await stat(input);
      const inFolder = st.isDirectory();
      // a FIFO or device named directly would block readFile forever, or read something that is not a file
      if (!inFolder && !st.isFile()) {
        failed(input, new UnsupportedError(`not a regular file or folder (${kindOf(st)})`, { file: input }));
        continue;
      }
      for (const file of inFolder ? await walk(input, skipped) : [input]) entries.push({ input, source: file, kind: 'file', inFolder });
    } catch (err) {
      const code = (err as { code?: string }).code;
      failed(input, code === 'ENOENT' ? new ConfigError('no such file or folder', { file: input, cause: err }) : asError(err));
    }
  }
  return { entries, skipped };
}

/** Read and decode one planned entry into `out` (images, or a failure or skip with its reason). */
export async function loadEntry(out: LoadedInputs, entry: InputEntry, options: LoadInputsOptions = {}): Promise<void> {
  await loadEntryWith(nodeInputPlatform, out, entry, options);
}

/**
 * Every file under a folder as `planInputs` walks it (links followed, loops and unreadable names recorded), for
 * callers that list a folder without decoding it (the index's ingest).
 * @example const { files, skipped } = await walkFolder('../shared/data/pneumonia-cxr/test'); files.length // 624
 */
export async function walkFolder(dir: string): Promise<{ files: string[]; skipped: LoadedInputs['skipped'] }> {
  const skipped: LoadedInputs['skipped'] = [];
  return { files: await walk(dir, skipped), skipped };
}

/**
 * Files under a folder, recursively, sorted by path (byte order) so runs are reproducible. Symbolic links are
 * followed (Hugging Face snapshots, DVC and git-annex folders are links to blobs), folders once each; what cannot
 * be read as a file is listed in `skipped` with why: broken links, FIFOs, sockets, devices, names that are not
 * UTF-8 (they cannot be named in a report). Nothing is left out without a record.
 */
async function walk(dir: string, skipped: LoadedInputs['skipped'], seen = new Set<string>()): Promise<string[]> {
  seen.add(await realpath(dir));
  const out: string[] = [];
  const entries = (await readdir(dir, { withFileTypes: true, encoding: 'buffer' })).sort((a, b) => Buffer.compare(a.name, b.name));
  for (const e of entries) {
    const name = utf8Name(e.name);
    if (name === undefined) {
      skipped.push({ input: join(dir, e.name.toString('latin1')), reason: `the name is not valid UTF-8 (bytes ${e.name.toString('hex')}); rename it to read it` });
      continue;
    }
    const p = join(dir, name);
    let st: Stats = e as unknown as Stats;
    if (e.isSymbolicLink()) {
      try {
        st = await stat(p);
      } catch {
        skipped.push({ input: p, reason: `broken symbolic link (to ${await readlink(p).catch(() => '?')})` });
        continue;
      }
    }
    if (st.isDirectory()) {
      const real = await realpath(p);
      if (seen.has(real)) skipped.push({ input: p, reason: `a link to ${real}, a folder already read (a loop)` });
      else out.push(...(await walk(p, skipped, seen)));
    } else if (st.isFile()) out.push(p);
    else skipped.push({ input: p, reason: `not a regular file (${kindOf(st)})` });
  }
  return out;
}

function utf8Name(raw: Buffer): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    return undefined;
  }
}

function kindOf(st: Pick<Stats, 'isFIFO' | 'isSocket' | 'isCharacterDevice' | 'isBlockDevice'>): string {
  return st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : 'not a file';
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new ClipmedError(String(err));
}
