// The tokenizer a model's TextSpec names, loaded from the package (CLIP BPE) or the model's folder.
import { ConfigError, UnsupportedError } from '../errors.ts';
import { ByteLevelBpeTokenizer } from '../text/byte-level-bpe.ts';
import { ClipTokenizer } from '../text/clip-bpe.ts';
import { SentencePieceModel } from '../text/sentencepiece.ts';
import { SiglipTokenizer } from '../text/siglip-tokenizer.ts';
import { GloriaCleaningTokenizer } from '../text/gloria-clean.ts';
import { WordPieceTokenizer } from '../text/wordpiece.ts';
import type { TextSpec, TextTokenizer } from './family.ts';
import type { ModelFiles } from './spec.ts';

/** CLIP BPE's end-of-text id: the padding starts after its first occurrence. */
const CLIP_EOT = 49407;

/**
 * CLIP BPE ids padded with `padId` instead of 0 after the end token (transformers' CLIPTokenizer pads with its
 * pad_token, `<|endoftext|>` for openai/clip-vit-*). With the causal mask and end-token pooling the features do not change.
 */
export class PaddedClipTokenizer implements TextTokenizer {
  constructor(
    private readonly inner: TextTokenizer,
    readonly padId: number,
  ) {}

  tokenize(texts: string[], contextLength: number): Int32Array {
    const ids = this.inner.tokenize(texts, contextLength);
    for (let r = 0; r < texts.length; r++) {
      const row = ids.subarray(r * contextLength, (r + 1) * contextLength);
      const end = row.indexOf(CLIP_EOT);
      if (end >= 0) row.fill(this.padId, end + 1);
    }
    return ids;
  }
}

/** Where a TextSpec's tokenizer files are: the tokenizer repository's files when it names one, else the model's. */
export function tokenizerFilesOf(spec: TextSpec, src?: { files?: ModelFiles; tokenizerFiles?: ModelFiles }): ModelFiles | undefined {
  const t = spec.tokenizer;
  if (t.kind === 'wordpiece' && t.repo && src?.tokenizerFiles) return src.tokenizerFiles;
  // CONCH's tokenizer: the folder's own file, else the published one fetched beside it
  if (t.kind === 'byte-level-bpe' && src?.tokenizerFiles && !src.files?.names.includes(t.file)) return src.tokenizerFiles;
  return src?.files ?? src?.tokenizerFiles;
}

/**
 * The tokenizer a TextSpec names, from the model's files as bytes (CLIP BPE ships with clipmed).
 * @example (await tokenizerFromFiles(spec.tokenizer, files)).tokenize(['lung'], 77)
 */
export async function tokenizerFromFiles(spec: TextSpec, files: ModelFiles | undefined): Promise<TextTokenizer> {
  const bpe = spec.tokenizer.kind === 'clip-bpe' ? await ClipTokenizer.load() : undefined;
  return tokenizerFromFilesWith(spec, files, () => bpe!);
}

/**
 * `tokenizerFromFiles` at once, with the shipped CLIP BPE tokenizer made by `clipBpe` (called only for a model that
 * uses it): the Node side reads and unzips its merges synchronously, so that a model can make its tokenizer on the
 * first `tokenize` instead of at load (src/node/clip-model.ts).
 * @example tokenizerFromFilesWith(spec.tokenizer, files, loadClipTokenizerSync).tokenize(['lung'], 77)
 */
export function tokenizerFromFilesWith(spec: TextSpec, files: ModelFiles | undefined, clipBpe: () => ClipTokenizer): TextTokenizer {
  const t = spec.tokenizer;
  const need = (name: string): Uint8Array => {
    const b = files?.read(name);
    if (!b) throw new ConfigError(`the tokenizer file '${name}' is read from the model's files, and ${files ? 'they do not have it' : 'this source has none'}`, { file: files?.dir });
    return b;
  };
  switch (t.kind) {
    case 'clip-bpe': {
      const bpe = clipBpe();
      return spec.padId === 0 ? bpe : new PaddedClipTokenizer(bpe, spec.padId);
    }
    case 'sentencepiece': {
      const file = `${files?.dir}/${t.file}`;
      const spm = SentencePieceModel.fromBytes(need(t.file), file);
      const specials = [t.unkToken, ...[t.eosId, spec.padId].map((id) => spm.pieces[id]!.piece)];
      return new SiglipTokenizer(spm, { eosId: t.eosId, padId: spec.padId, unkToken: t.unkToken, lowercase: t.lowercase, specialTokens: specials });
    }
    case 'wordpiece': {
      // vocab.txt / tokenizer.json beside the weights (an open_clip hub folder), in the transformers folder,
      // or in the repository open_clip's hf_tokenizer_name names
      const file = `${files?.dir}/${t.vocabFile}`;
      const text = new TextDecoder().decode(need(t.vocabFile));
      let wp: WordPieceTokenizer;
      if (t.vocabFile.endsWith('.json')) {
        wp = WordPieceTokenizer.fromTokenizerJson(text, file);
        if (wp.lowercase !== t.lowercase) throw new ConfigError(`tokenizer.json lowercase=${wp.lowercase}, the model expects ${t.lowercase}`, { file });
      } else {
        wp = WordPieceTokenizer.fromVocabText(text, { lowercase: t.lowercase, openClipClean: t.clean !== 'bert' }, file);
      }
      if (wp.padId !== spec.padId) throw new ConfigError(`the vocabulary's [PAD] id is ${wp.padId}, the model pads with ${spec.padId}`, { file });
      return t.clean === 'gloria' ? new GloriaCleaningTokenizer(wp) : wp;
    }
    case 'byte-level-bpe': {
      // a Hugging Face tokenizer.json (CONCH's conch_byte_level_bpe_uncased.json)
      const file = `${files?.dir}/${t.file}`;
      const bpe = ByteLevelBpeTokenizer.fromTokenizerJson(need(t.file), file, { padToken: t.padToken });
      if (bpe.padId !== spec.padId) throw new ConfigError(`the tokenizer pads with id ${bpe.padId} ('${t.padToken}'), the model expects ${spec.padId}`, { file });
      if (bpe.vocabSize !== t.vocabSize) throw new ConfigError(`the tokenizer has ${bpe.vocabSize} ids, the text tower's vocabulary ${t.vocabSize}: not this model's tokenizer`, { file });
      return bpe;
    }
    default:
      throw new UnsupportedError(`tokenizer '${(t as { kind: string }).kind}' is not available in this build`);
  }
}

/** The tokenizer of a model; files a TextSpec names are read from the source's files. */
export async function loadTokenizer(spec: TextSpec, src?: { files?: ModelFiles; tokenizerFiles?: ModelFiles }): Promise<TextTokenizer> {
  return tokenizerFromFiles(spec, tokenizerFilesOf(spec, src));
}
