// Shared by the tower tests: the fixture made by the reference code, and one run of an image tower graph.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nodeBackend } from '../../../src/node/ort-backend.ts';
import { type TensorOut } from '../../../src/runtime/session.ts';
import type { BuiltGraph } from '../../../src/graph/builder.ts';

export const TOWER_FIXTURES = new URL('../../fixtures/towers/', import.meta.url).pathname;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TowerReference = Record<string, any>;

export function loadTowerFixture(name: string): { dir: string; ref: TowerReference } {
  const dir = join(TOWER_FIXTURES, name);
  return { dir, ref: JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as TowerReference };
}

/** Run an image tower on the fixture's `pixel_values`; every output. */
export async function runImageTower(graph: BuiltGraph, ref: TowerReference, key = 'pixel_values'): Promise<Record<string, TensorOut>> {
  const session = await nodeBackend.create(graph.bytes, { threads: 1 });
  try {
    return await session.run({ pixel_values: { data: Float32Array.from(ref[key] as number[]), dims: ref[`${key}_shape`] as number[] } });
  } finally {
    await session.release();
  }
}
