// PyTorch Lightning checkpoints (`.ckpt`): torch.save of a dict holding `state_dict` beside training state
// (`epoch`, `optimizer_states`, `callbacks` keyed by callback classes, `hyper_parameters`, `hparams_type`).
// Lightning 1.x saves `hyper_parameters` as the module's hparams object itself when it is an OmegaConf
// container (pytorch_lightning 1.1 `trainer/connectors/checkpoint_connector.py` dump_checkpoint), so the pickle
// names omegaconf and pytorch_lightning classes. Those are recorded as inert PyObject data (nothing of them
// runs); `plainConfig` turns an OmegaConf tree into plain JSON by reading the state its classes pickle
// (omegaconf `DictConfig` / `ListConfig`: `_content`; value nodes: `_val`; omegaconf 2.0 and 2.2 alike).
import type { StateDict } from './types.ts';
import { PyGlobal, PyObject } from './pickle.ts';

/** Modules whose classes may appear in a Lightning checkpoint as recorded data, never called. */
const INERT_MODULES = ['omegaconf.', 'pytorch_lightning.', 'lightning.', 'lightning_fabric.'];
/** Single names that appear as values there (OmegaConf's ref_type / object_type, a Namespace of hparams). */
const INERT_NAMES = new Set([
  'typing.Any', 'argparse.Namespace',
  // the value types OmegaConf records as a node's object_type / element_type (protocol 2 spells builtins __builtin__)
  ...['dict', 'list', 'int', 'long', 'float', 'str', 'bool'].flatMap((n) => [`builtins.${n}`, `__builtin__.${n}`]),
]);

/**
 * The inert stand-in for a name a Lightning checkpoint's pickle may use, or undefined (a SecurityError at the
 * opcode). `collections.defaultdict` becomes a plain dict (OmegaConf's resolver cache is one).
 * @example inertLightningGlobal('omegaconf.dictconfig.DictConfig')?.qualname // 'omegaconf.dictconfig.DictConfig'
 */
export function inertLightningGlobal(qualname: string): PyGlobal | undefined {
  if (qualname === 'collections.defaultdict') return new PyGlobal(qualname, () => new Map());
  if (INERT_NAMES.has(qualname) || INERT_MODULES.some((m) => qualname.startsWith(m))) return new PyGlobal(qualname, (args) => new PyObject(qualname, args));
  return undefined;
}

/** The other entries of the dict a state dict was found in (epoch, hyper_parameters, ...), by state dict. */
const CONTAINERS = new WeakMap<StateDict, Map<unknown, unknown>>();

/** Remember the checkpoint dict `sd` was taken from (called by the torch reader). */
export function rememberContainer(sd: StateDict, container: Map<unknown, unknown>): void {
  if (container !== (sd as Map<unknown, unknown>)) CONTAINERS.set(sd, container);
}

/**
 * `hyper_parameters` of the Lightning checkpoint `sd` came from, as plain JSON; undefined when the state dict
 * was not read from a checkpoint dict that has them.
 * @example checkpointHyperParameters(sd)?.model // { gloria: { temp1: 4, ... }, text: { ... }, ... }
 */
export function checkpointHyperParameters(sd: StateDict): Record<string, unknown> | undefined {
  const hp = CONTAINERS.get(sd)?.get('hyper_parameters');
  if (hp === undefined) return undefined;
  const plain = plainConfig(hp);
  return plain !== null && typeof plain === 'object' && !Array.isArray(plain) ? (plain as Record<string, unknown>) : undefined;
}

/**
 * An unpickled configuration as plain JSON: OmegaConf containers and value nodes by their pickled state,
 * dicts (Map, dict subclasses such as Lightning's AttributeDict) as objects, lists and tuples as arrays; any
 * other recorded object becomes its class name in angle brackets. Cycles (OmegaConf's `_parent`) are not
 * followed: only `_content` and `_val` are read.
 */
export function plainConfig(v: unknown, depth = 0): unknown {
  if (depth > 64) return '<nested too deep>';
  if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map((x) => plainConfig(x, depth + 1));
  const dict = (m: Map<unknown, unknown>) => Object.fromEntries([...m].map(([k, x]) => [String(k), plainConfig(x, depth + 1)]));
  if (v instanceof Map) return dict(v);
  if (v instanceof PyGlobal) return `<${v.qualname}>`;
  if (v instanceof PyObject) {
    const state = v.state instanceof Map ? v.state : undefined;
    if (v.qualname.startsWith('omegaconf.') && state) {
      if (state.has('_content')) return plainConfig(state.get('_content'), depth + 1); // DictConfig, ListConfig
      if (state.has('_val')) return plainConfig(state.get('_val'), depth + 1); // AnyNode, StringNode, FloatNode, ...
    }
    if (v.items.size > 0) return dict(v.items);
    if (v.listItems.length > 0) return plainConfig(v.listItems, depth + 1);
    if (v.qualname === 'argparse.Namespace' && state) return dict(state);
    return `<${v.qualname}>`;
  }
  return `<${typeof v}>`;
}
