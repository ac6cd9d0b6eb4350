// A model from its files as bytes to its two ONNX graphs in memory, with no file system: what a browser (or a
// server holding uploads) needs. The format is told by the config file among the names; safetensors weights
// are read here, other checkpoint formats come in already read (`sd`).
import { readSafetensors } from '../checkpoint/safetensors.ts';
import type { StateDict } from '../checkpoint/types.ts';
import { ConfigError, UnsupportedError } from '../errors.ts';
import type { OpenAIOverrides } from './clip-config.ts';
import { buildFromSpec, isConchLayout, readModelSpec } from './readers/index.ts';
import { memoryFiles, type ModelSpec, type SourceFormat } from './spec.ts';

export interface BytesModel {
  /** the model's files by name: the config, tokenizer files and (unless `sd` is given) the weights */
  files: Record<string, Uint8Array>;
  /** the weights' file name among `files` (default: the first *.safetensors) */
  weights?: string;
  /** the tensors, when the checkpoint was read elsewhere (torch zip files are read on Node) */
  sd?: StateDict;
  /** a second repository's files holding the tokenizer (open_clip's hf_tokenizer_name) */
  tokenizerFiles?: Record<string, Uint8Array>;
  overrides?: OpenAIOverrides;
  /** a name for messages (default 'model') */
  name?: string;
}

/** The format a set of file names stands for. */
export function formatOf(names: readonly string[]): SourceFormat {
  if (names.includes('open_clip_config.json')) return 'open_clip';
  if (names.includes('config.json')) return 'hf';
  if (isConchLayout(names)) return 'conch';
  return 'openai';
}

/**
 * The spec and both graphs (serialised ONNX, weights inside) of a model given as bytes.
 * @example const { spec, vision, text } = compileFromBytes({ files: { 'open_clip_config.json': cfg, 'open_clip_model.safetensors': w } }); spec.vision.kind // 'open_clip-vit'
 */
export function compileFromBytes(m: BytesModel): { spec: ModelSpec; vision: Uint8Array; text: Uint8Array } {
  const dir = m.name ?? 'model';
  const names = Object.keys(m.files);
  const weights = m.weights ?? names.find((n) => n.endsWith('.safetensors'));
  if (!weights && !m.sd) throw new ConfigError(`no weights: expected a .safetensors file among ${names.join(', ') || 'no files'}, or the tensors as sd`, { file: dir });
  let sd = m.sd;
  if (!sd) {
    const bytes = m.files[weights!];
    if (!bytes) throw new ConfigError(`weights file '${weights}' is not among the files`, { file: dir });
    if (!weights!.endsWith('.safetensors')) throw new UnsupportedError(`'${weights}': only safetensors are read from bytes here; read PyTorch files with readCheckpointBytes (Node) and pass sd`, { file: dir });
    sd = readSafetensors(bytes, `${dir}/${weights}`);
  }
  const weightsFile = `${dir}/${weights ?? 'weights'}`;
  const spec = readModelSpec({
    // the weights' name counts when the tensors come in read (CONCH's layout is meta.yaml beside pytorch_model.bin)
    format: formatOf(weights && !names.includes(weights) ? [...names, weights] : names),
    files: memoryFiles(dir, m.files),
    tokenizerFiles: m.tokenizerFiles ? memoryFiles(`${dir} (tokenizer)`, m.tokenizerFiles) : undefined,
    weightsFile,
    sd,
    overrides: m.overrides,
  });
  const { vision, text } = buildFromSpec(spec, sd, weightsFile);
  return { spec, vision: vision.bytes, text: text.bytes };
}
