// A checked key mapping from a state dict onto graph initializers, as nanoGPT's `from_pretrained` does:
// every key is taken with its expected shape, transposes are explicit, and at the end every key of the
// checkpoint must have been used (or be on a short list of known non-weights).
import type { StateDict, Tensor } from '../checkpoint/types.ts';
import { CheckpointError } from '../errors.ts';
import type { GraphBuilder, Value } from '../graph/builder.ts';

export class Weights {
  private readonly used = new Set<string>();
  private readonly problems: string[] = [];

  constructor(
    private readonly dict: StateDict,
    private readonly file: string,
  ) {}

  has(key: string): boolean {
    return this.dict.has(key);
  }

  /** The float data of `key`, checked against `shape`. Problems are collected and thrown together by `finish`. */
  take(key: string, shape: number[]): Float32Array {
    const t = this.dict.get(key);
    if (!t) {
      this.problems.push(`missing key '${key}' (expected shape [${shape}])`);
      return new Float32Array(shape.reduce((a, b) => a * b, 1));
    }
    this.used.add(key);
    if (!(t.data instanceof Float32Array)) {
      this.problems.push(`key '${key}' has dtype ${t.dtype}, expected a float tensor`);
      return new Float32Array(shape.reduce((a, b) => a * b, 1));
    }
    if (!sameShape(t.shape, shape)) {
      this.problems.push(`key '${key}' has shape [${t.shape}], expected [${shape}]`);
      return new Float32Array(shape.reduce((a, b) => a * b, 1));
    }
    return t.data;
  }

  /** The tensor of `key` as-is (for shape inspection); not marked as used. */
  peek(key: string): Tensor | undefined {
    return this.dict.get(key);
  }

  /** Mark keys that carry no weights the graph needs (logit_scale, buffers). */
  ignore(...keys: string[]): void {
    for (const k of keys) if (this.dict.has(k)) this.used.add(k);
  }

  /** Mark every key under `prefix` as carrying nothing the graphs need (a part of the model no tower builds); the count. */
  ignorePrefix(prefix: string): number {
    let n = 0;
    for (const k of this.dict.keys()) if (k.startsWith(prefix)) { this.used.add(k); n++; }
    return n;
  }

  /** An initializer with the checkpoint's own name. */
  param(g: GraphBuilder, key: string, shape: number[]): Value {
    return g.weight(key, this.take(key, shape), shape);
  }

  /**
   * A torch Linear weight [out, in] as MatMul wants it, [in, out]. The initializer keeps the checkpoint's
   * tensor and name ([out, in] under `key`); the transpose is a graph op that ONNX Runtime folds into a
   * constant when the session loads, so trained graphs map their parameters straight back to checkpoint keys.
   */
  linearT(g: GraphBuilder, key: string, out: number, inp: number): Value {
    return g.transpose(this.param(g, key, [out, inp]), [1, 0]);
  }

  /** Throw one CheckpointError listing every missing, misshapen and unexpected key under `prefixes`. */
  finish(prefixes: string[]): void {
    const unexpected = [...this.dict.keys()].filter((k) => !this.used.has(k) && prefixes.some((p) => k.startsWith(p)));
    const all = [...this.problems, ...unexpected.map((k) => `unexpected key '${k}' with shape [${this.dict.get(k)!.shape}]`)];
    if (all.length > 0) {
      const shown = all.slice(0, 20).join('; ');
      throw new CheckpointError(`${all.length} problem(s) mapping the checkpoint onto the architecture: ${shown}${all.length > 20 ? '; ...' : ''}`, { file: this.file });
    }
  }
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** [rows, cols] -> [cols, rows] */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[base + c]!;
  }
  return out;
}
