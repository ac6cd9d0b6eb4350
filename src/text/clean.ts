// Text cleaning that open_clip's SimpleTokenizer applies before BPE (v2.24.0, src/open_clip/tokenizer.py:
// basic_clean, whitespace_clean, then lower()). Python's notion of whitespace differs from JavaScript's,
// so the character sets are spelled out here rather than taken from JS `\s` and `String.prototype.trim`.
import { HTML5_ENTITIES } from './html-entities.ts';

/**
 * What Python's `regex` module matches with `\s` (Unicode 14): JS `\s` without U+FEFF, plus U+0085.
 * Used inside character classes, so it is the class body without brackets.
 */
export const PY_REGEX_SPACE = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
/** What Python's `str.isspace` (and so `str.strip()`) accepts: the above plus the separators U+001C..U+001F. */
const PY_STRIP_SPACE = PY_REGEX_SPACE + '\\u001c-\\u001f';

const SPACE_RUN = new RegExp(`[${PY_REGEX_SPACE}]+`, 'gu');
const STRIP = new RegExp(`^[${PY_STRIP_SPACE}]+|[${PY_STRIP_SPACE}]+$`, 'gu');
// The character references that Python's html.unescape recognises (the HTML5 tokenizer's rules).
const CHARREF = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/g;
// windows-1252 for 0x80..0x9F (the five undefined bytes keep their C1 code), as the HTML5 standard's
// numeric-reference table has it. Spelled out: Node's TextDecoder('windows-1252') returns '' for these bytes.
const C1_AS_1252 =
  '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f' +
  '\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';

/**
 * Python's `str.strip()` with no argument.
 * @example pyStrip('\u001c lung \u0085') // 'lung'
 */
export function pyStrip(s: string): string {
  return s.replace(STRIP, '');
}

function numericReference(ref: string): string {
  const hex = ref[1] === 'x' || ref[1] === 'X';
  const digits = ref.slice(hex ? 2 : 1).replace(/;$/, '');
  const num = parseInt(digits, hex ? 16 : 10);
  // HTML5 "numeric character reference end state": NUL and CR have fixed replacements, and
  // 0x80..0x9F are read as windows-1252.
  if (num === 0) return '\ufffd';
  if (num === 0x0d) return '\r';
  if (num >= 0x80 && num <= 0x9f) return C1_AS_1252[num - 0x80]!;
  if ((num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff) return '\ufffd';
  // Controls and noncharacters are dropped.
  const dropped =
    (num >= 0x01 && num <= 0x08) || num === 0x0b || (num >= 0x0e && num <= 0x1f) || (num >= 0x7f && num <= 0x9f) ||
    (num >= 0xfdd0 && num <= 0xfdef) || (num & 0xfffe) === 0xfffe;
  return dropped ? '' : String.fromCodePoint(num);
}

function namedReference(ref: string): string {
  const whole = HTML5_ENTITIES[ref];
  if (whole !== undefined) return whole;
  // The standard takes the longest known prefix (legacy names such as "&amp" work without ';').
  for (let x = ref.length - 1; x > 1; x--) {
    const hit = HTML5_ENTITIES[ref.slice(0, x)];
    if (hit !== undefined) return hit + ref.slice(x);
  }
  return '&' + ref;
}

/**
 * Python's `html.unescape`: named and numeric character references as the HTML5 standard resolves them.
 * @example htmlUnescape('3 &lt; 5 &amp;&amp; &#x00B0;C') // '3 < 5 && °C'
 */
export function htmlUnescape(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(CHARREF, (_m, ref: string) => (ref[0] === '#' ? numericReference(ref) : namedReference(ref)));
}

/**
 * open_clip's `basic_clean`: ftfy.fix_text, html.unescape twice, strip.
 *
 * Of ftfy.fix_text only its final NFC normalisation is reproduced. Not reproduced: mojibake repair
 * (fix_encoding, e.g. "Ã©" -> "é"), its own HTML unescape (redundant with the two below for text without
 * HTML tags), removal of terminal escapes and control characters, C1-control and Latin-ligature fixes,
 * full-width character folding, curly-quote straightening and line-break normalisation. Prompts that
 * depend on those (mojibake, "ﬁ" ligatures, curly quotes, full-width letters) can tokenise differently
 * from open_clip with ftfy installed.
 * @example basicClean(' H&amp;amp;E ') // 'H&E'
 */
export function basicClean(text: string): string {
  const fixed = text.normalize('NFC');
  return pyStrip(htmlUnescape(htmlUnescape(fixed)));
}

/**
 * open_clip's `whitespace_clean`: runs of whitespace become one space, then strip.
 * @example whitespaceClean('a \t\n b ') // 'a b'
 */
export function whitespaceClean(text: string): string {
  return pyStrip(text.replace(SPACE_RUN, ' '));
}

/**
 * The full 'lower' cleaning that SimpleTokenizer applies by default.
 * @example cleanLower('  Right  &amp; LEFT lung ') // 'right & left lung'
 */
export function cleanLower(text: string): string {
  return whitespaceClean(basicClean(text)).toLowerCase();
}
