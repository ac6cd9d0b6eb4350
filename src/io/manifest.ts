// Labelled manifests: a CSV naming image files (relative to the manifest) with a label and optionally a split,
// as `../shared/data/pneumonia-cxr/manifest.csv` (image,split,label,subtype).
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { ConfigError } from '../errors.ts';
import { parseCsvRecords } from './csv.ts';

export interface ManifestRow {
  /** absolute (or manifest-relative resolved) path */
  path: string;
  label?: string;
  split?: string;
  record: Record<string, string>;
}

export interface ManifestOptions {
  imageColumn?: string;
  labelColumn?: string;
  splitColumn?: string;
  /** keep only rows of this split */
  split?: string;
  /** base folder for relative paths (default: the manifest's folder) */
  root?: string;
}

export interface Manifest {
  rows: ManifestRow[];
  /** rows whose file does not exist, reported rather than silently dropped */
  missing: ManifestRow[];
  columns: string[];
}

/**
 * Read a manifest CSV.
 * @example (await readManifest('../shared/data/pneumonia-cxr/manifest.csv', { split: 'test' })).rows.length // 624
 */
export async function readManifest(file: string, opts: ManifestOptions = {}): Promise<Manifest> {
  const imageColumn = opts.imageColumn ?? 'image';
  const { columns, records } = parseCsvRecords(await readFile(file, 'utf8'), file);
  for (const [what, col] of [['image', imageColumn], ['label', opts.labelColumn], ['split', opts.split ? opts.splitColumn ?? 'split' : undefined]] as const) {
    if (col && !columns.includes(col)) throw new ConfigError(`no ${what} column '${col}' (columns: ${columns.join(', ')})`, { file });
  }
  const root = opts.root ?? dirname(file);
  const labelColumn = opts.labelColumn ?? (columns.includes('label') ? 'label' : undefined);
  const splitColumn = opts.splitColumn ?? (columns.includes('split') ? 'split' : undefined);
  const rows: ManifestRow[] = [];
  const missing: ManifestRow[] = [];
  for (const r of records) {
    if (opts.split && splitColumn && r[splitColumn] !== opts.split) continue;
    const rel = r[imageColumn]!;
    const row: ManifestRow = { path: isAbsolute(rel) ? rel : join(root, rel), label: labelColumn ? r[labelColumn] : undefined, split: splitColumn ? r[splitColumn] : undefined, record: r };
    (existsSync(row.path) ? rows : missing).push(row);
  }
  if (rows.length === 0) throw new ConfigError(`no usable rows${opts.split ? ` in split '${opts.split}'` : ''} (${missing.length} rows name missing files)`, { file });
  return { rows, missing, columns };
}
