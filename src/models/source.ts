// Where a model comes from: a folder in the open_clip hub layout, a folder in the Hugging Face transformers
// layout (config.json), or a bare OpenAI-format state dict. Resolving one reads files, so `resolveLocalSource`
// lives on the Node side (src/node/source.ts); this module keeps the types.
import type { HfFolder } from './hf-config.ts';
import type { ModelFiles } from './spec.ts';

export interface ResolvedSource {
  /** what the user gave */
  name: string;
  format: 'open_clip' | 'openai' | 'hf' | 'conch' | 'medclip';
  weightsFile: string;
  /** open_clip_config.json contents (open_clip format only) */
  config?: Record<string, unknown>;
  configText?: string;
  /** the transformers folder's JSON files (hf format only) */
  hf?: HfFolder;
  /** the model's files as bytes on demand (configs, tokenizer files), what the spec readers take */
  files?: ModelFiles;
  /** the tokenizer's files when they come from a second repository (open_clip's hf_tokenizer_name) */
  tokenizerFiles?: ModelFiles;
  /** MedCLIP: the image tower's configuration repository (microsoft/swin-tiny-patch4-window7-224); `files` is its text repository */
  visionFiles?: ModelFiles;
}

