// The vector index against exact search on a 100,000-row table of synthetic vectors (clustered, as real
// embeddings are): recall@10 of the IVF-PQ index (with its exact re-ranking) must be at least 0.95.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { gaussian, mulberry32, openIndex, type IndexRow } from '../../src/index.ts';
import { tempDir } from '../helpers/reference.ts';

/** n unit vectors around `clusters` random centres. */
export function syntheticRows(n: number, dim: number, seed = 1, clusters = 100): IndexRow[] {
  const rand = mulberry32(seed);
  const centres = Array.from({ length: clusters }, () => Array.from({ length: dim }, () => gaussian(rand)));
  const rows: IndexRow[] = [];
  for (let i = 0; i < n; i++) {
    const c = centres[i % clusters]!;
    const v = Float32Array.from(c, (x) => x + 0.6 * gaussian(rand));
    const norm = Math.hypot(...v);
    for (let j = 0; j < dim; j++) v[j]! /= norm;
    const path = `synthetic/${String(i).padStart(6, '0')}`;
    rows.push({ path, source: path, frame: 0, contentHash: String(i), vector: v, modality: i % 2 ? 'CR' : 'CT', label: `c${i % clusters}` });
  }
  return rows;
}

test('IVF-PQ recall@10 against exact search is at least 0.95 on 100,000 rows; filters apply to both', async () => {
  const N = 100_000;
  const D = 32;
  const index = await openIndex(join(tempDir('clipmed-ann-'), 'db'));
  try {
    const table = await index.tableFor({ specHash: 'f'.repeat(64), model: 'synthetic', checkpointSha256: '0'.repeat(64), dim: D });
    const rows = syntheticRows(N, D);
    for (let i = 0; i < N; i += 25_000) await table.write(rows.slice(i, i + 25_000));
    assert.equal(await table.count(), N);
    const built = await table.buildIndexes(10_000);
    assert.ok(built.some((b) => b.startsWith('vector index (IVF-PQ')), built.join('; '));
    assert.ok((await table.indices()).some((i) => i.type === 'IvfPq' && i.columns.includes('vector')));

    const rand = mulberry32(99);
    let hits = 0;
    const Q = 40;
    for (let q = 0; q < Q; q++) {
      const query = rows[Math.floor(rand() * N)]!.vector;
      const exact = await table.search(query, { k: 10, exact: true });
      const approx = await table.search(query, { k: 10 });
      assert.equal(exact.length, 10);
      const want = new Set(exact.map((h) => h.path));
      hits += approx.filter((h) => want.has(h.path)).length;
      // scores are cosines, best first, on both paths
      for (let i = 1; i < 10; i++) assert.ok(approx[i - 1]!.score >= approx[i]!.score);
      assert.ok(Math.abs(exact[0]!.score - 1) < 1e-5);
    }
    const recall = hits / (10 * Q);
    assert.ok(recall >= 0.95, `recall@10 ${recall}`);

    const query = rows[3]!.vector;
    const filtered = await table.search(query, { k: 10, where: "modality = 'CR'" });
    const filteredExact = await table.search(query, { k: 10, where: "modality = 'CR'", exact: true });
    assert.equal(filtered.length, 10);
    for (const h of [...filtered, ...filteredExact]) assert.equal(h.meta.modality, 'CR');
  } finally {
    index.close();
  }
});
