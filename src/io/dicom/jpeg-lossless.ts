// JPEG lossless (ITU-T T.81 Annex H, process 14; DICOM 1.2.840.10008.1.2.4.57 and .70 = first-order
// prediction, selection value 1): Huffman-coded differences from a predictor over the left, upper and
// upper-left samples, with an optional point transform. The cornerstone libjpeg-turbo build has no lossless
// decoder, so this is written from the standard.
import { DecodeError } from '../../errors.ts';

interface Huffman {
  /** codes of each length 1..16, canonical: lookup by (length, code) */
  maxCode: Int32Array;
  valPtr: Int32Array;
  minCode: Int32Array;
  values: Uint8Array;
}

function buildHuffman(counts: Uint8Array, values: Uint8Array): Huffman {
  const maxCode = new Int32Array(18).fill(-1);
  const minCode = new Int32Array(17);
  const valPtr = new Int32Array(17);
  let code = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    valPtr[len] = k;
    minCode[len] = code;
    code += counts[len - 1]!;
    k += counts[len - 1]!;
    maxCode[len] = counts[len - 1]! ? code - 1 : -1;
    code <<= 1;
  }
  maxCode[17] = 0x7fffffff;
  return { maxCode, valPtr, minCode, values };
}

export interface LosslessImage {
  width: number;
  height: number;
  components: number;
  precision: number;
  /** [height, width, components] */
  data: Uint16Array;
}

/**
 * Decode a JPEG lossless (process 14) stream.
 * @example decodeJpegLossless(fragmentBytes, 'ct.dcm').data.length // rows * columns * components
 */
export function decodeJpegLossless(b: Uint8Array, file: string): LosslessImage {
  const fail = (why: string): never => { throw new DecodeError(`JPEG lossless: ${why}`, { file }); };
  const tables = new Map<number, Huffman>();
  let width = 0, height = 0, precision = 0, restart = 0;
  const compIds: number[] = [];
  let pos = 0;
  const u16 = (p: number) => (p + 1 < b.length ? (b[p]! << 8) | b[p + 1]! : fail('truncated marker segment'));
  if (u16(0) !== 0xffd8) fail('no SOI marker');
  pos = 2;
  for (;;) {
    while (pos < b.length && b[pos] === 0xff && b[pos + 1] === 0xff) pos++;
    const marker = u16(pos);
    const len = u16(pos + 2);
    const seg = pos + 4;
    if (seg + len - 2 > b.length) fail(`marker ${marker.toString(16)} runs past the end`);
    if (marker === 0xffc3) {
      precision = b[seg]!;
      height = u16(seg + 1);
      width = u16(seg + 3);
      const n = b[seg + 5]!;
      for (let c = 0; c < n; c++) {
        compIds.push(b[seg + 6 + 3 * c]!);
        if (b[seg + 7 + 3 * c] !== 0x11) fail('subsampled components are not supported');
      }
    } else if (marker === 0xffc4) {
      let p = seg;
      while (p < seg + len - 2) {
        const id = b[p]!;
        const counts = b.subarray(p + 1, p + 17);
        const total = counts.reduce((a, c) => a + c, 0);
        tables.set(id & 0x0f, buildHuffman(counts, b.subarray(p + 17, p + 17 + total)));
        p += 17 + total;
      }
    } else if (marker === 0xffdd) {
      restart = u16(seg);
    } else if (marker === 0xffda) {
      const ns = b[seg]!;
      const scanTables: Huffman[] = [];
      for (let c = 0; c < ns; c++) {
        const t = tables.get(b[seg + 2 + 2 * c]! >> 4);
        if (!t) fail('scan names a Huffman table that was not defined');
        scanTables.push(t!);
      }
      const predictor = b[seg + 1 + 2 * ns]!;
      const pt = b[seg + 3 + 2 * ns]! & 0x0f;
      if (!width || !height) fail('no SOF3 frame header before the scan (not a lossless JPEG?)');
      if (ns !== compIds.length) fail('multi-scan images are not supported');
      if (predictor < 1 || predictor > 7) fail(`predictor ${predictor}`);
      return { width, height, components: ns, precision, data: decodeScan(b, seg + len - 2, width, height, scanTables, predictor, pt, precision, restart, fail) };
    } else if (marker === 0xffd9) {
      fail('no scan before EOI');
    } else if ((marker & 0xfff0) === 0xffc0 && marker !== 0xffc4 && marker !== 0xffc8 && marker !== 0xffcc) {
      fail(`frame type ${marker.toString(16)} is not lossless (SOF3)`);
    }
    pos = seg + len - 2;
  }
}

function decodeScan(
  b: Uint8Array, start: number, width: number, height: number, huff: Huffman[], predictor: number, pt: number, precision: number,
  restart: number, fail: (why: string) => never,
): Uint16Array {
  const nc = huff.length;
  const out = new Uint16Array(width * height * nc);
  let pos = start;
  let bits = 0;
  let nbits = 0;
  const readBit = (): number => {
    if (nbits === 0) {
      if (pos >= b.length) fail('entropy-coded data ends early');
      let byte = b[pos++]!;
      if (byte === 0xff) {
        const next = b[pos]!;
        if (next === 0) pos++;
        else if (next >= 0xd0 && next <= 0xd7) fail('restart marker out of place');
        else byte = 0xff; // a marker: let the decoder run out of data on the next read
      }
      bits = byte;
      nbits = 8;
    }
    nbits--;
    return (bits >> nbits) & 1;
  };
  const decode = (h: Huffman): number => {
    let code = readBit();
    let len = 1;
    while (code > h.maxCode[len]!) {
      code = (code << 1) | readBit();
      if (++len > 16) fail('invalid Huffman code');
    }
    return h.values[h.valPtr[len]! + code - h.minCode[len]!] ?? fail('Huffman value out of range');
  };
  const diffOf = (t: number): number => {
    if (t === 0) return 0;
    if (t === 16) return 32768;
    let v = 0;
    for (let i = 0; i < t; i++) v = (v << 1) | readBit();
    return v < 1 << (t - 1) ? v - (1 << t) + 1 : v;
  };
  const initial = 1 << (precision - pt - 1);
  let sinceRestart = 0;
  let lineStart = 0; // first line after a (re)start uses the first-line rule
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (restart && sinceRestart === restart) {
        // align to the byte and skip the RSTn marker
        nbits = 0;
        while (pos < b.length && !(b[pos] === 0xff && b[pos + 1]! >= 0xd0 && b[pos + 1]! <= 0xd7)) pos++;
        pos += 2;
        sinceRestart = 0;
        lineStart = y;
      }
      const restartAt = sinceRestart === 0;
      for (let c = 0; c < nc; c++) {
        const i = (y * width + x) * nc + c;
        const ra = x > 0 ? out[i - nc]! : 0;
        const rb = y > 0 ? out[i - width * nc]! : 0;
        const rc = x > 0 && y > 0 ? out[i - width * nc - nc]! : 0;
        let p: number;
        if (restartAt || (y === lineStart && x === 0)) p = initial;
        else if (y === lineStart) p = ra;
        else if (x === 0) p = rb;
        else p = [0, ra, rb, rc, ra + rb - rc, ra + ((rb - rc) >> 1), rb + ((ra - rc) >> 1), (ra + rb) >> 1][predictor]!;
        out[i] = (p + diffOf(decode(huff[c]!))) & 0xffff;
      }
      sinceRestart++;
    }
  }
  if (pt) for (let i = 0; i < out.length; i++) out[i] = (out[i]! << pt) & 0xffff;
  return out;
}
