// The model families as they were known before towers became parts: each name is now a combination of a
// reader (src/models/readers/) and two registered towers (src/models/towers/). Kept so that code naming a
// family keeps working; `buildFromSpec` is the general path.
import type { StateDict } from '../checkpoint/types.ts';
import { ConfigError, UnsupportedError } from '../errors.ts';
import type { OpenAIOverrides } from './clip-config.ts';
import type { BuiltModel, Family } from './family.ts';
import { buildFromSpec, readModelSpec } from './readers/index.ts';
import type { ModelSpec } from './spec.ts';
import type { ResolvedSource } from './source.ts';

/** The spec of a resolved source whose files were read (`src.files`). */
export function specOf(src: ResolvedSource, sd: StateDict, overrides: OpenAIOverrides = {}): ModelSpec {
  if (src.format !== 'openai' && !src.files) throw new ConfigError(`the files of ${src.name} were not read`, { file: src.weightsFile });
  return readModelSpec({ format: src.format, files: src.files, tokenizerFiles: src.tokenizerFiles, visionFiles: src.visionFiles, weightsFile: src.weightsFile, sd, overrides });
}

/** Both graphs and the data around them, from a spec. */
export function builtModel(spec: ModelSpec, sd: StateDict, weightsFile: string): BuiltModel & { family: string; spec: ModelSpec } {
  const { vision, text } = buildFromSpec(spec, sd, weightsFile);
  return {
    vision,
    text,
    architecture: spec.architecture,
    embedDim: spec.embedDim,
    patchTokens: spec.patchTokens,
    textSpec: spec.tokenizer,
    preprocess: spec.preprocess,
    score: spec.scoring,
    family: spec.family,
    spec,
  };
}

type Json = Record<string, unknown>;
const modelCfg = (src: ResolvedSource) => (src.config?.model_cfg ?? {}) as { text_cfg?: Json };

function family(name: string, matches: (src: ResolvedSource) => boolean): Family {
  return { name, matches, build: (src, sd, overrides) => builtModel(specOf(src, sd, overrides), sd, src.weightsFile) };
}

export const openClipFamily = family('open_clip', (src) => src.format === 'openai' || (src.format === 'open_clip' && typeof modelCfg(src).text_cfg?.hf_model_name !== 'string'));
export const hfClipFamily = family('hf_clip', (src) => src.format === 'hf' && src.hf?.config.model_type === 'clip');
export const siglipFamily = family('siglip', (src) => src.format === 'hf' && src.hf?.config.model_type === 'siglip');
export const timmHfFamily = family('open_clip_custom_text', (src) => src.format === 'open_clip' && typeof modelCfg(src).text_cfg?.hf_model_name === 'string');

export const biovilFamily = family('biovil', (src) => src.format === 'hf' && src.hf?.config.model_type === 'cxr-bert');

export const conchFamily = family('conch', (src) => src.format === 'conch');

export const medclipFamily = family('medclip', (src) => src.format === 'medclip');

// GLoRIA's published checkpoint is a Lightning .ckpt of a bare state dict: readModelSpec tells it by its keys
export const gloriaFamily = family('gloria', (src) => src.format === 'openai' && /\.ckpt$/i.test(src.weightsFile));

export const FAMILIES: Family[] = [gloriaFamily, openClipFamily, hfClipFamily, siglipFamily, timmHfFamily, biovilFamily, conchFamily, medclipFamily];

export function familyFor(src: ResolvedSource): Family {
  const f = FAMILIES.find((x) => x.matches(src));
  if (!f) throw new UnsupportedError(`no architecture family builds this model (format ${src.format}); known: ${FAMILIES.map((x) => x.name).join(', ')}`, { file: src.weightsFile });
  return f;
}
