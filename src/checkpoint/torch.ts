// Reader for torch.save files in the zip layout (PyTorch >= 1.6): `<archive>/data.pkl` is a pickle whose
// tensors point, through persistent ids, at raw little-endian storages in `<archive>/data/<key>`.
// Reference: the layout described in PyTorch's torch/serialization.py docs ("torch.save ... zipfile-based").

import { CheckpointError, DecodeError, LimitError, UnsupportedError } from '../errors.ts';
import { printable } from './printable.ts';
import type { DType, StateDict, Tensor } from './types.ts';
import { ITEM_SIZE, decodeElements, numel } from './dtype.ts';
import { readZip, type ZipEntry } from './zip.ts';
import { PyGlobal, unpickle } from './pickle.ts';
import { inertLightningGlobal, rememberContainer } from './lightning.ts';

const STORAGE_DTYPES: Record<string, DType> = {
  'torch.FloatStorage': 'float32', 'torch.HalfStorage': 'float16', 'torch.BFloat16Storage': 'bfloat16',
  'torch.DoubleStorage': 'float64', 'torch.LongStorage': 'int64', 'torch.IntStorage': 'int32',
  'torch.ShortStorage': 'int16', 'torch.CharStorage': 'int8', 'torch.ByteStorage': 'uint8', 'torch.BoolStorage': 'bool',
};

/** Keys under which training scripts commonly nest the weights, in the order they are tried. */
export const STATE_DICT_KEYS = ['state_dict', 'model', 'model_state_dict', 'module', 'net', 'weights'] as const;

/** Most elements one tensor may have (4 GiB of float32). */
export const MAX_ELEMENTS = 2 ** 30;

/** A short printable form of an unpickled value for error messages (BigInt-safe). */
function show(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x instanceof PyGlobal ? x.qualname : ArrayBuffer.isView(x) ? `<${x.constructor.name}>` : x))?.slice(0, 200) ?? String(v);
  } catch {
    return Object.prototype.toString.call(v);
  }
}

interface Storage { key: string; dtype: DType; numel: number; bytes: Uint8Array }

/**
 * True for a value that a reader produced as a tensor.
 * @example isTensor({ dtype: 'float32', shape: [1], data: new Float32Array(1) }) // true
 */
export function isTensor(v: unknown): v is Tensor {
  return v !== null && typeof v === 'object' && 'dtype' in v && 'shape' in v && 'data' in v && ArrayBuffer.isView((v as Tensor).data);
}

/**
 * Does `bytes` look like a legacy (pre-1.6, non-zip) torch.save file? It starts with a pickled magic number.
 * @example isLegacyTorch(new Uint8Array([0x50, 0x4b, 3, 4])) // false
 */
export function isLegacyTorch(bytes: Uint8Array): boolean {
  // PROTO 2, then LONG1 of 10 bytes holding 0x1950a86a20f9469cfc6c (little-endian)
  const magic = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
  return bytes.length >= magic.length && magic.every((b, i) => bytes[i] === b);
}

/** Gather a (possibly strided) view of a storage into a fresh row-major tensor. */
function rebuildTensor(s: Storage, offset: number, size: number[], stride: number[], file: string, where: string): Tensor {
  if (!size.every((d) => Number.isSafeInteger(d) && d >= 0) || stride.length !== size.length || !stride.every((d) => Number.isSafeInteger(d) && d >= 0) || !Number.isSafeInteger(offset) || offset < 0) {
    throw new DecodeError(`${where}: bad tensor geometry (offset ${offset}, size [${size}], stride [${stride}])`, { file });
  }
  const n = numel(size);
  // stride-0 (expanded) views can claim far more elements than their storage holds
  if (n > MAX_ELEMENTS) throw new LimitError(`${where}: size [${size}] has ${n} elements, more than the ${MAX_ELEMENTS} allowed`, { file });
  if (n === 0) return { dtype: s.dtype, shape: size, data: decodeElements(new Uint8Array(0), s.dtype, 0) };
  let span = 1;
  for (let i = 0; i < size.length; i++) span += (size[i]! - 1) * stride[i]!;
  if (offset + span > s.numel) {
    throw new DecodeError(`${where}: view [offset ${offset}, size [${size}], stride [${stride}]] reaches element ${offset + span} of storage '${s.key}' which holds ${s.numel}`, { file });
  }
  const item = ITEM_SIZE[s.dtype];
  const window = decodeElements(s.bytes.subarray(offset * item, (offset + span) * item), s.dtype, span);
  if (span === n) {
    // contiguous iff row-major strides, ignoring size-1 dims
    let expect = 1;
    let contiguous = true;
    for (let i = size.length - 1; i >= 0; i--) {
      if (size[i] !== 1 && stride[i] !== expect) contiguous = false;
      expect *= size[i]!;
    }
    if (contiguous) return { dtype: s.dtype, shape: size, data: window };
  }
  const out = new (window.constructor as new (n: number) => Tensor['data'])(n);
  const idx = new Array<number>(size.length).fill(0);
  let src = 0;
  for (let k = 0; k < n; k++) {
    (out as unknown as ArrayLike<unknown> & Record<number, unknown>)[k] = (window as unknown as ArrayLike<unknown>)[src];
    // advance the multi-index, last dim fastest
    for (let d = size.length - 1; d >= 0; d--) {
      idx[d]!++;
      src += stride[d]!;
      if (idx[d]! < size[d]!) break;
      src -= stride[d]! * size[d]!;
      idx[d] = 0;
    }
  }
  return { dtype: s.dtype, shape: size, data: out };
}

/**
 * Unpickle a torch.save zip archive into its Python object (dicts as Map, tensors as Tensor).
 * @example
 * const obj = readTorchObject(bytes, 'ckpt.pt'); // Map { 'epoch' => 3, 'state_dict' => Map {...} }
 */
export function readTorchObject(bytes: Uint8Array, file: string): unknown {
  if (isLegacyTorch(bytes)) {
    throw new UnsupportedError('this is a legacy (pre-1.6, non-zip) torch.save file; re-save it with a current torch (torch.save(torch.load(f), g))', { file });
  }
  const entries = readZip(bytes, file);
  const pkls = [...entries.keys()].filter((n) => n.endsWith('/data.pkl') || n === 'data.pkl');
  const names = [...entries.keys()];
  if (names.some((n) => n.endsWith('constants.pkl') || /(^|\/)code\//.test(n))) {
    throw new UnsupportedError('this is a TorchScript archive (torch.jit.save, e.g. OpenAI CLIP .pt files), not a state dict; load it in Python and torch.save its state_dict(), or use the safetensors release', { file });
  }
  if (pkls.length !== 1) throw new DecodeError(`expected one <archive>/data.pkl in the torch zip, found ${pkls.length}`, { file });
  const prefix = pkls[0]!.slice(0, -'data.pkl'.length);
  const order = entries.get(`${prefix}byteorder`);
  if (order) {
    const text = new TextDecoder().decode(order.read()).trim();
    if (text !== 'little') throw new UnsupportedError(`torch zip byteorder is '${printable(text)}'; only little-endian archives are supported`, { file });
  }
  const storages = new Map<string, Storage>();
  const persistentLoad = (pid: unknown): Storage => {
    if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== 'storage') throw new DecodeError(`unexpected persistent id ${show(pid)}`, { file });
    const [, type, key, , count] = pid as [string, unknown, unknown, unknown, unknown];
    if (!(type instanceof PyGlobal) || !(type.qualname in STORAGE_DTYPES)) throw new DecodeError(`persistent id names a storage type that is not a storage`, { file });
    if (typeof key !== 'string' || typeof count !== 'number') throw new DecodeError(`persistent id for storage '${String(key)}' is malformed`, { file });
    const cached = storages.get(key);
    if (cached) return cached;
    const dtype = STORAGE_DTYPES[type.qualname]!;
    const entry: ZipEntry | undefined = entries.get(`${prefix}data/${key}`);
    if (!entry) throw new DecodeError(`storage '${printable(key)}' is missing from the archive (no ${printable(`${prefix}data/${key}`)})`, { file });
    // the declared size first: a deflated entry is inflated only once its claim matches the storage
    if (entry.size !== count * ITEM_SIZE[dtype]) {
      throw new DecodeError(`storage '${printable(key)}' holds ${entry.size} bytes, expected ${count} ${dtype} elements (${count * ITEM_SIZE[dtype]} bytes)`, { file });
    }
    const data = entry.read();
    if (data.length !== count * ITEM_SIZE[dtype]) {
      throw new DecodeError(`storage '${printable(key)}' holds ${data.length} bytes, expected ${count} ${dtype} elements (${count * ITEM_SIZE[dtype]} bytes)`, { file });
    }
    const s = { key, dtype, numel: count, bytes: data };
    storages.set(key, s);
    return s;
  };
  const rebuildV2 = (args: unknown[]): PendingTensor => {
    const [storage, offset, size, stride] = args;
    if (!storages.has((storage as Storage)?.key) || !Array.isArray(size) || !Array.isArray(stride) || typeof offset !== 'number') {
      throw new DecodeError('_rebuild_tensor_v2 called with unexpected arguments', { file });
    }
    // gathered after unpickling, when the tensor's key is known for error messages
    return new PendingTensor(storage as Storage, offset, size as number[], stride as number[]);
  };
  const resolveGlobal = (q: string): PyGlobal | undefined => {
    if (q in STORAGE_DTYPES) return new PyGlobal(q);
    switch (q) {
      case 'collections.OrderedDict':
        return new PyGlobal(q, (args) => {
          if (args.length !== 0) throw new DecodeError('OrderedDict called with arguments', { file });
          return new Map();
        });
      case 'torch._utils._rebuild_tensor_v2': return new PyGlobal(q, rebuildV2);
      case 'torch._utils._rebuild_parameter':
        return new PyGlobal(q, (args) => {
          if (!(args[0] instanceof PendingTensor)) throw new DecodeError('_rebuild_parameter of something that is not a tensor', { file });
          return args[0];
        });
      case 'torch._tensor._rebuild_from_type_v2':
        // (func, new_type, args, state), written by newer torch for a tensor with Python attributes. The
        // allowlist limits new_type to torch.Tensor and Parameter; the attributes in `state` are not weights.
        return new PyGlobal(q, (args) => {
          const [func, type, inner, state] = args;
          if (!(func instanceof PyGlobal) || func.qualname !== 'torch._utils._rebuild_tensor_v2' || !(type instanceof PyGlobal) || !Array.isArray(inner)) {
            throw new DecodeError('_rebuild_from_type_v2 called with unexpected arguments', { file });
          }
          if (type.qualname !== 'torch.Tensor' && type.qualname !== 'torch.nn.parameter.Parameter') {
            throw new UnsupportedError(`tensor type ${type.qualname} is not supported`, { file });
          }
          if (state !== null && state !== undefined && !(state instanceof Map)) throw new DecodeError('_rebuild_from_type_v2 state is not a dict', { file });
          return func.call!(inner as unknown[]);
        });
      case 'torch.Tensor': case 'torch.nn.parameter.Parameter': return new PyGlobal(q);
      default: return undefined;
    }
  };
  // Lightning checkpoints name omegaconf / pytorch_lightning classes beside the weights: recorded, never run
  const obj = unpickle(entries.get(pkls[0]!)!.read(), { file, resolveGlobal, persistentLoad, inertGlobal: inertLightningGlobal });
  let held = 0;
  for (const st of storages.values()) held += st.numel;
  return materialize(obj, file, 2 * held + MATERIALIZE_SLACK);
}

/**
 * Views may share storage or repeat elements (stride 0), so a tiny file can describe terabytes of tensors. All
 * tensors together may hold at most twice what the storages hold, plus this many elements for expanded buffers
 * (e.g. position_ids); identical views are gathered once.
 */
export const MATERIALIZE_SLACK = 2 ** 20;

/** Containers nested deeper than this are refused (a state dict is two or three levels deep). */
export const MAX_NESTING = 1000;

/** A tensor as _rebuild_tensor_v2 described it, before its data is gathered. */
class PendingTensor {
  constructor(readonly storage: Storage, readonly offset: number, readonly size: number[], readonly stride: number[]) {}
}

/**
 * Replace every PendingTensor in the unpickled object by its Tensor; `path` names it in errors (e.g.
 * 'state_dict.visual.proj'). At most `budget` elements are gathered in all.
 */
function materialize(root: unknown, file: string, budget: number): unknown {
  const done = new Map<object, unknown>();
  const views = new Map<string, Tensor>();
  let gathered = 0;
  const walk = (v: unknown, path: string, depth = 0): unknown => {
    if (v === null || typeof v !== 'object') return v;
    if (done.has(v)) return done.get(v);
    if (depth > MAX_NESTING) throw new LimitError(`the pickle nests containers more than ${MAX_NESTING} deep (at '${printable(path, 80)}')`, { file });
    if (v instanceof PendingTensor) {
      const id = `${v.storage.key}|${v.offset}|${v.size}|${v.stride}`;
      let t = views.get(id);
      if (!t) {
        const n = v.size.every((d) => Number.isSafeInteger(d) && d >= 0) ? numel(v.size) : 0;
        if (n <= MAX_ELEMENTS && gathered + n > budget) { // past MAX_ELEMENTS, rebuildTensor names that limit
          throw new LimitError(`tensor '${printable(path)}': size [${v.size}] would bring the tensors to ${gathered + n} elements, more than twice the ${(budget - MATERIALIZE_SLACK) / 2} the storages hold (stride-0 or overlapping views)`, { file });
        }
        t = rebuildTensor(v.storage, v.offset, v.size, v.stride, file, `tensor '${printable(path)}'`);
        gathered += n;
        views.set(id, t);
      }
      done.set(v, t);
      return t;
    }
    const at = (k: unknown): string => (path ? `${path}.${String(k)}` : String(k));
    if (v instanceof Map) {
      done.set(v, v);
      for (const [k, x] of v) v.set(k, walk(x, at(k), depth + 1));
      return v;
    }
    if (Array.isArray(v)) {
      if (!Object.isFrozen(v)) {
        done.set(v, v);
        v.forEach((x, i) => { v[i] = walk(x, at(i), depth + 1); });
        return v;
      }
      // tuples cannot contain themselves, so rebuilding one is safe
      const t = Object.freeze(v.map((x, i) => walk(x, at(i), depth + 1)));
      done.set(v, t);
      return t;
    }
    return v;
  };
  return walk(root, '');
}

function asStateDict(v: unknown): StateDict | undefined {
  if (!(v instanceof Map) || v.size === 0) return undefined;
  for (const [k, t] of v) if (typeof k !== 'string' || !isTensor(t)) return undefined;
  return v as StateDict;
}

/**
 * The state dict inside an unpickled checkpoint: the object itself when it is a dict of tensors, otherwise
 * the first of STATE_DICT_KEYS that holds one. Throws CheckpointError listing the top-level keys otherwise.
 * @example findStateDict(new Map([['epoch', 3], ['state_dict', sd]]), 'ckpt.pt') === sd // true
 */
export function findStateDict(obj: unknown, file: string): StateDict {
  const direct = asStateDict(obj);
  if (direct) return direct;
  if (obj instanceof Map) {
    for (const k of STATE_DICT_KEYS) {
      const sd = asStateDict(obj.get(k));
      if (sd) {
        rememberContainer(sd, obj); // its hyper_parameters, for readers that need them (src/checkpoint/lightning.ts)
        return sd;
      }
    }
    const keys = [...obj.keys()].map(String).slice(0, 20);
    throw new CheckpointError(`no state dict found: the top-level dict (keys ${keys.map((k) => printable(k, 60)).join(', ')}) is not a dict of tensors and none of ${STATE_DICT_KEYS.join(', ')} holds one`, { file });
  }
  throw new CheckpointError(`no state dict found: the checkpoint holds ${Array.isArray(obj) ? 'a list or tuple' : typeof obj}, not a dict`, { file });
}

/**
 * Read a torch.save (zip) checkpoint as a state dict.
 * @example
 * const sd = readTorchZip(await readFile('open_clip_pytorch_model.bin'), 'open_clip_pytorch_model.bin');
 * sd.get('positional_embedding')?.shape // [77, 32]
 */
export function readTorchZip(bytes: Uint8Array, file: string): StateDict {
  return findStateDict(readTorchObject(bytes, file), file);
}
