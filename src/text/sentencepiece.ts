// A SentencePiece encoder (unigram and BPE models) reading the `.model` protobuf directly, with the
// normaliser that the model file carries (the precompiled character map, a darts-clone double-array trie).
// Behaviour follows google/sentencepiece's normalizer.cc (Normalize), unigram_model.cc (EncodeOptimized),
// bpe_model.cc (Encode) and sentencepiece_processor.cc (runs of unknown pieces merged into one, byte
// fallback); checked against python3-sentencepiece in test/text/sentencepiece.test.ts.
import { ConfigError, UnsupportedError } from '../errors.ts';
import { ProtoReader } from './proto-reader.ts';

export enum PieceType { NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6 }

export interface Piece {
  piece: string;
  score: number;
  type: PieceType;
}

export interface NormalizerSpec {
  name: string;
  precompiledCharsmap: Uint8Array;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
}

const utf8 = new TextDecoder();
const enc = new TextEncoder();

// ---- tries over UTF-8 bytes

interface TrieNode {
  next: Map<number, TrieNode>;
  id: number;
}
const newNode = (): TrieNode => ({ next: new Map(), id: -1 });

/** UTF-8 length of the character starting with byte `b` (sentencepiece's OneCharLen, by the high nibble). */
function oneCharLen(b: number): number {
  return [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4][b >> 4]!;
}

/** Whether bytes[i..] starts with a well-formed UTF-8 character of length `n`. */
function validChar(bytes: Uint8Array, i: number, n: number): boolean {
  const b = bytes[i]!;
  if (n === 1) return b < 0x80;
  if (i + n > bytes.length) return false;
  for (let k = 1; k < n; k++) if ((bytes[i + k]! & 0xc0) !== 0x80) return false;
  const cp = n === 2 ? ((b & 0x1f) << 6) | (bytes[i + 1]! & 0x3f)
    : n === 3 ? ((b & 0x0f) << 12) | ((bytes[i + 1]! & 0x3f) << 6) | (bytes[i + 2]! & 0x3f)
      : ((b & 0x07) << 18) | ((bytes[i + 1]! & 0x3f) << 12) | ((bytes[i + 2]! & 0x3f) << 6) | (bytes[i + 3]! & 0x3f);
  const min = [0, 0, 0x80, 0x800, 0x10000][n]!;
  return cp >= min && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
}

const SPACE = 0x20;
const ESCAPED = enc.encode('\u2581'); // U+2581, sentencepiece's visible space

export class SentencePieceModel {
  readonly pieces: Piece[] = [];
  modelType = 1; // 1 unigram, 2 BPE, 3 word, 4 char
  unkId = 0;
  byteFallback = false;
  treatWhitespaceAsSuffix = false;
  normalizer: NormalizerSpec = { name: '', precompiledCharsmap: new Uint8Array(0), addDummyPrefix: true, removeExtraWhitespaces: true, escapeWhitespaces: true };

  private readonly ids = new Map<string, number>();
  private readonly trie = newNode(); // normal, user-defined and unused pieces
  private readonly userTrie = newNode(); // user-defined pieces, which the normaliser leaves alone
  private hasUserDefined = false;
  private minScore = Infinity;
  private maxScore = -Infinity;
  private charsmap?: { units: Uint32Array; strings: Uint8Array };
  private readonly byteIds: number[] = [];

  private constructor(readonly file: string) {}

  /**
   * Parse a SentencePiece `.model` file (ModelProto: 1 pieces, 2 trainer_spec, 3 normalizer_spec).
   * @example SentencePieceModel.fromBytes(readFileSync('spiece.model')).encode('no effusion') // e.g. [150, 2231, 3]
   */
  static fromBytes(bytes: Uint8Array, file = 'sentencepiece model'): SentencePieceModel {
    const m = new SentencePieceModel(file);
    const r = new ProtoReader(bytes, bytes.length, file);
    r.each((field, wire) => {
      if (wire !== 2) return false;
      if (field === 1) {
        const p: Piece = { piece: '', score: 0, type: PieceType.NORMAL };
        const s = r.sub();
        s.each((f, w) => {
          if (f === 1 && w === 2) p.piece = utf8.decode(s.bytes());
          else if (f === 2 && w === 5) p.score = s.float();
          else if (f === 3 && w === 0) p.type = s.varint();
          else return false;
          return true;
        });
        m.pieces.push(p);
      } else if (field === 2) {
        const s = r.sub();
        s.each((f, w) => {
          if (f === 3 && w === 0) m.modelType = s.varint();
          else if (f === 40 && w === 0) m.unkId = s.varint();
          else if (f === 35 && w === 0) m.byteFallback = s.varint() !== 0;
          else if (f === 24 && w === 0) m.treatWhitespaceAsSuffix = s.varint() !== 0;
          else return false;
          return true;
        });
      } else if (field === 3) {
        const s = r.sub();
        const n = m.normalizer;
        s.each((f, w) => {
          if (f === 1 && w === 2) n.name = utf8.decode(s.bytes());
          else if (f === 2 && w === 2) n.precompiledCharsmap = s.bytes().slice();
          else if (f === 3 && w === 0) n.addDummyPrefix = s.varint() !== 0;
          else if (f === 4 && w === 0) n.removeExtraWhitespaces = s.varint() !== 0;
          else if (f === 5 && w === 0) n.escapeWhitespaces = s.varint() !== 0;
          else return false;
          return true;
        });
      } else return false;
      return true;
    });
    m.init();
    return m;
  }

  private init(): void {
    if (this.pieces.length === 0) throw new ConfigError('SentencePiece model has no pieces', { file: this.file });
    if (this.modelType !== 1 && this.modelType !== 2) throw new UnsupportedError(`SentencePiece model_type ${this.modelType}: only unigram (1) and BPE (2) are supported`, { file: this.file });
    if (this.treatWhitespaceAsSuffix) throw new UnsupportedError('SentencePiece treat_whitespace_as_suffix is not supported', { file: this.file });
    if (this.pieces[this.unkId]?.type !== PieceType.UNKNOWN) throw new ConfigError(`unk_id ${this.unkId} is not an UNKNOWN piece`, { file: this.file });
    this.pieces.forEach((p, id) => {
      if (!this.ids.has(p.piece)) this.ids.set(p.piece, id);
      if (p.type === PieceType.NORMAL) {
        this.minScore = Math.min(this.minScore, p.score);
        this.maxScore = Math.max(this.maxScore, p.score);
      }
      if (p.type === PieceType.NORMAL || p.type === PieceType.USER_DEFINED || p.type === PieceType.UNUSED) insert(this.trie, enc.encode(p.piece), id);
      if (p.type === PieceType.USER_DEFINED) {
        insert(this.userTrie, enc.encode(p.piece), id);
        this.hasUserDefined = true;
      }
      if (p.type === PieceType.BYTE) {
        const b = /^<0x([0-9A-F]{2})>$/.exec(p.piece);
        if (b) this.byteIds[Number.parseInt(b[1]!, 16)] = id;
      }
    });
    const cm = this.normalizer.precompiledCharsmap;
    if (cm.length > 0) {
      // <trie size: uint32 LE><double-array units><NUL-terminated normalised strings>
      const dv = new DataView(cm.buffer, cm.byteOffset, cm.byteLength);
      const size = cm.length > 4 ? dv.getUint32(0, true) : 0;
      if (size === 0 || size % 4 !== 0 || 4 + size >= cm.length) throw new ConfigError('SentencePiece precompiled_charsmap is broken', { file: this.file });
      const units = new Uint32Array(size / 4);
      for (let i = 0; i < units.length; i++) units[i] = dv.getUint32(4 + 4 * i, true);
      this.charsmap = { units, strings: cm.subarray(4 + size) };
    }
  }

  get size(): number {
    return this.pieces.length;
  }

  /** The id of a piece (any type), or undefined. */
  pieceToId(piece: string): number | undefined {
    return this.ids.get(piece);
  }

  /** Longest match of the precompiled character map at bytes[i..]: [replacement, consumed] or undefined. */
  private charsmapMatch(bytes: Uint8Array, i: number): [Uint8Array, number] | undefined {
    const cm = this.charsmap;
    if (!cm) return undefined;
    // darts-clone unit: bit 8 has_leaf, bits 0-7 (and 31) label, bits 10.. offset (shifted by 8 when bit 9 is set)
    const u = cm.units;
    const offset = (x: number) => (x >>> 10) * ((x & 0x200) !== 0 ? 256 : 1);
    let pos = offset(u[0]!);
    let best: [number, number] | undefined;
    for (let k = i; k < bytes.length; k++) {
      const c = bytes[k]!;
      pos ^= c;
      const unit = u[pos];
      if (unit === undefined || (unit & 0x800000ff) >>> 0 !== c) break;
      pos ^= offset(unit);
      if ((unit >>> 8) & 1) best = [u[pos]! & 0x7fffffff, k - i + 1];
    }
    if (!best) return undefined;
    const start = best[0];
    let end = start;
    while (end < cm.strings.length && cm.strings[end] !== 0) end++;
    return [cm.strings.subarray(start, end), best[1]];
  }

  /** Longest user-defined piece at bytes[i..] (its length), or 0. */
  private userMatch(bytes: Uint8Array, i: number): number {
    if (!this.hasUserDefined) return 0;
    let node: TrieNode | undefined = this.userTrie;
    let len = 0;
    for (let k = i; k < bytes.length && node; k++) {
      node = node.next.get(bytes[k]!);
      if (node && node.id >= 0) len = k - i + 1;
    }
    return len;
  }

  /** sentencepiece's NormalizePrefix: [normalised bytes, consumed bytes]. */
  private normalizePrefix(bytes: Uint8Array, i: number): [Uint8Array, number] {
    const u = this.userMatch(bytes, i);
    if (u > 0) return [bytes.subarray(i, i + u), u];
    const m = this.charsmapMatch(bytes, i);
    if (m) return m;
    const n = oneCharLen(bytes[i]!);
    if (!validChar(bytes, i, n)) return [enc.encode('\ufffd'), 1];
    return [bytes.subarray(i, i + n), n];
  }

  /**
   * The normalised UTF-8 bytes of `text` (sentencepiece's Normalizer::Normalize): character map, heading,
   * trailing and repeated spaces removed, a dummy prefix space, spaces escaped as U+2581.
   */
  normalize(text: string, opts: { addDummyPrefix?: boolean } = {}): Uint8Array {
    const spec = this.normalizer;
    const addDummyPrefix = opts.addDummyPrefix ?? spec.addDummyPrefix;
    const input = enc.encode(text);
    const out: number[] = [];
    let i = 0;
    if (spec.removeExtraWhitespaces) {
      while (i < input.length) {
        const [s, n] = this.normalizePrefix(input, i);
        if (!(s.length === 1 && s[0] === SPACE)) break;
        i += n;
      }
    }
    if (i >= input.length) return new Uint8Array(0);
    const space = spec.escapeWhitespaces ? ESCAPED : [SPACE];
    if (addDummyPrefix) out.push(...space);
    let prevSpace = spec.removeExtraWhitespaces;
    while (i < input.length) {
      const [s, n] = this.normalizePrefix(input, i);
      let k = 0;
      while (prevSpace && k < s.length && s[k] === SPACE) k++;
      if (k < s.length) {
        for (; k < s.length; k++) {
          if (s[k] === SPACE) out.push(...space);
          else out.push(s[k]!);
        }
        prevSpace = s[s.length - 1] === SPACE;
      }
      i += n;
      if (!spec.removeExtraWhitespaces) prevSpace = false;
    }
    if (spec.removeExtraWhitespaces) {
      while (out.length >= space.length && space.every((b, j) => out[out.length - space.length + j] === b)) out.length -= space.length;
    }
    return Uint8Array.from(out);
  }

  /**
   * Encode text to piece ids as SentencePieceProcessor.encode does (no BOS/EOS).
   * `addDummyPrefix` overrides the model's normaliser setting (transformers' SiglipTokenizer turns it off).
   */
  encode(text: string, opts: { addDummyPrefix?: boolean } = {}): number[] {
    const norm = this.normalize(text, opts);
    if (norm.length === 0) return [];
    const raw = this.modelType === 1 ? this.viterbi(norm) : this.bpe(norm);
    const ids: number[] = [];
    let prevUnk = false;
    for (const [start, end, id] of raw) {
      if (id === this.unkId && this.byteFallback) {
        for (let k = start; k < end; k++) {
          const b = this.byteIds[norm[k]!];
          if (b === undefined) throw new ConfigError(`byte_fallback is on but there is no <0x${norm[k]!.toString(16).toUpperCase().padStart(2, '0')}> piece`, { file: this.file });
          ids.push(b);
        }
        continue;
      }
      // a run of unknown pieces becomes one (SentencePieceProcessor merges them)
      if (id === this.unkId && prevUnk) continue;
      prevUnk = id === this.unkId;
      ids.push(id);
    }
    return ids;
  }

  /** Unigram: the best segmentation by summed piece scores, as EncodeOptimized computes it (float32 sums). */
  private viterbi(s: Uint8Array): Array<[number, number, number]> {
    const n = s.length;
    const unkScore = Math.fround(this.minScore - 10);
    const score = new Float32Array(n + 1);
    const from = new Int32Array(n + 1).fill(-1);
    const id = new Int32Array(n + 1).fill(-1);
    const offer = (end: number, start: number, pid: number, sc: number) => {
      const cand = Math.fround(sc + score[start]!);
      if (from[end] === -1 || cand > score[end]!) {
        score[end] = cand;
        from[end] = start;
        id[end] = pid;
      }
    };
    for (let start = 0; start < n; ) {
      const mblen = Math.min(oneCharLen(s[start]!), n - start);
      let single = false;
      let node: TrieNode | undefined = this.trie;
      for (let k = start; k < n; k++) {
        node = node.next.get(s[k]!);
        if (!node) break;
        if (node.id < 0) continue;
        const p = this.pieces[node.id]!;
        if (p.type === PieceType.UNUSED) continue;
        const len = k + 1 - start;
        offer(k + 1, start, node.id, p.type === PieceType.USER_DEFINED ? len * this.maxScore - 0.1 : p.score);
        if (len === mblen) single = true;
      }
      if (!single) offer(start + mblen, start, this.unkId, unkScore);
      start += mblen;
    }
    const out: Array<[number, number, number]> = [];
    for (let end = n; end > 0; end = from[end]!) out.push([from[end]!, end, id[end]!]);
    return out.reverse();
  }

  /** BPE: merge the adjacent pair whose merged piece scores highest (leftmost on ties) until none is left. */
  private bpe(s: Uint8Array): Array<[number, number, number]> {
    interface Sym { start: number; end: number; prev: number; next: number; frozen: boolean }
    const syms: Sym[] = [];
    for (let i = 0; i < s.length; ) {
      const u = this.userMatch(s, i);
      const len = u > 0 ? u : Math.min(oneCharLen(s[i]!), s.length - i);
      syms.push({ start: i, end: i + len, prev: syms.length - 1, next: -1, frozen: u > 0 });
      i += len;
    }
    syms.forEach((x, k) => (x.next = k + 1 < syms.length ? k + 1 : -1));
    const key = (a: number, b: number) => utf8.decode(s.subarray(a, b));
    type Pair = { left: number; right: number; score: number; size: number };
    const agenda: Pair[] = [];
    const add = (l: number, r: number) => {
      if (l < 0 || r < 0 || syms[l]!.frozen || syms[r]!.frozen) return;
      const pid = this.ids.get(key(syms[l]!.start, syms[r]!.end));
      const p = pid === undefined ? undefined : this.pieces[pid]!;
      if (!p || !(p.type === PieceType.NORMAL || p.type === PieceType.USER_DEFINED || p.type === PieceType.UNUSED)) return;
      agenda.push({ left: l, right: r, score: p.score, size: syms[r]!.end - syms[l]!.start });
    };
    for (let k = 1; k < syms.length; k++) add(k - 1, k);
    const better = (a: Pair, b: Pair) => a.score > b.score || (a.score === b.score && a.left < b.left);
    while (agenda.length > 0) {
      let bi = 0;
      for (let k = 1; k < agenda.length; k++) if (better(agenda[k]!, agenda[bi]!)) bi = k;
      const top = agenda.splice(bi, 1)[0]!;
      const L = syms[top.left]!;
      const R = syms[top.right]!;
      if (L.end === L.start || R.end === R.start || R.end - L.start !== top.size || L.end !== R.start) continue;
      L.end = R.end;
      L.next = R.next;
      if (R.next >= 0) syms[R.next]!.prev = top.left;
      R.start = R.end; // emptied
      add(L.prev, top.left);
      add(top.left, L.next);
    }
    const out: Array<[number, number, number]> = [];
    for (let k = 0; k >= 0 && k < syms.length; k = syms[k]!.next) {
      const x = syms[k]!;
      const pid = this.ids.get(key(x.start, x.end));
      const ok = pid !== undefined && [PieceType.NORMAL, PieceType.USER_DEFINED, PieceType.UNUSED].includes(this.pieces[pid]!.type);
      out.push([x.start, x.end, ok ? pid! : this.unkId]);
    }
    return out;
  }
}

function insert(root: TrieNode, bytes: Uint8Array, id: number): void {
  let node = root;
  for (const b of bytes) {
    let nx = node.next.get(b);
    if (!nx) node.next.set(b, (nx = newNode()));
    node = nx;
  }
  if (node.id < 0) node.id = id;
}
