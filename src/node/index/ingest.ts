// Filling a table: the inputs a user names become items (files in folders, manifest rows with their labels
// and report text, DICOMweb URLs), and items become rows in batches: read, hash, skip what the table already
// holds with the same content hash, decode, embed (normalised), write the batch in one commit. Decoding and
// preprocessing run in the decode pool's worker threads (src/node/index/ingest-decode.ts), in order, at most one
// embedding batch ahead of the model, so that they hide behind inference and memory stays bounded.
//
// A run killed at any point resumes by asking the table which sources it holds: a batch is in or out as a
// whole, and a changed input is deleted before its new rows are added, so no input is ever there twice.
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ConfigError } from '../../errors.ts';
import type { Raster } from '../../image/types.ts';
import type { IndexRow, IndexTable, TableSpec } from '../../index/table.ts';
import { isDicomWebUrl, resolveDicomWebUrl } from '../../io/dicomweb.ts';
import { attachModelInput } from '../../models/clip-model-core.ts';
import type { ClipModel } from '../clip-model.ts';
import { DecodePool, inOrder, poolThreads } from '../decode-pool.ts';
import { readManifest } from '../manifest-files.ts';
import { walkFolder } from '../io/inputs.ts';
import type { IngestJob } from './ingest-decode.ts';

export { storedUid } from './ingest-decode.ts';

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
  /** worker threads that decode and preprocess while the model runs (0: on the calling thread; default: poolThreads, half the cores, 1 to 4, none for a first pass with one) */
  decodeThreads?: number;
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
export async function listSources(inputs: string[], o: SourceOptions = {}): Promise<{ items: InputItem[]; failures: Array<{ input: string; error: string }>; skipped: Array<{ input: string; reason: string }> }> {
  const items: InputItem[] = [];
  const failures: Array<{ input: string; error: string }> = [];
  const skipped: Array<{ input: string; reason: string }> = [];
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
        // walked as every command walks folders: links followed, and what cannot be read listed with why
        const walked = await walkFolder(resolve(input));
        skipped.push(...walked.skipped);
        for (const f of walked.files) push({ source: f, inFolder: true });
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
  return { items, failures, skipped };
}

/** sha256 of bytes, hex. */
export function contentHash(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
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

/** Images per forward pass of the ingest. */
const EMBED_BATCH = 32;

/**
 * Embed the items into the table, batch by batch, skipping what it already holds.
 * @example const r = await addToTable(table, model, salt, (await listSources(['xrays/'])).items); r.written // 5840
 */
export async function addToTable(table: IndexTable, model: ClipModel, salt: string, items: InputItem[], o: AddOptions = {}): Promise<AddReport> {
  // one input, or a first pass's worth with a single default thread, is decoded in place (poolThreads); the workers
  // start loading now, while the first batch is read and hashed
  const pool = new DecodePool(poolThreads(o.decodeThreads, items.length, EMBED_BATCH), { input: model.imageInput }).warm();
  try {
    return await addWith(pool, table, model, salt, items, o);
  } finally {
    await pool.close();
  }
}

async function addWith(pool: DecodePool, table: IndexTable, model: ClipModel, salt: string, items: InputItem[], o: AddOptions): Promise<AddReport> {
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
    const rows: IndexRow[] = [];
    // decoded in the workers in order, at most one forward pass ahead; each pass of EMBED_BATCH rasters embedded as it fills
    let group: Decoded[] = [];
    const embedGroup = async () => {
      if (group.length === 0) return;
      const emb = await model.embedRasters(group.map((d) => d.raster), { normalize: true, batchSize: EMBED_BATCH });
      const E = model.embedDim;
      group.forEach((d, j) => {
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
      group = [];
    };
    let k = 0;
    for await (const r of inOrder(toDecode, EMBED_BATCH, (f) => pool.ingest(ingestJob(f, o, salt)))) {
      const f = toDecode[k++]!;
      if (r.fatal) throw r.fatal;
      if (r.skipped) report.skipped.push({ input: f.source, reason: r.skipped });
      if (r.failure) report.failures.push({ input: f.source, error: describe(r.failure) });
      for (const im of r.images) {
        // the model input made in the worker goes with the raster: the model's preprocessRasters takes it as it is
        if (im.pixels) attachModelInput(im.raster, model.imageInput, im.pixels);
        group.push({ fetched: f, path: im.path, frame: im.frame, raster: im.raster, meta: im.meta });
        if (group.length === EMBED_BATCH) await embedGroup();
      }
    }
    await embedGroup();
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

/** What the decode pool needs of a fetched input; its bytes move to the worker (the hash is already taken). */
function ingestJob(f: Fetched, o: AddOptions, salt: string): IngestJob {
  return { source: f.source, bytes: f.bytes, inFolder: Boolean(f.item.inFolder), dicomweb: isDicomWebUrl(f.item.source), window: o.window, frames: o.frames, phi: Boolean(o.phi), salt };
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
