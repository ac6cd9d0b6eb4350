// The Node side of the tokenizers: the CLIP BPE merges that ship with clipmed and WordPiece vocabularies are
// read from files here; the tokenizers themselves (src/text/) are built from bytes.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { DecodeError } from '../errors.ts';
import { setBundledFileReader } from '../text/clip-bpe.ts';
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
 * A WordPiece tokenizer from BERT's `vocab.txt` or a transformers `tokenizer.json` (told apart by the name).
 * @example (await loadWordPieceTokenizer('vocab.txt', { lowercase: true })).encode('lung', 4) // [CLS, lung, SEP, PAD] as ids
 */
export async function loadWordPieceTokenizer(file: string, options: WordPieceOptions): Promise<WordPieceTokenizer> {
  return WordPieceTokenizer.fromBytes(await readFile(file), file, options);
}
