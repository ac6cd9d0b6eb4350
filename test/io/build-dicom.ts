// Small DICOM files built in memory for the hostile-input tests: a PS3.10 preamble and meta group, then a data
// set in explicit VR little endian. Only what the tests need; values are written exactly as given.

export interface El {
  /** group, element */
  tag: [number, number];
  vr: string;
  /** a string (padded to even length), US values, or raw bytes */
  value: string | number[] | Uint8Array;
  /** write the length as 0xFFFFFFFF (undefined length) and append a sequence delimiter */
  undefinedLength?: boolean;
}

const LONG_VRS = new Set(['OB', 'OW', 'OF', 'SQ', 'UT', 'UN']);

function valueBytes(e: El): Uint8Array {
  if (e.value instanceof Uint8Array) return e.value;
  if (typeof e.value === 'string') {
    const s = e.value.length % 2 ? e.value + (e.vr === 'UI' ? '\0' : ' ') : e.value;
    return Uint8Array.from(s, (c) => c.charCodeAt(0));
  }
  const out = new Uint8Array(2 * e.value.length);
  e.value.forEach((v, i) => new DataView(out.buffer).setUint16(2 * i, v, true));
  return out;
}

function element(e: El, implicit = false): Uint8Array {
  const v = valueBytes(e);
  const tail = e.undefinedLength ? Uint8Array.of(0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0) : new Uint8Array(0);
  if (implicit) {
    const head = new Uint8Array(8);
    const dv = new DataView(head.buffer);
    dv.setUint16(0, e.tag[0], true);
    dv.setUint16(2, e.tag[1], true);
    dv.setUint32(4, e.undefinedLength ? 0xffffffff : v.length, true);
    return concat([head, v, tail]);
  }
  const long = LONG_VRS.has(e.vr);
  const head = new Uint8Array(long ? 12 : 8);
  const dv = new DataView(head.buffer);
  dv.setUint16(0, e.tag[0], true);
  dv.setUint16(2, e.tag[1], true);
  head[4] = e.vr.charCodeAt(0);
  head[5] = e.vr.charCodeAt(1);
  if (long) dv.setUint32(8, e.undefinedLength ? 0xffffffff : v.length, true);
  else dv.setUint16(6, v.length, true);
  return concat([head, v, tail]);
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** One encapsulated pixel data item (FFFE,E000) holding `bytes`. */
export function item(bytes: Uint8Array): Uint8Array {
  const head = new Uint8Array(8);
  const dv = new DataView(head.buffer);
  dv.setUint16(0, 0xfffe, true);
  dv.setUint16(2, 0xe000, true);
  dv.setUint32(4, bytes.length, true);
  return concat([head, bytes]);
}

/**
 * A Part 10 file: preamble, "DICM", meta group with `transferSyntax`, then `elements` (sorted by tag), implicit VR
 * when the syntax is implicit VR little endian.
 */
export function dicomFile(elements: El[], transferSyntax = '1.2.840.10008.1.2.1'): Uint8Array {
  const meta = concat([
    element({ tag: [2, 1], vr: 'OB', value: Uint8Array.of(0, 1) }),
    element({ tag: [2, 2], vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.7' }),
    element({ tag: [2, 3], vr: 'UI', value: '1.2.3.4' }),
    element({ tag: [2, 0x10], vr: 'UI', value: transferSyntax }),
  ]);
  const groupLength = element({ tag: [2, 0], vr: 'UL', value: new Uint8Array(new Uint32Array([meta.length]).buffer) });
  const sorted = [...elements].sort((a, b) => a.tag[0] - b.tag[0] || a.tag[1] - b.tag[1]);
  return concat([new Uint8Array(128), Uint8Array.from('DICM', (c) => c.charCodeAt(0)), groupLength, meta, ...sorted.map((e) => element(e, transferSyntax === '1.2.840.10008.1.2'))]);
}

/** The Image Pixel Module of a greyscale image, plus `extra`. */
export function greyImage(o: { rows: number; columns: number; bits?: number; frames?: string; pixels: Uint8Array; undefinedLength?: boolean; vr?: string }, extra: El[] = []): El[] {
  const bits = o.bits ?? 8;
  const els: El[] = [
    { tag: [0x0028, 0x0002], vr: 'US', value: [1] },
    { tag: [0x0028, 0x0004], vr: 'CS', value: 'MONOCHROME2' },
    { tag: [0x0028, 0x0010], vr: 'US', value: [o.rows] },
    { tag: [0x0028, 0x0011], vr: 'US', value: [o.columns] },
    { tag: [0x0028, 0x0100], vr: 'US', value: [bits] },
    { tag: [0x0028, 0x0101], vr: 'US', value: [bits] },
    { tag: [0x0028, 0x0102], vr: 'US', value: [bits - 1] },
    { tag: [0x0028, 0x0103], vr: 'US', value: [0] },
    { tag: [0x7fe0, 0x0010], vr: o.vr ?? (bits > 8 ? 'OW' : 'OB'), value: o.pixels, undefinedLength: o.undefinedLength },
    ...extra,
  ];
  if (o.frames !== undefined) els.push({ tag: [0x0028, 0x0008], vr: 'IS', value: o.frames });
  return els;
}
