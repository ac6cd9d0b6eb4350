// Filling a table: the inputs a user names become items (files in folders, manifest rows with their labels
// and report text, DICOMweb URLs), and items become rows in batches: read, hash, skip what the table already
// holds with the same content hash, decode, embed (normalised), write the batch in one commit.
//
// A run killed at any point resumes by asking the table which sources it holds: a batch is in or out as a
// whole, and a changed input is deleted before its new rows are added, so no input is ever there twice.
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import dicomParser from 'dicom-parser';
import { ConfigError, UnsupportedError } from '../../errors.ts';
import type { Raster } from '../../image/types.ts';
import type { IndexRow, IndexTable, TableSpec } from '../../index/table.ts';
import { isDicomWebUrl, resolveDicomWebUrl } from '../../io/dicomweb.ts';
import { decodeDicom } from '../../io/dicom/index.ts';
import { loadInputs, sniffFormat } from '../io/inputs.ts';
import { toDisplayRaster } from '../../io/raster.ts';
import type { DecodedImage } from '../../io/types.ts';
import type { ClipModel } from '../clip-model.ts';
import { decodeImageFile } from '../image-decode.ts';
import { readManifest } from '../manifest-files.ts';

/** One thing to index: a file or URL, with what a manifest said about it. */
export interface InputItem {
  source: string;
  label?: string;
  report?: string;
  /** found inside a folder: a file that is not an image is skipped, not a failure */
  inFolder?: boolean;
}

export interface SourceOptions {
  /** manifest column whose text is stored as the row's report (hybrid search) */
  textColumn?: string;
  /** manifest column with the image path (default 'image') */
  imageColumn?: string;
  /** manifest column with the label (default 'label' when present) */
  labelColumn?: string;
}

export interface AddOptions {
  /** one row per frame of multi-frame DICOM (default: the first frame only) */
  frames?: boolean;
  /** keep DICOM UIDs as they are instead of salted hashes */
  phi?: boolean;
  /** display window for DICOM and NIfTI (preset or "center,width") */
  window?: string;
  /** inputs per committed batch (default 128) */
  batchSize?: number;
  /** called after each batch: inputs done so far (written, unchanged or failed) and rows written */
  onProgress?: (p: { done: number; total: number; rows: number }) => void;
}

export interface AddReport {
  /** inputs seen */
  inputs: number;
  /** rows written this run */
  written: number;
  /** inputs already in the table with the same content */
  unchanged: number;
  /** inputs whose content changed and were embedded again */
  replaced: number;
  failures: Array<{ input: string; error: string }>;
  /** files inside folders that are not images (README, .DS_Store, ...) */
  skipped: Array<{ input: string; reason: string }>;
}

/** What decides a model's embeddings, hashed: its checkpoint, its preprocessing, and a chosen protocol. */
export function modelSpec(model: ClipModel, source: string, protocol?: string): TableSpec {
  const meta = model.meta;
  const specHash = createHash('sha256').update(`${meta.checkpointSha256}\n${JSON.stringify(meta.preprocess)}\n${protocol ?? ''}`).digest('hex');
  return { specHash, model: source, checkpointSha256: meta.checkpointSha256, dim: model.embedDim, protocol };
}

/**
 * Inputs as items: files, folders (recursive, sorted), manifests (.csv: image paths with labels and an
 * optional report column), dicomweb+http(s) URLs. Local paths become absolute, so that a re-run from another
 * folder finds them; duplicates are dropped; missing files are failures.
 */
export async function listSources(inputs: string[], o: SourceOptions = {}): Promise<{ items: InputItem[]; failures: Array<{ input: string; error: string }> }> {
  const items: InputItem[] = [];
  const failures: Array<{ input: string; error: string }> = [];
  const seen = new Set<string>();
  const push = (it: InputItem) => {
    if (seen.has(it.source)) return;
    seen.add(it.source);
    items.push(it);
  };
  for (const input of inputs) {
    if (isDicomWebUrl(input)) {
      push({ source: input });
      continue;
    }
    try {
      const st = await stat(input);
      if (st.isDirectory()) {
        for (const f of await walk(resolve(input))) push({ source: f, inFolder: true });
      } else if (input.toLowerCase().endsWith('.csv')) {
        const m = await readManifest(input, { imageColumn: o.imageColumn, labelColumn: o.labelColumn });
        if (o.textColumn && !m.columns.includes(o.textColumn)) throw new ConfigError(`no text column '${o.textColumn}' (columns: ${m.columns.join(', ')})`, { file: input });
        for (const r of m.missing) failures.push({ input: r.path, error: `listed in ${input} but missing` });
        for (const r of m.rows) {
          const report = o.textColumn ? r.record[o.textColumn]?.trim() : undefined;
          push({ source: resolve(r.path), label: r.label, report: report || undefined });
        }
      } else {
        push({ source: resolve(input) });
      }
    } catch (err) {
      const code = (err as { code?: string }).code;
      failures.push({ input, error: describe(code === 'ENOENT' ? new ConfigError('no such file or folder', { file: input }) : err) });
    }
  }
  return { items, failures };
}

/** Files under a folder, recursively, sorted by path so runs are reproducible. */
async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** sha256 of bytes, hex. */
export function contentHash(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A UID as stored: salted sha256 (first 32 hex digits) unless PHI is allowed. */
export function storedUid(uid: unknown, salt: string, phi: boolean): string | undefined {
  if (typeof uid !== 'string' || uid === '') return undefined;
  return phi ? uid : createHash('sha256').update(salt).update('\0').update(uid).digest('hex').slice(0, 32);
}

interface Fetched {
  item: InputItem;
  /** what the row's source column says: the file, or for a DICOMweb study each instance's URL */
  source: string;
  bytes: Uint8Array;
  hash: string;
}

interface Decoded {
  fetched: Fetched;
  path: string;
  frame: number;
  raster: Raster;
  meta: Partial<IndexRow>;
}

/**
 * Embed the items into the table, batch by batch, skipping what it already holds.
 * @example const r = await addToTable(table, model, salt, (await listSources(['xrays/'])).items); r.written // 5840
 */
export async function addToTable(table: IndexTable, model: ClipModel, salt: string, items: InputItem[], o: AddOptions = {}): Promise<AddReport> {
  const report: AddReport = { inputs: items.length, written: 0, unchanged: 0, replaced: 0, failures: [], skipped: [] };
  const bs = Math.max(1, o.batchSize ?? 128);
  let pending: Promise<void> | undefined; // the previous batch's write, overlapped with this batch's decoding
  let done = 0;
  for (let i = 0; i < items.length; i += bs) {
    const batch = items.slice(i, i + bs);
    const fetched = await fetchAll(batch, report);
    if (pending) await pending; // the table must show the previous batch before we ask what it holds
    pending = undefined;
    const have = await table.existing(fetched.map((f) => f.source));
    const toDecode: Fetched[] = [];
    const replace: string[] = [];
    for (const f of fetched) {
      const h = have.get(f.source);
      if (h === f.hash) {
        report.unchanged++;
        continue;
      }
      if (h !== undefined) replace.push(f.source);
      toDecode.push(f);
    }
    const decoded = await decodeAll(toDecode, o, salt, report);
    const rows: IndexRow[] = [];
    if (decoded.length > 0) {
      const emb = await model.embedRasters(
        decoded.map((d) => d.raster),
        { normalize: true, batchSize: 32 },
      );
      const E = model.embedDim;
      decoded.forEach((d, j) => {
        rows.push({
          ...d.meta,
          path: d.path,
          source: d.fetched.source,
          frame: d.frame,
          contentHash: d.fetched.hash,
          vector: emb.embeddings.slice(j * E, (j + 1) * E),
          label: d.fetched.item.label,
          report: d.fetched.item.report,
        });
      });
    }
    report.replaced += replace.length;
    const n = rows.length;
    pending = table.write(rows, replace).then(() => {
      report.written += n;
      done += batch.length;
      o.onProgress?.({ done, total: items.length, rows: report.written });
    });
    pending.catch(() => {}); // awaited (and so thrown) before the next write; not an unhandled rejection meanwhile
  }
  if (pending) await pending;
  return report;
}

/** Read and hash a batch of items; DICOMweb URLs expand into their instances. */
async function fetchAll(batch: InputItem[], report: AddReport): Promise<Fetched[]> {
  const out = await Promise.all(
    batch.map(async (item): Promise<Fetched[]> => {
      try {
        if (isDicomWebUrl(item.source)) {
          const files = await resolveDicomWebUrl(item.source);
          return files.map((f) => ({ item, source: f.source, bytes: f.bytes, hash: contentHash(f.bytes) }));
        }
        const bytes = new Uint8Array(await readFile(item.source));
        return [{ item, source: item.source, bytes, hash: contentHash(bytes) }];
      } catch (err) {
        report.failures.push({ input: item.source, error: describe(err) });
        return [];
      }
    }),
  );
  return out.flat();
}

/**
 * Decode as `clipmed embed` does: PNG/JPEG/TIFF through the PIL-equivalent decoder, DICOM and NIfTI
 * through the medical readers and their display window. Rasters decode in parallel (sharp's threads).
 */
async function decodeAll(toDecode: Fetched[], o: AddOptions, salt: string, report: AddReport): Promise<Decoded[]> {
  const per = await Promise.all(
    toDecode.map(async (f): Promise<Decoded[]> => {
      const format = sniffFormat(f.bytes.subarray(0, 400));
      try {
        if (!format) {
          const reason = 'not a DICOM, NIfTI, PNG, JPEG or TIFF file';
          if (f.item.inFolder) {
            report.skipped.push({ input: f.source, reason });
            return [];
          }
          throw new UnsupportedError(reason, { file: f.source });
        }
        if (format === 'raster' && !isDicomWebUrl(f.item.source)) {
          return [{ fetched: f, path: f.source, frame: 0, raster: await decodeImageFile(f.source), meta: {} }];
        }
        let images: DecodedImage[];
        if (isDicomWebUrl(f.item.source)) {
          if (format !== 'dicom') throw new UnsupportedError(`DICOMweb returned a ${format} file, not DICOM`, { file: f.source });
          images = [await decodeDicom(f.bytes, { source: f.source })];
        } else {
          const loaded = await loadInputs([f.source], { window: o.window });
          if (loaded.failures.length > 0) throw loaded.failures[0]!.error;
          images = loaded.images.map((x) => x.image);
        }
        const out: Decoded[] = [];
        for (const image of images) {
          const meta = rowMeta(image, f.bytes, format, salt, Boolean(o.phi));
          const frames = o.frames && image.frames > 1 ? image.frames : 1;
          for (let fr = 0; fr < frames; fr++) {
            const path = frames > 1 ? `${image.source}#frame=${fr}` : image.source;
            out.push({ fetched: f, path, frame: fr, raster: toDisplayRaster(image, fr), meta });
          }
        }
        return out;
      } catch (err) {
        report.failures.push({ input: f.source, error: describe(err) });
        return [];
      }
    }),
  );
  return per.flat();
}

/** The non-identifying metadata of a row: modality, body part, hashed UIDs. Never names, IDs or dates. */
function rowMeta(image: DecodedImage, bytes: Uint8Array, format: string, salt: string, phi: boolean): Partial<IndexRow> {
  const m = image.meta;
  const out: Partial<IndexRow> = { phi };
  if (typeof m.modality === 'string' && m.modality !== '') out.modality = m.modality;
  if (format === 'dicom') {
    out.bodyPart = bodyPartOf(bytes);
    out.studyUid = storedUid(m.studyInstanceUID, salt, phi);
    out.seriesUid = storedUid(m.seriesInstanceUID, salt, phi);
    out.instanceUid = storedUid(m.sopInstanceUID, salt, phi);
  }
  return out;
}

/** Body Part Examined (0018,0015), which the pixel decoder does not report. */
function bodyPartOf(bytes: Uint8Array): string | undefined {
  try {
    const ds = dicomParser.parseDicom(bytes, { untilTag: 'x7fe00010' });
    const v = ds.string('x00180015')?.trim();
    return v ? v : undefined;
  } catch {
    return undefined; // bare data sets dicom-parser cannot read without a meta group: no body part, the pixels decoded
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
