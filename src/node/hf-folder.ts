// Reading a transformers model folder from disk (the JSON files once, and the hashes of the tokenizer files
// that shape the cached metadata); the readers in src/models/readers/ interpret it.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, UnsupportedError } from '../errors.ts';
import type { HfFolder, Json } from '../models/hf-config.ts';

/** Tokenizer model files whose content goes into the graph cache key. */
const TOKENIZER_FILES = ['spiece.model', 'tokenizer.model', 'vocab.json', 'merges.txt'];

/** Weights files of a transformers folder, in order of preference. */
export const HF_WEIGHTS = ['model.safetensors', 'pytorch_model.bin'];

async function readJson(dir: string, name: string, files: string[]): Promise<{ json?: Json; text: string }> {
  if (!files.includes(name)) return { text: '' };
  const file = join(dir, name);
  const text = await readFile(file, 'utf8');
  try {
    const json = JSON.parse(text);
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('not a JSON object');
    return { json, text };
  } catch (e) {
    throw new ConfigError(`${name} is not a valid JSON object: ${(e as Error).message}`, { file });
  }
}

/**
 * Read a transformers model folder. `configText` covers every JSON file that shapes the graphs, the
 * preprocessing or the tokenizer, so that the graph cache key changes with any of them.
 */
export async function readHfFolder(dir: string, files: string[]): Promise<{ folder: HfFolder; weightsFile: string; configText: string }> {
  const weights = HF_WEIGHTS.find((f) => files.includes(f));
  if (!weights) {
    const sharded = files.find((f) => f.endsWith('.index.json'));
    if (sharded) throw new UnsupportedError(`sharded checkpoints (${sharded}) are not supported; expected one of ${HF_WEIGHTS.join(', ')}`, { file: dir });
    throw new ConfigError(`no weights in the folder: expected one of ${HF_WEIGHTS.join(', ')}`, { file: dir });
  }
  const parts = await Promise.all(['config.json', 'preprocessor_config.json', 'tokenizer_config.json', 'special_tokens_map.json'].map((n) => readJson(dir, n, files)));
  const [config, preprocessor, tokenizerConfig, specialTokens] = parts;
  if (!config!.json) throw new ConfigError('no config.json in the folder', { file: dir });
  // tokenizer model files shape the token ids that the cached metadata describes (pad and end ids)
  const tokenizerHashes = await Promise.all(
    TOKENIZER_FILES.filter((n) => files.includes(n)).map(async (n) => `${n} ${createHash('sha256').update(await readFile(join(dir, n))).digest('hex')}`),
  );
  return {
    folder: { dir, files, config: config!.json, preprocessor: preprocessor!.json, tokenizerConfig: tokenizerConfig!.json, specialTokens: specialTokens!.json },
    weightsFile: join(dir, weights),
    configText: [...parts.map((p) => p.text), ...tokenizerHashes].join('\n'),
  };
}

