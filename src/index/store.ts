// The archive on disk: a LanceDB database in a folder, one table per model (keyed by the model's spec hash),
// a per-database salt for hashing DICOM UIDs, and the searches over a table (approximate through the vector
// index, exact by brute force, near-duplicate groups, keyword matches on reports).
//
// Every write is one LanceDB commit (an atomic manifest swap), so a process killed at any moment leaves each
// batch either wholly in the table or not at all; what decides "already indexed" is the table itself.
import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as lancedb from '@lancedb/lancedb';
import type { Schema } from 'apache-arrow';
import { ClipmedError, ConfigError } from '../errors.ts';
import { decodeImageFile } from '../image/decode.ts';
import { loadInputs, sniffFormat } from '../io/inputs.ts';
import { toDisplayRaster } from '../io/raster.ts';
import type { ClipModel } from '../models/clip-model.ts';
import { addToTable, listSources, modelSpec, type AddOptions, type AddReport, type SourceOptions } from './ingest.ts';
import { hybridOrder, nearDuplicateGroups } from './similarity.ts';

/** Which model a table holds, stored in the table's schema metadata. */
export interface TableSpec {
  /** sha256 over what decides the embeddings: checkpoint bytes, preprocessing, protocol */
  specHash: string;
  /** the model source as given (a registered name, hf-hub:..., or an absolute local path) */
  model: string;
  /** the checkpoint's sha256 (ModelMeta.checkpointSha256) */
  checkpointSha256: string;
  dim: number;
  protocol?: string;
}

/** One row as written: an input (or one frame or slice of it) and its embedding. */
export interface IndexRow {
  /** the path or URL of the row (a frame or slice gets a #frame=N or #axial=K suffix) */
  path: string;
  /** the file or URL the row came from (what the content hash is of) */
  source: string;
  frame: number;
  contentHash: string;
  /** L2-normalised image embedding */
  vector: Float32Array;
  modality?: string;
  bodyPart?: string;
  studyUid?: string;
  seriesUid?: string;
  instanceUid?: string;
  /** true when the UIDs are stored as they are (--phi), false when salted hashes */
  phi?: boolean;
  label?: string;
  report?: string;
}

export interface SearchHit {
  path: string;
  /** cosine similarity to the query */
  score: number;
  meta: Record<string, unknown>;
  /** keyword score (BM25 over reports, scaled to [0, 1]) when the search was hybrid */
  keyword?: number;
}

export interface SearchOptions {
  k?: number;
  /** SQL filter over the scalar columns, e.g. "modality = 'CR' AND label = 'pneumonia'" */
  where?: string;
  /** brute-force cosine over every row instead of the vector index */
  exact?: boolean;
  /** IVF partitions to probe (default: a tenth of them, at least 20) */
  nprobes?: number;
  /** re-rank this many times k candidates with exact distances (default 10) */
  refineFactor?: number;
}

const META_COLUMNS = ['source', 'frame', 'content_hash', 'model_hash', 'modality', 'body_part', 'study_uid', 'series_uid', 'instance_uid', 'phi', 'label', 'report'] as const;
const TABLE_PREFIX = 'clip_';
const INFO_FILE = 'clipmed-index.json';

// LanceDB and Arrow load on first use (about a second), not with every clipmed command.
// Lance logs warnings (empty IVF partitions, deprecations) to stderr unless told otherwise.
const loadLance = () => {
  process.env.LANCE_LOG ??= 'error';
  return import('@lancedb/lancedb');
};

/** The Arrow schema of a model's table; the spec rides along in the schema metadata. */
async function tableSchema(spec: TableSpec): Promise<Schema> {
  const { Bool, Field, FixedSizeList, Float32, Int32, Schema, Utf8 } = await import('apache-arrow');
  const s = (name: string, nullable = true) => new Field(name, new Utf8(), nullable);
  const metadata = new Map<string, string>([['clipmed.spec', JSON.stringify(spec)]]);
  return new Schema(
    [
      s('path', false),
      s('source', false),
      new Field('frame', new Int32(), false),
      s('content_hash', false),
      s('model_hash', false),
      new Field('vector', new FixedSizeList(spec.dim, new Field('item', new Float32(), true)), false),
      s('modality'),
      s('body_part'),
      s('study_uid'),
      s('series_uid'),
      s('instance_uid'),
      new Field('phi', new Bool(), false),
      s('label'),
      s('report'),
    ],
    metadata,
  );
}

/** Quote a string for a LanceDB SQL filter. */
export function sqlString(v: string): string {
  return `'${v.replace(/'/g, "''")}'`;
}

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

/** One model's rows. */
export class IndexTable {
  private vectorIndexed = false;
  constructor(
    readonly table: lancedb.Table,
    readonly spec: TableSpec,
  ) {}

  get name(): string {
    return this.table.name;
  }

  count(where?: string): Promise<number> {
    return this.table.countRows(where);
  }

  /** Content hashes of the given sources that are already in the table. */
  async existing(sources: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (let i = 0; i < sources.length; i += 500) {
      const part = sources.slice(i, i + 500);
      const rows = await this.table.query().where(`source IN (${part.map(sqlString).join(', ')})`).select(['source', 'content_hash']).toArray();
      for (const r of rows) out.set(r.source as string, r.content_hash as string);
    }
    return out;
  }

  /**
   * Write rows in one commit. Sources in `replace` (changed inputs) are deleted first, in their own commit:
   * a kill between the two leaves them absent, and the next run adds them again; never twice.
   */
  async write(rows: IndexRow[], replace: string[] = []): Promise<void> {
    if (replace.length > 0) {
      for (let i = 0; i < replace.length; i += 500) await this.table.delete(`source IN (${replace.slice(i, i + 500).map(sqlString).join(', ')})`);
    }
    if (rows.length === 0) return;
    for (const r of rows) {
      if (r.vector.length !== this.spec.dim) throw new ConfigError(`row ${r.path}: embedding has ${r.vector.length} values, the table holds ${this.spec.dim}`);
    }
    await this.table.add(
      rows.map((r) => ({
        path: r.path,
        source: r.source,
        frame: r.frame,
        content_hash: r.contentHash,
        model_hash: this.spec.specHash,
        vector: Array.from(r.vector),
        modality: r.modality ?? null,
        body_part: r.bodyPart ?? null,
        study_uid: r.studyUid ?? null,
        series_uid: r.seriesUid ?? null,
        instance_uid: r.instanceUid ?? null,
        phi: r.phi ?? false,
        label: r.label ?? null,
        report: r.report ?? null,
      })),
    );
  }

  /** The indexes the table has, by column. */
  async indices(): Promise<Array<{ name: string; type: string; columns: string[]; unindexed: number }>> {
    const list = (await this.table.listIndices()) as Array<lancedb.IndexConfig & { numUnindexedRows?: number }>;
    return list.map((i) => ({ name: i.name, type: i.indexType, columns: i.columns, unindexed: i.numUnindexedRows ?? 0 }));
  }

  /**
   * Build the vector index (IVF-PQ, cosine) once the table has `threshold` rows, with a scalar index on the
   * source column and a full-text index on reports; when they exist already, fold new rows into them.
   * Returns what it did.
   */
  async buildIndexes(threshold = 10_000): Promise<string[]> {
    const done: string[] = [];
    const n = await this.count();
    const have = await this.indices();
    const vector = have.find((i) => i.columns.includes('vector'));
    const lancedb = await loadLance();
    if (!vector && n >= threshold) {
      const dim = this.spec.dim;
      // PQ sub-vectors of 4 values where the dimension allows; partitions ~ sqrt(rows)
      const numSubVectors = dim % 4 === 0 ? dim / 4 : dim % 2 === 0 ? dim / 2 : dim;
      await this.table.createIndex('vector', {
        config: lancedb.Index.ivfPq({ distanceType: 'cosine', numPartitions: Math.max(1, Math.round(Math.sqrt(n))), numSubVectors, maxIterations: 10, sampleRate: 64 }),
      });
      done.push(`vector index (IVF-PQ, ${n} rows)`);
    }
    if (!have.some((i) => i.columns.includes('source')) && n >= threshold) {
      await this.table.createIndex('source', { config: lancedb.Index.btree() });
      done.push('scalar index on source');
    }
    const reports = await this.count('report IS NOT NULL');
    if (reports > 0 && !have.some((i) => i.columns.includes('report'))) {
      await this.table.createIndex('report', { config: lancedb.Index.fts() });
      done.push(`full-text index on reports (${reports})`);
    }
    if (have.some((i) => i.unindexed > 0)) {
      await this.table.optimize();
      done.push('new rows folded into the indexes');
    }
    return done;
  }

  /** Nearest rows to a normalised query vector, best first, scores as cosine similarity. */
  async search(query: Float32Array, o: SearchOptions = {}): Promise<SearchHit[]> {
    return badFilter(o.where, () => this.searchUnchecked(query, o));
  }

  private async searchUnchecked(query: Float32Array, o: SearchOptions): Promise<SearchHit[]> {
    const k = o.k ?? 10;
    if (query.length !== this.spec.dim) throw new ConfigError(`query has ${query.length} values, the table holds ${this.spec.dim}`);
    if (o.exact) return this.exactSearch(query, k, o.where);
    let q = this.table.vectorSearch(Array.from(query)).distanceType('cosine').limit(k).select(['path', ...META_COLUMNS, '_distance']);
    // an index, once there, stays: remember it rather than listing indexes on every query
    this.vectorIndexed ||= (await this.indices()).some((i) => i.columns.includes('vector'));
    if (this.vectorIndexed) {
      // the index has about sqrt(rows) partitions (buildIndexes); probe a tenth of them, at least 20
      const probes = o.nprobes ?? Math.max(20, Math.ceil(Math.sqrt(await this.count()) / 10));
      q = q.nprobes(probes).refineFactor(o.refineFactor ?? 10);
    }
    if (o.where) q = q.where(o.where);
    const rows = await q.toArray();
    return rows.map((r) => hit(r, 1 - (r._distance as number)));
  }

  /** Every row's cosine with the query in float64, top k kept; ties ordered by path. */
  async exactSearch(query: Float32Array, k: number, where?: string): Promise<SearchHit[]> {
    const best: Array<{ score: number; row: Record<string, unknown> }> = [];
    const dim = this.spec.dim;
    let q = this.table.query().select(['path', ...META_COLUMNS, 'vector']);
    if (where) q = q.where(where);
    for await (const batch of q) {
      const vec = batch.getChild('vector')!;
      const flat = vec.data[0]!.children[0]!.values as Float32Array;
      const offset = vec.data[0]!.offset;
      const path = batch.getChild('path')!;
      for (let i = 0; i < batch.numRows; i++) {
        let s = 0;
        const base = (offset + i) * dim;
        for (let j = 0; j < dim; j++) s += flat[base + j]! * query[j]!;
        if (best.length === k && !better(s, path.get(i) as string, best[k - 1]!)) continue;
        const row = batch.get(i)!.toJSON() as Record<string, unknown>;
        best.push({ score: s, row });
        best.sort((a, b) => (better(a.score, a.row.path as string, b) ? -1 : 1));
        if (best.length > k) best.pop();
      }
    }
    return best.map((b) => hit(b.row, b.score));
  }

  /** Rows whose report matches the words, BM25-scored (needs the full-text index, built by buildIndexes). */
  async keywordSearch(text: string, k: number, where?: string): Promise<Array<{ path: string; score: number }>> {
    if (!(await this.indices()).some((i) => i.columns.includes('report'))) {
      const reports = await this.count('report IS NOT NULL');
      throw new ConfigError(reports === 0 ? 'no report text in this table to match keywords against (index a manifest with --text-column)' : 'the reports have no full-text index yet: run clipmed index again to finish it');
    }
    let q = this.table.search(text, 'fts', 'report') as lancedb.Query;
    q = q.select(['path', '_score']).limit(k);
    if (where) q = q.where(where);
    try {
      const rows = await q.toArray();
      return rows.map((r) => ({ path: r.path as string, score: r._score as number }));
    } catch (err) {
      throw new ConfigError(`keyword search for '${text}' failed: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Vectors and paths of every row (optionally filtered), for brute-force work. */
  async allVectors(where?: string): Promise<{ paths: string[]; vectors: Float32Array }> {
    return badFilter(where, () => this.allVectorsUnchecked(where));
  }

  private async allVectorsUnchecked(where?: string): Promise<{ paths: string[]; vectors: Float32Array }> {
    const dim = this.spec.dim;
    const paths: string[] = [];
    const chunks: Float32Array[] = [];
    let q = this.table.query().select(['path', 'vector']);
    if (where) q = q.where(where);
    for await (const batch of q) {
      const vec = batch.getChild('vector')!;
      for (const d of vec.data) {
        const values = d.children[0]!.values as Float32Array;
        chunks.push(values.slice(d.offset * dim, (d.offset + d.length) * dim));
      }
      const p = batch.getChild('path')!;
      for (let i = 0; i < batch.numRows; i++) paths.push(p.get(i) as string);
    }
    const vectors = new Float32Array(paths.length * dim);
    let at = 0;
    for (const c of chunks) {
      vectors.set(c, at);
      at += c.length;
    }
    return { paths, vectors };
  }

  /** Rows by path, with their metadata (for hybrid search candidates). */
  async rowsByPath(paths: string[]): Promise<Map<string, Record<string, unknown>>> {
    const out = new Map<string, Record<string, unknown>>();
    for (let i = 0; i < paths.length; i += 500) {
      const part = paths.slice(i, i + 500);
      const rows = await this.table.query().where(`path IN (${part.map(sqlString).join(', ')})`).select(['path', ...META_COLUMNS, 'vector']).toArray();
      for (const r of rows) out.set(r.path as string, r);
    }
    return out;
  }
}

/** LanceDB's errors about a filter (unknown column, bad SQL) as a ConfigError naming the filter. */
async function badFilter<T>(where: string | undefined, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (where === undefined || err instanceof ClipmedError) throw err;
    // Lance chains its causes into one long line; the last one says what is wrong
    const reason = (err as Error).message.split('Caused by: ').pop()!.replace(/, \/\S+\.rs:\d+:\d+/g, '').trim();
    throw new ConfigError(`--where "${where}": ${reason}`, { cause: err });
  }
}

function better(score: number, path: string, than: { score: number; row: Record<string, unknown> }): boolean {
  return score > than.score || (score === than.score && path < (than.row.path as string));
}

/** A search hit from a row: the scalar columns as meta, nulls left out. */
export function hit(row: Record<string, unknown>, score: number): SearchHit {
  const meta: Record<string, unknown> = {};
  for (const c of META_COLUMNS) {
    const v = row[c];
    if (v !== null && v !== undefined) meta[c] = v;
  }
  return { path: row.path as string, score, meta };
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
