// A restricted unpickler for the opcodes that torch.save state dicts use (pickle protocols 2-5).
// Nothing is ever executed: GLOBAL/STACK_GLOBAL only resolve names on an explicit allowlist, each mapped
// by the caller to its own TypeScript function; any other name is a SecurityError at the opcode.
// Reference: the opcode table documented in CPython's Lib/pickletools.py and PEP 3154 (protocol 4), PEP 574 (5).

import { DecodeError, SecurityError, LimitError } from '../errors.ts';
import { printable } from './printable.ts';

/** Globals a torch state dict may name. Everything else is refused when the opcode is read. */
export const ALLOWED_GLOBALS: ReadonlySet<string> = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
  'torch._tensor._rebuild_from_type_v2',
  'torch.Tensor',
  'torch.nn.parameter.Parameter',
  'torch.FloatStorage', 'torch.HalfStorage', 'torch.BFloat16Storage', 'torch.DoubleStorage',
  'torch.LongStorage', 'torch.IntStorage', 'torch.ShortStorage', 'torch.CharStorage',
  'torch.ByteStorage', 'torch.BoolStorage',
]);

/** A resolved global: a name and, when it may be called by REDUCE/NEWOBJ, our own implementation. */
export class PyGlobal {
  constructor(
    readonly qualname: string,
    readonly call?: (args: unknown[]) => unknown,
    /** free-form data the resolver attaches (e.g. a storage's dtype) */
    readonly info?: unknown,
  ) {}
}

/**
 * An instance of a class the pickle names that is not rebuilt, only recorded: its class name, the arguments
 * REDUCE/NEWOBJ would have passed, the state BUILD would have set, and the items SETITEM(S)/APPEND(S) would
 * have added (dict and list subclasses). No code of that class runs; readers take what they need from it
 * (e.g. the values inside a pickled OmegaConf DictConfig).
 */
export class PyObject {
  state: unknown = undefined;
  readonly items = new Map<unknown, unknown>();
  readonly listItems: unknown[] = [];
  constructor(
    readonly qualname: string,
    readonly args: readonly unknown[],
  ) {}

  setState(state: unknown): void {
    this.state = state;
  }
}

export interface UnpickleOptions {
  file: string;
  /** Maps an allowlisted `module.name` to its implementation; returning undefined is a SecurityError too. */
  resolveGlobal: (qualname: string) => PyGlobal | undefined;
  /**
   * Names off the allowlist that may appear as inert data (a class used as a value, or a PyObject record when
   * called): the caller's own list of data-only classes; undefined for any other name is a SecurityError.
   */
  inertGlobal?: (qualname: string) => PyGlobal | undefined;
  /** Handles BINPERSID (torch uses it for storages). */
  persistentLoad?: (pid: unknown) => unknown;
}

/** Attributes set by BUILD on a dict (e.g. a state dict's `_metadata`), kept aside from its items. */
export const dictAttributes = new WeakMap<Map<unknown, unknown>, unknown>();

const MARK = Symbol('mark');

/**
 * Unpickle `bytes`. Dicts become Map, lists and tuples arrays (tuples frozen), str string,
 * int number (bigint when beyond 2^53), float number, bytes Uint8Array, None null.
 * @example
 * unpickle(new Uint8Array([0x80, 2, 0x4b, 7, 0x2e]), { file: 'x.pkl', resolveGlobal: () => undefined }) // 7
 */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions): unknown {
  const { file } = options;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let pos = 0;
  let op = 0;
  let opAt = 0;

  const fail = (what: string): never => {
    throw new DecodeError(`pickle opcode ${opName(op)} at offset ${opAt}: ${what}`, { file });
  };
  const need = (n: number): number => {
    if (n < 0 || pos + n > bytes.length) fail(`needs ${n} bytes but the pickle ends at ${bytes.length} (truncated?)`);
    const at = pos;
    pos += n;
    return at;
  };
  const pop = (): unknown => {
    if (stack.length === 0) fail('stack underflow');
    const v = stack.pop();
    if (v === MARK) fail('unexpected MARK on the stack');
    return v;
  };
  const top = (): unknown => {
    if (stack.length === 0) fail('stack underflow');
    const v = stack[stack.length - 1];
    if (v === MARK) fail('unexpected MARK on the stack');
    return v;
  };
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined) fail('no MARK to pop to');
    const items = stack.splice(m!);
    items.shift(); // the MARK itself
    return items;
  };
  const readLen = (n: 1 | 4 | 8): number => {
    const at = need(n);
    if (n === 1) return bytes[at]!;
    if (n === 4) return dv.getUint32(at, true);
    const v = dv.getBigUint64(at, true);
    if (v > BigInt(bytes.length)) fail(`length ${v} is larger than the pickle`);
    return Number(v);
  };
  const str = (n: number): string => {
    const at = need(n);
    try { return utf8.decode(bytes.subarray(at, at + n)); } catch { return fail('string is not valid UTF-8'); }
  };
  const line = (): string => {
    const nl = bytes.indexOf(0x0a, pos);
    if (nl < 0) fail('unterminated line');
    const s = new TextDecoder('latin1').decode(bytes.subarray(pos, nl));
    pos = nl + 1;
    return s;
  };
  const resolve = (module: string, name: string): PyGlobal => {
    const q = `${module}.${name}`;
    const inert = ALLOWED_GLOBALS.has(q) ? undefined : options.inertGlobal?.(q);
    if (inert) return inert;
    if (!ALLOWED_GLOBALS.has(q)) {
      throw new SecurityError(`pickle names the global ${printable(q)} at offset ${opAt}, which is not on the allowlist of a weights file; refusing to load (nothing was executed)`, { file });
    }
    const g = options.resolveGlobal(q);
    if (!g) throw new SecurityError(`pickle names the global ${printable(q)} at offset ${opAt}, which this reader does not implement`, { file });
    return g;
  };
  const callable = (f: unknown, args: unknown): unknown => {
    if (!(f instanceof PyGlobal) || !f.call) fail(`${f instanceof PyGlobal ? f.qualname : typeof f} is not callable here`);
    if (!Array.isArray(args)) fail('arguments are not a tuple');
    return (f as PyGlobal).call!(args as unknown[]);
  };
  const setItems = (d: unknown, kv: unknown[]): void => {
    if (d instanceof PyObject) d = d.items; // a dict subclass recorded, not rebuilt
    if (!(d instanceof Map)) fail('SETITEM(S) target is not a dict');
    if (kv.length % 2) fail('odd number of items for a dict');
    for (let i = 0; i < kv.length; i += 2) (d as Map<unknown, unknown>).set(kv[i], kv[i + 1]);
  };
  const int = (v: bigint): number | bigint => (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);

  while (true) {
    opAt = pos;
    if (pos >= bytes.length) { op = -1; fail('pickle ends without STOP (truncated?)'); }
    op = bytes[pos++]!;
    switch (op) {
      case 0x80: { // PROTO: protocols 2-5 share the opcodes handled here
        const v = bytes[need(1)]!;
        if (v < 2 || v > 5) fail(`pickle protocol ${v} is not one torch.save writes (2-5)`);
        break;
      }
      case 0x95: need(8); break; // FRAME: framing is only a buffering hint
      case 0x2e: { // STOP
        const v = pop();
        if (stack.length !== 0 || marks.length !== 0) fail(`${stack.length} values left on the stack`);
        return v;
      }
      case 0x28: marks.push(stack.length); stack.push(MARK); break; // MARK
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push(Object.freeze([])); break; // EMPTY_TUPLE
      case 0x8f: stack.push(new Set()); break; // EMPTY_SET
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x58: stack.push(str(readLen(4))); break; // BINUNICODE
      case 0x8c: stack.push(str(readLen(1))); break; // SHORT_BINUNICODE
      case 0x8d: stack.push(str(readLen(8))); break; // BINUNICODE8
      case 0x43: { const n = readLen(1); const at = need(n); stack.push(bytes.slice(at, at + n)); break; } // SHORT_BINBYTES
      case 0x42: { const n = readLen(4); const at = need(n); stack.push(bytes.slice(at, at + n)); break; } // BINBYTES
      case 0x8e: { const n = readLen(8); const at = need(n); stack.push(bytes.slice(at, at + n)); break; } // BINBYTES8
      case 0x4a: stack.push(dv.getInt32(need(4), true)); break; // BININT
      case 0x4b: stack.push(bytes[need(1)]); break; // BININT1
      case 0x4d: stack.push(dv.getUint16(need(2), true)); break; // BININT2
      case 0x8a: case 0x8b: { // LONG1, LONG4: little-endian two's complement
        const n = readLen(op === 0x8a ? 1 : 4);
        if (n > 64) fail(`integer of ${n} bytes is too large`);
        const at = need(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[at + i]!);
        if (n > 0 && bytes[at + n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
        stack.push(int(v));
        break;
      }
      case 0x47: stack.push(dv.getFloat64(need(8), false)); break; // BINFLOAT (big-endian)
      case 0x85: stack.push(Object.freeze([pop()])); break; // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); stack.push(Object.freeze([a, b])); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push(Object.freeze([a, b, c])); break; } // TUPLE3
      case 0x74: { stack.push(Object.freeze(popMark())); break; } // TUPLE
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const kv = popMark(); setItems(top(), kv); break; } // SETITEMS
      case 0x61: { const v = pop(); const t = top(); const l = t instanceof PyObject ? t.listItems : t; if (!Array.isArray(l) || Object.isFrozen(l)) fail('APPEND target is not a list'); (l as unknown[]).push(v); break; }
      case 0x65: { // APPENDS
        const items = popMark();
        const t = top();
        const l = t instanceof PyObject ? t.listItems : t;
        if (!Array.isArray(l) || Object.isFrozen(l)) fail('APPENDS target is not a list');
        for (const v of items) (l as unknown[]).push(v); // not push(...items): a spread of 10^6 values overflows the stack
        break;
      }
      case 0x90: { // ADDITEMS
        const items = popMark();
        const s = top();
        if (!(s instanceof Set)) fail('ADDITEMS target is not a set');
        for (const v of items) (s as Set<unknown>).add(v);
        break;
      }
      case 0x91: { stack.push(new Set(popMark())); break; } // FROZENSET
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      case 0x71: memo.set(bytes[need(1)]!, top()); break; // BINPUT
      case 0x72: memo.set(dv.getUint32(need(4), true), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: case 0x6a: { // BINGET, LONG_BINGET
        const k = op === 0x68 ? bytes[need(1)]! : dv.getUint32(need(4), true);
        if (!memo.has(k)) fail(`memo key ${k} was never stored`);
        stack.push(memo.get(k));
        break;
      }
      case 0x63: { const module = line(); const name = line(); stack.push(resolve(module, name)); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const name = pop(); const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('module and name are not strings');
        stack.push(resolve(module as string, name as string));
        break;
      }
      case 0x52: { const args = pop(); const f = pop(); stack.push(callable(f, args)); break; } // REDUCE
      case 0x81: { const args = pop(); const cls = pop(); stack.push(callable(cls, args)); break; } // NEWOBJ
      case 0x62: { // BUILD
        const state = pop();
        const obj = top();
        if (obj instanceof Map) dictAttributes.set(obj, state);
        else if (obj !== null && typeof obj === 'object' && 'setState' in obj && typeof obj.setState === 'function') obj.setState(state);
        else fail(`cannot set state on ${describe(obj)}`);
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (!options.persistentLoad) fail('persistent ids are not expected in this pickle');
        stack.push(options.persistentLoad!(pid));
        break;
      }
      default:
        throw new DecodeError(`unknown or unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')}${op >= 0x20 && op < 0x7f ? ` ('${String.fromCharCode(op)}')` : ''} at offset ${opAt}`, { file });
    }
    if (stack.length > 1_000_000 || memo.size > 10_000_000) throw new LimitError(`pickle stack or memo exceeds its limit at offset ${opAt}`, { file });
  }
}

function describe(v: unknown): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'a tuple or list';
  if (v instanceof PyGlobal) return v.qualname;
  return typeof v;
}

function opName(op: number): string {
  return op < 0 ? 'end of data' : `0x${op.toString(16).padStart(2, '0')}`;
}
