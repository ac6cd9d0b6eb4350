// Sequential DCT JPEG with Huffman coding, 8 and 12 bits (ITU-T T.81 Annex F: baseline, process 1, and
// extended, processes 2 and 4), written from the standard for what the libjpeg-turbo codec cannot do: 12-bit
// samples (CT and MR written with transfer syntax 1.2.840.10008.1.2.4.51) and colour JPEG whose components
// are R, G and B, decoded without any colour transform (PS3.5 8.2.1: the Photometric Interpretation names
// the colour space of the compressed components). Output: samples [rows, columns, components] interleaved,
// at full resolution (subsampled components upsampled with libjpeg's "fancy" triangle filter, as the
// reference's GDCM/libjpeg does).
import { DecodeError, UnsupportedError } from '../../errors.ts';

interface Component { id: number; h: number; v: number; tq: number; blocksPerLine: number; blocksPerColumn: number; coeffs: Int32Array; pred: number; dc?: Huffman; ac?: Huffman }
/** Huffman decoding table: for every 16-bit look-ahead, (code length << 8) | value; 0 where no code starts. */
type Huffman = Uint16Array;
export interface DctImage { width: number; height: number; components: number; precision: number; data: Uint16Array }

const ZIGZAG = Int32Array.from([0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63]);
/** Huffman table (T.81 C.2): every 16-bit prefix that starts with a code maps to its length and value. */
function buildHuffman(counts: Uint8Array, values: Uint8Array): Huffman {
  const lut = new Uint16Array(65536);
  let code = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    for (let i = 0; i < counts[len - 1]!; i++) {
      if (code >= 1 << len) return lut; // an over-full table: the codes that fit are kept
      const base = code << (16 - len);
      lut.fill((len << 8) | values[k++]!, base, base + (1 << (16 - len)));
      code++;
    }
    code <<= 1;
  }
  return lut;
}

class BitReader {
  private acc = 0;
  private count = 0;
  constructor(private readonly b: Uint8Array, public pos: number, private readonly file: string) {}
  /** Top the buffer up to 17-24 bits; past the data (a marker or the end) it pads zeros, as libjpeg does. */
  private fill(): void {
    while (this.count <= 16) {
      let byte = 0;
      if (this.pos < this.b.length) {
        byte = this.b[this.pos]!;
        if (byte !== 0xff) this.pos++;
        else if (this.b[this.pos + 1] === 0) this.pos += 2; // a stuffed zero byte (T.81 F.1.2.3)
        else byte = 0; // a marker: stay before it
      }
      this.acc = (this.acc << 8) | byte;
      this.count += 8;
    }
  }
  receive(n: number): number {
    if (n === 0) return 0;
    this.fill();
    this.count -= n;
    const v = (this.acc >>> this.count) & ((1 << n) - 1);
    this.acc &= (1 << this.count) - 1;
    return v;
  }
  decode(h: Huffman): number {
    this.fill();
    const e = h[(this.acc >>> (this.count - 16)) & 0xffff]!;
    if (e === 0) throw new DecodeError('JPEG: invalid Huffman code', { file: this.file });
    this.count -= e >> 8;
    this.acc &= (1 << this.count) - 1;
    return e & 0xff;
  }
  /** Skip to the next RSTn marker (T.81 F.1.2.3), dropping the bits left in the buffer. */
  restart(): void {
    this.count = 0;
    this.acc = 0;
    while (this.pos + 1 < this.b.length && !(this.b[this.pos] === 0xff && this.b[this.pos + 1]! >= 0xd0 && this.b[this.pos + 1]! <= 0xd7)) this.pos++;
    this.pos += 2;
  }
}

/** T.81 F.2.2.1: the additional bits of a magnitude category to a signed value. */
const extend = (v: number, t: number) => (t === 0 ? 0 : v < 1 << (t - 1) ? v - (1 << t) + 1 : v);

/**
 * Decode one sequential Huffman DCT JPEG stream (8 or 12 bits). `transform` converts YCbCr to RGB as libjpeg
 * does; leave it off for components that are already R, G, B.
 */
export function decodeJpegDct(b: Uint8Array, file: string, transform: boolean | 'auto', expect?: { width: number; height: number }): DctImage {
  if (b[0] !== 0xff || b[1] !== 0xd8) throw new DecodeError('JPEG stream does not start with SOI', { file });
  const qt: Int32Array[] = [];
  const dcTables: Huffman[] = [];
  const acTables: Huffman[] = [];
  let frame: { precision: number; height: number; width: number; comps: Component[]; hmax: number; vmax: number; mcusX: number; mcusY: number } | undefined;
  let restartInterval = 0;
  let adobeTransform: number | undefined;
  let pos = 2;
  const u16 = (p: number) => (b[p]! << 8) | b[p + 1]!;
  while (pos + 4 <= b.length) {
    if (b[pos] !== 0xff) { pos++; continue; }
    const m = b[pos + 1]!;
    if (m === 0xff) { pos++; continue; }
    if (m === 0xd9) break;
    const len = u16(pos + 2);
    const seg = pos + 4;
    const end = pos + 2 + len;
    if (end > b.length) throw new DecodeError(`JPEG marker FF${m.toString(16).toUpperCase()} runs past the end of the stream`, { file });
    if (m === 0xdb) {
      for (let p = seg; p < end; ) {
        const pq = b[p]! >> 4;
        const t = new Int32Array(64);
        for (let i = 0; i < 64; i++) t[ZIGZAG[i]!] = pq ? u16(p + 1 + 2 * i) : b[p + 1 + i]!;
        qt[b[p]! & 15] = t;
        p += 1 + (pq ? 128 : 64);
      }
    } else if (m === 0xc4) {
      for (let p = seg; p < end; ) {
        const counts = b.subarray(p + 1, p + 17);
        const n = counts.reduce((s, c) => s + c, 0);
        const table = buildHuffman(counts, b.subarray(p + 17, p + 17 + n));
        (b[p]! >> 4 ? acTables : dcTables)[b[p]! & 15] = table;
        p += 17 + n;
      }
    } else if (m === 0xdd) {
      restartInterval = u16(seg);
    } else if (m === 0xee && len >= 14 && String.fromCharCode(...b.subarray(seg, seg + 5)) === 'Adobe') {
      adobeTransform = b[seg + 11];
    } else if (m === 0xc0 || m === 0xc1) {
      const precision = b[seg]!;
      if (precision !== 8 && precision !== 12) throw new UnsupportedError(`JPEG sample precision ${precision}`, { file });
      const height = u16(seg + 1);
      const width = u16(seg + 3);
      const n = b[seg + 5]!;
      if (!height || !width || !n || n > 4) throw new DecodeError(`JPEG frame of ${width}x${height}x${n}`, { file });
      // compare the stream's size claim with the data set's before allocating anything for it
      if (expect && (width !== expect.width || height !== expect.height)) throw new DecodeError(`JPEG stream is ${width}x${height}, the data set says ${expect.width}x${expect.height}`, { file });
      const raw = Array.from({ length: n }, (_, k) => ({ id: b[seg + 6 + 3 * k]!, h: b[seg + 7 + 3 * k]! >> 4, v: b[seg + 7 + 3 * k]! & 15, tq: b[seg + 8 + 3 * k]! }));
      if (raw.some((c) => c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4)) throw new DecodeError('JPEG sampling factors outside 1-4', { file });
      const hmax = Math.max(...raw.map((c) => c.h));
      const vmax = Math.max(...raw.map((c) => c.v));
      const mcusX = Math.ceil(width / (8 * hmax));
      const mcusY = Math.ceil(height / (8 * vmax));
      const comps = raw.map((c) => {
        const blocksPerLine = mcusX * c.h;
        const blocksPerColumn = mcusY * c.v;
        return { ...c, blocksPerLine, blocksPerColumn, coeffs: new Int32Array(blocksPerLine * blocksPerColumn * 64), pred: 0 };
      });
      frame = { precision, height, width, comps, hmax, vmax, mcusX, mcusY };
    } else if (m >= 0xc2 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      throw new UnsupportedError(`JPEG process of marker FF${m.toString(16).toUpperCase()} (progressive, lossless or arithmetic) in the DCT decoder`, { file });
    } else if (m === 0xda) {
      if (!frame) throw new DecodeError('JPEG scan before its frame header', { file });
      const ns = b[seg]!;
      const scomps = Array.from({ length: ns }, (_, k) => {
        const c = frame!.comps.find((x) => x.id === b[seg + 1 + 2 * k]);
        if (!c) throw new DecodeError('JPEG scan names a component the frame lacks', { file });
        c.dc = dcTables[b[seg + 2 + 2 * k]! >> 4];
        c.ac = acTables[b[seg + 2 + 2 * k]! & 15];
        if (!c.dc || !c.ac || !qt[c.tq]) throw new DecodeError('JPEG scan uses an undefined Huffman or quantisation table', { file });
        c.pred = 0;
        return c;
      });
      pos = decodeScan(b, end, frame, scomps, restartInterval, file);
      continue;
    }
    pos = end;
  }
  if (!frame) throw new DecodeError('JPEG stream has no frame header', { file });
  // 'auto' decides as libjpeg does (jdapimin.c): an Adobe marker's transform flag, else components named
  // 'R', 'G', 'B' are RGB, else three components are YCbCr
  const rgbIds = frame.comps.map((c) => c.id).join() === '82,71,66';
  const ycc = transform === 'auto' ? (adobeTransform !== undefined ? adobeTransform !== 0 : !rgbIds) : transform;
  return output(frame, qt, ycc, file);
}

function decodeBlock(r: BitReader, c: Component, offset: number): void {
  const t = r.decode(c.dc!);
  c.pred += extend(r.receive(t), t);
  c.coeffs[offset] = c.pred;
  for (let k = 1; k < 64; ) {
    const rs = r.decode(c.ac!);
    const s = rs & 15;
    const run = rs >> 4;
    if (s === 0) {
      if (run < 15) break; // end of block
      k += 16;
      continue;
    }
    k += run;
    if (k > 63) break;
    c.coeffs[offset + ZIGZAG[k]!] = extend(r.receive(s), s);
    k++;
  }
}

function decodeScan(b: Uint8Array, start: number, f: NonNullable<Parameters<typeof output>[0]>, comps: Component[], ri: number, file: string): number {
  const r = new BitReader(b, start, file);
  const single = comps.length === 1;
  const c0 = comps[0]!;
  // a single-component scan covers the component's own blocks, not whole MCUs (T.81 A.2.2)
  const bx = single ? Math.ceil(Math.ceil((f.width * c0.h) / f.hmax) / 8) : f.mcusX;
  const by = single ? Math.ceil(Math.ceil((f.height * c0.v) / f.vmax) / 8) : f.mcusY;
  const total = bx * by;
  for (let n = 0; n < total; n++) {
    if (ri && n > 0 && n % ri === 0) {
      r.restart();
      for (const c of comps) c.pred = 0;
    }
    const mx = n % bx;
    const my = Math.floor(n / bx);
    if (single) decodeBlock(r, c0, (my * c0.blocksPerLine + mx) * 64);
    else {
      for (const c of comps) {
        for (let v = 0; v < c.v; v++) for (let h = 0; h < c.h; h++) decodeBlock(r, c, ((my * c.v + v) * c.blocksPerLine + mx * c.h + h) * 64);
      }
    }
  }
  // find the next marker that is not a restart
  let p = r.pos;
  while (p + 1 < b.length && !(b[p] === 0xff && b[p + 1] !== 0 && !(b[p + 1]! >= 0xd0 && b[p + 1]! <= 0xd7) && b[p + 1] !== 0xff)) p++;
  return p;
}

// The inverse DCT as libjpeg's "islow" (jidctint.c: the Loeffler-Ligtenberg-Moschytz factorisation in
// 13-bit fixed point, PASS1_BITS 2 for 8-bit and 1 for 12-bit samples), so that samples equal what libjpeg,
// libjpeg-turbo (GDCM, libvips, OpenSlide, Pillow) decode; T.81 A.3.3 defines the transform it approximates.
const F = { c0298: 2446, c0390: 3196, c0541: 4433, c0765: 6270, c0899: 7373, c1175: 9633, c1501: 12299, c1847: 15137, c1961: 16069, c2053: 16819, c2562: 20995, c3072: 25172 };
const CONST_BITS = 13;

const WS = new Float64Array(64);

/**
 * One 1-D pass of jidctint.c on (d0..d7): results descaled by `shift` bits, written to out[base + k * step];
 * with `clamp` the level shift `center` is added and the sample clamped to [0, max].
 */
function butterfly(d0: number, d1: number, d2: number, d3: number, d4: number, d5: number, d6: number, d7: number, shift: number, out: Float64Array | Int32Array, base: number, step: number, clamp: boolean, center: number, max: number): void {
  // even part
  let z1 = (d2 + d6) * F.c0541;
  const t2 = z1 - d6 * F.c1847;
  const t3 = z1 + d2 * F.c0765;
  const t0 = (d0 + d4) * 8192; // << CONST_BITS
  const t1 = (d0 - d4) * 8192;
  const t10 = t0 + t3;
  const t13 = t0 - t3;
  const t11 = t1 + t2;
  const t12 = t1 - t2;
  // odd part
  z1 = d7 + d1;
  const z2 = d5 + d3;
  let z3 = d7 + d3;
  let z4 = d5 + d1;
  const z5 = (z3 + z4) * F.c1175;
  z3 = z3 * -F.c1961 + z5;
  z4 = z4 * -F.c0390 + z5;
  const o0 = d7 * F.c0298 + z1 * -F.c0899 + z3;
  const o1 = d5 * F.c2053 + z2 * -F.c2562 + z4;
  const o2 = d3 * F.c3072 + z2 * -F.c2562 + z3;
  const o3 = d1 * F.c1501 + z1 * -F.c0899 + z4;
  const v = [t10 + o3, t11 + o2, t12 + o1, t13 + o0, t13 - o0, t12 - o1, t11 - o2, t10 - o3];
  const half = 2 ** (shift - 1);
  const div = 2 ** shift;
  for (let k = 0; k < 8; k++) {
    const x = Math.floor((v[k]! + half) / div);
    out[base + k * step] = clamp ? Math.min(max, Math.max(0, x + center)) : x;
  }
}

/** One 8x8 block of dequantised coefficients (row-major, in `blk`) to samples written into `out` at `at`, row stride `stride`. */
function idctIslow(blk: Float64Array, pass1: number, center: number, max: number, out: Int32Array, at: number, stride: number): void {
  const ws = WS;
  for (let x = 0; x < 8; x++) {
    if (blk[8 + x] === 0 && blk[16 + x] === 0 && blk[24 + x] === 0 && blk[32 + x] === 0 && blk[40 + x] === 0 && blk[48 + x] === 0 && blk[56 + x] === 0) {
      const dc = blk[x]! * 2 ** pass1;
      for (let k = 0; k < 8; k++) ws[k * 8 + x] = dc;
      continue;
    }
    butterfly(blk[x]!, blk[8 + x]!, blk[16 + x]!, blk[24 + x]!, blk[32 + x]!, blk[40 + x]!, blk[48 + x]!, blk[56 + x]!, CONST_BITS - pass1, ws, x, 8, false, 0, 0);
  }
  for (let y = 0; y < 8; y++) {
    const r = y * 8;
    butterfly(ws[r]!, ws[r + 1]!, ws[r + 2]!, ws[r + 3]!, ws[r + 4]!, ws[r + 5]!, ws[r + 6]!, ws[r + 7]!, CONST_BITS + pass1 + 3, out, at + y * stride, 1, true, center, max);
  }
}

/** Dequantise, inverse DCT, level shift, upsample, and optionally YCbCr to RGB. */
function output(f: { precision: number; height: number; width: number; comps: Component[]; hmax: number; vmax: number; mcusX: number; mcusY: number }, qt: Int32Array[], transform: boolean, file: string): DctImage {
  const max = (1 << f.precision) - 1;
  const shift = 1 << (f.precision - 1);
  const tmp = new Float64Array(64);
  const planes = f.comps.map((c) => {
    const w = c.blocksPerLine * 8;
    const h = c.blocksPerColumn * 8;
    const plane = new Int32Array(w * h);
    const q = qt[c.tq];
    if (!q) throw new DecodeError(`JPEG quantisation table ${c.tq} is not defined`, { file });
    const pass1 = f.precision === 8 ? 2 : 1;
    for (let by = 0; by < c.blocksPerColumn; by++) {
      for (let bx = 0; bx < c.blocksPerLine; bx++) {
        const o = (by * c.blocksPerLine + bx) * 64;
        for (let i = 0; i < 64; i++) tmp[i] = c.coeffs[o + i]! * q[i]!;
        idctIslow(tmp, pass1, shift, max, plane, (by * 8) * w + bx * 8, w);
      }
    }
    // the component's true size (T.81 A.1.1), its edge replicated past it as libjpeg pads
    return { plane, w, cw: Math.ceil((f.width * c.h) / f.hmax), ch: Math.ceil((f.height * c.v) / f.vmax), c };
  });
  const n = f.comps.length;
  const data = new Uint16Array(f.width * f.height * n);
  planes.forEach(({ plane, w, cw, ch, c }, k) => {
    const up = upsample(plane, w, cw, ch, f.hmax / c.h, f.vmax / c.v, f.width, f.height, file);
    for (let i = 0; i < f.width * f.height; i++) data[i * n + k] = up[i]!;
  });
  if (transform && n === 3) ycbcrToRgb(data, f.precision);
  return { width: f.width, height: f.height, components: n, precision: f.precision, data };
}

/** Full-resolution samples of a component; 2x horizontal and 2x2 use libjpeg's triangle ("fancy") filter. */
function upsample(p: Int32Array, stride: number, cw: number, ch: number, fx: number, fy: number, width: number, height: number, file: string): Int32Array {
  const out = new Int32Array(width * height);
  const at = (x: number, y: number) => p[Math.min(y, ch - 1) * stride + Math.min(x, cw - 1)]!;
  if (fx === 1 && fy === 1) {
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) out[y * width + x] = at(x, y);
    return out;
  }
  if (fx === 2 && (fy === 1 || fy === 2)) {
    // jdsample.c h2v1/h2v2_fancy_upsample: vertical 3:1 blend with the nearer neighbour row, then horizontal
    for (let y = 0; y < height; y++) {
      const iy = fy === 2 ? y >> 1 : y;
      const ny = fy === 2 ? (y & 1 ? Math.min(iy + 1, ch - 1) : Math.max(iy - 1, 0)) : iy;
      const col = (x: number) => (fy === 2 ? at(x, iy) * 3 + at(x, ny) : at(x, iy));
      const [bias0, bias1, scale] = fy === 2 ? [8, 7, 4] : [1, 2, 2];
      for (let x = 0; x < width; x++) {
        const ix = x >> 1;
        const here = col(ix);
        let v: number;
        if (x & 1) v = ix + 1 < cw ? here * 3 + col(ix + 1) + bias1 : here * 4 + bias1;
        else v = ix > 0 ? here * 3 + col(ix - 1) + bias0 : here * 4 + bias0;
        out[y * width + x] = v >> scale;
      }
    }
    return out;
  }
  if (!Number.isInteger(fx) || !Number.isInteger(fy)) throw new UnsupportedError(`JPEG sampling ratio ${fx}x${fy}`, { file });
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) out[y * width + x] = at(Math.floor(x / fx), Math.floor(y / fy));
  return out;
}

/** YCbCr to RGB with libjpeg's fixed-point tables (jdcolor.c, 16 fractional bits). */
function ycbcrToRgb(d: Uint16Array, precision: number): void {
  const center = 1 << (precision - 1);
  const max = (1 << precision) - 1;
  const fix = (x: number) => Math.round(x * 65536);
  const half = 1 << 15;
  for (let i = 0; i < d.length; i += 3) {
    const y = d[i]!;
    const cb = d[i + 1]! - center;
    const cr = d[i + 2]! - center;
    const r = y + ((fix(1.402) * cr + half) >> 16);
    const g = y + ((-fix(0.34414) * cb - fix(0.71414) * cr + half) >> 16);
    const bl = y + ((fix(1.772) * cb + half) >> 16);
    d[i] = Math.min(max, Math.max(0, r));
    d[i + 1] = Math.min(max, Math.max(0, g));
    d[i + 2] = Math.min(max, Math.max(0, bl));
  }
}
