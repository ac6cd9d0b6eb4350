// Checkpoints as bytes: sniff the format from the magic bytes (never the extension) and hand the bytes to the
// safetensors or torch reader. Reading files (whole or tensor by tensor) and hashing them is the Node side's
// (src/node/checkpoint-files.ts).

import { DecodeError, UnsupportedError } from '../errors.ts';
import type { StateDict } from './types.ts';
import { readSafetensors } from './safetensors.ts';
import { isLegacyTorch, readTorchZip } from './torch.ts';

export type CheckpointFormat = 'safetensors' | 'torch-zip' | 'torch-legacy' | 'unknown';

/**
 * Which checkpoint format `bytes` holds, judged by magic bytes only.
 * @example sniffCheckpoint(new Uint8Array([0x50, 0x4b, 3, 4])) // 'torch-zip'
 */
export function sniffCheckpoint(bytes: Uint8Array): CheckpointFormat {
  if (bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && ((bytes[2] === 3 && bytes[3] === 4) || (bytes[2] === 5 && bytes[3] === 6))) return 'torch-zip';
  if (isLegacyTorch(bytes)) return 'torch-legacy';
  // safetensors: u64 header length, then the JSON object's '{'
  if (bytes.length >= 10 && bytes[8] === 0x7b) {
    const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
    if (n >= 2n && n <= BigInt(bytes.length - 8)) return 'safetensors';
  }
  return 'unknown';
}

/**
 * Decode a checkpoint already in memory (any supported format).
 * @example readCheckpointBytes(new Uint8Array(await (await fetch(url)).arrayBuffer()), url)
 */
export function readCheckpointBytes(bytes: Uint8Array, file: string): StateDict {
  switch (sniffCheckpoint(bytes)) {
    case 'torch-zip': return readTorchZip(bytes, file);
    case 'safetensors': return readSafetensors(bytes, file);
    case 'torch-legacy':
      throw new UnsupportedError('this is a legacy (pre-1.6, non-zip) torch.save file; re-save it with a current torch (torch.save(torch.load(f), g))', { file });
    case 'unknown': {
      const head = [...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
      throw new DecodeError(`not a checkpoint clipmed can read (expected safetensors or a torch.save zip; first bytes: ${head || 'none, the file is empty'})`, { file });
    }
  }
}
