// Quantised graphs (`--dtype int8|q4|fp16`) made from a compiled model's fp32 graphs and kept beside them in
// the graph cache: `vision.int8.onnx`, ... with a record of each file's size and sha256, written last and
// checked on every use (a flipped or truncated file is rebuilt, never trusted).
import { readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import onnxProto from 'onnx-proto';
import { ConfigError } from '../errors.ts';
import { halfComputeModel, type HalfReport } from '../graph/half.ts';
import { quantizeModel, QUANT_MODES, type QuantMode, type QuantizeReport } from '../graph/quantize.ts';
import { checkFiles, exists, recordFiles, writeAtomic, type FileRecord } from './graph-cache.ts';

const { onnx } = onnxProto;

/** What `--dtype` takes: fp32 (the graphs as built) or one of the quantised forms. */
export type DType = 'fp32' | QuantMode;
export const DTYPES: readonly DType[] = ['fp32', ...QUANT_MODES];

export function parseDType(v: string): DType {
  if (!(DTYPES as readonly string[]).includes(v)) throw new ConfigError(`unknown --dtype '${v}': expected one of ${DTYPES.join(', ')}`);
  return v as DType;
}

/**
 * A graph file's bytes with every externally stored initializer read back inside the model, so that the
 * model can be rewritten as a whole.
 */
export async function inlineExternalData(path: string): Promise<Uint8Array> {
  const model = onnx.ModelProto.decode(await readFile(path));
  const files = new Map<string, Uint8Array>();
  for (const t of model.graph?.initializer ?? []) {
    if (t.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) continue;
    const kv = new Map((t.externalData ?? []).map((e) => [e.key!, e.value!]));
    const location = kv.get('location');
    if (!location || location.includes('/') || location.includes('\\')) throw new ConfigError(`initializer '${t.name}' names external data '${location}' outside the graph's folder`, { file: path });
    if (!files.has(location)) files.set(location, new Uint8Array(await readFile(join(dirname(path), location))));
    const data = files.get(location)!;
    const offset = Number(kv.get('offset') ?? 0);
    const length = Number(kv.get('length') ?? data.length - offset);
    if (!(offset >= 0 && length >= 0 && offset + length <= data.length)) throw new ConfigError(`initializer '${t.name}': external data [${offset}, ${offset + length}) lies outside ${location} (${data.length} bytes)`, { file: path });
    t.rawData = data.subarray(offset, offset + length);
    t.externalData = [];
    t.dataLocation = onnx.TensorProto.DataLocation.DEFAULT;
  }
  return onnx.ModelProto.encode(model).finish();
}

export interface QuantizedGraphs {
  visionPath: string;
  textPath: string;
  /** true when both came from the cache */
  cached: boolean;
  reports?: { vision: QuantizeReport | HalfReport; text: QuantizeReport | HalfReport };
}

/**
 * The `dtype` form of a compiled model's graphs, made once and cached beside the fp32 graphs.
 * @example const q = await quantizedGraphs(compiled.visionPath, compiled.textPath, 'int8'); q.visionPath // '.../vision.int8.onnx'
 */
export async function quantizedGraphs(visionPath: string, textPath: string, dtype: QuantMode, log: (m: string) => void = () => {}): Promise<QuantizedGraphs> {
  return derivedGraphs(visionPath, textPath, dtype, `quantising the graphs to ${dtype}`, (bytes) => quantizeModel(bytes, dtype), log);
}

/**
 * The fp16-compute form of a compiled model's graphs (src/graph/half.ts: float16 weights and activations), what
 * `--dtype fp16` runs on GPU devices; made once and cached beside the fp32 graphs as `vision.fp16c.onnx`, ....
 */
export async function halfComputeGraphs(visionPath: string, textPath: string, log: (m: string) => void = () => {}): Promise<QuantizedGraphs> {
  return derivedGraphs(visionPath, textPath, 'fp16c', 'making fp16-compute graphs', (bytes) => halfComputeModel(bytes), log);
}

async function derivedGraphs(visionPath: string, textPath: string, dtype: string, what: string, transform: (bytes: Uint8Array) => { bytes: Uint8Array; report: QuantizeReport | HalfReport }, log: (m: string) => void): Promise<QuantizedGraphs> {
  const dir = dirname(visionPath);
  const names = [`vision.${dtype}.onnx`, `text.${dtype}.onnx`];
  const recordPath = join(dir, `${dtype}.json`);
  const out = { visionPath: join(dir, names[0]!), textPath: join(dir, names[1]!) };
  if (await exists(recordPath)) {
    let record: FileRecord | undefined;
    try {
      record = JSON.parse(await readFile(recordPath, 'utf8')) as FileRecord;
    } catch {
      record = undefined;
    }
    const why = await checkFiles(dir, record, names);
    if (!why) return { ...out, cached: true };
    log(`the cached ${dtype} graphs in ${dir} do not match what was written (${why}); rebuilding`);
  }
  log(what);
  const vision = transform(await inlineExternalData(visionPath));
  await writeAtomic(out.visionPath, vision.bytes);
  const text = transform(await inlineExternalData(textPath));
  await writeAtomic(out.textPath, text.bytes);
  await writeAtomic(recordPath, JSON.stringify(await recordFiles(dir, names), null, 1)); // last: marks the entry complete
  return { ...out, cached: false, reports: { vision: vision.report, text: text.report } };
}

/** Bytes on disk of a graph file and its external data. */
export async function graphBytes(path: string): Promise<number> {
  let n = (await stat(path)).size;
  if (await exists(`${path}.data`)) n += (await stat(`${path}.data`)).size;
  return n;
}
