// zlib's CRC-32 (Node >= 20.15, about five times the table version's speed) for the core's ZIP and gzip readers;
// on older Nodes the core keeps its table version (src/io/inflate.ts), which gives the same values.
import * as zlib from 'node:zlib';
import { setCrc32 } from '../io/inflate.ts';

const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
if (native) setCrc32((bytes, seed = 0) => native(bytes, seed) >>> 0);
