import { test } from 'node:test';
import assert from 'node:assert/strict';
import { basicClean, cleanLower, htmlUnescape, pyStrip, whitespaceClean } from '../../src/text/clean.ts';

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
