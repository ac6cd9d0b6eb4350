// The archive on disk: a LanceDB database in a folder, one table per model (keyed by the model's spec hash,
// see src/index/table.ts), a per-database salt for hashing DICOM UIDs, and the library's add / search / duplicates.
import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as lancedb from '@lancedb/lancedb';
import { ConfigError } from '../../errors.ts';
import { hybridOrder, nearDuplicateGroups } from '../../index/similarity.ts';
import { hit, IndexTable, loadLance, tableSchema, type SearchHit, type SearchOptions, type TableSpec } from '../../index/table.ts';
import { loadInputs, sniffFormat } from '../io/inputs.ts';
import { toDisplayRaster } from '../../io/raster.ts';
import type { ClipModel } from '../clip-model.ts';
import { decodeImageFile } from '../image-decode.ts';
import { addToTable, listSources, modelSpec, type AddOptions, type AddReport, type SourceOptions } from './ingest.ts';

export { IndexTable, hit, sqlString, type IndexRow, type SearchHit, type SearchOptions, type TableSpec } from '../../index/table.ts';

const TABLE_PREFIX = 'clip_';
const INFO_FILE = 'clipmed-index.json';

/**
 * A database folder. Created on first use with a random salt (kept in clipmed-index.json) that hashes UIDs.
 * @example const index = await openIndex('archive/'); (await index.tables()).map((t) => t.spec.model)
 */
export async function openIndex(dir: string): Promise<ClipIndex> {
  await mkdir(dir, { recursive: true });
  const infoPath = join(dir, INFO_FILE);
  let info: { version: number; salt: string };
  try {
    info = JSON.parse(await readFile(infoPath, 'utf8'));
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOENT') throw new ConfigError(`unreadable index info: ${(err as Error).message}`, { file: infoPath, cause: err });
    // create-once: write a temp file and hard-link it into place, which fails if another process won the race
    const tmp = `${infoPath}.${process.pid}.${Date.now()}.tmp`;
    await writeFile(tmp, JSON.stringify({ version: 1, salt: randomBytes(32).toString('hex') }, null, 1));
    try {
      await link(tmp, infoPath);
    } catch (e) {
      if ((e as { code?: string }).code !== 'EEXIST') throw e;
    } finally {
      await rm(tmp, { force: true });
    }
    info = JSON.parse(await readFile(infoPath, 'utf8'));
  }
  if (info.version !== 1 || typeof info.salt !== 'string') throw new ConfigError(`not a clipmed index (version ${info.version})`, { file: infoPath });
  // readConsistencyInterval 0: every read sees the latest commit, also commits by other processes (workers)
  const db = await (await loadLance()).connect(join(dir, 'lance'), { readConsistencyInterval: 0 });
  return new ClipIndex(dir, info.salt, db);
}

export class ClipIndex {
  private readonly open = new Map<string, IndexTable>();
  constructor(
    readonly dir: string,
    /** per-database salt for UID hashes */
    readonly salt: string,
    readonly db: lancedb.Connection,
  ) {}

  /** Every model table in the database. */
  async tables(): Promise<IndexTable[]> {
    const names = (await this.db.tableNames()).filter((n) => n.startsWith(TABLE_PREFIX)).sort();
    return Promise.all(names.map((n) => this.openTable(n)));
  }

  /** A table by name (clip_<spec hash>). */
  async openTable(name: string): Promise<IndexTable> {
    const known = this.open.get(name);
    if (known) return known;
    let t: lancedb.Table;
    try {
      t = await this.db.openTable(name);
    } catch (err) {
      throw new ConfigError(`no table '${name}' in the index`, { file: this.dir, cause: err });
    }
    const raw = (await t.schema()).metadata.get('clipmed.spec');
    if (!raw) throw new ConfigError(`table '${name}' has no clipmed spec in its schema`, { file: this.dir });
    const table = new IndexTable(t, JSON.parse(raw) as TableSpec);
    this.open.set(name, table);
    return table;
  }

  /** The table for a model spec, created when missing (several processes may race to create it). */
  async tableFor(spec: TableSpec, create = true): Promise<IndexTable> {
    const name = TABLE_PREFIX + spec.specHash.slice(0, 16);
    if (create && !this.open.has(name)) {
      await this.db.createEmptyTable(name, await tableSchema(spec), { mode: 'create', existOk: true });
    }
    const table = await this.openTable(name);
    if (table.spec.specHash !== spec.specHash) throw new ConfigError(`table '${name}' holds model ${table.spec.model}, not ${spec.model}`, { file: this.dir });
    return table;
  }

  /**
   * The one table a command means: the model's when a model is named (by source or spec hash), else the
   * only table there is.
   */
  async pickTable(model?: string): Promise<IndexTable> {
    const all = await this.tables();
    if (all.length === 0) throw new ConfigError('the index has no tables yet (run clipmed index first)', { file: this.dir });
    if (model === undefined) {
      if (all.length > 1) throw new ConfigError(`the index holds ${all.length} models (${all.map((t) => t.spec.model).join(', ')}); name one with --model`, { file: this.dir });
      return all[0]!;
    }
    const hit = all.find((t) => t.spec.model === model || t.spec.specHash.startsWith(model) || t.name === model);
    if (!hit) throw new ConfigError(`no table for model '${model}' (tables: ${all.map((t) => t.spec.model).join(', ')})`, { file: this.dir });
    return hit;
  }

  /**
   * Index inputs with a model: files, folders, manifests, DICOMweb URLs. Only new or changed inputs are
   * embedded; `modelSource` is what `search` loads the model from later (default: the name it was loaded by).
   * @example const r = await index.add(model, ['../shared/data/pneumonia-cxr/test']); r.written // 624
   */
  async add(model: ClipModel, sources: string[], o: AddOptions & SourceOptions & { modelSource?: string; protocol?: string } = {}): Promise<AddReport & { table: string }> {
    const table = await this.tableFor(modelSpec(model, o.modelSource ?? model.source.name, o.protocol));
    const listed = await listSources(sources, o);
    const report = await addToTable(table, model, this.salt, listed.items, o);
    report.failures.unshift(...listed.failures);
    report.skipped.unshift(...listed.skipped);
    return { ...report, table: table.name };
  }

  /**
   * Search a model's table by text (the model's text tower), by image (a file, embedded as `clipmed embed`
   * does) or by a vector. With `hybrid`, rows whose report matches the text's words rank higher.
   * @example (await index.search(model, { text: 'right pleural effusion' }, { k: 5 })).results[0].score // 0.31
   */
  async search(model: ClipModel, query: { text?: string; image?: string; vector?: Float32Array }, o: SearchOptions & { modelSource?: string; protocol?: string; hybrid?: boolean; keywordWeight?: number } = {}): Promise<{ model: string; results: SearchHit[] }> {
    const table = await this.tableFor(modelSpec(model, o.modelSource ?? model.source.name, o.protocol), false);
    const vector = await queryVector(model, query);
    if (!o.hybrid) return { model: table.spec.model, results: await table.search(vector, o) };
    if (query.text === undefined) throw new ConfigError('hybrid search needs a text query');
    const k = o.k ?? 10;
    const pool = Math.max(50, 10 * k);
    const byVector = await table.search(vector, { ...o, k: pool });
    const keyword = await table.keywordSearch(query.text, pool, o.where);
    const bm25 = new Map(keyword.map((r) => [r.path, r.score]));
    const missing = keyword.map((r) => r.path).filter((p) => !byVector.some((h) => h.path === p));
    const extra = await table.rowsByPath(missing);
    const candidates = [...byVector];
    for (const [, row] of extra) {
      const v = row.vector as ArrayLike<number>;
      let s = 0;
      for (let j = 0; j < vector.length; j++) s += v[j]! * vector[j]!;
      candidates.push(hit(row, s));
    }
    return { model: table.spec.model, results: hybridOrder(candidates, bm25, o.keywordWeight ?? 0.5).slice(0, k) };
  }

  /** Near-duplicate groups in a table: rows with cosine >= threshold, linked. */
  async duplicates(table: IndexTable, threshold = 0.98, where?: string): Promise<Array<{ paths: string[]; minScore: number }>> {
    const { paths, vectors } = await table.allVectors(where);
    return nearDuplicateGroups(paths, vectors, table.spec.dim, threshold);
  }

  close(): void {
    for (const t of this.open.values()) t.table.close();
    this.open.clear();
    this.db.close();
  }
}

/** The normalised query embedding for a text, an image file or a given vector. */
export async function queryVector(model: ClipModel, q: { text?: string; image?: string; vector?: Float32Array }): Promise<Float32Array> {
  const given = [q.text !== undefined, q.image !== undefined, q.vector !== undefined].filter(Boolean).length;
  if (given !== 1) throw new ConfigError(`a search takes exactly one of text, image or vector (got ${given})`);
  if (q.vector) return q.vector;
  if (q.text !== undefined) return (await model.embedTexts([q.text], { normalize: true })).embeddings;
  const path = q.image!;
  const head = new Uint8Array(await readFile(path)).subarray(0, 400);
  const format = sniffFormat(head);
  if (format === 'dicom' || format === 'nifti') {
    const loaded = await loadInputs([path]);
    if (loaded.failures.length > 0) throw loaded.failures[0]!.error;
    return (await model.embedRasters([toDisplayRaster(loaded.images[0]!.image)], { normalize: true })).embeddings;
  }
  return (await model.embedRasters([await decodeImageFile(path)], { normalize: true })).embeddings;
}
