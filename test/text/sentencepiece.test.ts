// The SentencePiece encoder against python3-sentencepiece 0.1.97 on models trained by
// test/fixtures/siglip/make_reference.py: a unigram model (nmt_nfkc normaliser, as SigLIP's) and a BPE
// model with byte fallback, on strings that exercise the character map, spaces and unknown characters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SentencePieceModel } from '../../src/text/sentencepiece.ts';
import { canonicalizeText } from '../../src/text/siglip-tokenizer.ts';

const HERE = new URL('../fixtures/siglip/', import.meta.url).pathname;
const ref = JSON.parse(readFileSync(join(HERE, 'sentencepiece.json'), 'utf8')) as {
  strings: string[];
  unigram: number[][];
  unigram_no_dummy_prefix: number[][];
  bpe: number[][];
  unigram_size: number;
  bpe_size: number;
};
const load = (f: string) => SentencePieceModel.fromBytes(readFileSync(join(HERE, f)), f);

test('sentencepiece: the model protobuf is read (pieces, types, model type, normaliser)', () => {
  const uni = load('tiny/spiece.model');
  assert.equal(uni.size, ref.unigram_size);
  assert.equal(uni.modelType, 1);
  assert.deepEqual([uni.pieces[0]!.piece, uni.pieces[1]!.piece, uni.pieces[2]!.piece], ['<pad>', '</s>', '<unk>']);
  assert.equal(uni.unkId, 2);
  assert.equal(uni.pieceToId('</s>'), 1);
  assert.equal(uni.normalizer.name, 'nmt_nfkc');
  assert.ok(uni.normalizer.precompiledCharsmap.length > 1000);
  assert.equal(uni.normalizer.addDummyPrefix, true);
  const bpe = load('bpe.model');
  assert.equal(bpe.size, ref.bpe_size);
  assert.equal(bpe.modelType, 2);
  assert.equal(bpe.byteFallback, true);
});

test('sentencepiece: unigram ids equal SentencePieceProcessor.encode', () => {
  const uni = load('tiny/spiece.model');
  ref.strings.forEach((s, i) => assert.deepEqual(uni.encode(s), ref.unigram[i], JSON.stringify(s)));
});

test('sentencepiece: unigram with add_dummy_prefix switched off (as transformers does for SigLIP)', () => {
  const uni = load('tiny/spiece.model');
  ref.strings.forEach((s, i) => assert.deepEqual(uni.encode(s, { addDummyPrefix: false }), ref.unigram_no_dummy_prefix[i], JSON.stringify(s)));
});

test('sentencepiece: BPE with byte fallback ids equal SentencePieceProcessor.encode', () => {
  const bpe = load('bpe.model');
  ref.strings.forEach((s, i) => assert.deepEqual(bpe.encode(s), ref.bpe[i], JSON.stringify(s)));
});

test('sentencepiece: the normaliser maps compatibility characters and spaces as nmt_nfkc does', () => {
  const uni = load('tiny/spiece.model');
  const norm = (s: string) => new TextDecoder().decode(uni.normalize(s));
  assert.equal(norm('  a   b  '), '\u2581a\u2581b');
  assert.equal(norm('ﬁ ①'), '\u2581fi\u25811');
  assert.equal(norm('ＡＢＣ'), '\u2581ABC');
  assert.equal(norm('a\u00a0b'), '\u2581a\u2581b');
  assert.equal(norm(''), '');
  assert.equal(new TextDecoder().decode(uni.normalize('x y', { addDummyPrefix: false })), 'x\u2581y');
});

test('sentencepiece: broken model files are errors naming the file', () => {
  assert.throws(() => SentencePieceModel.fromBytes(Uint8Array.of(0x0a, 0x05, 0x0a), 'bad.model'), /bad\.model/);
  assert.throws(() => SentencePieceModel.fromBytes(new Uint8Array(0), 'empty.model'), /no pieces/);
});

test("siglip canonicalize_text: ASCII punctuation removed, whitespace collapsed and stripped", () => {
  assert.equal(canonicalizeText('  Left > right;\t\tno  effusion!  '), 'Left right no effusion');
  assert.equal(canonicalizeText('a\u00a0\u3000b'), 'a b');
  assert.equal(canonicalizeText('{}[]()'), '');
  assert.equal(canonicalizeText('café – naïve'), 'café – naïve');
});
