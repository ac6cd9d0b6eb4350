// One session interface for every backend: onnxruntime-node here, onnxruntime-web in the browser build.
// The core only sees these types, so it runs unchanged on either side of the platform boundary.

export type TensorData = Float32Array | BigInt64Array | Int32Array;

export interface TensorIn {
  data: TensorData;
  dims: number[];
}

export interface TensorOut {
  data: Float32Array;
  dims: number[];
}

export interface SessionOptions {
  /** intra-op threads; default: all cores */
  threads?: number;
}

export interface Session {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, TensorIn>, outputs?: string[]): Promise<Record<string, TensorOut>>;
  release(): Promise<void>;
}

/** Creates sessions from serialized ONNX models (bytes) or from a path the backend can read. */
export interface Backend {
  readonly name: string;
  create(model: Uint8Array | string, options?: SessionOptions): Promise<Session>;
}
