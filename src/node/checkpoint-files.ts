// The Node side of checkpoints: a file read whole (past readFile's 2 GiB limit) or, for safetensors, tensor by
// tensor, then decoded by the core (src/checkpoint/); and the streaming SHA-256 used as cache key.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { constants as bufferConstants } from 'node:buffer';
import { DecodeError, LimitError } from '../errors.ts';
import type { StateDict } from '../checkpoint/types.ts';
import { safetensorsHeader, safetensorsHeaderLength } from '../checkpoint/safetensors.ts';
import { decodeElements, numel } from '../checkpoint/dtype.ts';
import { readCheckpointBytes, sniffCheckpoint } from '../checkpoint/load.ts';
import './native-crc.ts';

/**
 * Read a whole file into one Buffer, in chunks, so files past readFile's 2 GiB limit still load.
 * @example (await readWholeFile('open_clip_model.safetensors')).length // 7056636
 */
export async function readWholeFile(path: string): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    if (size > bufferConstants.MAX_LENGTH) throw new LimitError(`file is ${size} bytes, more than the ${bufferConstants.MAX_LENGTH} a Buffer can hold`, { file: path });
    const buf = Buffer.allocUnsafe(size);
    let pos = 0;
    while (pos < size) {
      const { bytesRead } = await fh.read(buf, pos, Math.min(size - pos, 1 << 26), pos);
      if (bytesRead === 0) throw new DecodeError(`file shrank while reading (${pos} of ${size} bytes)`, { file: path });
      pos += bytesRead;
    }
    return buf;
  } finally {
    await fh.close();
  }
}

/**
 * Read a checkpoint file (safetensors or torch.save zip) as a state dict.
 * @example
 * const sd = await readCheckpoint('open_clip_pytorch_model.bin');
 * sd.size // 62 (the tiny open_clip test model)
 */
export async function readCheckpoint(path: string): Promise<StateDict> {
  const sd = await readSafetensorsFile(path);
  if (sd) return sd;
  const buf = await readWholeFile(path);
  return readCheckpointBytes(new Uint8Array(buf.buffer, buf.byteOffset, buf.length), path);
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Fill `into` from the file at `position`, in reads of at most 1 GiB; a file that ends early is a DecodeError. */
async function readFully(fh: FileHandle, into: Uint8Array, position: number, file: string): Promise<void> {
  let pos = 0;
  while (pos < into.length) {
    const { bytesRead } = await fh.read(into, pos, Math.min(into.length - pos, 1 << 30), position + pos);
    if (bytesRead === 0) throw new DecodeError(`file ended while reading ${into.length} bytes at offset ${position} (it shrank?)`, { file });
    pos += bytesRead;
  }
}

/**
 * A safetensors file read tensor by tensor (`undefined` when the file is not safetensors): the header first,
 * then each tensor's bytes into a buffer of its own, so that the whole file is never in memory beside the
 * tensors decoded from it. Float32 tensors on a little-endian host are read straight into their Float32Array;
 * other dtypes go through one temporary buffer of that tensor's size.
 * @example (await readSafetensorsFile('model.safetensors'))?.get('logit_scale')?.shape // []
 */
export async function readSafetensorsFile(path: string): Promise<StateDict | undefined> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const head = new Uint8Array(Math.min(size, 16));
    await readFully(fh, head, 0, path);
    const kind = sniffCheckpoint(head);
    if (kind === 'torch-zip' || kind === 'torch-legacy' || size < 10 || head[8] !== 0x7b) return undefined;
    const n = new DataView(head.buffer).getBigUint64(0, true);
    if (n < 2n || n > BigInt(size - 8)) return undefined; // not safetensors: the whole-file path names the format
    const headerBytes = new Uint8Array(safetensorsHeaderLength(head, path));
    await readFully(fh, headerBytes, 0, path);
    const { entries, dataStart } = safetensorsHeader(headerBytes, path, size);
    const out: StateDict = new Map();
    for (const e of entries) {
      const count = numel(e.shape);
      const length = e.end - e.begin;
      if (e.dtype === 'float32' && LITTLE_ENDIAN_HOST) {
        const data = new Float32Array(count);
        await readFully(fh, new Uint8Array(data.buffer), dataStart + e.begin, path);
        out.set(e.name, { dtype: e.dtype, shape: e.shape, data });
      } else {
        const raw = new Uint8Array(length);
        await readFully(fh, raw, dataStart + e.begin, path);
        out.set(e.name, { dtype: e.dtype, shape: e.shape, data: decodeElements(raw, e.dtype, count) });
      }
    }
    return out;
  } finally {
    await fh.close();
  }
}

/**
 * SHA-256 of a file as lowercase hex, streamed.
 * @example await hashFile('model.safetensors') // 'e3b0c442...'
 */
export function hashFile(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => h.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}
