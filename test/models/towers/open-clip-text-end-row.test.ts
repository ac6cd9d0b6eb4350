// The open_clip text tower runs its last block on the end token's row only (residualBlockAt). Its embeddings must
// be those of the tower that runs every token through the last block and ln_final and then picks the end token's
// row (`allTokens`, which GLoRIA's training loss reads); tokens after the end token must not change them (the
// causal limit of the single query), with attention sharp enough that a key too many would show.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildTextGraph, nodeBackend, randomClipStateDict, Weights, type ClipConfig } from '../../../src/index.ts';

const V = 64; // the end token is the highest id, 63
const C = 16;
const cfg = (act: ClipConfig['act']): ClipConfig => ({
  embedDim: 16,
  act,
  vision: { imageSize: 32, patchSize: 16, width: 32, layers: 1, headWidth: 8, mlpRatio: 4, layerScale: false, lnPre: true, poolType: 'tok', finalLnAfterPool: false },
  text: { contextLength: C, vocabSize: V, width: 32, heads: 4, layers: 3, mlpRatio: 4, layerScale: false, causalMask: true, poolType: 'argmax', projBias: false, padId: 0 },
});

/** Rows with the end token at 3, 15 (the last position), 0 and 7, and ordinary ids (not padding) after it. */
function ids(fill: number): BigInt64Array {
  const ends = [3, 15, 0, 7];
  const a = new BigInt64Array(ends.length * C);
  ends.forEach((e, r) => {
    for (let j = 0; j < C; j++) a[r * C + j] = BigInt(j === e ? V - 1 : j < e ? 1 + ((r * 7 + j * 5) % 50) : 1 + ((fill + j * 3 + r) % 50));
  });
  return a;
}

async function embeds(bytes: Uint8Array, input: BigInt64Array): Promise<Float32Array> {
  const s = await nodeBackend.create(bytes, { threads: 1 });
  try {
    return (await s.run({ input_ids: { data: input, dims: [input.length / C, C] } })).text_embeds!.data as Float32Array;
  } finally {
    await s.release();
  }
}

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

for (const act of ['gelu', 'quick_gelu'] as const) {
  test(`open_clip text tower (${act}): the last block on the end token's row gives the all-token tower's embeddings, whatever follows the end token`, async () => {
    const c = cfg(act);
    const sd = randomClipStateDict(c, 7);
    // sharper attention than the random weights' near-uniform one, so that a key past the end token would count
    for (const [k, t] of sd) if (k.endsWith('attn.in_proj_weight') || k === 'token_embedding.weight') for (let i = 0; i < t.data.length; i++) (t.data as Float32Array)[i]! *= 40;
    const endRow = buildTextGraph(c, new Weights(sd, 'random')).bytes;
    const allTokens = buildTextGraph(c, new Weights(sd, 'random'), '', { allTokens: true }).bytes;
    assert.ok(endRow.length !== allTokens.length, 'the two graphs differ');
    const ref = await embeds(allTokens, ids(0));
    const got = await embeds(endRow, ids(0));
    const scale = Math.max(1, maxAbs(ref));
    assert.ok(maxDiff(got, ref) <= 1e-5 * scale, `end-row vs all-token embeddings: max difference ${maxDiff(got, ref)}`);
    // other tokens after the end token: the same embeddings from both graphs
    const other = await embeds(endRow, ids(11));
    assert.ok(maxDiff(other, got) <= 1e-5 * scale, `tokens after the end token changed the embeddings by ${maxDiff(other, got)}`);
    // and the check can fail: the same tokens before the end token changed do change them
    const before = ids(0);
    before[1 * C + 2] = 60n;
    assert.ok(maxDiff(await embeds(endRow, before), got) > 1e-3 * scale, 'a token before the end token changes the embedding');
  });
}
