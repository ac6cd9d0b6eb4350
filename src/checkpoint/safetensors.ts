// Reader and writer for the safetensors format: u64 little-endian header length, a JSON header
// ({ name: { dtype, shape, data_offsets: [begin, end] }, __metadata__?: { string: string } }), then the
// tensor bytes. Reference: the format description in github.com/huggingface/safetensors (README, "Format").

import { DecodeError, LimitError, ShapeError, UnsupportedError } from '../errors.ts';
import { printable } from './printable.ts';
import type { DType, StateDict, Tensor } from './types.ts';
import { ITEM_SIZE, decodeElements, floatToHalf, numel } from './dtype.ts';

const DTYPES: Record<string, DType> = {
  F32: 'float32', F16: 'float16', BF16: 'bfloat16', F64: 'float64', I64: 'int64', I32: 'int32',
  I16: 'int16', I8: 'int8', U8: 'uint8', BOOL: 'bool',
};

/** Headers above this are refused: real ones are a few hundred KB even for LLMs. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** One tensor of a safetensors file: where its bytes are, relative to the data region (`dataStart`). */
export interface SafetensorsEntry { name: string; dtype: DType; shape: number[]; begin: number; end: number }
type Entry = SafetensorsEntry;

/**
 * The header of a safetensors file, checked against the file's size: its tensors (in header order), where the
 * data region starts, and the `__metadata__` strings. `bytes` needs to hold only the first 8 bytes and the
 * header (the tensor bytes may be read later, one tensor at a time); `fileSize` is the whole file's size.
 * @example safetensorsHeader(head, 'model.safetensors', size).entries[0]?.name
 */
export function safetensorsHeader(bytes: Uint8Array, file: string, fileSize = bytes.length): { entries: Entry[]; dataStart: number; metadata: Record<string, string> } {
  return parseHeader(bytes, file, fileSize);
}

/** Bytes of a safetensors file to read first so that the header is surely inside: 8 plus the header's length. */
export function safetensorsHeaderLength(first8: Uint8Array, file: string): number {
  if (first8.length < 8) throw new DecodeError(`safetensors file is ${first8.length} bytes, shorter than its 8-byte header length`, { file });
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) throw new LimitError(`safetensors header length ${n} exceeds ${MAX_HEADER_BYTES} bytes`, { file });
  return 8 + Number(n);
}

function parseHeader(bytes: Uint8Array, file: string, fileSize = bytes.length): { entries: Entry[]; dataStart: number; metadata: Record<string, string> } {
  if (fileSize < 8 || bytes.length < 8) throw new DecodeError(`safetensors file is ${fileSize} bytes, shorter than its 8-byte header length`, { file });
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = dv.getBigUint64(0, true);
  if (n < 2n) throw new DecodeError(`safetensors header length ${n} is too small for a JSON object`, { file });
  if (n > BigInt(MAX_HEADER_BYTES)) throw new LimitError(`safetensors header length ${n} exceeds ${MAX_HEADER_BYTES} bytes`, { file });
  const headerLen = Number(n);
  if (8 + headerLen > fileSize || 8 + headerLen > bytes.length) {
    throw new DecodeError(`safetensors header length ${headerLen} runs past the end of the ${fileSize}-byte file (truncated?)`, { file });
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch (cause) {
    throw new DecodeError(`safetensors header is not valid UTF-8 JSON (${(cause as Error).message})`, { file, cause });
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new DecodeError('safetensors header is not a JSON object', { file });
  const dataStart = 8 + headerLen;
  const dataLen = fileSize - dataStart;
  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new DecodeError('safetensors __metadata__ is not an object', { file });
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') throw new DecodeError(`safetensors __metadata__.${printable(k)} is not a string`, { file });
        metadata[k] = v;
      }
      continue;
    }
    const bad = (what: string): never => { throw new DecodeError(`safetensors tensor '${printable(name)}': ${what}`, { file }); };
    if (raw === null || typeof raw !== 'object') bad('header entry is not an object');
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e.dtype !== 'string') bad('dtype missing');
    const dtype = DTYPES[e.dtype as string];
    if (!dtype) throw new UnsupportedError(`safetensors tensor '${printable(name)}': dtype ${printable(String(e.dtype))} is not supported (expected one of ${Object.keys(DTYPES).join(', ')})`, { file });
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) bad(`shape ${JSON.stringify(e.shape)} is not a list of non-negative integers`);
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isSafeInteger(d) && d >= 0)) bad(`data_offsets ${JSON.stringify(offs)} is not [begin, end]`);
    const [begin, end] = offs as [number, number];
    if (begin > end) bad(`data_offsets [${begin}, ${end}] end before they begin`);
    if (end > dataLen) bad(`data_offsets [${begin}, ${end}] run past the ${dataLen} data bytes (truncated?)`);
    const shape = e.shape as number[];
    const expected = numel(shape) * ITEM_SIZE[dtype];
    if (end - begin !== expected) bad(`${end - begin} bytes for shape [${shape.join(', ')}] of ${printable(String(e.dtype))}, expected ${expected}`);
    entries.push({ name, dtype, shape, begin, end });
  }
  // The data region must be covered exactly once, in order: no gaps, no overlap, nothing trailing.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const e of sorted) {
    if (e.begin !== pos) {
      throw new DecodeError(`safetensors tensor '${e.name}': begins at data byte ${e.begin}, expected ${pos} (${e.begin < pos ? 'overlaps the previous tensor' : 'gap'})`, { file });
    }
    pos = e.end;
  }
  if (pos !== dataLen) throw new DecodeError(`safetensors tensors cover ${pos} data bytes but the file holds ${dataLen}`, { file });
  return { entries, dataStart, metadata };
}

/**
 * Read a whole safetensors file. Floats come out as Float32Array (half and bfloat16 exactly upcast).
 * @example
 * const sd = readSafetensors(await readFile('open_clip_model.safetensors'), 'open_clip_model.safetensors');
 * sd.get('text_projection')?.shape // [32, 32] (the tiny open_clip test model)
 */
export function readSafetensors(bytes: Uint8Array, file: string): StateDict {
  const { entries, dataStart } = parseHeader(bytes, file);
  const out: StateDict = new Map();
  for (const e of entries) {
    const raw = bytes.subarray(dataStart + e.begin, dataStart + e.end);
    out.set(e.name, { dtype: e.dtype, shape: e.shape, data: decodeElements(raw, e.dtype, numel(e.shape)) });
  }
  return out;
}

/**
 * The `__metadata__` strings of a safetensors file (empty when it has none).
 * @example readSafetensorsMetadata(bytes, 'm.safetensors') // { format: 'pt' }
 */
export function readSafetensorsMetadata(bytes: Uint8Array, file: string): Record<string, string> {
  return parseHeader(bytes, file).metadata;
}

export interface WriteSafetensorsOptions {
  /** Store every float tensor as this dtype; by default float16 tensors stay F16 and other floats become F32. */
  dtype?: 'float32' | 'float16';
  metadata?: Record<string, string>;
}

function encodeTensor(t: Tensor, outType: DType): Uint8Array {
  const n = numel(t.shape);
  if (t.data.length !== n) throw new ShapeError(`tensor data has ${t.data.length} elements, shape [${t.shape.join(', ')}] needs ${n}`);
  const buf = new Uint8Array(n * ITEM_SIZE[outType]);
  const dv = new DataView(buf.buffer);
  const d = t.data;
  for (let i = 0; i < n; i++) {
    switch (outType) {
      case 'float32': dv.setFloat32(i * 4, d[i] as number, true); break;
      case 'float16': dv.setUint16(i * 2, floatToHalf(d[i] as number), true); break;
      case 'int64': dv.setBigInt64(i * 8, d[i] as bigint, true); break;
      case 'int32': dv.setInt32(i * 4, d[i] as number, true); break;
      case 'int16': dv.setInt16(i * 2, d[i] as number, true); break;
      case 'int8': dv.setInt8(i, d[i] as number); break;
      case 'uint8': case 'bool': dv.setUint8(i, d[i] as number); break;
      default: throw new UnsupportedError(`writeSafetensors cannot write ${outType}`);
    }
  }
  return buf;
}

const FLOATS = new Set<DType>(['float32', 'float16', 'bfloat16', 'float64']);

/**
 * Write a state dict as safetensors (floats as F32, or F16; integer tensors keep their dtype).
 * @example
 * const bytes = writeSafetensors(new Map([['w', { dtype: 'float32', shape: [2], data: new Float32Array([1, 2]) }]]));
 */
export function writeSafetensors(dict: StateDict, options: WriteSafetensorsOptions = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (options.metadata) header.__metadata__ = options.metadata;
  const parts: Uint8Array[] = [];
  let offset = 0;
  const names: Record<DType, string> = Object.fromEntries(Object.entries(DTYPES).map(([k, v]) => [v, k])) as Record<DType, string>;
  for (const [name, t] of dict) {
    const outType: DType = FLOATS.has(t.dtype) ? (options.dtype ?? (t.dtype === 'float16' ? 'float16' : 'float32')) : t.dtype;
    const buf = encodeTensor(t, outType);
    header[name] = { dtype: names[outType], shape: t.shape, data_offsets: [offset, offset + buf.length] };
    parts.push(buf);
    offset += buf.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  // pad with spaces so the data starts 8-byte aligned, as the reference writer does
  const headerBytes = new Uint8Array(json.length + ((8 - (json.length % 8)) % 8)).fill(0x20);
  headerBytes.set(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const p of parts) { out.set(p, pos); pos += p.length; }
  return out;
}
