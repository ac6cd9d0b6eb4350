// Where a model comes from: a folder in the open_clip hub layout, a folder in the Hugging Face transformers
// layout (config.json), or a bare OpenAI-format state dict.
// (Hub names and `hf-hub:` sources resolve to one of these once downloaded.)
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { ConfigError } from '../errors.ts';
import { folderFiles } from './files.ts';
import { readHfFolder } from './hf-folder.ts';
import { conchModelCfg, isConchLayout, CONCH_FILES } from '../models/readers/index.ts';
import type { ResolvedSource } from '../models/source.ts';
export type { ResolvedSource };


const OPEN_CLIP_WEIGHTS = ['open_clip_model.safetensors', 'open_clip_pytorch_model.bin'];
const OPENAI_EXT = /\.(pt|pth|bin|safetensors|ckpt)$/i;

/** Whether `path` is a folder in CONCH's layout (meta.yaml beside pytorch_model.bin, no other model config). */
export async function isConchFolder(path: string): Promise<boolean> {
  const st = await stat(path).catch(() => undefined);
  return Boolean(st?.isDirectory()) && isConchLayout(await readdir(path));
}

/**
 * Resolve a local model source.
 * @example await resolveLocalSource('../shared/fixtures/open_clip/tiny-quickgelu') // { format: 'open_clip', weightsFile: '.../open_clip_pytorch_model.bin', ... }
 */
export async function resolveLocalSource(source: string): Promise<ResolvedSource> {
  let st;
  try {
    st = await stat(source);
  } catch {
    throw new ConfigError(`model source not found: expected a folder with open_clip_config.json or config.json, or a .pt/.bin/.safetensors state dict`, { file: source });
  }
  if (st.isDirectory()) {
    const files = await readdir(source);
    if (!files.includes('open_clip_config.json')) {
      if (isConchLayout(files)) {
        // CONCH (MahmoodLab/conch): meta.yaml and pytorch_model.bin; the architecture is carried by clipmed unless the folder has its own
        const mf = folderFiles(source);
        return { name: basename(source), format: 'conch', weightsFile: join(source, CONCH_FILES.weights), configText: conchModelCfg(mf).text, files: mf };
      }
      if (files.includes('config.json')) {
        const { folder, weightsFile, configText } = await readHfFolder(source, files);
        const mf = folderFiles(source, folder.files);
        return { name: basename(source), format: 'hf', weightsFile, configText, hf: { ...folder, read: mf.read }, files: mf };
      }
      throw new ConfigError(`no open_clip_config.json or config.json (or CONCH's meta.yaml beside pytorch_model.bin) in the folder; files: ${files.slice(0, 10).join(', ')}`, { file: source });
    }
    const weights = OPEN_CLIP_WEIGHTS.find((f) => files.includes(f));
    if (!weights) throw new ConfigError(`no weights in the folder: expected one of ${OPEN_CLIP_WEIGHTS.join(', ')}`, { file: source });
    const configText = await readFile(join(source, 'open_clip_config.json'), 'utf8');
    let config: Record<string, unknown>;
    try {
      config = JSON.parse(configText);
    } catch (e) {
      throw new ConfigError(`open_clip_config.json is not valid JSON: ${(e as Error).message}`, { file: join(source, 'open_clip_config.json') });
    }
    if (!config.model_cfg) throw new ConfigError(`open_clip_config.json has no model_cfg`, { file: join(source, 'open_clip_config.json') });
    return { name: basename(source), format: 'open_clip', weightsFile: join(source, weights), config, configText, files: folderFiles(source) };
  }
  if (!OPENAI_EXT.test(source)) {
    throw new ConfigError(`not a model folder or a state dict file (.pt, .pth, .bin, .safetensors, .ckpt)`, { file: source });
  }
  return { name: basename(source), format: 'openai', weightsFile: source };
}
