// Backends by name, as onnxruntime's js/common keeps registerBackend / resolveBackend apart from any platform:
// the core asks for a device ('cpu', 'webgpu', 'wasm'), the platform registers what it can run. The Node adapter
// registers onnxruntime-node for 'cpu', its bundled WebGPU provider for 'webgpu' and its CUDA provider (present
// when onnxruntime-node's install script downloaded it) for 'cuda'; a browser build registers
// onnxruntime-web (src/runtime/web-backend.ts) for 'wasm' and 'webgpu'.
import { UnsupportedError } from '../errors.ts';
import type { Backend } from './session.ts';

export type Device = 'cpu' | 'webgpu' | 'cuda' | 'wasm';
export const DEVICES: readonly Device[] = ['cpu', 'webgpu', 'cuda', 'wasm'];

interface Entry {
  name: string;
  devices: readonly Device[];
  /** higher wins when several backends serve a device */
  priority: number;
  backend: () => Backend;
}

const ENTRIES: Entry[] = [];

/**
 * Register a backend for some devices; `backend` is called on first use (so optional runtimes load lazily).
 * @example registerBackend('onnxruntime-node', ['cpu', 'webgpu'], () => nodeBackend)
 */
export function registerBackend(name: string, devices: readonly Device[], backend: () => Backend, priority = 0): void {
  const i = ENTRIES.findIndex((e) => e.name === name);
  if (i >= 0) ENTRIES.splice(i, 1);
  ENTRIES.push({ name, devices, priority, backend });
}

/** The registered backends and the devices each serves. */
export function listBackends(): Array<{ name: string; devices: readonly Device[] }> {
  return ENTRIES.map(({ name, devices }) => ({ name, devices }));
}

/** A device name from user input, or an UnsupportedError listing the known ones. */
export function parseDevice(name: string): Device {
  if ((DEVICES as readonly string[]).includes(name)) return name as Device;
  throw new UnsupportedError(`device '${name}': expected one of ${DEVICES.join(', ')}`);
}

/**
 * The backend for `device` (highest priority first), or an UnsupportedError naming what is registered.
 * @example resolveBackend('cpu').name // 'onnxruntime-node (cpu)' on Node
 */
export function resolveBackend(device: Device = 'cpu'): Backend {
  const hit = ENTRIES.filter((e) => e.devices.includes(device)).sort((a, b) => b.priority - a.priority)[0];
  if (!hit) {
    const known = ENTRIES.map((e) => `${e.name} (${e.devices.join(', ')})`).join('; ') || 'none';
    throw new UnsupportedError(`no backend for device '${device}' on this platform; registered: ${known}`);
  }
  return hit.backend();
}
