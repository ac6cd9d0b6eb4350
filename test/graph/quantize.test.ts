// Quantised graphs (int8 dynamic, 4-bit blocks, fp16 storage) against the fp32 graph they were made from,
// run by ONNX Runtime itself: the rewrite must keep the model's function within the accuracy goals.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import onnxProto from 'onnx-proto';
import { GraphBuilder, gaussian, mulberry32, nodeBackend } from '../../src/index.ts';
import { quantizeInt8, quantizeModel, quantizeQ4 } from '../../src/graph/quantize.ts';

const { onnx } = onnxProto;

/** A two-layer MLP in both weight layouts the towers use: a torch Linear [out, in] behind a Transpose, and a plain [in, out] MatMul weight. */
function mlp(seed: number, D = 96, H = 256) {
  const rand = mulberry32(seed);
  const normal = (n: number, std: number) => Float32Array.from({ length: n }, () => gaussian(rand) * std);
  const g = new GraphBuilder('mlp');
  const x = g.input('x', 'float32', ['batch', 'tokens', D]);
  const w1 = g.weight('fc1.weight', normal(H * D, 0.05), [H, D]); // torch layout [out, in]
  const h = g.add(g.matmul(x, g.transpose(w1, [1, 0])), g.weight('fc1.bias', normal(H, 0.1), [H]));
  const a = g.mul(h, g.sigmoid(g.mul(h, g.floats([1.702], []))));
  const y = g.matmul(a, g.weight('proj', normal(H * D, 0.05), [H, D])); // [in, out]
  g.output(y, 'y', 'float32', ['batch', 'tokens', D]);
  const input = normal(4 * 10 * D, 1);
  return { bytes: g.toBytes(), input, dims: [4, 10, D], D };
}

async function run(bytes: Uint8Array, input: Float32Array, dims: number[]): Promise<Float32Array> {
  const s = await nodeBackend.create(bytes, { threads: 1 });
  try {
    return (await s.run({ x: { data: input, dims } })).y!.data;
  } finally {
    await s.release();
  }
}

function minRowCosine(a: Float32Array, b: Float32Array, dim: number): number {
  let worst = 1;
  for (let r = 0; r < a.length / dim; r++) {
    let ab = 0, aa = 0, bb = 0;
    for (let i = r * dim; i < (r + 1) * dim; i++) { ab += a[i]! * b[i]!; aa += a[i]! * a[i]!; bb += b[i]! * b[i]!; }
    worst = Math.min(worst, ab / Math.sqrt(aa * bb));
  }
  return worst;
}

function opTypes(bytes: Uint8Array): string[] {
  return onnx.ModelProto.decode(bytes).graph!.node!.map((n) => n.opType!);
}

test('int8: every weight MatMul becomes DynamicQuantizeMatMul with its bias folded in; cosine to fp32 >= 0.999', async () => {
  const { bytes, input, dims, D } = mlp(1);
  const { bytes: q, report } = quantizeModel(bytes, 'int8');
  assert.equal(report.matmuls, 2);
  const ops = opTypes(q);
  assert.equal(ops.filter((o) => o === 'DynamicQuantizeMatMul').length, 2);
  assert.ok(!ops.includes('MatMul') && !ops.includes('Transpose'), `ops left: ${ops}`);
  assert.equal(ops.filter((o) => o === 'Add').length, 0, 'the bias Add is folded into the kernel');
  assert.ok(report.bytesAfter < report.bytesBefore / 3.5);
  const cos = minRowCosine(await run(bytes, input, dims), await run(q, input, dims), D);
  assert.ok(cos >= 0.999, `int8 cosine ${cos}`);
});

// 4 bits keep 16 levels per block: one such layer on Gaussian weights gives about 0.995, two stacked about 0.989
test('q4: MatMulNBits with 32-value blocks; cosine to fp32 >= 0.98 through two layers; K not a multiple of the block is padded', async () => {
  const { bytes, input, dims, D } = mlp(2, 80);
  const { bytes: q, report } = quantizeModel(bytes, 'q4');
  assert.equal(report.matmuls, 2);
  assert.equal(opTypes(q).filter((o) => o === 'MatMulNBits').length, 2);
  const cos = minRowCosine(await run(bytes, input, dims), await run(q, input, dims), D);
  assert.ok(cos >= 0.98, `q4 cosine ${cos}`);
});

test('fp16 storage halves the weights and keeps cosine >= 0.9999', async () => {
  const { bytes, input, dims, D } = mlp(3);
  const { bytes: q, report } = quantizeModel(bytes, 'fp16');
  assert.equal(report.bytesAfter * 2, report.bytesBefore);
  const cos = minRowCosine(await run(bytes, input, dims), await run(q, input, dims), D);
  assert.ok(cos >= 0.9999, `fp16 cosine ${cos}`);
});

test('int8: the q, k and v MatMuls on row blocks of a packed in_proj_weight (Transpose of a Slice) are quantised, the packed weight dropped', async () => {
  const D = 64;
  const rand = mulberry32(5);
  const g = new GraphBuilder('qkv');
  const x = g.input('x', 'float32', ['batch', 'tokens', D]);
  const packed = g.weight('attn.in_proj_weight', Float32Array.from({ length: 3 * D * D }, () => gaussian(rand) * 0.05), [3 * D, D]);
  const part = (i: number) => g.matmul(x, g.transpose(g.slice(packed, g.ints([i * D]), g.ints([(i + 1) * D]), g.ints([0])), [1, 0]));
  g.output(g.add(g.mul(part(0), part(1)), part(2)), 'y', 'float32', ['batch', 'tokens', D]);
  const bytes = g.toBytes();
  const { bytes: q, report } = quantizeModel(bytes, 'int8');
  assert.equal(report.matmuls, 3);
  const ops = opTypes(q);
  assert.deepEqual(ops.filter((o) => o === 'MatMul' || o === 'Transpose' || o === 'Slice'), [], `ops left: ${ops}`);
  assert.ok(!onnx.ModelProto.decode(q).graph!.initializer!.some((t) => t.name === 'attn.in_proj_weight'), 'the fp32 packed weight is gone');
  const input = Float32Array.from({ length: 4 * 10 * D }, () => gaussian(rand));
  const cos = minRowCosine(await run(bytes, input, [4, 10, D]), await run(q, input, [4, 10, D]), D);
  assert.ok(cos >= 0.99, `int8 cosine ${cos}`);
});

test('int8 weights: per-column symmetric scales, and dequantised values within half a step of the original', () => {
  const N = 3, K = 5;
  const w = Float32Array.from({ length: N * K }, (_, i) => Math.sin(i * 1.7) * (1 + (i % N)));
  const { q, scales } = quantizeInt8(w, N, K);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) assert.ok(Math.abs(q[k * N + n]! * scales[n]! - w[n * K + k]!) <= scales[n]! / 2 + 1e-7);
    const amax = Math.max(...Array.from({ length: K }, (_, k) => Math.abs(w[n * K + k]!)));
    assert.ok(Math.abs(scales[n]! * 127 - amax) < 1e-6);
  }
});

test('q4 packing: low nibble first, zero point 8, the largest magnitude maps to the end of the range', () => {
  const w = Float32Array.from([-4, 1, 2, 0.5, ...new Array(12).fill(0)]); // one row, K = 16
  const { q, scales, blocks } = quantizeQ4(w, 1, 16, 16);
  assert.equal(blocks, 1);
  assert.equal(scales[0], 0.5); // -4 / -8
  assert.equal(q[0]! & 15, 0); // -4 / 0.5 + 8 = 0
  assert.equal(q[0]! >> 4, 10); // 1 / 0.5 + 8
  assert.equal(q[1]! & 15, 12);
  assert.equal(q[1]! >> 4, 9);
  assert.equal(q[7], 8 | (8 << 4));
});

test('unknown modes and bad block sizes are typed errors', () => {
  const { bytes } = mlp(4);
  assert.throws(() => quantizeModel(bytes, 'int3' as never), /unknown quantisation 'int3'/);
  assert.throws(() => quantizeModel(bytes, 'q4', { blockSize: 24 }), /power of two/);
});
