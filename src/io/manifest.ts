// Labelled manifests: a CSV naming image files (relative to the manifest) with a label and optionally a split,
// as `../shared/data/pneumonia-cxr/manifest.csv` (image,split,label,subtype). Parsed here from the CSV's text;
// paths are joined and looked at through `ManifestPaths`, which the Node adapter (src/node/manifest-files.ts,
// `readManifest`) gives from the file system.
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

/** How a manifest's image cells become paths, and what is at them (the Node adapter's: node:path and stat). */
export interface ManifestPaths {
  /** the cell as a path: as it is when absolute, else joined to the root folder */
  path(cell: string): string;
  /** equal for two paths of the same file (the resolved absolute path) */
  key(path: string): string;
  /** what the path names */
  kind(path: string): 'file' | 'folder' | 'missing';
}

/**
 * A manifest from its CSV text; `file` names it in errors. Rows whose file is missing are listed apart; rows
 * that would change an answer without an error (an empty cell, a folder, one image under two labels) are one
 * ConfigError.
 * @example parseManifest('image,label\na.png,edema\n', 'm.csv', {}, paths).rows[0]?.label // 'edema'
 */
export function parseManifest(text: string, file: string, opts: ManifestOptions, paths: ManifestPaths): Manifest {
  const imageColumn = opts.imageColumn ?? 'image';
  const { columns, records } = parseCsvRecords(text, file);
  for (const [what, col] of [['image', imageColumn], ['label', opts.labelColumn], ['split', opts.split ? opts.splitColumn ?? 'split' : undefined]] as const) {
    if (col && !columns.includes(col)) throw new ConfigError(`no ${what} column '${col}' (columns: ${columns.join(', ')})`, { file });
  }
  const labelColumn = opts.labelColumn ?? (columns.includes('label') ? 'label' : undefined);
  const splitColumn = opts.splitColumn ?? (columns.includes('split') ? 'split' : undefined);
  const rows: ManifestRow[] = [];
  const missing: ManifestRow[] = [];
  // Rows that would change an answer without an error: an empty image cell (joined to the root it names the
  // manifest's whole folder), a folder, one image under two labels. All are listed in one ConfigError.
  const problems: string[] = [];
  const seen = new Map<string, { line: number; label?: string }>();
  records.forEach((r, i) => {
    const line = i + 2; // the header is line 1 (fields with newlines aside)
    if (opts.split && splitColumn && r[splitColumn] !== opts.split) return;
    const rel = r[imageColumn]!;
    if (rel.trim() === '') return void problems.push(`row ${line}: the ${imageColumn} cell is empty`);
    const row: ManifestRow = { path: paths.path(rel), label: labelColumn ? r[labelColumn] : undefined, split: splitColumn ? r[splitColumn] : undefined, record: r };
    const key = paths.key(row.path);
    const before = seen.get(key);
    if (before && before.label !== row.label) {
      problems.push(`row ${line}: ${rel} is labelled '${row.label}', and '${before.label}' on line ${before.line}`);
    }
    if (!before) seen.set(key, { line, label: row.label });
    const kind = paths.kind(row.path);
    if (kind === 'folder') return void problems.push(`row ${line}: ${rel} is a folder, not an image file`);
    (kind === 'file' ? rows : missing).push(row);
  });
  if (problems.length) {
    const shown = problems.slice(0, 10).join('; ');
    throw new ConfigError(`${problems.length} row(s) cannot be used as they are: ${shown}${problems.length > 10 ? `; and ${problems.length - 10} more` : ''}`, { file });
  }
  if (rows.length === 0) throw new ConfigError(`no usable rows${opts.split ? ` in split '${opts.split}'` : ''} (${missing.length} rows name missing files)`, { file });
  return { rows, missing, columns };
}
