// What `--model` accepts: a registered name (`biomedclip`), a hub repository (`hf-hub:ORG/NAME[@REV]`),
// or a local folder or file. Hub sources are downloaded into the huggingface_hub cache first.
import { CheckpointError, ConfigError } from '../errors.ts';
import { resolveHubModel } from './hub-source.ts';
import { checkpointHash } from './graph-cache.ts';
import { resolveHubSource, type HubFileSpec } from './hub/resolve.ts';
import { isHubSpec } from './hub/settings.ts';
import type { HubProgress } from './hub/settings.ts';
import { getSpec, listModels, type PretrainedSpec } from '../models/pretrained.ts';
import { isConchFolder, resolveLocalSource, type ResolvedSource } from './source.ts';
import { withConchTokenizer } from './conch-source.ts';
import { folderFiles } from './files.ts';
import { isMedclipLocal, resolveMedclipLocal, resolveMedclipRelease } from './medclip-source.ts';
import './tokenizer-files.ts'; // ClipTokenizer.load() reads the shipped merges (trainRun reaches it from here)

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
  if (isHubSpec(model)) return { source: await resolveHubModel(model, o) };
  if ((listModels() as string[]).includes(model)) {
    const spec = getSpec(model);
    if (!spec.supported) throw new ConfigError(`'${model}' (${spec.title}) is in the registry but its family (${spec.family}) is not built by clipmed yet`);
    if (spec.source.kind === 'manual') {
      throw new ConfigError(`'${model}' is not on the hub: ${spec.source.note} Download it from ${spec.source.url} and pass the file path as --model${spec.preprocess ? ` (with --protocol ${spec.preprocess.protocol})` : ''}`);
    }
    if (spec.source.kind === 'release') {
      const vision = spec.source.reader === 'medclip-resnet' ? 'resnet' : 'swin';
      return { source: await resolveMedclipRelease(spec.source.url, vision, model, o), spec };
    }
    const at = `hf-hub:${spec.source.repo}${spec.source.revision ? `@${spec.source.revision}` : ''}`;
    // a repository with a model config is fetched by spec; a bare checkpoint by its listed files
    const byConfig = spec.source.files.some((f) => f === 'open_clip_config.json' || f === 'config.json' || f === 'meta.yaml');
    const source = byConfig ? { ...(await resolveHubModel(at, o)), name: model } : { ...(await resolveLocalSource(await hub(at, spec.source.files))), name: model };
    if (spec.source.sha256) {
      const got = await checkpointHash(source.weightsFile);
      if (got !== spec.source.sha256) throw new CheckpointError(`sha256 ${got} differs from the registry's ${spec.source.sha256} for ${model}`, { file: source.weightsFile });
    }
    return { source, spec };
  }
  // CONCH's folder is told by its meta.yaml, before any rule for other folders that hold a bare pytorch_model.bin
  if (await isConchFolder(model)) return { source: await withConchTokenizer(await resolveLocalSource(model), o) };
  if (await isMedclipLocal(model)) {
    // MedCLIP's release zip or the folder it unzips to: the registry entry of its image tower (by MedCLIP's names)
    const source = await resolveMedclipLocal(model, o);
    return { source, spec: getSpec(source.visionFiles ? 'medclip-vit' : 'medclip-resnet') };
  }
  const source = await resolveLocalSource(model);
  const entry = manualEntryFor(source.weightsFile);
  // a manual download whose tokenizer lives in a hub repository (GLoRIA: Bio_ClinicalBERT's vocab.txt and config.json)
  const tok = entry?.source.kind === 'manual' ? entry.source.tokenizer : undefined;
  if (tok && !source.tokenizerFiles) return { source: { ...source, tokenizerFiles: folderFiles(await hub(`hf-hub:${tok.repo}`, tok.files)) }, spec: entry };
  return { source, spec: entry };
}

/**
 * A registered manual download given as its file (CheXzero's checkpoint under its published name): the
 * registry's protocol, scoring and templates apply to it as to a registered name.
 */
function manualEntryFor(weightsFile: string): PretrainedSpec | undefined {
  const name = weightsFile.slice(weightsFile.lastIndexOf('/') + 1);
  for (const m of listModels()) {
    const s = getSpec(m);
    if (s.supported && s.source.kind === 'manual' && s.source.files.includes(name)) return s;
  }
  return undefined;
}
