// The WordPiece tokenizer against open_clip v2.24.0's HFTokenizer call path over BERT's published algorithm
// (test/fixtures/text/wordpiece/make_reference.py), on a small committed vocabulary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { basicTokenize, WordPieceTokenizer } from '../../src/text/wordpiece.ts';
import { loadWordPieceTokenizer } from '../../src/node/tokenizer-files.ts';
import { ConfigError, UnsupportedError } from '../../src/errors.ts';
import { tempDir } from '../helpers/reference.ts';

const HERE = new URL('../fixtures/text/wordpiece/', import.meta.url).pathname;
const VOCAB = join(HERE, 'vocab.txt');
const ref = JSON.parse(readFileSync(join(HERE, 'reference.json'), 'utf8')) as {
  vocab_size: number;
  texts: string[];
  cases: Array<{ context_length: number; tokens: number[][] }>;
  pieces: string[][];
};

test('wordpiece: ids equal the reference for every text and context length', async () => {
  const tok = await loadWordPieceTokenizer(VOCAB, { lowercase: true });
  assert.equal(tok.vocab.length, ref.vocab_size);
  for (const c of ref.cases) {
    const ids = tok.tokenize(ref.texts, c.context_length);
    ref.texts.forEach((t, i) => {
      assert.deepEqual(Array.from(ids.subarray(i * c.context_length, (i + 1) * c.context_length)), c.tokens[i], `${JSON.stringify(t)} @ ${c.context_length}`);
    });
  }
});

test('wordpiece: pieces show ## continuations, [UNK] for unmatched and over-long words, literal specials kept', async () => {
  // the reference pieces are BERT's alone, without open_clip's cleaning in front
  const raw = await loadWordPieceTokenizer(VOCAB, { lowercase: true, openClipClean: false });
  ref.texts.forEach((t, i) => assert.deepEqual(raw.pieces(t), ref.pieces[i], JSON.stringify(t)));
  const tok = await loadWordPieceTokenizer(VOCAB, { lowercase: true });
  assert.deepEqual(tok.pieces('&lt;edema&gt;'), ['<', 'edema', '>']);
  assert.deepEqual(tok.pieces('Radiography'), ['radiograph', '##y']); // longest first match, not radio + ##graphy
  assert.deepEqual(tok.pieces('hyperplasia'), ['hyper', '##plasia']);
  assert.deepEqual(tok.pieces('x'.repeat(101)), ['[UNK]']);
  assert.deepEqual(tok.pieces('x'.repeat(100)).length, 100);
  assert.deepEqual(tok.pieces('[MASK] [mask]'), ['[MASK]', '[', 'm', '##a', '##s', '##k', ']']);
});

test('wordpiece: truncation keeps [CLS] and [SEP]; padding is [PAD]', async () => {
  const tok = await loadWordPieceTokenizer(VOCAB, { lowercase: true });
  const ids = tok.encode('a photo of pneumonia with pleural effusion', 5);
  assert.deepEqual(ids, [tok.clsId, ...tok.pieceIds('a photo of'), tok.sepId]);
  assert.deepEqual(tok.encode('', 4), [tok.clsId, tok.sepId, tok.padId, tok.padId]);
  assert.throws(() => tok.encode('x', 1), ConfigError);
});

test('wordpiece: basic tokenization (accents, CJK, punctuation, controls)', () => {
  assert.deepEqual(basicTokenize('Café-au-lait', true), ['cafe', '-', 'au', '-', 'lait']);
  assert.deepEqual(basicTokenize('Café', false), ['Café']);
  assert.deepEqual(basicTokenize('肺炎x', true), ['肺', '炎', 'x']);
  assert.deepEqual(basicTokenize('a\u0007b\u00a0c$d', true), ['ab', 'c', '$', 'd']);
});

test('wordpiece: tokenizer.json gives the same ids as vocab.txt; unsupported settings are errors', async () => {
  const vocab = readFileSync(VOCAB, 'utf8').split('\n').filter((l) => l !== '');
  const json = (normalizer: object, model: object = {}) =>
    JSON.stringify({ normalizer, model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: Object.fromEntries(vocab.map((t, i) => [t, i])), ...model } });
  const dir = tempDir();
  const file = join(dir, 'tokenizer.json');
  writeFileSync(file, json({ type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true }));
  const a = await loadWordPieceTokenizer(file, { lowercase: true });
  const b = await loadWordPieceTokenizer(VOCAB, { lowercase: true });
  assert.deepEqual(a.tokenize(ref.texts, 64), b.tokenize(ref.texts, 64));
  await assert.rejects(loadWordPieceTokenizer(file, { lowercase: false }), ConfigError);
  assert.throws(() => WordPieceTokenizer.fromTokenizerJson(json({ type: 'NFKC' })), UnsupportedError);
  assert.throws(() => WordPieceTokenizer.fromTokenizerJson(json({ type: 'BertNormalizer' }, { type: 'BPE' })), UnsupportedError);
  assert.throws(() => WordPieceTokenizer.fromVocabText('[PAD]\n[CLS]\n[SEP]\n', { lowercase: true }, 'v.txt'), /no '\[UNK\]' token/);
});
