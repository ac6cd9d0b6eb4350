// Pure functions over an archive's vectors: near-duplicate groups and the hybrid (vector + keyword) ranking.

/**
 * Groups of rows whose embeddings have cosine >= threshold with another member (single linkage: union-find
 * over every pair above the threshold). Vectors are L2-normalised rows of a [n, dim] matrix. Groups come
 * largest first, members in path order. O(n^2 dim): blockwise brute force, exact.
 * @example nearDuplicateGroups(['a', 'b', 'c'], new Float32Array([1, 0, 1, 0, 0, 1]), 2, 0.98) // [{ paths: ['a', 'b'], minScore: 1 }]
 */
export function nearDuplicateGroups(paths: string[], vectors: Float32Array, dim: number, threshold: number): Array<{ paths: string[]; minScore: number }> {
  const n = paths.length;
  const parent = Int32Array.from({ length: n }, (_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]!]!;
      i = parent[i]!;
    }
    return i;
  };
  const edges: Array<[number, number, number]> = [];
  for (let i = 0; i < n; i++) {
    const a = i * dim;
    for (let j = i + 1; j < n; j++) {
      const b = j * dim;
      let s = 0;
      for (let d = 0; d < dim; d++) s += vectors[a + d]! * vectors[b + d]!;
      if (s >= threshold) {
        edges.push([i, j, s]);
        const ri = find(i);
        const rj = find(j);
        if (ri !== rj) parent[Math.max(ri, rj)] = Math.min(ri, rj);
      }
    }
  }
  const groups = new Map<number, { members: number[]; minScore: number }>();
  for (const [i, , s] of edges) {
    const r = find(i);
    const g = groups.get(r) ?? { members: [], minScore: Infinity };
    g.minScore = Math.min(g.minScore, s);
    groups.set(r, g);
  }
  for (let i = 0; i < n; i++) groups.get(find(i))?.members.push(i);
  return [...groups.values()]
    .map((g) => ({ paths: g.members.map((m) => paths[m]!).sort(), minScore: g.minScore }))
    .sort((a, b) => b.paths.length - a.paths.length || (a.paths[0]! < b.paths[0]! ? -1 : 1));
}

/**
 * Hybrid order: cosine similarity plus `weight` times the keyword score scaled to [0, 1] (BM25 divided by
 * the best BM25 among the candidates). Rows without a keyword match get 0 for it.
 */
export function hybridOrder<T extends { path: string; score: number; keyword?: number }>(candidates: T[], bm25: Map<string, number>, weight: number): T[] {
  const top = Math.max(0, ...bm25.values());
  for (const c of candidates) c.keyword = top > 0 ? (bm25.get(c.path) ?? 0) / top : 0;
  return [...candidates].sort((a, b) => b.score + weight * b.keyword! - (a.score + weight * a.keyword!) || (a.path < b.path ? -1 : 1));
}
