// Saved few-shot classifiers (`clipmed probe -o`) carry the model they were fitted on: its name and the sha256
// of its checkpoint. Applied to another model, a probe would give confident nonsense with exit 0, so the
// hash is checked when the probe is loaded.
import { readFile } from 'node:fs/promises';
import { ConfigError, loadFewShot, type ClipModel, type FewShotModel } from '../index.ts';
import { writeFileAtomic } from './files.ts';

export interface ProbeModelRecord {
  name: string;
  checkpointSha256: string;
}

/** Save a fitted classifier with the model's record, atomically. */
export async function saveProbe(path: string, fitted: FewShotModel, model: ClipModel): Promise<void> {
  const record: ProbeModelRecord = { name: model.source.name, checkpointSha256: model.meta.checkpointSha256 };
  await writeFileAtomic(path, JSON.stringify({ ...(fitted.toJSON() as object), model: record }));
}

/**
 * Load a saved classifier for `model`; a `ConfigError` naming the file when it was fitted on another
 * checkpoint or does not say which (probes saved before the record existed: fit them again).
 */
export async function readProbe(path: string, model: ClipModel): Promise<FewShotModel> {
  let saved: { model?: Partial<ProbeModelRecord> } & Record<string, unknown>;
  try {
    saved = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    if (err instanceof SyntaxError) throw new ConfigError(`not a saved probe (not JSON: ${err.message})`, { file: path, cause: err });
    throw err;
  }
  if (!saved || typeof saved !== 'object') throw new ConfigError('not a saved probe (expected a JSON object)', { file: path });
  const rec = saved.model;
  if (!rec || typeof rec.checkpointSha256 !== 'string') {
    throw new ConfigError('the probe does not record the model it was fitted on (saved by an older clipmed); fit it again with `clipmed probe -o`', { file: path });
  }
  const own = model.meta.checkpointSha256;
  if (rec.checkpointSha256 !== own) {
    throw new ConfigError(
      `the probe was fitted on ${String(rec.name)} (checkpoint sha256 ${rec.checkpointSha256.slice(0, 16)}...), not on ${model.source.name} (sha256 ${own.slice(0, 16)}...): fit a probe for this model`,
      { file: path },
    );
  }
  const { model: _, ...classifier } = saved;
  return loadFewShot(model, classifier);
}
