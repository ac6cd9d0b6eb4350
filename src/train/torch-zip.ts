// Writes a state dict as torch.save does (the zip format of PyTorch >= 1.6): `archive/data.pkl`, a pickle
// (protocol 2) of an OrderedDict whose values are `torch._utils._rebuild_tensor_v2(storage, 0, size, stride,
// False, OrderedDict())` with each storage a persistent id ('storage', torch.FloatStorage, key, 'cpu', numel),
// the raw little-endian storages in `archive/data/<key>`, and `archive/version`. open_clip v2.24.0 reads its
// weights with torch.load only (`factory.load_state_dict`), so a trained folder carries this
// `open_clip_pytorch_model.bin` beside the safetensors file. Only float32 tensors are written.
// References: Python's pickletools opcode table; PKWARE APPNOTE 6.3 (stored entries, no ZIP64: < 4 GiB).
import type { StateDict } from '../checkpoint/types.ts';
import { crc32 } from '../checkpoint/zip.ts';
import { UnsupportedError } from '../errors.ts';

class PickleWriter {
  private parts: number[] = [];
  private bytes(b: ArrayLike<number>) {
    for (let i = 0; i < b.length; i++) this.parts.push(b[i]!);
  }
  op(code: string) {
    this.parts.push(code.charCodeAt(0));
  }
  global(module: string, name: string) {
    this.op('c'); // GLOBAL
    this.bytes(new TextEncoder().encode(`${module}\n${name}\n`));
  }
  str(s: string) {
    const b = new TextEncoder().encode(s);
    this.op('X'); // BINUNICODE
    this.u32(b.length);
    this.bytes(b);
  }
  int(v: number) {
    if (v >= 0 && v < 256) {
      this.op('K'); // BININT1
      this.parts.push(v);
    } else if (v >= -(2 ** 31) && v < 2 ** 31) {
      this.op('J'); // BININT
      this.u32(v >>> 0);
    } else throw new UnsupportedError(`pickle: integer ${v} out of range`);
  }
  ints(vs: number[]) {
    this.op('('); // MARK
    for (const v of vs) this.int(v);
    this.op('t'); // TUPLE
  }
  private u32(v: number) {
    this.parts.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/**
 * torch.save(state_dict) bytes for float32 tensors.
 * @example torch.load(io.BytesIO(bytes)) in Python gives an OrderedDict of the same tensors
 */
export function writeTorchZip(sd: StateDict, archive = 'archive'): Uint8Array {
  const p = new PickleWriter();
  p.op('\x80'); // PROTO 2
  p.op('\x02');
  const storages: Array<[string, Uint8Array]> = [];
  p.global('collections', 'OrderedDict');
  p.op(')'); // EMPTY_TUPLE
  p.op('R'); // REDUCE
  p.op('('); // MARK
  let key = 0;
  for (const [name, t] of sd) {
    if (!(t.data instanceof Float32Array)) throw new UnsupportedError(`torch .bin writer: '${name}' is ${t.dtype}, only float32 is written`);
    const k = String(key++);
    storages.push([k, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)]);
    const stride = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * b, 1));
    p.str(name);
    p.global('torch._utils', '_rebuild_tensor_v2');
    p.op('('); // MARK: the argument tuple
    p.op('('); // MARK: the persistent id tuple
    p.str('storage');
    p.global('torch', 'FloatStorage');
    p.str(k);
    p.str('cpu');
    p.int(t.data.length);
    p.op('t');
    p.op('Q'); // BINPERSID
    p.int(0);
    p.ints(t.shape);
    p.ints(stride);
    p.op('\x89'); // NEWFALSE
    p.global('collections', 'OrderedDict');
    p.op(')');
    p.op('R');
    p.op('t');
    p.op('R');
  }
  p.op('u'); // SETITEMS
  p.op('.'); // STOP
  const files: Array<[string, Uint8Array]> = [
    [`${archive}/data.pkl`, p.finish()],
    [`${archive}/byteorder`, new TextEncoder().encode('little')],
    ...storages.map(([k, b]): [string, Uint8Array] => [`${archive}/data/${k}`, b]),
    [`${archive}/version`, new TextEncoder().encode('3\n')],
  ];
  return zipStored(files);
}

/** A ZIP of stored (uncompressed) entries, each data start aligned to 64 bytes as torch.save aligns them. */
function zipStored(files: Array<[string, Uint8Array]>): Uint8Array {
  const chunks: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  const enc = new TextEncoder();
  for (const [name, data] of files) {
    const nameBytes = enc.encode(name);
    const base = offset + 30 + nameBytes.length;
    const pad = (64 - ((base + 4) % 64)) % 64;
    const extraLen = 4 + pad; // one padding extra field (id 0x4655, as PyTorch's writer uses 'FB')
    const crc = crc32(data);
    const local = new Uint8Array(30 + nameBytes.length + extraLen);
    const dv = new DataView(local.buffer);
    dv.setUint32(0, 0x04034b50, true);
    dv.setUint16(4, 20, true);
    dv.setUint16(6, 0, true);
    dv.setUint16(8, 0, true); // stored
    dv.setUint32(14, crc, true);
    dv.setUint32(18, data.length, true);
    dv.setUint32(22, data.length, true);
    dv.setUint16(26, nameBytes.length, true);
    dv.setUint16(28, extraLen, true);
    local.set(nameBytes, 30);
    dv.setUint16(30 + nameBytes.length, 0x4655, true);
    dv.setUint16(32 + nameBytes.length, pad, true);
    const c = new Uint8Array(46 + nameBytes.length);
    const cv = new DataView(c.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, data.length, true);
    cv.setUint32(24, data.length, true);
    cv.setUint16(28, nameBytes.length, true);
    cv.setUint32(42, offset, true);
    c.set(nameBytes, 46);
    central.push(c);
    chunks.push(local, data);
    offset += local.length + data.length;
  }
  const cdSize = central.reduce((n, c) => n + c.length, 0);
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, files.length, true);
  ev.setUint16(10, files.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  const out = new Uint8Array(offset + cdSize + 22);
  let pos = 0;
  for (const c of [...chunks, ...central, eocd]) {
    out.set(c, pos);
    pos += c.length;
  }
  return out;
}
