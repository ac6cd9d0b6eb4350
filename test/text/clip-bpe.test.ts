import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { ClipTokenizer, EOT_TOKEN, SOT_TOKEN } from '../../src/text/clip-bpe.ts';
import '../../src/node/tokenizer-files.ts'; // reads the shipped merges
import { ConfigError, DecodeError } from '../../src/errors.ts';
import { FIXTURE_MODELS, loadReference } from '../helpers/reference.ts';

// Made by test/fixtures/text/make_clip_tokens.py from open_clip v2.24.0's SimpleTokenizer.
interface ClipTokensFixture {
  texts: string[];
  encode: number[][];
  tokens77: number[][];
  tokens16: number[][];
  decode: string[];
}
const fixture: ClipTokensFixture = JSON.parse(
  readFileSync(new URL('../fixtures/text/clip_tokens.json', import.meta.url), 'utf8'),
);
const tok = await ClipTokenizer.load();

function padded(rows: number[][], ctx: number): Int32Array {
  const out = new Int32Array(rows.length * ctx);
  rows.forEach((r, i) => out.set(r, i * ctx));
  return out;
}

test('vocabulary is 49408 ids with the special tokens at the end', () => {
  assert.equal(tok.vocabSize, 49408);
  assert.equal(tok.decode([SOT_TOKEN, EOT_TOKEN]), '<start_of_text><end_of_text>');
});

test('encode matches open_clip on every fixture prompt, exactly', () => {
  assert.equal(fixture.texts.length, 80);
  fixture.texts.forEach((text, i) => {
    assert.deepEqual(tok.encode(text), fixture.encode[i], `prompt ${i}: ${JSON.stringify(text)}`);
  });
});

test('tokenize matches open_clip at context 77 and 16 (truncation keeps EOT last)', () => {
  assert.deepEqual(tok.tokenize(fixture.texts, 77), padded(fixture.tokens77, 77));
  assert.deepEqual(tok.tokenize(fixture.texts, 16), padded(fixture.tokens16, 16));
  const truncated = fixture.tokens77.filter((r) => r.length === 77);
  assert.ok(truncated.length >= 2, 'the fixture must contain prompts longer than the context');
  for (const r of truncated) assert.equal(r[76], EOT_TOKEN);
});

test('decode matches open_clip', () => {
  fixture.texts.forEach((_, i) => assert.equal(tok.decode(fixture.encode[i]!), fixture.decode[i], `prompt ${i}`));
});

test('tokens of the shared open_clip reference fixtures', () => {
  for (const model of FIXTURE_MODELS) {
    const ref = loadReference(model);
    assert.deepEqual(tok.tokenize(ref.texts, 77), padded(ref.tokens, 77), model);
  }
});

test('default context is 77; bad arguments are errors, not guesses', () => {
  assert.equal(tok.tokenize(['x']).length, 77);
  assert.deepEqual([...tok.tokenize(['pneumonia'], 1)], [EOT_TOKEN]);
  assert.throws(() => tok.tokenize(['x'], 0), ConfigError);
  assert.throws(() => tok.tokenize(['x'], 2.5), ConfigError);
  assert.throws(() => tok.encode('bad \ud800 surrogate'), ConfigError);
  assert.throws(() => tok.decode([49408]), ConfigError);
});

test('load accepts gzip bytes and rejects a truncated merge list', async () => {
  const text = readFileSync(new URL('../../data/clip-bpe/bpe_simple_vocab_16e6.txt.gz', import.meta.url));
  const again = await ClipTokenizer.load(new Uint8Array(text));
  assert.deepEqual(again.encode('pleural effusion'), tok.encode('pleural effusion'));
  await assert.rejects(ClipTokenizer.load(gzipSync('#version\na b\n')), DecodeError);
});
