// Retrieval-based report generation after CXR-RePaiR (Endo et al. 2021): a corpus of reports (or their
// sentences) is embedded once, cached on disk, and the most similar entries are returned for an image.
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { ConfigError } from '../errors.ts';
import { parseCsvRecords } from '../io/csv.ts';
import type { ClipModel } from './clip-model.ts';
import { cacheRoot, exists, writeAtomic } from './graph-cache.ts';
import { splitSentences, type TextCorpus } from '../tasks/report-retrieval.ts';

export interface CorpusOptions {
  /** CSV columns whose text makes an entry, joined with a space (default: impression) */
  columns?: string[];
  /** split entries into sentences (CXR-RePaiR-Select) */
  sentences?: boolean;
}

/**
 * Read a report corpus: a CSV (text from the named columns) or a plain text file (one entry per line).
 * Empty entries are dropped; what is left must not be empty.
 * @example (await readCorpus('../shared/data/iu-xray-reports/indiana_reports.csv')).length // 3820 impressions
 */
export async function readCorpus(file: string, o: CorpusOptions = {}): Promise<string[]> {
  const text = await readFile(file, 'utf8');
  let entries: string[];
  if (file.toLowerCase().endsWith('.csv')) {
    const { columns, records } = parseCsvRecords(text, file);
    const wanted = o.columns ?? ['impression'];
    for (const c of wanted) if (!columns.includes(c)) throw new ConfigError(`no column '${c}' (columns: ${columns.join(', ')})`, { file });
    entries = records.map((r) => wanted.map((c) => r[c]!.trim()).filter((t) => t !== '').join(' '));
  } else {
    entries = text.split(/\r?\n/);
  }
  entries = entries.map((e) => e.trim()).filter((e) => e !== '');
  if (o.sentences) entries = entries.flatMap((e) => splitSentences(e));
  if (entries.length === 0) throw new ConfigError('the corpus has no text', { file });
  return entries;
}

/** Embed a corpus with a model, reusing an on-disk copy keyed by the model's graphs and the texts. */
export async function embedCorpus(model: ClipModel, texts: string[], log: (m: string) => void = () => {}): Promise<TextCorpus> {
  const key = createHash('sha256').update(basename(model.compiled.dir)).update('\0').update(texts.join('\n')).digest('hex').slice(0, 24);
  const dir = join(cacheRoot(), 'corpora');
  const path = join(dir, `${key}.f32`);
  const dim = model.embedDim;
  if (await exists(path)) {
    const b = await readFile(path);
    if (b.byteLength === texts.length * dim * 4) {
      return { texts, embeddings: { rows: texts.length, cols: dim, data: new Float32Array(Uint8Array.prototype.slice.call(b).buffer) } };
    }
  }
  log(`embedding a corpus of ${texts.length} texts (cached afterwards)`);
  const e = await model.embedTexts(texts, { normalize: true });
  await mkdir(dir, { recursive: true });
  await writeAtomic(path, new Uint8Array(e.embeddings.buffer));
  return { texts, embeddings: { rows: texts.length, cols: dim, data: e.embeddings } };
}
