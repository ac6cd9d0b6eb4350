// The Node adapter of the platform boundary: models through ClipModel.load (hub and graph caches on disk),
// images from files, file: URLs, http(s) URLs and bytes, decoded with sharp.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { DecodeError, NetworkError } from '../errors.ts';
import { ClipModel } from './clip-model.ts';
import { setPlatform, type Platform } from '../pipeline/platform.ts';
import { decodeImageBytes } from './image-decode.ts';

async function readBytes(input: string | URL): Promise<Uint8Array> {
  const url = input instanceof URL ? input : /^(https?|file):\/\//i.test(input) ? new URL(input) : undefined;
  if (url && url.protocol !== 'file:') {
    let res: Response;
    try {
      res = await fetch(url);
    } catch (cause) {
      throw new NetworkError(`cannot fetch: ${(cause as Error).message}`, { file: url.href, cause });
    }
    if (!res.ok) throw new NetworkError(`HTTP ${res.status} ${res.statusText}`, { file: url.href, status: res.status });
    return new Uint8Array(await res.arrayBuffer());
  }
  const path = url ? fileURLToPath(url) : (input as string);
  try {
    return new Uint8Array(await readFile(path));
  } catch (cause) {
    throw new DecodeError(`cannot read file: ${(cause as Error).message}`, { file: path, cause });
  }
}

export const nodePlatform: Platform = {
  name: 'node',
  loadModel: (source, options) => ClipModel.load(source, options),
  readBytes,
  decodeImage: (bytes, name) => decodeImageBytes(bytes, name),
};

setPlatform(nodePlatform);
