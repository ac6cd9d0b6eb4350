// NumPy .npy files (format versions 1.0-3.0), for exchanging arrays with Python pipelines.
// Format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
import { DecodeError, UnsupportedError } from '../errors.ts';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

export interface NpyArray {
  dtype: '<f4' | '<f8' | '<i4' | '<i8' | '|u1' | '<u2' | '<i2';
  shape: number[];
  data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array | Int16Array;
}

const CTORS = {
  '<f4': Float32Array, '<f8': Float64Array, '<i4': Int32Array, '<i8': BigInt64Array, '|u1': Uint8Array, '<u2': Uint16Array, '<i2': Int16Array,
} as const;

/**
 * Read a little-endian, C-order .npy array.
 * @example readNpy(writeNpy(Float32Array.of(1, 2), [2]), 'x.npy') // { dtype: '<f4', shape: [2], data: Float32Array [1, 2] }
 */
export function readNpy(bytes: Uint8Array, file: string): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new DecodeError('not a NumPy .npy file (bad magic)', { file });
  const major = bytes[6]!;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  if (start + headerLen > bytes.length) throw new DecodeError(`header of ${headerLen} bytes runs past the end of the file`, { file });
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw new DecodeError(`unreadable header: ${header.trim()}`, { file });
  if (fortran === 'True') throw new UnsupportedError('Fortran-order arrays are not supported; save with np.ascontiguousarray', { file });
  const dtype = (descr === '<u1' ? '|u1' : descr) as NpyArray['dtype'];
  const Ctor = CTORS[dtype];
  if (!Ctor) throw new UnsupportedError(`dtype '${descr}' (supported: ${Object.keys(CTORS).join(', ')})`, { file });
  const dimsText = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const shape = dimsText.map((d) => (/^\d+$/.test(d) ? Number(d) : NaN));
  const badDim = shape.findIndex((d) => !Number.isSafeInteger(d));
  if (badDim >= 0) throw new DecodeError(`shape (${shapeText}): dimension ${badDim} '${dimsText[badDim]}' is not a non-negative integer`, { file });
  const count = shape.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(count * Ctor.BYTES_PER_ELEMENT)) throw new DecodeError(`shape [${shape}] holds more elements than any file can`, { file });
  const offset = start + headerLen;
  const need = count * Ctor.BYTES_PER_ELEMENT;
  if (bytes.length - offset < need) throw new DecodeError(`data too short: ${bytes.length - offset} bytes for shape [${shape}] of ${descr} (${need} needed)`, { file });
  // an aligned copy (Uint8Array's slice: on a Node Buffer, .slice is a view into a shared pool)
  const copy = Uint8Array.prototype.slice.call(bytes, offset, offset + need);
  return { dtype, shape, data: new Ctor(copy.buffer, 0, count) as NpyArray['data'] };
}

/**
 * Write a C-order .npy (version 1.0) from a typed array.
 * @example writeNpy(new Float32Array(6), [2, 3]).length // 152
 */
export function writeNpy(data: Float32Array | Float64Array | Int32Array | Uint8Array | Uint16Array | Int16Array, shape: number[]): Uint8Array {
  const descr = data instanceof Float32Array ? '<f4' : data instanceof Float64Array ? '<f8' : data instanceof Int32Array ? '<i4'
    : data instanceof Uint16Array ? '<u2' : data instanceof Int16Array ? '<i2' : '|u1';
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}
