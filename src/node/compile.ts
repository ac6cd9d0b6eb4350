// Checkpoint -> graphs: read the weights, let the architecture family build both towers (checking every
// key), and keep the result in the on-disk graph cache keyed by the checkpoint's hash.
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { readCheckpoint } from './checkpoint-files.ts';
import './native-crc.ts';
import type { StateDict } from '../checkpoint/types.ts';
import { CheckpointError } from '../errors.ts';
import { GRAPH_VERSION, type BuiltGraph } from '../graph/builder.ts';
import { writeGraphFiles } from './graph-files.ts';
import { checkFiles, checkpointHash, exists, graphDir, recordFiles, writeAtomic, type FileRecord } from './graph-cache.ts';
import type { OpenAIOverrides } from '../models/clip-config.ts';
import { folderFiles } from './files.ts';
import { builtModel, specOf } from '../models/families.ts';
import { biovilImageFile } from '../models/readers/biovil.ts';
import type { BuiltModel, TextSpec } from '../models/family.ts';
import type { ModelSpec } from '../models/spec.ts';
import type { ResolvedSource } from './source.ts';

/** What a compiled model needs besides its graphs; kept as meta.json beside them in the cache. */
export type ModelMeta = Pick<BuiltModel, 'architecture' | 'embedDim' | 'patchTokens' | 'preprocess' | 'score'> & {
  graphVersion: number;
  family: string;
  format: ResolvedSource['format'];
  checkpointSha256: string;
  text: TextSpec;
  parameters: { vision: number; text: number };
  /** the model spec the graphs were built from (towers, tokenizer, preprocessing, scoring, files) */
  spec?: ModelSpec;
  /** size and sha256 of each graph file when it was written; checked before the cached graphs are used */
  graphFiles?: FileRecord;
};

/** The files of a cache entry besides meta.json. */
const GRAPH_FILES = ['vision.onnx', 'vision.onnx.data', 'text.onnx', 'text.onnx.data'];

export interface CompiledModel {
  meta: ModelMeta;
  dir: string;
  visionPath: string;
  textPath: string;
  /** true when the graphs came from the cache */
  cached: boolean;
}

/** Learned parameters in the checkpoint, split by tower (anything not under a vision prefix counts as text). */
/**
 * Float parameters of each tower: a checkpoint tensor belongs to the graph that holds it under its own key (graphs keep
 * checkpoint names one to one), so this holds for every layout; tensors neither graph uses (a CoCa decoder) count for
 * neither.
 */
function countParameters(sd: StateDict, vision: BuiltGraph, text: BuiltGraph): { vision: number; text: number } {
  const v = vision.initializerNames();
  const t = text.initializerNames();
  let nv = 0;
  let nt = 0;
  for (const [k, tensor] of sd) {
    if (!(tensor.data instanceof Float32Array)) continue;
    if (v.has(k)) nv += tensor.data.length;
    else if (t.has(k)) nt += tensor.data.length;
  }
  return { vision: nv, text: nt };
}

/** Bump when a tower or reader changes the graphs it builds, so that cached graphs are rebuilt. */
const SPEC_VERSION = 'towers-1';

/** Weights files kept beside `weightsFile` that the model also needs (BioViL's image model beside CXR-BERT). */
function extraWeightsFiles(src: ResolvedSource): string[] {
  if (src.format !== 'hf' || src.hf?.config.model_type !== 'cxr-bert') return [];
  return [join(src.hf.dir, biovilImageFile(src.hf.files, src.hf.dir))];
}

/** The checkpoint's tensors with those of the extra weights files merged in; a key in two files is an error. */
export async function readWeights(src: ResolvedSource): Promise<StateDict> {
  const sd = await readCheckpoint(src.weightsFile);
  if (sd.size === 0) throw new CheckpointError('the checkpoint holds no tensors', { file: src.weightsFile });
  for (const file of extraWeightsFiles(src)) {
    for (const [k, t] of await readCheckpoint(file)) {
      if (sd.has(k)) throw new CheckpointError(`key '${k}' is also in ${src.weightsFile}`, { file });
      sd.set(k, t);
    }
  }
  return sd;
}

/** A source with its files readable: a hand-made ResolvedSource gets the folder beside its weights. */
function withFiles(src: ResolvedSource): ResolvedSource {
  if (src.files || src.format === 'openai') return src;
  const dir = src.hf?.dir ?? dirname(src.weightsFile);
  return { ...src, files: folderFiles(dir) };
}

/** Build both graphs for a source from its state dict (no caching), through its model spec. */
export function buildGraphs(src: ResolvedSource, sd: StateDict, overrides: OpenAIOverrides = {}): BuiltModel & { family: string; spec: ModelSpec } {
  return builtModel(specOf(withFiles(src), sd, overrides), sd, src.weightsFile);
}

/**
 * Compile a model source into cached ONNX graphs, or find them in the cache.
 * The key covers the checkpoint bytes, the config text, the overrides and the graph builder's version.
 */
/** The cache entry of a source: keyed by the checkpoint's sha256, the config text, the overrides and the versions. */
async function cacheEntry(src: ResolvedSource, overrides: OpenAIOverrides): Promise<{ sha: string; dir: string }> {
  const sha = await checkpointHash(src.weightsFile);
  const extra = await Promise.all(extraWeightsFiles(src).map((f) => checkpointHash(f)));
  const tokenizerRepo = src.tokenizerFiles ? `tokenizer:${src.tokenizerFiles.dir}` : '';
  const key = createHash('sha256').update(`${[sha, ...extra].join('+')}\n${src.configText ?? ''}\n${JSON.stringify(overrides)}\n${GRAPH_VERSION}\n${SPEC_VERSION}\n${tokenizerRepo}`).digest('hex').slice(0, 24);
  return { sha, dir: graphDir(key) };
}

/**
 * The model spec of a source without building graphs: from the graph cache when the model was compiled
 * before, else from its files and the checkpoint's tensors.
 */
export async function modelSpecFor(src: ResolvedSource, overrides: OpenAIOverrides = {}): Promise<ModelSpec> {
  const { dir } = await cacheEntry(src, overrides);
  try {
    const meta = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8')) as ModelMeta;
    if (meta.spec) return meta.spec;
  } catch {
    // not compiled yet: read the spec from the checkpoint
  }
  return specOf(withFiles(src), await readWeights(src), overrides);
}

export async function compileModel(src: ResolvedSource, overrides: OpenAIOverrides = {}, log: (m: string) => void = () => {}): Promise<CompiledModel> {
  const { sha, dir } = await cacheEntry(src, overrides);
  const visionPath = join(dir, 'vision.onnx');
  const textPath = join(dir, 'text.onnx');
  const metaPath = join(dir, 'meta.json');
  if ((await exists(metaPath)) && (await exists(visionPath)) && (await exists(textPath))) {
    // a cache is not trusted: an unreadable meta.json or a graph file that no longer matches its size and
    // hash (truncated, bytes flipped) is rebuilt
    let meta: ModelMeta | undefined;
    try {
      meta = JSON.parse(await readFile(metaPath, 'utf8')) as ModelMeta;
    } catch (e) {
      log(`the cached ${metaPath} is unreadable (${(e as Error).message}); rebuilding`);
    }
    const why = meta && (await checkFiles(dir, meta.graphFiles, GRAPH_FILES));
    if (meta && !why) return { meta, dir, visionPath, textPath, cached: true };
    if (why) log(`the cached graphs in ${dir} do not match what was written (${why}); rebuilding`);
  }
  log(`converting ${src.weightsFile} (sha256 ${sha.slice(0, 12)}) into ONNX graphs`);
  const sd = await readWeights(src);
  const built = buildGraphs(src, sd, overrides);
  const meta: ModelMeta = {
    graphVersion: GRAPH_VERSION,
    family: built.family,
    format: src.format,
    checkpointSha256: sha,
    architecture: built.architecture,
    embedDim: built.embedDim,
    patchTokens: built.patchTokens,
    text: built.textSpec,
    preprocess: built.preprocess,
    score: built.score,
    parameters: countParameters(sd, built.vision, built.text),
    spec: built.spec,
  };
  await mkdir(dir, { recursive: true });
  writeGraphFiles(built.vision, visionPath); // vision.onnx + vision.onnx.data
  writeGraphFiles(built.text, textPath);
  meta.graphFiles = await recordFiles(dir, GRAPH_FILES);
  await writeAtomic(metaPath, JSON.stringify(meta, null, 2)); // last: its presence marks a complete entry
  return { meta, dir, visionPath, textPath, cached: false };
}
