// The Node side of the tokenizers: the CLIP BPE merges that ship with clipmed and WordPiece vocabularies are
// read from files here; the tokenizers themselves (src/text/) are built from bytes.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { DecodeError } from '../errors.ts';
import { CLIP_BPE_URL, ClipTokenizer, setBundledFileReader } from '../text/clip-bpe.ts';
import { tokenizerFilesOf, tokenizerFromFilesWith } from '../models/tokenizers.ts';
import type { TextSpec, TextTokenizer } from '../models/family.ts';
import type { ModelFiles } from '../models/spec.ts';
import { WordPieceTokenizer, type WordPieceOptions } from '../text/wordpiece.ts';

/**
 * The bytes of a file that ships with clipmed (a file: URL; other URLs are fetched).
 * @example (await readBundledFile(CLIP_BPE_URL)).length // 1356917
 */
export async function readBundledFile(url: URL): Promise<Uint8Array> {
  if (url.protocol !== 'file:') {
    const res = await fetch(url);
    if (!res.ok) throw new DecodeError(`cannot fetch: HTTP ${res.status}`, { file: url.href });
    return new Uint8Array(await res.arrayBuffer());
  }
  const file = fileURLToPath(url);
  try {
    return new Uint8Array(await readFile(file));
  } catch (cause) {
    throw new DecodeError(`cannot read a file that ships with clipmed: ${(cause as Error).message}`, { file, cause });
  }
}

setBundledFileReader(readBundledFile);

/**
 * The CLIP BPE tokenizer from the merges that ship with clipmed, read and unzipped at once (`ClipTokenizer.load`
 * does the same asynchronously): a model makes its tokenizer on its first `tokenize`, which returns at once.
 * @example loadClipTokenizerSync().encode('pleural effusion') // [926, 33948, 1490, 9364]
 */
export function loadClipTokenizerSync(): ClipTokenizer {
  const file = fileURLToPath(CLIP_BPE_URL);
  let text: string;
  try {
    text = new TextDecoder().decode(gunzipSync(readFileSync(file)));
  } catch (cause) {
    throw new DecodeError(`cannot read the CLIP BPE merges that ship with clipmed: ${(cause as Error).message}`, { file, cause });
  }
  return new ClipTokenizer(text, file);
}

/**
 * A model's tokenizer, made at once from its files (they are on disk once the source is resolved; hub files are
 * in the cache).
 * @example loadTokenizerSync(meta.text, source).tokenize(['lung'], 77)
 */
export function loadTokenizerSync(spec: TextSpec, src?: { files?: ModelFiles; tokenizerFiles?: ModelFiles }): TextTokenizer {
  return tokenizerFromFilesWith(spec, tokenizerFilesOf(spec, src), loadClipTokenizerSync);
}

/**
 * A WordPiece tokenizer from BERT's `vocab.txt` or a transformers `tokenizer.json` (told apart by the name).
 * @example (await loadWordPieceTokenizer('vocab.txt', { lowercase: true })).encode('lung', 4) // [CLS, lung, SEP, PAD] as ids
 */
export async function loadWordPieceTokenizer(file: string, options: WordPieceOptions): Promise<WordPieceTokenizer> {
  return WordPieceTokenizer.fromBytes(await readFile(file), file, options);
}
