// The tokenizers' files on the Node side (src/node/tokenizer-files.ts): the core reads the shipped CLIP BPE
// merges only through the reader the platform sets, and says so when none is set for a file: URL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../src/errors.ts';
import { WordPieceTokenizer } from '../../src/text/wordpiece.ts';
import { loadWordPieceTokenizer, readBundledFile } from '../../src/node/tokenizer-files.ts';
import { CLIP_BPE_URL, ClipTokenizer } from '../../src/text/clip-bpe.ts';
import { OUTCOME, runChild } from '../io/child-rss.ts';
import { tempDir } from '../helpers/reference.ts';

test('without the Node side, ClipTokenizer.load() of the shipped file is a ConfigError naming it; given the bytes it works', () => {
  const r = runChild(`
    import { ClipTokenizer } from '$ROOT/src/text/clip-bpe.ts';
    import { readFileSync } from 'node:fs';
    ${OUTCOME}
    const bare = await outcome(() => ClipTokenizer.load());
    const given = await outcome(async () => (await ClipTokenizer.load(readFileSync(new URL('$ROOT/data/clip-bpe/bpe_simple_vocab_16e6.txt.gz', 'file://')))).encode('pleural effusion'));
    report({ bare, given });
  `);
  assert.equal(r.status, 0, r.stderr.slice(-1500));
  const { bare, given } = r.result as { bare: { error: string; message: string }; given: { value: number[] } };
  assert.equal(bare.error, 'ConfigError');
  assert.match(bare.message, /bpe_simple_vocab_16e6\.txt\.gz: the bundled CLIP BPE merges are a local file, read by the Node adapter/);
  assert.deepEqual(given.value, [926, 33948, 1490, 9364]);
});

test('with the Node side, the shipped merges are read from the file; WordPiece files load by name', async () => {
  assert.equal((await readBundledFile(CLIP_BPE_URL)).length, 1356917);
  assert.deepEqual((await ClipTokenizer.load()).encode('pleural effusion'), [926, 33948, 1490, 9364]);
  const dir = tempDir();
  const vocab = join(dir, 'vocab.txt');
  writeFileSync(vocab, '[PAD]\n[UNK]\n[CLS]\n[SEP]\nlung\n');
  const tok = await loadWordPieceTokenizer(vocab, { lowercase: true });
  assert.deepEqual(tok.encode('Lung', 5), [2, 4, 3, 0, 0]);
  assert.deepEqual(WordPieceTokenizer.fromBytes(new TextEncoder().encode('[PAD]\n[UNK]\n[CLS]\n[SEP]\nlung\n'), 'vocab.txt', { lowercase: true }).encode('Lung', 5), [2, 4, 3, 0, 0]);
  const json = join(dir, 'tokenizer.json');
  writeFileSync(json, JSON.stringify({ normalizer: { type: 'BertNormalizer', lowercase: true }, model: { type: 'WordPiece', vocab: { '[PAD]': 0, '[UNK]': 1, '[CLS]': 2, '[SEP]': 3, lung: 4 } } }));
  assert.deepEqual((await loadWordPieceTokenizer(json, { lowercase: true })).encode('Lung', 5), [2, 4, 3, 0, 0]);
  await assert.rejects(loadWordPieceTokenizer(json, { lowercase: false }), ConfigError);
  await assert.rejects(readBundledFile(new URL('file:///nonexistent/clipmed/merges.gz')), /nonexistent\/clipmed\/merges\.gz: cannot read a file that ships with clipmed/);
});
