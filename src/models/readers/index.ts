// A model spec from any supported format, and the two graphs from a spec (through the tower registry).
import type { StateDict } from '../../checkpoint/types.ts';
import { ConfigError } from '../../errors.ts';
import type { BuiltGraph } from '../../graph/builder.ts';
import type { OpenAIOverrides } from '../clip-config.ts';
import type { ModelFiles, ModelSpec, SourceFormat } from '../spec.ts';
import { getTower } from '../towers/registry.ts';
import { Weights } from '../weights.ts';
import { readConchSpec } from './conch.ts';
import { isGloriaStateDict, readGloriaSpec } from './gloria.ts';
import { readHfSpec } from './hf.ts';
import { readMedclipSpec } from './medclip.ts';
import { readOpenAISpec, readOpenClipSpec } from './open-clip.ts';

export { conchFiles, conchModelCfg, isConchLayout, readConchSpec, CONCH_FILES, CONCH_TOKENIZER_URL, CONCH_VIT_B_16 } from './conch.ts';
export { gloriaFiles, gloriaSettings, isGloriaStateDict, readGloriaSpec, GLORIA_CONFIG } from './gloria.ts';
export { hfFiles, hfFolderFromFiles, readHfSpec, HF_WEIGHT_FILES } from './hf.ts';
export { isMedclipStateDict, medclipFiles, readMedclipSpec, MEDCLIP_REPOS, MEDCLIP_WEIGHTS } from './medclip.ts';
export { hfTokenizerName, openClipConfig, openClipFiles, openClipPreprocess, readOpenAISpec, readOpenClipSpec, OPEN_CLIP_WEIGHTS } from './open-clip.ts';

export interface ReadSpecInput {
  format: SourceFormat;
  /** the model's small files as bytes (configs, tokenizer files); not needed for a bare OpenAI state dict */
  files?: ModelFiles;
  /** a second repository's files holding the tokenizer (open_clip's hf_tokenizer_name) */
  tokenizerFiles?: ModelFiles;
  /** MedCLIP: the image tower's configuration repository's files (`files` is its text repository's) */
  visionFiles?: ModelFiles;
  /** the weights' file name or path, for messages and the spec's file list */
  weightsFile: string;
  sd: StateDict;
  overrides?: OpenAIOverrides;
}

/**
 * The model spec of a checkpoint: its files as bytes and its tensors in, JSON out.
 * @example readModelSpec({ format: 'open_clip', files, weightsFile, sd }).text.kind // 'open_clip-text'
 */
export function readModelSpec(input: ReadSpecInput): ModelSpec {
  // GLoRIA's Lightning checkpoint is a bare state dict too; its BERT's vocabulary and config come from the hub
  if (input.format === 'openai' && isGloriaStateDict(input.sd)) return readGloriaSpec(input.sd, input.weightsFile, input.tokenizerFiles);
  if (input.format === 'openai') return readOpenAISpec(input.sd, input.weightsFile, input.overrides);
  if (!input.files) throw new ConfigError(`a ${input.format} model needs its configuration files to be read`, { file: input.weightsFile });
  if (input.format === 'medclip') return readMedclipSpec({ textFiles: input.files, visionFiles: input.visionFiles, weightsFile: input.weightsFile, sd: input.sd });
  if (input.format === 'conch') return readConchSpec(input.files, input.sd, input.weightsFile);
  if (input.format === 'open_clip') return readOpenClipSpec({ files: input.files, tokenizerFiles: input.tokenizerFiles, weightsFile: input.weightsFile, sd: input.sd });
  return readHfSpec(input.files, input.sd, input.weightsFile);
}

/**
 * Both towers' graphs from a spec and the checkpoint's tensors; every key must be used, ignored by the spec,
 * or is an error listing all of them.
 */
export function buildFromSpec(spec: ModelSpec, sd: StateDict, weightsFile: string): { vision: BuiltGraph; text: BuiltGraph } {
  const w = new Weights(sd, weightsFile);
  const vision = getTower(spec.vision.kind, 'vision').build(spec.vision.config, w, spec.vision.prefix);
  const text = getTower(spec.text.kind, 'text').build(spec.text.config, w, spec.text.prefix);
  w.ignore(...spec.ignoredKeys);
  w.finish(['']);
  return { vision, text };
}
