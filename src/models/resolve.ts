// What `--model` accepts: a registered name (`biomedclip`), a hub repository (`hf-hub:ORG/NAME[@REV]`),
// or a local folder or file. Hub sources are downloaded into the huggingface_hub cache first.
import { ConfigError } from '../errors.ts';
import { resolveHubSource, type HubFileSpec } from '../hub/resolve.ts';
import { isHubSpec } from '../hub/settings.ts';
import type { HubProgress } from '../hub/settings.ts';
import { getSpec, listModels, type PretrainedSpec } from './pretrained.ts';
import { resolveLocalSource, type ResolvedSource } from './source.ts';

export interface ResolveOptions {
  onProgress?: (p: HubProgress) => void;
  log?: (message: string) => void;
}

export interface ModelSource {
  source: ResolvedSource;
  /** the registry entry, when the model was named by its registered name */
  spec?: PretrainedSpec;
}

/** Weights and configs must be there; tokenizer and preprocessor files only where the repo has them. */
function hubFiles(files: readonly string[]): HubFileSpec[] {
  return files.map((f) => (/\.(json|bin|safetensors|pt)$/.test(f) && !/tokenizer|special_tokens|preprocessor/.test(f) ? f : { oneOf: [f], optional: true }));
}

/**
 * Resolve `--model` to local files, downloading from the hub when needed.
 * @example (await resolveModelSource('hf-hub:wisdomik/QuiltNet-B-32')).source.format // 'open_clip'
 */
export async function resolveModelSource(model: string, o: ResolveOptions = {}): Promise<ModelSource> {
  const hub = (spec: string, files?: readonly string[]) =>
    resolveHubSource(spec, { files: files ? hubFiles(files) : undefined, onProgress: o.onProgress, onWarning: o.log });
  if (isHubSpec(model)) {
    const folder = await hub(model);
    return { source: { ...(await resolveLocalSource(folder)), name: model } };
  }
  if ((listModels() as string[]).includes(model)) {
    const spec = getSpec(model);
    if (!spec.supported) throw new ConfigError(`'${model}' (${spec.title}) is in the registry but its family (${spec.family}) is not built by clipmed yet`);
    if (spec.source.kind === 'manual') {
      throw new ConfigError(`'${model}' is not on the hub: ${spec.source.note} Download it from ${spec.source.url} and pass the file path as --model${spec.preprocess ? ` (with --protocol ${spec.preprocess.protocol})` : ''}`);
    }
    const folder = await hub(`hf-hub:${spec.source.repo}`, spec.source.files);
    return { source: { ...(await resolveLocalSource(folder)), name: model }, spec };
  }
  return { source: await resolveLocalSource(model) };
}
