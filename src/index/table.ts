// One model's table in the archive: its Arrow schema (the model spec in the schema metadata), batch writes,
// and the searches over it: approximate through the IVF-PQ index, exact by brute force, keywords on reports.
//
// Every write is one LanceDB commit (an atomic manifest swap), so a process killed at any moment leaves each
// batch either wholly in the table or not at all; what decides "already indexed" is the table itself.
import type * as lancedb from '@lancedb/lancedb';
import type { Schema } from 'apache-arrow';
import { ClipmedError, ConfigError } from '../errors.ts';


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

export const META_COLUMNS = ['source', 'frame', 'content_hash', 'model_hash', 'modality', 'body_part', 'study_uid', 'series_uid', 'instance_uid', 'phi', 'label', 'report'] as const;

// LanceDB and Arrow load on first use (about a second), not with every clipmed command.
// Lance logs warnings (empty IVF partitions, deprecations) to stderr unless told otherwise.
export const loadLance = () => {
  process.env.LANCE_LOG ??= 'error';
  return import('@lancedb/lancedb');
};

/** The Arrow schema of a model's table; the spec rides along in the schema metadata. */
export async function tableSchema(spec: TableSpec): Promise<Schema> {
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
