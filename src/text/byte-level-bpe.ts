// Byte-level BPE as Hugging Face's `tokenizers` library runs a tokenizer.json (Radford et al. 2019, GPT-2's
// byte-to-unicode table and pre-tokenizer pattern; huggingface/tokenizers `normalizers/`, `pre_tokenizers/byte_level.rs`,
// `models/bpe/`, `processors/template.rs`, `tokenizer/added_vocabulary.rs`), behind transformers'
// PreTrainedTokenizerFast `batch_encode_plus(max_length=n, truncation=True, padding='max_length')`: what CONCH's
// tokenizer is (github:mahmoodlab/CONCH `conch/open_clip_custom/custom_tokenizer.py`).
//
// The steps, for one text:
// 1. added tokens (`added_tokens`, matched on the raw text, leftmost-longest) are cut out whole;
// 2. every other piece is normalised (`normalizer`: NFD, StripAccents, Lowercase ... as listed), gets a leading
//    space when it has none (ByteLevel `add_prefix_space`) and is split by GPT-2's pattern;
// 3. each part's UTF-8 bytes become GPT-2's printable characters and are merged, lowest merge rank first
//    (the leftmost pair among equals), into vocabulary ids;
// 4. the post-processor's template puts the special tokens around them; truncation keeps room for those.
import { ConfigError, UnsupportedError } from '../errors.ts';
import type { TextTokenizer } from '../models/family.ts';

type Json = Record<string, unknown>;

/** GPT-2's reversible byte -> printable character table: printable Latin-1 bytes stand for themselves, the rest map to U+0100 on. */
export function bytesToUnicode(): string[] {
  const table: string[] = new Array(256);
  let next = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    table[b] = String.fromCodePoint(printable ? b : 256 + next++);
  }
  return table;
}

// GPT-2's pattern with Oniguruma's `\s` (the Unicode White_Space property: U+0085 in, U+FEFF out, unlike JavaScript's \s)
const WS = '\\p{White_Space}';
const GPT2_PATTERN = new RegExp(`'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${WS}\\p{L}\\p{N}]+|[${WS}]+(?![^${WS}])|[${WS}]+`, 'gu');
const MARK = /\p{M}/u;

type Normalize = (s: string) => string;

function normalizer(j: unknown, file: string): Normalize {
  if (j === null || j === undefined) return (s) => s;
  const n = j as Json;
  switch (n.type) {
    case 'Sequence': {
      const parts = ((n.normalizers ?? []) as unknown[]).map((x) => normalizer(x, file));
      return (s) => parts.reduce((acc, f) => f(acc), s);
    }
    case 'NFD':
    case 'NFC':
    case 'NFKD':
    case 'NFKC':
      return (s) => s.normalize(n.type as string);
    // StripAccents drops every combining mark (General_Category M: Mn, Mc, Me)
    case 'StripAccents':
      return (s) => Array.from(s).filter((c) => !MARK.test(c)).join('');
    // Lowercase maps character by character (Rust's char::to_lowercase): no final-sigma context
    case 'Lowercase':
      return (s) => Array.from(s).map((c) => c.toLowerCase()).join('');
    default:
      throw new UnsupportedError(`normalizer '${String(n.type)}': byte-level BPE reads Sequence, NFD, NFC, NFKD, NFKC, StripAccents and Lowercase`, { file });
  }
}

interface AddedToken {
  id: number;
  content: string;
}

export interface ByteLevelBpeInfo {
  /** ids put before and after the text by the post-processor (CONCH: <start_of_text>, <end_of_text>) */
  prefix: number[];
  suffix: number[];
}

/**
 * A tokenizer.json of a byte-level BPE model (model.type "BPE", pre_tokenizer "ByteLevel").
 * @example ByteLevelBpeTokenizer.fromTokenizerJson(json, 'tokenizer.json').encode('An H&E image') // [1, 285, 310, 12, 75, 4064, 2] with CONCH's file
 */
export class ByteLevelBpeTokenizer implements TextTokenizer {
  private readonly byteChars = bytesToUnicode();
  private readonly cache = new Map<string, number[]>();
  private readonly addedByFirst = new Map<string, AddedToken[]>();

  private constructor(
    private readonly vocab: Map<string, number>,
    private readonly ranks: Map<string, number>,
    added: AddedToken[],
    private readonly normalize: Normalize,
    private readonly addPrefixSpace: boolean,
    readonly info: ByteLevelBpeInfo,
    /** the id `tokenize` pads with */
    readonly padId: number,
  ) {
    for (const t of added) {
      const first = t.content[0]!;
      const list = this.addedByFirst.get(first) ?? [];
      list.push(t);
      this.addedByFirst.set(first, list);
    }
  }

  /**
   * Read a tokenizer.json (as bytes or text); `padToken` names the token `tokenize` pads with (transformers'
   * pad_token; CONCH passes '<pad>'). Everything the file asks for that is not built here is an error naming it.
   */
  static fromTokenizerJson(input: Uint8Array | string, file: string, options: { padToken: string }): ByteLevelBpeTokenizer {
    let j: Json;
    try {
      j = JSON.parse(typeof input === 'string' ? input : new TextDecoder().decode(input)) as Json;
    } catch (e) {
      throw new ConfigError(`not valid JSON: ${(e as Error).message}`, { file });
    }
    const model = (j.model ?? {}) as Json;
    if (model.type !== 'BPE') throw new UnsupportedError(`model.type '${String(model.type)}': a BPE model is expected`, { file });
    for (const k of ['dropout', 'continuing_subword_prefix', 'end_of_word_suffix'] as const) {
      if (model[k] !== null && model[k] !== undefined) throw new UnsupportedError(`model.${k} ${JSON.stringify(model[k])} is not built (byte-level BPE without it)`, { file });
    }
    if (model.byte_fallback === true || model.ignore_merges === true) throw new UnsupportedError(`model.${model.byte_fallback ? 'byte_fallback' : 'ignore_merges'} is not built`, { file });
    const vocabJson = model.vocab;
    if (typeof vocabJson !== 'object' || vocabJson === null) throw new ConfigError('model.vocab: expected an object of token -> id', { file });
    const vocab = new Map<string, number>(Object.entries(vocabJson as Record<string, number>));
    const merges = model.merges;
    if (!Array.isArray(merges)) throw new ConfigError('model.merges: expected a list', { file });
    // ranks keyed by "a b" (the file's own string form; byte-level symbols never hold a space)
    const ranks = new Map<string, number>();
    for (let r = 0; r < merges.length; r++) {
      const m: unknown = merges[r];
      const key = typeof m === 'string' ? m : Array.isArray(m) && m.length === 2 && m.every((x) => typeof x === 'string') ? `${m[0]} ${m[1]}` : undefined;
      const sp = key?.indexOf(' ') ?? -1;
      if (key === undefined || sp < 1 || sp === key.length - 1 || key.indexOf(' ', sp + 1) >= 0) throw new ConfigError(`model.merges[${r}] ${JSON.stringify(m)}: expected two symbols`, { file });
      const a = key.slice(0, sp);
      const b = key.slice(sp + 1);
      if (!vocab.has(a) || !vocab.has(b) || !vocab.has(a + b)) throw new ConfigError(`model.merges[${r}] '${key}': a symbol or the merged token is not in the vocabulary`, { file });
      if (!ranks.has(key)) ranks.set(key, r);
    }
    const missingBytes = bytesToUnicode().filter((c) => !vocab.has(c));
    if (missingBytes.length) throw new ConfigError(`the vocabulary lacks ${missingBytes.length} of the 256 byte symbols (e.g. ${JSON.stringify(missingBytes[0])}): not a byte-level vocabulary`, { file });

    const added: AddedToken[] = [];
    for (const t of (j.added_tokens ?? []) as Json[]) {
      for (const k of ['single_word', 'lstrip', 'rstrip'] as const) if (t[k]) throw new UnsupportedError(`added token ${JSON.stringify(t.content)}: ${k} is not built`, { file });
      if (t.normalized) throw new UnsupportedError(`added token ${JSON.stringify(t.content)}: tokens matched after normalisation are not built`, { file });
      if (typeof t.content !== 'string' || t.content === '' || typeof t.id !== 'number') throw new ConfigError(`added token ${JSON.stringify(t)}: expected content and id`, { file });
      added.push({ id: t.id, content: t.content });
    }

    const pre = (j.pre_tokenizer ?? {}) as Json;
    if (pre.type !== 'ByteLevel') throw new UnsupportedError(`pre_tokenizer '${String(pre.type)}': byte-level BPE needs the ByteLevel pre-tokenizer`, { file });
    if (pre.use_regex === false) throw new UnsupportedError('pre_tokenizer.use_regex false is not built', { file });

    const idOf = (token: string, where: string): number => {
      const id = added.find((a) => a.content === token)?.id ?? vocab.get(token);
      if (id === undefined) throw new ConfigError(`${where} '${token}' is not in the vocabulary`, { file });
      return id;
    };
    const info = postProcessor(j.post_processor, file, idOf);
    return new ByteLevelBpeTokenizer(vocab, ranks, added, normalizer(j.normalizer, file), pre.add_prefix_space !== false, info, idOf(options.padToken, 'pad token'));
  }

  /** One more than the largest id of the vocabulary and the added tokens: the rows a token embedding needs. */
  get vocabSize(): number {
    let max = -1;
    for (const id of this.vocab.values()) max = Math.max(max, id);
    for (const list of this.addedByFirst.values()) for (const t of list) max = Math.max(max, t.id);
    return max + 1;
  }

  /** The ids of one text with the post-processor's special tokens, no truncation or padding. */
  encode(text: string): number[] {
    return [...this.info.prefix, ...this.content(text), ...this.info.suffix];
  }

  /**
   * Ids [texts.length, contextLength]: the text truncated on the right to leave room for the special tokens,
   * then padded with padId (transformers: truncation=True, padding='max_length', max_length=contextLength).
   */
  tokenize(texts: string[], contextLength: number): Int32Array {
    const room = contextLength - this.info.prefix.length - this.info.suffix.length;
    if (room < 0) throw new ConfigError(`context length ${contextLength} leaves no room for the ${contextLength - room} special tokens`);
    const out = new Int32Array(texts.length * contextLength).fill(this.padId);
    texts.forEach((t, r) => out.set([...this.info.prefix, ...this.content(t).slice(0, room), ...this.info.suffix], r * contextLength));
    return out;
  }

  /** The text's ids without special tokens around them. */
  private content(text: string): number[] {
    const ids: number[] = [];
    let start = 0;
    const flush = (end: number) => {
      if (end > start) ids.push(...this.plain(text.slice(start, end)));
    };
    for (let i = 0; i < text.length; ) {
      const hit = this.addedAt(text, i);
      if (hit) {
        flush(i);
        ids.push(hit.id);
        i += hit.content.length;
        start = i;
      } else i++;
    }
    flush(text.length);
    return ids;
  }

  /** The longest added token that starts at position i. */
  private addedAt(text: string, i: number): AddedToken | undefined {
    let best: AddedToken | undefined;
    for (const t of this.addedByFirst.get(text[i]!) ?? []) {
      if ((!best || t.content.length > best.content.length) && text.startsWith(t.content, i)) best = t;
    }
    return best;
  }

  /** A piece without added tokens: normalised, pre-tokenised, each part merged. */
  private plain(piece: string): number[] {
    let s = this.normalize(piece);
    if (s === '') return [];
    if (this.addPrefixSpace && !s.startsWith(' ')) s = ` ${s}`;
    const ids: number[] = [];
    let last = 0;
    for (const m of s.matchAll(GPT2_PATTERN)) {
      if (m.index! > last) ids.push(...this.word(s.slice(last, m.index)));
      ids.push(...this.word(m[0]));
      last = m.index! + m[0].length;
    }
    if (last < s.length) ids.push(...this.word(s.slice(last)));
    return ids;
  }

  /** One pre-token: its UTF-8 bytes as GPT-2 characters, merged lowest rank first (leftmost among equal ranks). */
  private word(part: string): number[] {
    const hit = this.cache.get(part);
    if (hit) return hit;
    const symbols = Array.from(new TextEncoder().encode(part), (b) => this.byteChars[b]!);
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < symbols.length; i++) {
        const r = this.ranks.get(`${symbols[i]} ${symbols[i + 1]}`);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      symbols.splice(best, 2, symbols[best]! + symbols[best + 1]!);
    }
    const ids = symbols.map((sym) => this.vocab.get(sym)!);
    if (this.cache.size < 10_000) this.cache.set(part, ids);
    return ids;
  }
}

/** The ids a post-processor puts around a single text: TemplateProcessing's `single`, or none. */
function postProcessor(j: unknown, file: string, idOf: (token: string, where: string) => number): ByteLevelBpeInfo {
  if (j === null || j === undefined) return { prefix: [], suffix: [] };
  const p = j as Json;
  if (p.type === 'ByteLevel') return { prefix: [], suffix: [] }; // offsets only
  if (p.type !== 'TemplateProcessing') throw new UnsupportedError(`post_processor '${String(p.type)}': TemplateProcessing and ByteLevel are read`, { file });
  const specials = (p.special_tokens ?? {}) as Record<string, { ids?: number[] }>;
  const info: ByteLevelBpeInfo = { prefix: [], suffix: [] };
  let seen = false;
  for (const piece of (p.single ?? []) as Json[]) {
    if (piece.Sequence) {
      if ((piece.Sequence as Json).id !== 'A' || seen) throw new ConfigError(`post_processor.single: one sequence A is expected, got ${JSON.stringify(piece)}`, { file });
      seen = true;
    } else if (piece.SpecialToken) {
      const name = String((piece.SpecialToken as Json).id);
      const ids = specials[name]?.ids ?? [idOf(name, 'post_processor special token')];
      (seen ? info.suffix : info.prefix).push(...ids);
    } else throw new ConfigError(`post_processor.single: unknown piece ${JSON.stringify(piece)}`, { file });
  }
  if (!seen) throw new ConfigError('post_processor.single has no sequence A', { file });
  return info;
}
