// OpenAI CLIP's byte-level BPE tokenizer, giving the same ids as open_clip v2.24.0's SimpleTokenizer
// (src/open_clip/tokenizer.py) with its default 'lower' cleaning and truncation (no reduction mask).
// The merges ship with the package in data/clip-bpe/ (MIT, OpenAI; see the README there).
// \p{L} and \p{N} come from Node's ICU (Unicode 17 on Node 20.20) where the reference environment's
// `regex` module had Unicode 14: only characters assigned since then can split differently.
import { ConfigError, DecodeError } from '../errors.ts';
import { cleanLower, PY_REGEX_SPACE } from './clean.ts';

export const SOT_TOKEN = 49406;
export const EOT_TOKEN = 49407;
const SPECIALS = ['<start_of_text>', '<end_of_text>'];
/** Merges used: 49408 ids = 256 bytes + 256 `</w>` forms + 48894 merges + 2 specials. */
const N_MERGES = 49152 - 256 - 2;

/** Where the merges that ship with clipmed are (a file: URL under Node, an asset URL in a bundle). */
export const CLIP_BPE_URL = new URL('../../data/clip-bpe/bpe_simple_vocab_16e6.txt.gz', import.meta.url);

/** Reads the bytes at a URL of a shipped file; the Node adapter (src/node/tokenizer-files.ts) sets one for file: URLs. */
export type BundledFileReader = (url: URL) => Promise<Uint8Array>;

async function fetchBundled(url: URL): Promise<Uint8Array> {
  if (url.protocol === 'file:') {
    throw new ConfigError('the bundled CLIP BPE merges are a local file, read by the Node adapter (import clipmed\'s Node entry or src/node/tokenizer-files.ts), or pass their gzip bytes to ClipTokenizer.load', { file: url.pathname });
  }
  const res = await fetch(url);
  if (!res.ok) throw new DecodeError(`cannot fetch the CLIP BPE merges: HTTP ${res.status}`, { file: url.href });
  return new Uint8Array(await res.arrayBuffer());
}

let readBundled: BundledFileReader = fetchBundled;

/**
 * Sets how `ClipTokenizer.load()` reads the shipped merges when no bytes are given (default: fetch, which
 * serves bundles; the Node adapter reads the file).
 * @example setBundledFileReader(async (url) => new Uint8Array(await readFile(url)))
 */
export function setBundledFileReader(read: BundledFileReader): void {
  readBundled = read;
}

// open_clip's split pattern, with Python regex's `\s` spelled out; special tokens in the text match whole.
// Python compiles it with re.IGNORECASE (simple case folding). On lower-cased text that changes exactly
// two things, written out here instead of using JS's 'i' flag (whose \p{L} would then also take U+0345):
// 'ſ' (U+017F) folds to 's', and U+0345 COMBINING YPOGEGRAMMENI, which folds to a letter, is matched by
// no branch at all, so Python drops it (checked over all code points with the `regex` module).
const PATTERN = new RegExp(
  `<[sſ]tart_of_text>|<end_of_text>|'[sſ]|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^${PY_REGEX_SPACE}\\p{L}\\p{N}\\u0345]+`,
  'gu',
);
const LONE_SURROGATE = /[\ud800-\udfff]/u;

/**
 * GPT-2's reversible byte -> character map: printable Latin-1 bytes stand for themselves, the other
 * 68 bytes (controls, space, soft hyphen...) take the code points 256.. in byte order.
 * Returned in vocabulary order (printable bytes first), as [byte, char] pairs.
 */
function byteToUnicode(): [number, string][] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const pairs: [number, string][] = printable.map((b) => [b, String.fromCodePoint(b)]);
  const seen = new Set(printable);
  let n = 0;
  for (let b = 0; b < 256; b++) if (!seen.has(b)) pairs.push([b, String.fromCodePoint(256 + n++)]);
  return pairs;
}

export class ClipTokenizer {
  readonly vocabSize: number;
  readonly sotTokenId = SOT_TOKEN;
  readonly eotTokenId = EOT_TOKEN;
  private readonly encoder = new Map<string, number>();
  private readonly decoder: string[] = [];
  private readonly ranks = new Map<string, number>();
  private readonly byteEncoder: string[] = new Array(256);
  private readonly byteDecoder = new Map<string, number>();
  private readonly cache = new Map<string, string[]>();
  private readonly utf8 = new TextEncoder();

  /** Builds the tokenizer from the text of bpe_simple_vocab_16e6.txt (a header line, then one merge per line). */
  constructor(mergesText: string, source = 'CLIP BPE merges') {
    const lines = mergesText.split('\n').slice(1, N_MERGES + 1);
    if (lines.length !== N_MERGES) {
      throw new DecodeError(`expected at least ${N_MERGES} merges, found ${lines.length}`, { file: source });
    }
    const bytes = byteToUnicode();
    for (const [b, c] of bytes) {
      this.byteEncoder[b] = c;
      this.byteDecoder.set(c, b);
    }
    const vocab = bytes.map(([, c]) => c);
    for (const [, c] of bytes) vocab.push(c + '</w>');
    lines.forEach((line, rank) => {
      const parts = line.split(/\s+/).filter((p) => p.length > 0);
      if (parts.length !== 2) throw new DecodeError(`merge ${rank + 1} is not two symbols: '${line}'`, { file: source });
      // "a b" is unambiguous as a key: symbols never contain a space (the byte map moved it to U+0120).
      this.ranks.set(`${parts[0]} ${parts[1]}`, rank);
      vocab.push(parts[0]! + parts[1]!);
    });
    vocab.push(...SPECIALS);
    vocab.forEach((token, id) => {
      this.encoder.set(token, id);
      this.decoder[id] = token;
    });
    this.vocabSize = vocab.length;
    for (const s of SPECIALS) this.cache.set(s, [s]);
  }

  /**
   * Reads the merges that ship with clipmed (data/clip-bpe/, through the reader `setBundledFileReader` set), or
   * gzip bytes that the caller read.
   * @example const tok = await ClipTokenizer.load(); tok.encode('pleural effusion') // [926, 33948, 1490, 9364]
   */
  static async load(gzipped?: Uint8Array): Promise<ClipTokenizer> {
    const bytes = gzipped ?? (await readBundled(CLIP_BPE_URL));
    const stream = new Blob([new Uint8Array(bytes)]).stream().pipeThrough(new DecompressionStream('gzip'));
    let text: string;
    try {
      text = await new Response(stream).text();
    } catch (cause) {
      throw new DecodeError('the CLIP BPE merges are not valid gzip', { file: CLIP_BPE_URL.pathname, cause });
    }
    return new ClipTokenizer(text, gzipped ? 'CLIP BPE merges' : CLIP_BPE_URL.pathname);
  }

  /** BPE of one pre-token (already byte-mapped): merge the lowest-ranked adjacent pair until none is known. */
  private bpe(token: string): string[] {
    const cached = this.cache.get(token);
    if (cached) return cached;
    let word = Array.from(token);
    word[word.length - 1] += '</w>';
    while (word.length > 1) {
      let best = Infinity;
      let first = '';
      let second = '';
      for (let i = 0; i < word.length - 1; i++) {
        const r = this.ranks.get(`${word[i]} ${word[i + 1]}`);
        if (r !== undefined && r < best) {
          best = r;
          first = word[i]!;
          second = word[i + 1]!;
        }
      }
      if (best === Infinity) break;
      // Merge every occurrence of the pair, scanning left to right without overlap.
      const merged: string[] = [];
      for (let i = 0; i < word.length; i++) {
        if (word[i] === first && i < word.length - 1 && word[i + 1] === second) {
          merged.push(first + second);
          i++;
        } else {
          merged.push(word[i]!);
        }
      }
      word = merged;
    }
    this.cache.set(token, word);
    return word;
  }

  /**
   * Token ids of one text, without start/end tokens.
   * @example tok.encode('Opacity, 3.5 cm') // [676, 7511, 267, 274, 269, 276, 3741]
   */
  encode(text: string): number[] {
    if (LONE_SURROGATE.test(text)) {
      throw new ConfigError('text contains a lone UTF-16 surrogate, which has no UTF-8 encoding');
    }
    const ids: number[] = [];
    for (const match of cleanLower(text).matchAll(PATTERN)) {
      let mapped = '';
      for (const b of this.utf8.encode(match[0])) mapped += this.byteEncoder[b];
      for (const piece of this.bpe(mapped)) ids.push(this.encoder.get(piece)!);
    }
    return ids;
  }

  /**
   * Texts to a [texts.length, contextLength] row-major id matrix: SOT, ids, EOT, zero padding.
   * Too long a text is cut to contextLength with EOT as its last token, as open_clip does.
   * @example tok.tokenize(['a chest x-ray'], 8) // Int32Array [49406, 320, 10563, 343, 268, 3077, 49407, 0]
   */
  tokenize(texts: string[], contextLength = 77): Int32Array {
    if (!Number.isInteger(contextLength) || contextLength < 1) {
      throw new ConfigError(`contextLength must be a positive integer, got ${contextLength}`);
    }
    const out = new Int32Array(texts.length * contextLength); // [texts, contextLength]
    texts.forEach((text, row) => {
      const ids = [SOT_TOKEN, ...this.encode(text), EOT_TOKEN];
      if (ids.length > contextLength) {
        ids.length = contextLength;
        ids[contextLength - 1] = EOT_TOKEN;
      }
      out.set(ids, row * contextLength);
    });
    return out;
  }

  /**
   * Ids back to text: each word ends in a space; invalid UTF-8 becomes U+FFFD. Special tokens appear by name.
   * @example tok.decode([926, 33948, 1490, 9364]) // 'pleural effusion '
   */
  decode(ids: ArrayLike<number>): string {
    const bytes: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const token = this.decoder[ids[i]!];
      if (token === undefined) {
        throw new ConfigError(`token id ${ids[i]} at position ${i} is outside the vocabulary 0..${this.vocabSize - 1}`);
      }
      for (const ch of token) bytes.push(this.byteDecoder.get(ch)!);
    }
    return new TextDecoder('utf-8').decode(Uint8Array.from(bytes)).replaceAll('</w>', ' ');
  }
}
