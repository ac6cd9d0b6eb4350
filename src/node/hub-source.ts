// `hf-hub:ORG/NAME[@REV]` by spec: fetch the repository's config first, derive from it exactly the files the
// model spec names (src/models/readers/), fetch those at the same commit, and when an open_clip model with a
// Hugging Face text tower has no vocabulary of its own, fetch it from the repository its config names
// (`text_cfg.hf_tokenizer_name`), as open_clip's HFTokenizer does.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../errors.ts';
import { resolveHubSnapshot, type HubFileSpec } from './hub/resolve.ts';
import { parseHubSpec, type HubProgress } from './hub/settings.ts';
import { conchFiles, hfFiles, hfTokenizerName, openClipFiles, CONCH_FILES } from '../models/readers/index.ts';
import type { SpecFile, SpecFiles } from '../models/spec.ts';
import type { ResolvedSource } from '../models/source.ts';
import { resolveLocalSource } from './source.ts';
import { withConchTokenizer } from './conch-source.ts';
import { folderFiles } from './files.ts';

export interface HubModelOptions {
  onProgress?: (p: HubProgress) => void;
  log?: (message: string) => void;
}

/** the file that tells a repository's layout; CONCH's repository has no model config, only meta.yaml beside its weights */
const CONFIGS = ['open_clip_config.json', 'config.json', CONCH_FILES.meta];

function hubFile(f: SpecFile, optional = false): HubFileSpec {
  return { oneOf: f.oneOf ?? [f.name], optional: optional || Boolean(f.optional) };
}

/** The files of one repository from a spec's lists (tokenizer files of another repository left out). */
function ownFiles(files: SpecFiles, tokenizerOptional: boolean): HubFileSpec[] {
  return [
    ...files.config.map((f) => hubFile(f)),
    ...files.weights.map((f) => hubFile(f)),
    ...files.tokenizer.filter((f) => !f.repo).map((f) => hubFile(f, tokenizerOptional)),
  ];
}

/**
 * Download what a hub model's spec names and resolve it like a local folder.
 * @example (await resolveHubModel('hf-hub:microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224')).files.names // [..., 'vocab.txt']
 */
export async function resolveHubModel(source: string, o: HubModelOptions = {}): Promise<ResolvedSource> {
  const { repo } = parseHubSpec(source);
  const opts = { onProgress: o.onProgress, onWarning: o.log };
  const first = await resolveHubSnapshot(source, { ...opts, files: [CONFIGS] });
  const configName = first.files[0]!;
  if (configName === CONCH_FILES.meta) {
    // CONCH: its tokenizer and architecture live in its Python package, fetched here only where the repository has them
    const snap = await resolveHubSnapshot(`hf-hub:${repo}@${first.commit}`, { ...opts, files: ownFiles(conchFiles(), true) });
    return withConchTokenizer({ ...(await resolveLocalSource(snap.folder)), name: source }, o);
  }
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(readFileSync(join(first.folder, configName), 'utf8'));
  } catch (e) {
    throw new ConfigError(`${configName} is not valid JSON: ${(e as Error).message}`, { file: join(first.folder, configName) });
  }
  const at = `hf-hub:${repo}@${first.commit}`;
  if (configName === 'config.json') {
    const snap = await resolveHubSnapshot(at, { ...opts, files: ownFiles(hfFiles(config), false) });
    return { ...(await resolveLocalSource(snap.folder)), name: source };
  }
  if (typeof config.model_cfg !== 'object' || config.model_cfg === null) throw new ConfigError('open_clip_config.json has no model_cfg', { file: join(first.folder, configName) });
  // the model's own vocabulary when it has one (BiomedCLIP ships vocab.txt), else the tokenizer repository's
  const snap = await resolveHubSnapshot(at, { ...opts, files: ownFiles(openClipFiles(config, true), true) });
  const src = { ...(await resolveLocalSource(snap.folder)), name: source };
  const tokRepo = hfTokenizerName(config);
  const needsVocab = openClipFiles(config, true).tokenizer.length > 0;
  const hasVocab = openClipFiles(config, true).tokenizer[0]?.oneOf?.some((f) => src.files?.names.includes(f));
  if (needsVocab && !hasVocab && tokRepo) {
    o.log?.(`${repo} has no vocabulary of its own; taking it from ${tokRepo} (text_cfg.hf_tokenizer_name)`);
    const tokFiles = openClipFiles(config, false).tokenizer;
    const tsnap = await resolveHubSnapshot(`hf-hub:${tokRepo}`, { ...opts, files: tokFiles.map((f) => hubFile(f)) });
    return { ...src, tokenizerFiles: folderFiles(tsnap.folder) };
  }
  return src;
}
