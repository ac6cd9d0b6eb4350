// Training data on the Node side: manifests of image-text pairs (CSV or JSONL with `image` and `text`; paths
// relative to the manifest) or folders of class folders, decoded once through the existing readers
// (PNG/JPEG/TIFF, DICOM, NIfTI) and kept in memory for the transforms of src/train/data.ts.
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { ConfigError } from '../../errors.ts';
import { preprocessRaster, type PreprocessConfig } from '../../image/preprocess.ts';
import { parseCsvRecords } from '../../io/csv.ts';
import { loadInputs } from '../io/inputs.ts';
import { toDisplayRaster } from '../../io/raster.ts';
import { shrinkShortSide, type LoadedPairs, type PairRow } from '../../train/data.ts';

export type { LoadedPairs, PairRow } from '../../train/data.ts';

/**
 * Read a CSV or JSONL manifest with `image` and `text` columns (or, with no `text` column, a `label` column
 * whose class name is the text), or a folder of class folders. Rows whose image file is missing are returned
 * apart, to be reported.
 * @example (await readPairManifest('train.csv')).rows[0] // { image: '/abs/dir/img0.png', text: 'a chest x-ray ...', record: {...} }
 */
export async function readPairManifest(file: string): Promise<{ rows: PairRow[]; missing: PairRow[] }> {
  if (await stat(file).then((s) => s.isDirectory(), () => false)) return readClassFolders(file);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new ConfigError('cannot read the manifest', { file });
  }
  let records: Record<string, string>[];
  if (/\.jsonl$/i.test(file)) {
    records = text.split(/\r?\n/).filter((l) => l.trim() !== '').map((l, i) => {
      try {
        const o = JSON.parse(l) as Record<string, unknown>;
        return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
      } catch (e) {
        throw new ConfigError(`line ${i + 1} is not JSON: ${(e as Error).message}`, { file });
      }
    });
  } else records = parseCsvRecords(text, file).records;
  if (records.length === 0) throw new ConfigError('the manifest has no rows', { file });
  // labelled images without captions: the label (the class name) is the text
  if (records.every((r) => r.text === undefined) && records.every((r) => typeof r.label === 'string' && r.label !== '')) {
    for (const r of records) r.text = r.label!;
  }
  for (const col of ['image', 'text']) {
    const bad = records.findIndex((r) => typeof r[col] !== 'string' || r[col] === '');
    if (bad >= 0) throw new ConfigError(`row ${bad + 1} has no '${col}' (the manifest needs 'image' and 'text' columns)`, { file });
  }
  const root = dirname(file);
  const rows: PairRow[] = [];
  const missing: PairRow[] = [];
  for (const r of records) {
    const row = { image: isAbsolute(r.image!) ? r.image! : join(root, r.image!), text: r.text!, record: r };
    (existsSync(row.image) ? rows : missing).push(row);
  }
  return { rows, missing };
}

const IMAGE_EXT = /\.(png|jpe?g|tiff?|dcm|dicom|nii(\.gz)?)$/i;

/** A folder of class folders (`DIR/<class>/<image>`): each image's text and label are its class folder's name. */
async function readClassFolders(dir: string): Promise<{ rows: PairRow[]; missing: PairRow[] }> {
  const rows: PairRow[] = [];
  const classes = (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  for (const c of classes) {
    const walk = async (sub: string): Promise<void> => {
      for (const e of (await readdir(sub, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
        const p = join(sub, e.name);
        if (e.isDirectory()) await walk(p);
        else if (IMAGE_EXT.test(e.name)) {
          const text = c.replace(/_/g, ' ');
          rows.push({ image: p, text, record: { image: p, text, label: c } });
        }
      }
    };
    await walk(join(dir, c));
  }
  if (rows.length === 0) throw new ConfigError('no images in class folders (expected DIR/<class>/<image>)', { file: dir });
  return { rows, missing: [] };
}

/** Decode every row's image once; failures are collected and the row dropped. */
export async function loadPairs(rows: PairRow[], pp: PreprocessConfig, onProgress?: (done: number, total: number) => void): Promise<LoadedPairs> {
  const size = typeof pp.size === 'number' ? pp.size : pp.size[0];
  const out: LoadedPairs = { rows: [], evalHwc: [], rasters: [], failures: [] };
  const chunk = 32;
  for (let i = 0; i < rows.length; i += chunk) {
    const part = rows.slice(i, i + chunk);
    const loaded = await loadInputs(part.map((r) => r.image));
    const byInput = new Map(loaded.images.map((l) => [l.input, l.image]));
    for (const f of loaded.failures) out.failures.push({ image: f.input, error: f.error });
    for (const r of part) {
      const img = byInput.get(r.image);
      if (!img) continue;
      try {
        const raster = toDisplayRaster(img);
        out.evalHwc.push(preprocessRaster(raster, pp));
        out.rasters.push(shrinkShortSide(raster, 2 * size));
        out.rows.push(r);
      } catch (err) {
        out.failures.push({ image: r.image, error: err as Error });
      }
    }
    onProgress?.(Math.min(i + chunk, rows.length), rows.length);
  }
  return out;
}
