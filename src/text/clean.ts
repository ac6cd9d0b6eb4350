// Text cleaning that open_clip's SimpleTokenizer applies before BPE (v2.24.0, src/open_clip/tokenizer.py:
// basic_clean, whitespace_clean, then lower()). Python's notion of whitespace differs from JavaScript's,
// so the character sets are spelled out here rather than taken from JS `\s` and `String.prototype.trim`.
import { FTFY_CHARS } from './ftfy-chars.ts';
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
// A Map, so that names such as "constructor" never reach Object.prototype.
const ENTITIES = new Map(Object.entries(HTML5_ENTITIES));
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
  const whole = ENTITIES.get(ref);
  if (whole !== undefined) return whole;
  // The standard takes the longest known prefix (legacy names such as "&amp" work without ';').
  for (let x = ref.length - 1; x > 1; x--) {
    const hit = ENTITIES.get(ref.slice(0, x));
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

// ftfy's own HTML unescape only takes complete references: "&", an optional "#", 1..24 letters or digits, ";".
const FTFY_ENTITY = /&#?[0-9A-Za-z]{1,24};/g;
let allCaps: Map<string, string> | undefined;

/** ftfy also reads an all-capitals name ("&EACUTE;") as the upper case of its lower-case entity. */
function allCapsEntities(): Map<string, string> {
  if (allCaps) return allCaps;
  allCaps = new Map();
  for (const [name, value] of ENTITIES) {
    const upper = name.toUpperCase();
    if (!name.endsWith(';') || name !== name.toLowerCase() || ENTITIES.has(upper)) continue;
    // Skipped where Python's html.unescape would already read it (a legacy prefix such as "&GT").
    if (htmlUnescape('&' + upper) === '&' + upper) allCaps.set(upper, value.toUpperCase());
  }
  return allCaps;
}

function ftfyUnescape(text: string): string {
  return text.replace(FTFY_ENTITY, (m) => {
    if (m[1] === '#') {
      const u = htmlUnescape(m);
      return u.includes(';') ? m : u;
    }
    const name = m.slice(1);
    return ENTITIES.get(name) ?? allCapsEntities().get(name) ?? m;
  });
}

function ftfyChars(text: string): string {
  let out = '';
  for (const ch of text) out += FTFY_CHARS.get(ch.codePointAt(0)!) ?? ch;
  return out;
}

/**
 * ftfy.fix_text (ftfy 6.3.1, default settings) as far as clipmed reproduces it, which its behaviour,
 * observed by running it, defines:
 * - the text is fixed line by line; HTML references are unescaped until no line containing a literal
 *   '<' has been seen (from that line on, ftfy assumes HTML and leaves references alone);
 * - per character (table: ./ftfy-chars.ts, found by running ftfy on every code point): curly quotes
 *   straightened, Latin ligatures split, full-width forms made normal width, C1 controls read as
 *   windows-1252, other control characters and U+FEFF removed, CR made LF;
 * - NFC; and all of it repeated on each line until the line no longer changes.
 * Not reproduced: mojibake repair (fix_encoding, e.g. "cafÃ©" -> "café") and removal of whole terminal
 * escape sequences ("\x1b[31m": only the ESC goes). Text with those tokenises differently from open_clip.
 * @example ftfyFixText('the patient&rsquo;s \ufb01ndings') // "the patient's findings"
 */
export function ftfyFixText(text: string): string {
  let out = '';
  let unescape = true;
  for (let start = 0; start < text.length; ) {
    const nl = text.indexOf('\n', start);
    const end = nl < 0 ? text.length : nl + 1;
    let line = text.slice(start, end);
    start = end;
    if (line.includes('<')) unescape = false;
    for (;;) {
      const before = line;
      if (unescape) line = ftfyUnescape(line);
      line = ftfyChars(line).normalize('NFC');
      if (line === before) break;
    }
    out += line;
  }
  return out;
}

/**
 * open_clip's `basic_clean`: ftfy.fix_text (as far as ftfyFixText goes), html.unescape twice, strip.
 * @example basicClean(' H&amp;amp;E ') // 'H&E'
 */
export function basicClean(text: string): string {
  return pyStrip(htmlUnescape(htmlUnescape(ftfyFixText(text))));
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
