// The Node side of series reading: a folder (recursively) or a list of files to SeriesInstance bytes.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ClipmedError, DecodeError } from '../../errors.ts';
import { seriesVolume, seriesVolumes, type DicomVolume, type SeriesOptions, type SeriesResult } from '../../io/series.ts';
import './dicom-codecs.ts';

/** Every regular file under a folder, sorted, without DICOMDIR index files. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else if ((e.isFile() || (e.isSymbolicLink() && (await stat(p)).isFile())) && !/^DICOMDIR/i.test(e.name)) out.push(p);
  }
  return out;
}

async function instancesOf(path: string): Promise<{ instances: { source: string; bytes: Uint8Array }[]; unreadable: SeriesResult['skipped'] }> {
  let files: string[];
  try {
    files = (await stat(path)).isDirectory() ? await filesUnder(path) : [path];
  } catch (e) {
    throw new DecodeError(`cannot read: ${(e as Error).message}`, { file: path });
  }
  const instances = [];
  const unreadable: SeriesResult['skipped'] = [];
  for (const f of files) {
    try {
      instances.push({ source: f, bytes: await readFile(f) });
    } catch (e) {
      unreadable.push({ source: f, error: e instanceof ClipmedError ? e : new DecodeError(`cannot read: ${(e as Error).message}`, { file: f }) });
    }
  }
  return { instances, unreadable };
}

/**
 * Read every series under a folder as volumes.
 * @example (await readSeriesDir('CT5N')).volumes[0].dims // [16, 16, 5]
 */
export async function readSeriesDir(path: string, o: SeriesOptions = {}): Promise<SeriesResult> {
  const { instances, unreadable } = await instancesOf(path);
  const r = await seriesVolumes(instances, o, path);
  return { volumes: r.volumes, skipped: [...unreadable, ...r.skipped] };
}

/** The one volume under a folder (or the one chosen with `series`). */
export async function readSeriesVolume(path: string, o: SeriesOptions & { series?: string } = {}): Promise<DicomVolume> {
  const { instances } = await instancesOf(path);
  return seriesVolume(instances, o, path);
}
