// Element types shared by the safetensors and torch readers, and the exact half/bfloat16 -> float32 upcasts.
// IEEE 754-2008 binary16 and Google's bfloat16 (the top 16 bits of a float32) both widen to float32 exactly.

import type { DType, Tensor } from './types.ts';

/** Bytes per element of each dtype. */
export const ITEM_SIZE: Record<DType, number> = {
  float32: 4, float16: 2, bfloat16: 2, float64: 8, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1,
};

/** Product of a shape (1 for a scalar), as a plain number. */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * Exact float16 (bits) -> float32 value.
 * @example halfToFloat(0x3c00) // 1
 */
export function halfToFloat(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0x1f) {
    u32[0] = sign | 0x7f800000 | (mant << 13);
  } else if (exp !== 0) {
    u32[0] = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant === 0) {
    u32[0] = sign;
  } else {
    // subnormal half: normalise into a float32 exponent
    let e = 113;
    while ((mant & 0x400) === 0) { mant <<= 1; e--; }
    u32[0] = sign | (e << 23) | ((mant & 0x3ff) << 13);
  }
  return f32[0]!;
}

/**
 * float32 value -> float16 bits, round to nearest even (used by writers only).
 * @example floatToHalf(1) // 0x3c00
 */
export function floatToHalf(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    let r = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (r & 1))) r++;
    return sign | r;
  }
  let r = mant >>> 13;
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (r & 1))) {
    r++;
    if (r === 0x400) { r = 0; e++; if (e >= 0x1f) return sign | 0x7c00; }
  }
  return sign | (e << 10) | r;
}

/**
 * Decode `count` little-endian elements of `dtype` starting at `bytes[0]` into the Tensor data type
 * (floats become Float32Array, exactly; integers keep their width; bool becomes Uint8Array of 0/1).
 * @example decodeElements(new Uint8Array([0, 0x3c]), 'float16', 1) // Float32Array [1]
 */
export function decodeElements(bytes: Uint8Array, dtype: DType, count: number): Tensor['data'] {
  return LITTLE_ENDIAN_HOST ? decodeLittleEndianHost(bytes, dtype, count) : decodePortable(bytes, dtype, count);
}

/** Element-by-element decoding through a DataView: correct on any host; the reference for the fast path. */
export function decodePortable(bytes: Uint8Array, dtype: DType, count: number): Tensor['data'] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'float32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = dv.getFloat32(i * 4, true);
      return out;
    }
    case 'float16': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = halfToFloat(dv.getUint16(i * 2, true));
      return out;
    }
    case 'bfloat16': {
      const out = new Float32Array(count);
      const outBits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) outBits[i] = dv.getUint16(i * 2, true) << 16;
      return out;
    }
    case 'float64': {
      // float64 cannot fit float32 exactly; it is rounded to nearest (documented in types.ts)
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = dv.getFloat64(i * 8, true);
      return out;
    }
    case 'int64': {
      const out = new BigInt64Array(count);
      for (let i = 0; i < count; i++) out[i] = dv.getBigInt64(i * 8, true);
      return out;
    }
    case 'int32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = dv.getInt32(i * 4, true);
      return out;
    }
    case 'int16': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = dv.getInt16(i * 2, true);
      return out;
    }
    case 'int8': {
      const out = new Int8Array(count);
      for (let i = 0; i < count; i++) out[i] = dv.getInt8(i);
      return out;
    }
    case 'uint8':
      return Uint8Array.from(bytes.subarray(0, count));
    case 'bool': {
      const out = new Uint8Array(count);
      for (let i = 0; i < count; i++) out[i] = bytes[i] ? 1 : 0;
      return out;
    }
  }
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Fast path: one memcpy into an aligned buffer, then typed-array views (files are little-endian, like the host). */
function decodeLittleEndianHost(bytes: Uint8Array, dtype: DType, count: number): Tensor['data'] {
  const size = ITEM_SIZE[dtype];
  const copy = (): ArrayBuffer => {
    const buf = new ArrayBuffer(count * size);
    new Uint8Array(buf).set(bytes.subarray(0, count * size));
    return buf;
  };
  switch (dtype) {
    case 'float32': return new Float32Array(copy());
    case 'int64': return new BigInt64Array(copy());
    case 'int32': return new Int32Array(copy());
    case 'int16': return new Int16Array(copy());
    case 'int8': return new Int8Array(copy());
    case 'uint8': return new Uint8Array(copy());
    case 'float64': return Float32Array.from(new Float64Array(copy()));
    case 'float16': {
      const h = new Uint16Array(copy());
      const lut = halfTable();
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = lut[h[i]!]!;
      return out;
    }
    case 'bfloat16': {
      const h = new Uint16Array(copy());
      const out = new Float32Array(count);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) bits[i] = h[i]! << 16;
      return out;
    }
    case 'bool': {
      const out = new Uint8Array(count);
      for (let i = 0; i < count; i++) out[i] = bytes[i] ? 1 : 0;
      return out;
    }
  }
}

let HALF_TABLE: Float32Array | undefined;
/** All 65536 half values as float32 (256 KiB), built on first use: fp16 checkpoints decode by lookup. */
function halfTable(): Float32Array {
  if (!HALF_TABLE) {
    HALF_TABLE = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) HALF_TABLE[h] = halfToFloat(h);
  }
  return HALF_TABLE;
}
