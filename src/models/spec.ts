// One description of a model, with no I/O and nothing but JSON in it: which tower builds each half (a kind
// from the tower registry, its config, and the key prefix its weights sit under), how texts become ids, how
// images become pixels, how similarities become scores, and which files the model needs. Readers
// (src/models/readers/) make a spec from a checkpoint's files as bytes; the tower registry
// (src/models/towers/registry.ts) turns it into graphs; the spec is what `clipmed info` prints, what the hub
// downloads and what the graph cache stores beside the graphs.
import type { PreprocessConfig } from '../image/preprocess.ts';
import type { ScoreSpec, TextSpec } from './family.ts';

/** One tower: a registered kind, its config as data, and the prefix of its keys in the checkpoint. */
export interface TowerSpec<C extends object = Record<string, unknown>> {
  kind: string;
  config: C;
  prefix: string;
}

/** A file the model needs, in its own repository or (for a tokenizer) in another one (`repo`). */
export interface SpecFile {
  name: string;
  /** the Hugging Face repository it comes from when not the model's own (open_clip's `hf_tokenizer_name`) */
  repo?: string;
  /** alternatives: the first that exists is taken (BiomedCLIP has vocab.txt and tokenizer.json) */
  oneOf?: string[];
  optional?: boolean;
}

/** The files a model needs, one list per part (as transformers.js asks each part for its files). */
export interface SpecFiles {
  config: SpecFile[];
  weights: SpecFile[];
  tokenizer: SpecFile[];
}

export type SourceFormat = 'open_clip' | 'openai' | 'hf' | 'conch' | 'medclip';

export interface ModelSpec {
  format: SourceFormat;
  /** the name this combination had as a family (open_clip, open_clip_custom_text, hf_clip, siglip) */
  family: string;
  embedDim: number;
  vision: TowerSpec;
  text: TowerSpec;
  /** shape of the vision graph's `patch_tokens` output: grid x grid tokens of `width` */
  patchTokens: { grid: number; width: number };
  tokenizer: TextSpec;
  preprocess: PreprocessConfig;
  scoring: ScoreSpec;
  /** checkpoint keys that carry no graph weights (logit_scale, buffers, metadata) */
  ignoredKeys: string[];
  files: SpecFiles;
  /** the towers' architecture with the field names `clipmed info` reads */
  architecture: Record<string, unknown>;
}

/**
 * A model's files as bytes: what a reader gets instead of a folder. `names` lists what exists; `read` gives
 * the bytes of a small file (configs, tokenizer files), undefined when it is not there.
 */
export interface ModelFiles {
  /** where the files are, for messages (a folder, a hub repository) */
  dir: string;
  names: readonly string[];
  read(name: string): Uint8Array | undefined;
}

/**
 * Files held in memory.
 * @example memoryFiles('biomedclip', { 'open_clip_config.json': bytes }).names // ['open_clip_config.json']
 */
export function memoryFiles(dir: string, files: Record<string, Uint8Array>): ModelFiles {
  return { dir, names: Object.keys(files), read: (n) => files[n] };
}

/** The UTF-8 text of `name`, or undefined. */
export function readText(files: ModelFiles, name: string): string | undefined {
  const b = files.read(name);
  return b === undefined ? undefined : new TextDecoder().decode(b);
}
