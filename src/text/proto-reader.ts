// A minimal protobuf wire-format reader (https://protobuf.dev/programming-guides/encoding/): varints,
// length-delimited fields and 32-bit floats; other fields are skipped. Enough for SentencePiece's ModelProto.
import { ConfigError } from '../errors.ts';

export class ProtoReader {
  pos = 0;
  constructor(readonly buf: Uint8Array, readonly end = buf.length, readonly file = '') {}
  varint(): number {
    let v = 0;
    let mul = 1;
    for (;;) {
      if (this.pos >= this.end) throw new ConfigError('protobuf: truncated varint', { file: this.file });
      const b = this.buf[this.pos++]!;
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 128;
    }
  }
  bytes(): Uint8Array {
    const n = this.varint();
    if (this.pos + n > this.end) throw new ConfigError('protobuf: a field runs past its message', { file: this.file });
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  float(): number {
    if (this.pos + 4 > this.end) throw new ConfigError('protobuf: truncated float', { file: this.file });
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw new ConfigError(`protobuf: unsupported wire type ${wire}`, { file: this.file });
  }
  /** Calls `f(field, wire)` for each field; `f` returns false to have the field skipped. */
  each(f: (field: number, wire: number) => boolean): void {
    while (this.pos < this.end) {
      const tag = this.varint();
      if (!f(Math.floor(tag / 8), tag & 7)) this.skip(tag & 7);
    }
  }
  sub(): ProtoReader {
    const b = this.bytes();
    return new ProtoReader(b, b.length, this.file);
  }
}
