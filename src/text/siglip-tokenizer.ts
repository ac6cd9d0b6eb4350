// transformers' SiglipTokenizer (tokenization_siglip.py, the slow SentencePiece tokenizer) on our
// SentencePiece encoder. Per text, as transformers does it:
//   1. prefix U+2581 and turn any U+2581 in the text into a space;
//   2. lower-case (do_lower_case, default true), leaving the special tokens as they are;
//   3. split around the special tokens (</s>, <unk>, pad), stripping spaces next to them;
//   4. per piece of text: remove ASCII punctuation, collapse whitespace runs to one space, strip
//      (`canonicalize_text`, from big_vision), then SentencePiece-encode `<unk>` + text with the model's
//      dummy prefix switched off and drop the pieces that `<unk>` alone encodes to;
//   5. drop a leading lone U+2581 before a special token, append the end token, truncate, pad.
import type { TextTokenizer } from '../models/family.ts';
import { ConfigError } from '../errors.ts';
import { SentencePieceModel } from './sentencepiece.ts';

/** Python's string.punctuation */
const PUNCT = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g;
/** the characters Python's str.isspace() accepts, which `\s` and str.strip() use on str */
const PY_SPACE = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const SPACE_RUN = new RegExp(`[${PY_SPACE}]+`, 'g');
const EDGE_SPACE = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, 'g');
const LEFT_SPACE = new RegExp(`^[${PY_SPACE}]+`);
const RIGHT_SPACE = new RegExp(`[${PY_SPACE}]+$`);

export interface SiglipTokenizerOptions {
  eosId: number;
  padId: number;
  unkToken: string;
  lowercase: boolean;
  /** special token strings that are matched in the text and kept whole (eos, unk, pad, additional) */
  specialTokens: string[];
}

/** Python's str.lower(), one code point at a time (JavaScript's toLowerCase is context-sensitive for final sigma). */
function pyLower(s: string): string {
  let out = '';
  for (const ch of s) out += ch.toLowerCase();
  return out;
}

export function canonicalizeText(text: string): string {
  return text.replace(PUNCT, '').replace(SPACE_RUN, ' ').replace(EDGE_SPACE, '');
}

export class SiglipTokenizer implements TextTokenizer {
  private readonly unkLength: number;

  constructor(
    readonly spm: SentencePieceModel,
    readonly options: SiglipTokenizerOptions,
  ) {
    this.unkLength = this.encodePieces(options.unkToken).length;
  }

  private encodePieces(text: string): number[] {
    return this.spm.encode(text, { addDummyPrefix: false });
  }

  /** Ids of one text without the end token (transformers' tokenize + convert_tokens_to_ids). */
  encode(text: string): number[] {
    const o = this.options;
    const specials = [...new Set(o.specialTokens)].sort((a, b) => b.length - a.length);
    let t = '\u2581' + text.replaceAll('\u2581', ' ');
    // lower-case all but the special tokens first, then split: '</S>' becomes the special '</s>', as in transformers
    if (o.lowercase) t = this.split(t, specials).map((p) => (p.special ? p.text : pyLower(p.text))).join('');
    const parts = this.split(t, specials);
    // special tokens are AddedTokens with lstrip and rstrip: spaces beside them go
    for (let k = 0; k < parts.length; k++) {
      if (!parts[k]!.special) continue;
      if (k > 0 && !parts[k - 1]!.special) parts[k - 1]!.text = parts[k - 1]!.text.replace(RIGHT_SPACE, '');
      if (k + 1 < parts.length && !parts[k + 1]!.special) parts[k + 1]!.text = parts[k + 1]!.text.replace(LEFT_SPACE, '');
    }
    const pieces: Array<{ special: boolean; ids: number[] }> = [];
    for (const p of parts) {
      if (p.text.length === 0) continue;
      if (p.special) {
        const id = this.spm.pieceToId(p.text);
        if (id === undefined) throw new ConfigError(`special token '${p.text}' is not a piece of the SentencePiece model`, { file: this.spm.file });
        pieces.push({ special: true, ids: [id] });
        continue;
      }
      const ids = this.encodePieces(o.unkToken + canonicalizeText(p.text));
      pieces.push({ special: false, ids: ids.length >= this.unkLength ? ids.slice(this.unkLength) : ids });
    }
    const flat = pieces.flatMap((p) => p.ids);
    // a leading lone U+2581 before a special token is dropped
    const lone = this.spm.pieceToId('\u2581');
    if (flat.length > 1 && flat[0] === lone && pieces[0]?.ids.length === 1 && pieces[1]?.special) flat.shift();
    return flat;
  }

  /** Split around special tokens, leftmost first and the longest at a position. */
  private split(t: string, specials: string[]): Array<{ special: boolean; text: string }> {
    const parts: Array<{ special: boolean; text: string }> = [];
    while (t.length > 0) {
      let at = -1;
      let tok = '';
      for (const s of specials) {
        const k = t.indexOf(s);
        if (k >= 0 && (at < 0 || k < at)) [at, tok] = [k, s];
      }
      if (at < 0) {
        parts.push({ special: false, text: t });
        break;
      }
      if (at > 0) parts.push({ special: false, text: t.slice(0, at) });
      parts.push({ special: true, text: tok });
      t = t.slice(at + tok.length);
    }
    return parts;
  }

  /** [n, contextLength] ids: text ids cut to contextLength - 1, the end token, then padding. */
  tokenize(texts: string[], contextLength: number): Int32Array {
    const o = this.options;
    const out = new Int32Array(texts.length * contextLength).fill(o.padId);
    texts.forEach((text, r) => {
      let ids = this.encode(text);
      if (ids.length === 0 || ids[ids.length - 1] !== o.eosId) {
        ids = [...ids.slice(0, contextLength - 1), o.eosId];
      } else ids = ids.slice(0, contextLength);
      out.set(ids, r * contextLength);
    });
    return out;
  }
}
