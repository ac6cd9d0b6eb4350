// Test helper: a minimal torch.save-compatible writer (pickle protocol 2 inside a stored ZIP with CRC-32),
// for float32/float16 state dicts, plus the raw pieces (PickleWriter, writeZip) so tests can build odd or
// malicious archives. Verified against torch.load by test/fixtures/checkpoint/check-torch-writer.py.
// Reference: PKWARE APPNOTE.TXT 6.3; CPython Lib/pickletools.py opcode descriptions.

import { deflateRawSync } from 'node:zlib';
import { crc32 } from '../../src/checkpoint/zip.ts';
import { floatToHalf, numel } from '../../src/checkpoint/dtype.ts';
import type { StateDict } from '../../src/checkpoint/types.ts';

/** Appends pickle opcodes; each method returns `this` so a pickle reads top to bottom. */
export class PickleWriter {
  private parts: number[] = [];
  private enc = new TextEncoder();
  op(...bytes: number[]): this { this.parts.push(...bytes); return this; }
  proto(v = 2): this { return this.op(0x80, v); }
  mark(): this { return this.op(0x28); }
  str(s: string): this {
    const b = this.enc.encode(s);
    this.op(0x58, b.length & 0xff, (b.length >> 8) & 0xff, (b.length >> 16) & 0xff, b.length >>> 24);
    this.parts.push(...b);
    return this;
  }
  int(v: number): this {
    if (v >= 0 && v < 256) return this.op(0x4b, v);
    if (v >= 0 && v < 65536) return this.op(0x4d, v & 0xff, v >> 8);
    if (v >= -(2 ** 31) && v < 2 ** 31) return this.op(0x4a, v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff);
    throw new RangeError(`int ${v} needs LONG1, which this writer does not emit`);
  }
  /** GLOBAL opcode: `module\nname\n`, the protocol 2 form torch writes. */
  global(module: string, name: string): this { this.parts.push(0x63, ...this.enc.encode(`${module}\n${name}\n`)); return this; }
  /** STACK_GLOBAL form (protocol 4), module and name taken from the stack. */
  stackGlobal(module: string, name: string): this { return this.str(module).str(name).op(0x93); }
  tuple(): this { return this.op(0x74); }
  intTuple(vs: number[]): this { this.mark(); for (const v of vs) this.int(v); return this.tuple(); }
  emptyTuple(): this { return this.op(0x29); }
  reduce(): this { return this.op(0x52); }
  stop(): this { return this.op(0x2e); }
  bytes(): Uint8Array { return new Uint8Array(this.parts); }
}

export interface ZipOptions {
  /** Deflate every entry (torch itself stores; other zip tools deflate). */
  deflate?: boolean;
  /** Write ZIP64 central-directory fields and end records, as torch does for archives past 4 GiB. */
  zip64?: boolean;
}

/** Write a ZIP with CRC-32; stored data is 64-byte aligned through a padding extra field as torch does. */
export function writeZip(entries: Array<{ name: string; data: Uint8Array }>, options: ZipOptions = {}): Uint8Array {
  const enc = new TextEncoder();
  const chunks: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = enc.encode(e.name);
    const crc = crc32(e.data);
    const body = options.deflate ? new Uint8Array(deflateRawSync(e.data)) : e.data;
    const base = offset + 30 + name.length + 4;
    const pad = (64 - (base % 64)) % 64;
    const local = new Uint8Array(30 + name.length + 4 + pad);
    const dv = new DataView(local.buffer);
    dv.setUint32(0, 0x04034b50, true);
    dv.setUint16(4, 20, true);
    dv.setUint16(8, options.deflate ? 8 : 0, true);
    dv.setUint32(14, crc, true);
    dv.setUint32(18, body.length, true);
    dv.setUint32(22, e.data.length, true);
    dv.setUint16(26, name.length, true);
    dv.setUint16(28, 4 + pad, true);
    local.set(name, 30);
    dv.setUint16(30 + name.length, 0x4246, true); // 'FB' padding field
    dv.setUint16(32 + name.length, pad, true);
    const x64 = options.zip64 ? 28 : 0;
    const cd = new Uint8Array(46 + name.length + x64);
    const cdv = new DataView(cd.buffer);
    cdv.setUint32(0, 0x02014b50, true);
    cdv.setUint16(4, 45, true);
    cdv.setUint16(6, 45, true);
    cdv.setUint16(10, options.deflate ? 8 : 0, true);
    cdv.setUint32(16, crc, true);
    cdv.setUint32(20, options.zip64 ? 0xffffffff : body.length, true);
    cdv.setUint32(24, options.zip64 ? 0xffffffff : e.data.length, true);
    cdv.setUint16(28, name.length, true);
    cdv.setUint16(30, x64, true);
    cdv.setUint32(42, options.zip64 ? 0xffffffff : offset, true);
    cd.set(name, 46);
    if (options.zip64) {
      const x = 46 + name.length;
      cdv.setUint16(x, 0x0001, true);
      cdv.setUint16(x + 2, 24, true);
      cdv.setBigUint64(x + 4, BigInt(e.data.length), true);
      cdv.setBigUint64(x + 12, BigInt(body.length), true);
      cdv.setBigUint64(x + 20, BigInt(offset), true);
    }
    chunks.push(local, body);
    central.push(cd);
    offset += local.length + body.length;
  }
  const cdSize = central.reduce((s, c) => s + c.length, 0);
  const tail: Uint8Array[] = [];
  if (options.zip64) {
    const rec = new Uint8Array(56);
    const r = new DataView(rec.buffer);
    r.setUint32(0, 0x06064b50, true);
    r.setBigUint64(4, 44n, true);
    r.setUint16(12, 45, true);
    r.setUint16(14, 45, true);
    r.setBigUint64(24, BigInt(entries.length), true);
    r.setBigUint64(32, BigInt(entries.length), true);
    r.setBigUint64(40, BigInt(cdSize), true);
    r.setBigUint64(48, BigInt(offset), true);
    const loc = new Uint8Array(20);
    const l = new DataView(loc.buffer);
    l.setUint32(0, 0x07064b50, true);
    l.setBigUint64(8, BigInt(offset + cdSize), true);
    l.setUint32(16, 1, true);
    tail.push(rec, loc);
  }
  const eocd = new Uint8Array(22);
  const edv = new DataView(eocd.buffer);
  edv.setUint32(0, 0x06054b50, true);
  edv.setUint16(8, options.zip64 ? 0xffff : entries.length, true);
  edv.setUint16(10, options.zip64 ? 0xffff : entries.length, true);
  edv.setUint32(12, options.zip64 ? 0xffffffff : cdSize, true);
  edv.setUint32(16, options.zip64 ? 0xffffffff : offset, true);
  tail.push(eocd);
  const parts = [...chunks, ...central, ...tail];
  const out = new Uint8Array(parts.reduce((s, c) => s + c.length, 0));
  let p = 0;
  for (const c of parts) { out.set(c, p); p += c.length; }
  return out;
}

/** Wrap a data.pkl and storages into a torch.save zip (`<archive>/data.pkl`, `data/<key>`, `byteorder`, `version`). */
export function torchZip(pickle: Uint8Array, storages: Array<[string, Uint8Array]> = [], archive = 'archive', extra: Array<{ name: string; data: Uint8Array }> = [], zip: ZipOptions = {}): Uint8Array {
  const enc = new TextEncoder();
  return writeZip([
    { name: `${archive}/data.pkl`, data: pickle },
    { name: `${archive}/byteorder`, data: enc.encode('little') },
    ...storages.map(([k, d]) => ({ name: `${archive}/data/${k}`, data: d })),
    ...extra,
    { name: `${archive}/version`, data: enc.encode('3\n') },
  ], zip);
}

export interface TorchSaveOptions {
  /** Storage dtype for every tensor (default float32). */
  dtype?: 'float32' | 'float16';
  /** Nest the state dict as `{ epoch: 1, [wrap]: state_dict }`, as training scripts do. */
  wrap?: string;
  archive?: string;
  zip?: ZipOptions;
}

/**
 * Serialise a float state dict the way `torch.save(state_dict, f)` does (contiguous tensors, one storage each).
 * @example torchSave(new Map([['w', { dtype: 'float32', shape: [2], data: new Float32Array([1, 2]) }]]))
 */
export function torchSave(dict: StateDict, options: TorchSaveOptions = {}): Uint8Array {
  const dtype = options.dtype ?? 'float32';
  const w = new PickleWriter().proto(2);
  if (options.wrap) w.op(0x7d).mark().str('epoch').int(1).str(options.wrap);
  w.global('collections', 'OrderedDict').emptyTuple().reduce().mark();
  const storages: Array<[string, Uint8Array]> = [];
  let key = 0;
  for (const [name, t] of dict) {
    const n = numel(t.shape);
    const item = dtype === 'float16' ? 2 : 4;
    const buf = new Uint8Array(n * item);
    const dv = new DataView(buf.buffer);
    for (let i = 0; i < n; i++) {
      const v = Number(t.data[i]);
      if (dtype === 'float16') dv.setUint16(i * 2, floatToHalf(v), true);
      else dv.setFloat32(i * 4, v, true);
    }
    const k = String(key++);
    storages.push([k, buf]);
    const stride = t.shape.map((_, i) => numel(t.shape.slice(i + 1)));
    w.str(name).global('torch._utils', '_rebuild_tensor_v2').mark();
    w.mark().str('storage').global('torch', dtype === 'float16' ? 'HalfStorage' : 'FloatStorage').str(k).str('cpu').int(n).tuple().op(0x51);
    w.int(0).intTuple(t.shape).intTuple(stride).op(0x89);
    w.global('collections', 'OrderedDict').emptyTuple().reduce();
    w.tuple().reduce();
  }
  w.op(0x75); // SETITEMS
  if (options.wrap) w.op(0x75);
  w.stop();
  return torchZip(w.bytes(), storages, options.archive, [], options.zip);
}
