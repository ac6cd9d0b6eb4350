// CONCH's byte-level BPE tokenizer against Hugging Face's own `tokenizers` library (the Rust implementation,
// through its npm binding), on a tiny tokenizer.json in the shape of CONCH's (test/fixtures/text/conch-bpe/make_tokens.mjs):
// the full ids of each hard prompt, and CONCH's `tokenize` (127 ids, truncated and padded, plus its placeholder pad).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ByteLevelBpeTokenizer, bytesToUnicode } from '../../src/text/byte-level-bpe.ts';
import { ConfigError, UnsupportedError } from '../../src/errors.ts';

const DIR = new URL('../fixtures/text/conch-bpe/', import.meta.url).pathname;
const JSON_BYTES = new Uint8Array(readFileSync(`${DIR}tokenizer.json`));
const ref = JSON.parse(readFileSync(`${DIR}tokens.json`, 'utf8')) as { maxLength: number; tokens: Array<{ text: string; encode: number[]; ids: number[] }> };
const tok = ByteLevelBpeTokenizer.fromTokenizerJson(JSON_BYTES, 'tokenizer.json', { padToken: '<pad>' });

test('byte-level BPE: every prompt gives the library\'s ids (no truncation)', () => {
  const wrong = ref.tokens.filter((r) => JSON.stringify(tok.encode(r.text)) !== JSON.stringify(r.encode));
  assert.deepEqual(wrong.map((r) => ({ text: r.text, got: tok.encode(r.text), want: r.encode })), []);
  assert.ok(ref.tokens.length >= 100);
});

test('byte-level BPE: CONCH\'s 127 ids (truncated to keep <end_of_text>, padded with <pad>) and its placeholder pad', () => {
  const C = ref.maxLength;
  const ids = tok.tokenize(ref.tokens.map((r) => r.text), C);
  ref.tokens.forEach((r, i) => {
    assert.deepEqual([...ids.subarray(i * C, (i + 1) * C), tok.padId], r.ids, JSON.stringify(r.text));
  });
  const long = ref.tokens.filter((r) => r.encode.length > C);
  assert.ok(long.length >= 2, 'some prompts are truncated');
  for (const r of long) assert.equal(r.ids[C - 1], 2, 'the end token survives truncation');
});

test('byte-level BPE: special tokens, accents and case as CONCH\'s normalizer has them', () => {
  const date = tok.encode('<|date|>')[1];
  assert.equal(date, 6);
  assert.deepEqual(tok.encode('Café'), tok.encode('cafe'));
  assert.deepEqual(tok.encode('CARCINOMA'), tok.encode('carcinoma'));
  assert.deepEqual(tok.encode('<end_of_text>').slice(1, -1), [2]);
  assert.equal(tok.vocabSize, Object.keys(JSON.parse(new TextDecoder().decode(JSON_BYTES)).model.vocab).length);
  assert.equal(bytesToUnicode()[32], '\u0120'); // 'Ġ': the space every word starts with
});

test('byte-level BPE: merges written as pairs (the newer tokenizer.json form) give the same ids', () => {
  const j = JSON.parse(new TextDecoder().decode(JSON_BYTES));
  j.model.merges = j.model.merges.map((m: string) => m.split(' '));
  const pairs = ByteLevelBpeTokenizer.fromTokenizerJson(JSON.stringify(j), 'pairs.json', { padToken: '<pad>' });
  for (const r of ref.tokens) assert.deepEqual(pairs.encode(r.text), r.encode, JSON.stringify(r.text));
});

test('byte-level BPE: a file asking for what is not built is refused naming the field', () => {
  const j = JSON.parse(new TextDecoder().decode(JSON_BYTES));
  const variant = (edit: (x: any) => void) => {
    const x = structuredClone(j);
    edit(x);
    return () => ByteLevelBpeTokenizer.fromTokenizerJson(JSON.stringify(x), 'bad/tokenizer.json', { padToken: '<pad>' });
  };
  assert.throws(variant((x) => (x.model.type = 'WordPiece')), (e: unknown) => e instanceof UnsupportedError && /model\.type 'WordPiece'/.test((e as Error).message) && /bad\/tokenizer\.json/.test((e as Error).message));
  assert.throws(variant((x) => (x.normalizer.normalizers[0].type = 'Replace')), (e: unknown) => e instanceof UnsupportedError && /normalizer 'Replace'/.test((e as Error).message));
  assert.throws(variant((x) => (x.pre_tokenizer = { type: 'Whitespace' })), (e: unknown) => e instanceof UnsupportedError && /pre_tokenizer 'Whitespace'/.test((e as Error).message));
  assert.throws(variant((x) => (x.added_tokens[3].lstrip = true)), (e: unknown) => e instanceof UnsupportedError && /<\|person\|>.*lstrip/.test((e as Error).message));
  assert.throws(variant((x) => delete x.model.vocab['\u0120']), (e: unknown) => e instanceof ConfigError && /merges\[\d+\]|byte symbols/.test((e as Error).message));
  assert.throws(variant((x) => x.model.merges.push('zz qq')), (e: unknown) => e instanceof ConfigError && /'zz qq'/.test((e as Error).message));
  assert.throws(variant((x) => x.model.merges.push('a b c')), (e: unknown) => e instanceof ConfigError && /merges\[\d+\] "a b c": expected two symbols/.test((e as Error).message));
  assert.throws(() => ByteLevelBpeTokenizer.fromTokenizerJson(JSON_BYTES, 't.json', { padToken: '<nopad>' }), (e: unknown) => e instanceof ConfigError && /pad token '<nopad>'/.test((e as Error).message));
  assert.throws(() => ByteLevelBpeTokenizer.fromTokenizerJson('{', 't.json', { padToken: '<pad>' }), (e: unknown) => e instanceof ConfigError && /not valid JSON/.test((e as Error).message));
  assert.throws(() => tok.tokenize(['x'], 1), ConfigError);
});
