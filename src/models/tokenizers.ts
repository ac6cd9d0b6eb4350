// The tokenizer a model's TextSpec names, loaded from the package (CLIP BPE) or the model's folder.
import { UnsupportedError } from '../errors.ts';
import { ClipTokenizer } from '../text/clip-bpe.ts';
import type { TextSpec, TextTokenizer } from './family.ts';

export async function loadTokenizer(spec: TextSpec): Promise<TextTokenizer> {
  switch (spec.tokenizer.kind) {
    case 'clip-bpe':
      return ClipTokenizer.load();
    default:
      throw new UnsupportedError(`tokenizer '${spec.tokenizer.kind}' is not available in this build`);
  }
}
