import { test } from 'node:test';
import assert from 'node:assert/strict';
import { basicClean, cleanLower, ftfyFixText, htmlUnescape, pyStrip, whitespaceClean } from '../../src/text/clean.ts';

// Expected strings are what CPython 3.11's html.unescape / str.strip and open_clip's cleaners return.
test('htmlUnescape follows the HTML5 rules that Python implements', () => {
  assert.equal(htmlUnescape('&amp &ampx &notin &notit; &#x80; &#0; &#xD800; &#128512 &copy'), '& &x \u00acin \u00acit; \u20ac \ufffd \ufffd \ud83d\ude00 \u00a9');
  assert.equal(htmlUnescape('&#1;&#x0B;&#xFFFF;&#13;'), '\r');
  assert.equal(htmlUnescape('&NotARealEntity; & x'), '&NotARealEntity; & x');
  assert.equal(htmlUnescape('&amp;amp;'), '&amp;');
});

test('basic clean unescapes twice, NFC-normalises and strips Python whitespace', () => {
  assert.equal(basicClean('&amp;amp;'), '&');
  assert.equal(basicClean('cafe\u0301'), 'caf\u00e9');
  assert.equal(pyStrip('\u001c x \u0085'), 'x');
  assert.equal(pyStrip('\ufeffx'), '\ufeffx'); // U+FEFF is not whitespace to Python
});

test('whitespace clean and lower-casing', () => {
  assert.equal(whitespaceClean('a \t\n\u3000 b\u0085c'), 'a b c');
  assert.equal(whitespaceClean('a\ufeffb'), 'a\ufeffb');
  assert.equal(cleanLower('  Right  &amp; LEFT lung '), 'right & left lung');
});

test('the per-character part of ftfy.fix_text (expected values from ftfy 6.3.1)', () => {
  assert.equal(ftfyFixText('the patient\u2019s \u201cnormal\u201d'), 'the patient\'s "normal"');
  assert.equal(ftfyFixText('e\ufb03cient \u0132'), 'efficient IJ');
  assert.equal(ftfyFixText('\uff23\uff34\uff11'), 'CT1');
  assert.equal(ftfyFixText('a\u0085b\u0093c\u0007d\ufeffe\u001cf\rg'), 'a\u2026b"cdef\ng');
  assert.equal(ftfyFixText('caf\u00c3\u00a9'), 'caf\u00c3\u00a9'); // mojibake repair is not reproduced
});

test("ftfy's HTML unescape: to a fixed point, line by line, off from the first line with a '<'", () => {
  assert.equal(ftfyFixText('&amp;amp;amp;amp;'), '&');
  assert.equal(ftfyFixText('patient&rsquo;s'), "patient's");
  assert.equal(ftfyFixText('&amp;\n<'), '&\n<');
  assert.equal(ftfyFixText('a < b\n&amp;'), 'a < b\n&amp;');
  assert.equal(ftfyFixText('&EACUTE; &GTRSIM; &#59; &constructor;'), '\u00c9 &GTRSIM; &#59; &constructor;');
  assert.equal(htmlUnescape('&constructor'), '&constructor');
});
