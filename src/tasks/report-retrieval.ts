// Report retrieval after CXR-RePaiR (Endo et al. 2021, "Retrieval-Based Chest X-Ray Report Generation Using
// a Pre-trained Contrastive Language-Image Model", ML4H): embed a corpus of reports or report sentences,
// rank it by cosine similarity to an image embedding, and either return the top reports or compose a report
// from the top-k sentences. Identical texts (after whitespace and case folding) are kept once, at their best
// score, so a corpus with many "No acute cardiopulmonary process." entries does not fill every slot.
import { ConfigError, ShapeError } from '../errors.ts';
import { asMatrix, norm, type MatrixLike } from './matrix.ts';

export interface TextCorpus {
  texts: readonly string[];
  /** [M x D], row m embeds texts[m]. */
  embeddings: MatrixLike;
}

export interface RetrievedText {
  text: string;
  score: number;
  /** Index of the kept occurrence in the corpus. */
  index: number;
}

const normalizeText = (t: string) => t.trim().replace(/\s+/g, ' ').toLowerCase();

/**
 * The k most similar corpus texts to an image embedding [D], highest first, de-duplicated by default.
 * @example retrieveTexts([1, 0], { texts: ['a', 'A ', 'b'], embeddings: [[1, 0], [1, 0], [0.5, 0.5]] }, 2).map((r) => r.text) // ['a', 'b']
 */
export function retrieveTexts(image: ArrayLike<number>, corpus: TextCorpus, k: number, opts: { dedupe?: boolean } = {}): RetrievedText[] {
  if (!Number.isInteger(k) || k < 1) throw new ConfigError(`k: expected a positive integer, got ${k}`);
  if (corpus.texts.length === 0) throw new ShapeError('corpus: empty; report retrieval needs at least one text');
  const img = asMatrix([image], 'image embedding');
  const e = asMatrix(corpus.embeddings, 'corpus embeddings', img.cols);
  if (e.rows !== corpus.texts.length) throw new ShapeError(`corpus: ${corpus.texts.length} texts but ${e.rows} embeddings`);
  const ni = norm(img.data);
  if (ni === 0) throw new ShapeError('image embedding: zero norm');
  const d = img.cols;
  const scored: RetrievedText[] = corpus.texts.map((text, m) => {
    const r = e.data.subarray(m * d, (m + 1) * d);
    const nr = norm(r);
    if (nr === 0) throw new ShapeError(`corpus embeddings: row ${m} has zero norm`);
    let s = 0;
    for (let j = 0; j < d; j++) s += img.data[j]! * r[j]!;
    return { text, score: s / (ni * nr), index: m };
  });
  scored.sort((a, b) => b.score - a.score || a.index - b.index);
  if (!(opts.dedupe ?? true)) return scored.slice(0, k);
  const seen = new Set<string>();
  const out: RetrievedText[] = [];
  for (const s of scored) {
    const key = normalizeText(s.text);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(s);
    if (out.length === k) break;
  }
  return out;
}

/**
 * Compose a report from the k most similar distinct sentences (CXR-RePaiR-Select style), joined by spaces.
 * @example composeReport([1, 0], { texts: ['No effusion.', 'Heart normal.'], embeddings: [[1, 0], [1, 1]] }, 2).report // 'No effusion. Heart normal.'
 */
export function composeReport(image: ArrayLike<number>, sentences: TextCorpus, k: number): { report: string; sentences: RetrievedText[] } {
  const picked = retrieveTexts(image, sentences, k, { dedupe: true });
  return { report: picked.map((p) => { const t = p.text.trim(); return /[.!?]$/.test(t) ? t : `${t}.`; }).join(' '), sentences: picked };
}

const ABBREVIATIONS = ['dr.', 'e.g.', 'i.e.', 'vs.', 'approx.', 'no.', 'cm.', 'mm.'];

/**
 * Split report text into sentences: on . ! ? followed by space or end, and on line breaks; list numbering
 * ("1. ") and section headers ending in a colon stay attached to the sentence; decimals ("2.5 cm") and a few
 * abbreviations do not split. Empty pieces are dropped and whitespace collapsed.
 * @example splitSentences('FINDINGS: Heart size is normal. No effusion.\n1. Lines 2.5 cm apart!') // ['FINDINGS: Heart size is normal.', 'No effusion.', '1. Lines 2.5 cm apart!']
 */
export function splitSentences(report: string): string[] {
  const out: string[] = [];
  for (const line of report.split(/\r?\n/)) {
    const words = line.trim().split(/\s+/).filter((w) => w.length > 0);
    let cur: string[] = [];
    for (let i = 0; i < words.length; i++) {
      const w = words[i]!;
      cur.push(w);
      const isListNumber = /^\d+[.)]$/.test(w) && cur.length === 1;
      const ends = /[.!?]["')\]]*$/.test(w) && !isListNumber && !ABBREVIATIONS.includes(w.toLowerCase());
      if (ends) { out.push(cur.join(' ')); cur = []; }
    }
    if (cur.length) out.push(cur.join(' '));
  }
  return out;
}
