// The tokenizer a model's TextSpec names, loaded from the package (CLIP BPE) or the model's folder.
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ConfigError, UnsupportedError } from '../errors.ts';
import { ClipTokenizer } from '../text/clip-bpe.ts';
import { SentencePieceModel } from '../text/sentencepiece.ts';
import { SiglipTokenizer } from '../text/siglip-tokenizer.ts';
import { WordPieceTokenizer } from '../text/wordpiece.ts';
import type { TextSpec, TextTokenizer } from './family.ts';
import type { ResolvedSource } from './source.ts';

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

/** The tokenizer of a model; files a TextSpec names are read from the model's own folder. */
export async function loadTokenizer(spec: TextSpec, src?: ResolvedSource): Promise<TextTokenizer> {
  const t = spec.tokenizer;
  switch (t.kind) {
    case 'clip-bpe': {
      const bpe = await ClipTokenizer.load();
      return spec.padId === 0 ? bpe : new PaddedClipTokenizer(bpe, spec.padId);
    }
    case 'sentencepiece': {
      if (!src?.hf) throw new ConfigError(`the SentencePiece model '${t.file}' is read from the model's folder, and this source has none`);
      const file = join(src.hf.dir, t.file);
      const spm = SentencePieceModel.fromBytes(await readFile(file), file);
      const specials = [t.unkToken, ...[t.eosId, spec.padId].map((id) => spm.pieces[id]!.piece)];
      return new SiglipTokenizer(spm, { eosId: t.eosId, padId: spec.padId, unkToken: t.unkToken, lowercase: t.lowercase, specialTokens: specials });
    }
    case 'wordpiece': {
      // vocab.txt / tokenizer.json beside the weights (an open_clip hub folder) or in the transformers folder
      const dir = src?.hf?.dir ?? (src?.format === 'open_clip' ? dirname(src.weightsFile) : undefined);
      if (!dir) throw new ConfigError(`the WordPiece vocabulary '${t.vocabFile}' is read from the model's folder, and this source has none`);
      const wp = await WordPieceTokenizer.load(join(dir, t.vocabFile), { lowercase: t.lowercase });
      if (wp.padId !== spec.padId) throw new ConfigError(`the vocabulary's [PAD] id is ${wp.padId}, the model pads with ${spec.padId}`, { file: join(dir, t.vocabFile) });
      return wp;
    }
    default:
      throw new UnsupportedError(`tokenizer '${(t as { kind: string }).kind}' is not available in this build`);
  }
}
