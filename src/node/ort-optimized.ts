// A graph in the cache, optimised once by ONNX Runtime and kept beside it, so that later sessions load it with
// the optimisers off. Optimising at load copies every weight through temporary buffers that glibc's allocator
// keeps afterwards: a ViT-B/16 image tower (329 MiB of weights) held about 100 MiB more after loading than the
// same graph loaded already optimised, with the same outputs to the bit. The copy is made with the session's
// own options at the 'all' level, whose layout changes (NCHWc convolutions) depend on the CPU, so its name holds
// the CPU model, the ONNX Runtime version and the source graph's size and time: a cache carried to another
// machine, or a graph rebuilt, gets a copy of its own. Only graphs under clipmed's cache root get one (nothing is
// written beside a user's files); anything that fails leaves the session on the plain graph.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { arch, cpus } from 'node:os';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import * as ort from 'onnxruntime-node';
import { cacheRoot, sha256File, writeAtomic } from './graph-cache.ts';

/** `<graph>.opt-<key>.onnx`, the key from what the optimised graph depends on; undefined when the graph is not in the cache. */
async function optimizedName(path: string, options: ort.InferenceSession.SessionOptions): Promise<string | undefined> {
  const root = resolve(cacheRoot());
  const rel = relative(root, resolve(path));
  if (rel.startsWith('..') || rel.startsWith(sep) || rel === '') return undefined;
  const [model, data] = await Promise.all([stat(path), stat(`${path}.data`).catch(() => undefined)]);
  const identity = {
    ort: ort.env.versions?.common ?? '', cpu: cpus()[0]?.model ?? '', arch: arch(),
    model: [model.size, model.mtimeMs], data: data ? [data.size, data.mtimeMs] : null,
    options: { ...options, intraOpNumThreads: undefined, interOpNumThreads: undefined },
  };
  const key = createHash('sha256').update(JSON.stringify(identity)).digest('hex').slice(0, 16);
  return `${path}.opt-${key}.onnx`;
}

/**
 * The optimised copy of a cached graph, made now if it is not there yet; undefined for a graph outside the cache
 * or when ONNX Runtime could not write one (the caller then loads the graph itself, optimising as before).
 */
export async function optimizedGraph(path: string, options: ort.InferenceSession.SessionOptions): Promise<string | undefined> {
  let out: string | undefined;
  try {
    out = await optimizedName(path, options);
    if (!out) return undefined;
    if (await stat(out).then(() => true, () => false)) {
      // trusted no more than the graph itself (src/node/graph-cache.ts checkFiles): sizes and sha256 as written
      if (await matchesRecord(out)) return out;
      await dropOptimizedGraph(out);
    }
    // written under names of this process's own and the model renamed last, so that a reader never sees a model
    // without its weights and two processes making the same copy do not write into one file
    const tmp = `${out}.${process.pid}.tmp`;
    const dataName = `${basename(out)}.${process.pid}.data`;
    const optimizing: ort.InferenceSession.SessionOptions = {
      ...options,
      graphOptimizationLevel: 'all',
      optimizedModelFilePath: tmp,
      logSeverityLevel: 3, // not the warning that the copy is for this machine: its name says so
      extra: {
        ...(options.extra as Record<string, unknown> | undefined),
        session: {
          ...((options.extra as { session?: Record<string, string> } | undefined)?.session),
          optimized_model_external_initializers_file_name: dataName,
          optimized_model_external_initializers_min_size_in_bytes: '1024',
        },
      },
    };
    await optimizeInChild(path, optimizing);
    const record: CopyRecord = {
      model: { size: (await stat(tmp)).size, sha256: await sha256File(tmp) },
      data: { name: dataName, size: (await stat(join(dirname(out), dataName))).size, sha256: await sha256File(join(dirname(out), dataName)) },
    };
    await writeAtomic(`${out}.json`, JSON.stringify(record));
    await rename(tmp, out);
    await removeStale(path, out);
    return out;
  } catch {
    return undefined;
  }
}

/**
 * ONNX Runtime writes the copy in a child process: what its optimisers allocate stays in that process, not in
 * the heap of the one about to load the copy (in-process, the first load peaked 300 MiB higher than later ones).
 */
function optimizeInChild(path: string, options: ort.InferenceSession.SessionOptions): Promise<void> {
  const ortUrl = import.meta.resolve('onnxruntime-node');
  const code = `const ort = await import(${JSON.stringify(ortUrl)}); const [p, o] = JSON.parse(process.env.CLIPMED_OPTIMIZE); const s = await ort.InferenceSession.create(p, o); await s.release();`;
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
      env: { ...process.env, ORT_DISABLE_TELEMETRY: process.env.ORT_DISABLE_TELEMETRY ?? '1', CLIPMED_OPTIMIZE: JSON.stringify([path, options]) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => { if (err.length < 4000) err += d.toString(); });
    child.on('error', fail);
    child.on('exit', (code) => (code === 0 ? done() : fail(new Error(`optimising ${path} failed (${code}): ${err.slice(-500)}`))));
  });
}

/** What a copy was when written: `<copy>.json` beside it. */
interface CopyRecord {
  model: { size: number; sha256: string };
  data: { name: string; size: number; sha256: string };
}

async function matchesRecord(out: string): Promise<boolean> {
  try {
    const r = JSON.parse(await readFile(`${out}.json`, 'utf8')) as CopyRecord;
    const data = join(dirname(out), basename(r.data.name));
    if ((await stat(out)).size !== r.model.size || (await stat(data)).size !== r.data.size) return false;
    return (await sha256File(out)) === r.model.sha256 && (await sha256File(data)) === r.data.sha256;
  } catch {
    return false;
  }
}

/** Remove an optimised copy that is damaged (ONNX Runtime could not load it, or it no longer matches its record), so that the next session makes it again. */
export async function dropOptimizedGraph(out: string): Promise<void> {
  await unlink(out).catch(() => {});
  await unlink(`${out}.json`).catch(() => {});
}

/** Copies for an older graph or ONNX Runtime beside `path`: not this one, nor any other process's files in progress. */
async function removeStale(path: string, keep: string): Promise<void> {
  const dir = dirname(path);
  const prefix = `${basename(path)}.opt-`;
  const current = basename(keep);
  for (const name of await readdir(dir)) {
    if (!name.startsWith(prefix) || name.startsWith(current)) continue;
    if (name.endsWith('.tmp')) continue;
    await unlink(join(dir, name)).catch(() => {});
  }
}
