// What every checkpoint reader returns: named float tensors, independent of the file format.

export type DType = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

export interface Tensor {
  /**
   * dtype in the file; `data` is always float32 for floats (half and bfloat16 upcast exactly, float64 rounded
   * to nearest), BigInt64Array/Int32Array/Int16Array/Int8Array/Uint8Array for integers, Uint8Array of 0/1 for bool
   */
  dtype: DType;
  /** row-major shape */
  shape: number[];
  data: Float32Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;
}

/** A state dict: checkpoint keys to tensors, in file order. */
export type StateDict = Map<string, Tensor>;
