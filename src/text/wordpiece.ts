// BERT's WordPiece tokenizer (Devlin et al. 2019; google-research/bert `tokenization.py`: BasicTokenizer +
// WordpieceTokenizer), as Hugging Face's BertTokenizer(Fast) runs it for BiomedCLIP / PubMedBERT, behind
// open_clip v2.24.0's `HFTokenizer` (its `_clean_whitespace` cleaning, then
// `batch_encode_plus(max_length=n, padding='max_length', truncation=True)`).
import { ConfigError, UnsupportedError } from '../errors.ts';
import type { TextTokenizer } from '../models/family.ts';
import { basicClean, PY_REGEX_SPACE, whitespaceClean } from './clean.ts';

/** BERT's special tokens; written literally in a text they are kept whole, as transformers' added-token trie does. */
const SPECIALS = ['[CLS]', '[SEP]', '[PAD]', '[MASK]', '[UNK]'] as const;
const SPECIAL_SPLIT = new RegExp(`(${SPECIALS.map((s) => s.replace(/[[\]]/g, '\\$&')).join('|')})`);
/** Python's str.split() separators (str.isspace), which BasicTokenizer's whitespace_tokenize splits on. */
const PY_SPLIT = new RegExp(`[${PY_REGEX_SPACE}\\u001c-\\u001f]+`, 'u');
const CONTROL = /^\p{C}$/u;
const ZS = /^\p{Zs}$/u;
const PUNCT = /^\p{P}$/u;
const MN = /\p{Mn}/gu;

export interface WordPieceOptions {
  /** lower-case and strip accents (BERT uncased: do_lower_case = True) */
  lowercase: boolean;
  /** longer words become [UNK] (BERT: 100) */
  maxCharsPerWord?: number;
  /** apply open_clip's HFTokenizer text cleaning (ftfy, HTML unescape, whitespace runs) first (default true) */
  openClipClean?: boolean;
}

function isCjk(cp: number): boolean {
  return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) || (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f);
}

function isPunctuation(ch: string, cp: number): boolean {
  // BERT counts every non-alphanumeric ASCII character as punctuation ("$", "^", "`" are not Unicode P*)
  return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126) || PUNCT.test(ch);
}

/**
 * BERT's BasicTokenizer: drop NUL, U+FFFD and control characters, whitespace to spaces, spaces around CJK
 * ideographs, split on whitespace, lower-case and strip accents (when uncased), split off punctuation.
 * @example basicTokenize("Sjögren's syndrome", true) // ['sjogren', "'", 's', 'syndrome']
 */
export function basicTokenize(text: string, lowercase: boolean): string[] {
  let cleaned = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ZS.test(ch)) cleaned += ' ';
    else if (cp === 0 || cp === 0xfffd || CONTROL.test(ch)) continue;
    else if (isCjk(cp)) cleaned += ` ${ch} `;
    else cleaned += ch;
  }
  const words: string[] = [];
  for (let tok of cleaned.split(PY_SPLIT)) {
    if (tok === '') continue;
    if (lowercase) tok = tok.toLowerCase().normalize('NFD').replace(MN, '');
    let cur = '';
    for (const ch of tok) {
      if (isPunctuation(ch, ch.codePointAt(0)!)) {
        if (cur) words.push(cur);
        words.push(ch);
        cur = '';
      } else cur += ch;
    }
    if (cur) words.push(cur);
  }
  return words;
}

export class WordPieceTokenizer implements TextTokenizer {
  private readonly ids: Map<string, number>;
  readonly clsId: number;
  readonly sepId: number;
  readonly padId: number;
  readonly unkId: number;
  private readonly maxChars: number;

  /** `vocab[i]` is the token of id i. */
  constructor(
    readonly vocab: readonly string[],
    private readonly options: WordPieceOptions,
    readonly file = 'vocab',
  ) {
    // as transformers' load_vocab: a repeated token keeps its last line
    this.ids = new Map(vocab.map((t, i) => [t, i]));
    const need = (t: string) => {
      const id = this.ids.get(t);
      if (id === undefined) throw new ConfigError(`the WordPiece vocabulary has no '${t}' token`, { file });
      return id;
    };
    this.clsId = need('[CLS]');
    this.sepId = need('[SEP]');
    this.padId = need('[PAD]');
    this.unkId = need('[UNK]');
    this.maxChars = options.maxCharsPerWord ?? 100;
  }

  /**
   * From BERT's `vocab.txt` (one token per line, the id is the line number).
   * @example WordPieceTokenizer.fromVocabText('[PAD]\n[UNK]\n[CLS]\n[SEP]\nlung\n', { lowercase: true }).encode('Lung', 6) // [2, 4, 3, 0, 0, 0]
   */
  static fromVocabText(text: string, options: WordPieceOptions, file = 'vocab.txt'): WordPieceTokenizer {
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    return new WordPieceTokenizer(lines, options, file);
  }

  /**
   * From a transformers `tokenizer.json` with a WordPiece model and a BertNormalizer; its own settings
   * (lowercase, continuation prefix, max chars per word) are used and checked.
   */
  static fromTokenizerJson(text: string, file = 'tokenizer.json', clean = true): WordPieceTokenizer {
    let j: any;
    try {
      j = JSON.parse(text);
    } catch (e) {
      throw new ConfigError(`tokenizer.json is not valid JSON: ${(e as Error).message}`, { file });
    }
    const m = j?.model;
    if (m?.type !== 'WordPiece') throw new UnsupportedError(`tokenizer.json model type '${String(m?.type)}': only WordPiece is supported here`, { file });
    if ((m.continuing_subword_prefix ?? '##') !== '##') throw new UnsupportedError(`continuing_subword_prefix '${m.continuing_subword_prefix}': only '##' is supported`, { file });
    const n = j.normalizer;
    if (n?.type !== 'BertNormalizer') throw new UnsupportedError(`tokenizer.json normalizer '${String(n?.type)}': only BertNormalizer is supported`, { file });
    const lowercase = n.lowercase !== false;
    const strip = n.strip_accents ?? lowercase;
    if (strip !== lowercase || n.clean_text === false || n.handle_chinese_chars === false) {
      throw new UnsupportedError(`BertNormalizer settings ${JSON.stringify(n)}: supported are clean_text and handle_chinese_chars on, strip_accents following lowercase`, { file });
    }
    const entries = Object.entries(m.vocab as Record<string, number>);
    const vocab: string[] = [];
    for (const [t, id] of entries) vocab[id] = t;
    if (vocab.length !== entries.length || vocab.some((t) => t === undefined)) throw new ConfigError('tokenizer.json vocab ids are not 0..n-1', { file });
    return new WordPieceTokenizer(vocab, { lowercase, maxCharsPerWord: m.max_input_chars_per_word ?? 100, openClipClean: clean }, file);
  }

  /**
   * From the bytes of `vocab.txt` or `tokenizer.json` (told apart by the file name); a tokenizer.json's own
   * lowercase setting must agree with `options.lowercase`. Files are read by the Node adapter
   * (`loadWordPieceTokenizer` in src/node/tokenizer-files.ts) or the caller.
   * @example WordPieceTokenizer.fromBytes(new TextEncoder().encode('[PAD]\n[UNK]\n[CLS]\n[SEP]\n'), 'vocab.txt', { lowercase: true }).padId // 0
   */
  static fromBytes(bytes: Uint8Array, file: string, options: WordPieceOptions): WordPieceTokenizer {
    const text = new TextDecoder().decode(bytes);
    if (file.endsWith('.json')) {
      const t = WordPieceTokenizer.fromTokenizerJson(text, file, options.openClipClean ?? true);
      if (t.options.lowercase !== options.lowercase) throw new ConfigError(`tokenizer.json lowercase=${t.options.lowercase}, the model expects ${options.lowercase}`, { file });
      return t;
    }
    return WordPieceTokenizer.fromVocabText(text, options, file);
  }

  get lowercase(): boolean {
    return this.options.lowercase;
  }

  /** Greedy longest-match-first WordPiece of one word: pieces after the first carry `##`. */
  private word(word: string, out: number[]): void {
    const cps = Array.from(word);
    if (cps.length > this.maxChars) return void out.push(this.unkId);
    const start0 = out.length;
    let start = 0;
    while (start < cps.length) {
      let end = cps.length;
      let hit: number | undefined;
      while (start < end) {
        const sub = (start > 0 ? '##' : '') + cps.slice(start, end).join('');
        hit = this.ids.get(sub);
        if (hit !== undefined) break;
        end--;
      }
      if (hit === undefined) {
        out.length = start0; // a word with any unmatched rest is one [UNK]
        return void out.push(this.unkId);
      }
      out.push(hit);
      start = end;
    }
  }

  /**
   * Token ids of a text without [CLS] / [SEP] (after open_clip's cleaning when enabled).
   * @example tok.pieceIds('hyperplasia') // the ids of hyper, ##plasia
   */
  pieceIds(text: string): number[] {
    if (this.options.openClipClean ?? true) text = whitespaceClean(basicClean(text));
    const out: number[] = [];
    for (const part of text.split(SPECIAL_SPLIT)) {
      const special = this.ids.get(part);
      if ((SPECIALS as readonly string[]).includes(part) && special !== undefined) {
        out.push(special);
        continue;
      }
      for (const w of basicTokenize(part, this.options.lowercase)) this.word(w, out);
    }
    return out;
  }

  /** The pieces of a text as strings (for display). */
  pieces(text: string): string[] {
    return this.pieceIds(text).map((i) => this.vocab[i]!);
  }

  /**
   * [CLS] pieces [SEP] [PAD]..., cut to `contextLength` keeping [SEP] (transformers' truncation=True,
   * padding='max_length').
   * @example tok.encode('a photo of edema', 8) // [CLS, a, photo, of, edema, SEP, PAD, PAD] as ids
   */
  encode(text: string, contextLength: number): number[] {
    if (contextLength < 2) throw new ConfigError(`context length ${contextLength}: BERT needs at least 2 positions for [CLS] and [SEP]`);
    const ids = [this.clsId, ...this.pieceIds(text).slice(0, contextLength - 2), this.sepId];
    while (ids.length < contextLength) ids.push(this.padId);
    return ids;
  }

  tokenize(texts: string[], contextLength: number): Int32Array {
    const out = new Int32Array(texts.length * contextLength);
    texts.forEach((t, i) => out.set(this.encode(t, contextLength), i * contextLength));
    return out;
  }
}
