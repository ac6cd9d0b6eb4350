// Every gradient rule against central finite differences in float64 on small random inputs: for a graph
// y = op(inputs), loss = sum(y * R) with a random R, the backward graph's gradient of each input must equal
// (loss(x + h e_i) - loss(x - h e_i)) / 2h for every element i.
// Erf runs in float32 only in ONNX Runtime's CPU provider, so its rule is checked in float32 (h = 1e-3,
// relative tolerance 2e-3: float32 round-off / h is about 1e-4).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendLowered, differentiate } from '../../src/graph/autodiff.ts';
import { IrEmitter } from '../../src/graph/ir-emitter.ts';
import { emitModel, type FloatType, type IrGraph, type ValueInfo } from '../../src/graph/ir.ts';
import { createRunner, type HostTensor } from '../../src/node/train/ort-run.ts';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

interface InputSpec {
  dims: number[];
  positive?: boolean;
}

async function check(name: string, inputs: Record<string, InputSpec>, body: (em: IrEmitter, x: Record<string, string>) => string, float: FloatType = 'float64') {
  const rand = rng(name.length * 7919 + 13);
  const g: IrGraph = { name, nodes: [], inits: new Map(), inputs: [], outputs: [], domains: new Set() };
  const info = new Map<string, ValueInfo>();
  const values: Record<string, Float64Array> = {};
  for (const [k, s] of Object.entries(inputs)) {
    g.inputs.push({ name: k, dtype: 'float', dims: s.dims });
    info.set(k, { dtype: 'float', dims: s.dims });
    const n = s.dims.reduce((p, q) => p * q, 1);
    values[k] = Float64Array.from({ length: n }, () => (s.positive ? 0.5 + rand() : 2 * rand() - 1));
  }
  const em = new IrEmitter(g, info);
  const y = body(em, Object.fromEntries(Object.keys(inputs).map((k) => [k, k])));
  const yd = em.dims(y);
  const r = em.floats(Float64Array.from({ length: yd.reduce((p, q) => p * q, 1) }, () => 2 * rand() - 1), yd);
  const loss = em.op('ReduceSum', [em.mul(y, r)], { keepdims: 0 });
  g.outputs = [loss];
  const fwd = await createRunner(emitModel(g, info, float), 1);
  const grads = differentiate(em, loss, Object.keys(inputs));
  g.outputs = [loss, ...Object.keys(inputs).map((k) => grads.get(k)!)];
  const full = await createRunner(emitModel(g, info, float), 1);
  const Arr = float === 'float64' ? Float64Array : Float32Array;
  const feeds = (over?: [string, number, number]): Record<string, HostTensor> =>
    Object.fromEntries(Object.entries(values).map(([k, v]) => {
      const data = Arr.from(v);
      if (over && over[0] === k) data[over[1]] = v[over[1]]! + over[2];
      return [k, { data, dims: inputs[k]!.dims }];
    }));
  const res = await full.run(feeds());
  const h = float === 'float64' ? 1e-6 : 1e-3;
  const tol = float === 'float64' ? 1e-6 : 2e-3;
  for (const k of Object.keys(inputs)) {
    const got = res[grads.get(k)!]!.data as Float64Array;
    const fd = new Float64Array(values[k]!.length);
    for (let i = 0; i < fd.length; i++) {
      const lp = Number((await fwd.run(feeds([k, i, h])))[loss]!.data[0]);
      const lm = Number((await fwd.run(feeds([k, i, -h])))[loss]!.data[0]);
      fd[i] = (lp - lm) / (2 * h);
    }
    const scale = Math.max(1, ...Array.from(fd, Math.abs));
    let worst = 0;
    for (let i = 0; i < fd.length; i++) worst = Math.max(worst, Math.abs(got[i]! - fd[i]!) / scale);
    assert.ok(worst <= tol, `${name}: d loss / d ${k} differs from finite differences by ${worst.toExponential(2)} (tolerance ${tol})`);
    assert.ok(fd.some((v) => Math.abs(v) > 1e-3), `${name}: the gradient of ${k} is all zero, so the check would prove nothing`);
  }
  await fwd.release();
  await full.release();
}

const cases: Array<[string, Record<string, InputSpec>, (em: IrEmitter, x: Record<string, string>) => string, FloatType?]> = [
  ['MatMul 2-D', { a: { dims: [3, 4] }, b: { dims: [4, 2] } }, (em, x) => em.matmul(x.a!, x.b!)],
  ['MatMul [B,T,K] @ [K,N]', { a: { dims: [2, 3, 4] }, b: { dims: [4, 5] } }, (em, x) => em.matmul(x.a!, x.b!)],
  ['MatMul batched 4-D', { a: { dims: [2, 2, 3, 4] }, b: { dims: [2, 2, 4, 3] } }, (em, x) => em.matmul(x.a!, x.b!)],
  ['MatMul broadcast batch', { a: { dims: [2, 3, 4] }, b: { dims: [1, 4, 2] } }, (em, x) => em.matmul(x.a!, x.b!)],
  ['Gemm', { a: { dims: [3, 4] }, b: { dims: [4, 2] }, c: { dims: [2] } }, (em, x) => em.op('Gemm', [x.a!, x.b!, x.c!])],
  ['Add broadcast', { a: { dims: [2, 3, 4] }, b: { dims: [4] } }, (em, x) => em.add(x.a!, x.b!)],
  ['Sub broadcast', { a: { dims: [2, 1, 4] }, b: { dims: [3, 1] } }, (em, x) => em.sub(x.a!, x.b!)],
  ['Mul broadcast', { a: { dims: [2, 3, 4] }, b: { dims: [1, 3, 1] } }, (em, x) => em.mul(x.a!, x.b!)],
  ['Div broadcast', { a: { dims: [2, 3] }, b: { dims: [3], positive: true } }, (em, x) => em.div(x.a!, x.b!)],
  ['Neg', { a: { dims: [2, 3] } }, (em, x) => em.neg(x.a!)],
  ['Exp', { a: { dims: [2, 3] } }, (em, x) => em.op('Exp', [x.a!])],
  ['Log', { a: { dims: [2, 3], positive: true } }, (em, x) => em.op('Log', [x.a!])],
  ['Sqrt', { a: { dims: [2, 3], positive: true } }, (em, x) => em.op('Sqrt', [x.a!])],
  ['Abs', { a: { dims: [2, 3] } }, (em, x) => em.op('Abs', [x.a!])],
  ['Sigmoid', { a: { dims: [2, 3] } }, (em, x) => em.op('Sigmoid', [x.a!])],
  ['Tanh', { a: { dims: [2, 3] } }, (em, x) => em.op('Tanh', [x.a!])],
  ['Min with 0', { a: { dims: [2, 3] } }, (em, x) => em.op('Min', [x.a!, em.scalar(0)])],
  ['Max of two', { a: { dims: [2, 3] }, b: { dims: [2, 3] } }, (em, x) => em.op('Max', [x.a!, x.b!])],
  ['Erf (float32)', { a: { dims: [2, 3] } }, (em, x) => em.op('Erf', [x.a!]), 'float32'],
  ['Softmax', { a: { dims: [2, 3, 4] } }, (em, x) => em.op('Softmax', [x.a!], { axis: -1 })],
  ['LogSoftmax axis 0', { a: { dims: [3, 4] } }, (em, x) => em.op('LogSoftmax', [x.a!], { axis: 0 })],
  ['LayerNormalization', { a: { dims: [2, 3, 5] }, s: { dims: [5] }, b: { dims: [5] } }, (em, x) => em.op('LayerNormalization', [x.a!, x.s!, x.b!], { axis: -1, epsilon: { float: 1e-5 } })],
  ['Reshape', { a: { dims: [2, 6] } }, (em, x) => em.reshape(x.a!, [3, 4])],
  ['Transpose', { a: { dims: [2, 3, 4] } }, (em, x) => em.transpose(x.a!, [1, 2, 0])],
  ['Unsqueeze', { a: { dims: [2, 3] } }, (em, x) => em.op('Unsqueeze', [x.a!, em.ints([0, 2])])],
  ['Expand', { a: { dims: [1, 1, 3] } }, (em, x) => em.op('Expand', [x.a!, em.ints([2, 4, 3])])],
  ['Concat', { a: { dims: [2, 1, 3] }, b: { dims: [2, 4, 3] } }, (em, x) => em.op('Concat', [x.a!, x.b!], { axis: 1 })],
  ['Split', { a: { dims: [2, 9] } }, (em, x) => {
    const [p, , r] = em.node('Split', [x.a!, em.ints([3, 3, 3])], { axis: -1 }, { nOut: 3 });
    return em.mul(p!, r!);
  }],
  ['Slice', { a: { dims: [3, 5, 2] } }, (em, x) => em.op('Slice', [x.a!, em.ints([1, 1]), em.ints([4, 3]), em.ints([1, 0])])],
  ['Gather axis 0 (repeated ids)', { a: { dims: [5, 3] } }, (em, x) => em.op('Gather', [x.a!, em.ints([1, 4, 1, 0, 1, -1], [2, 3])], { axis: 0 })],
  ['Gather axis 1 scalar', { a: { dims: [2, 4, 3] } }, (em, x) => em.op('Gather', [x.a!, em.ints([0], [])], { axis: 1 })],
  ['GatherElements', { a: { dims: [2, 4, 3] } }, (em, x) => em.op('GatherElements', [x.a!, em.ints([3, 3, 3, 1, 1, 1], [2, 1, 3])], { axis: 1 })],
  ['ReduceMean', { a: { dims: [2, 3, 4] } }, (em, x) => em.op('ReduceMean', [x.a!], { axes: [1], keepdims: 0 })],
  ['ReduceSum', { a: { dims: [2, 3, 4] } }, (em, x) => em.reduceSum(x.a!, [0, 2], 1)],
  ['Cast + Identity', { a: { dims: [2, 3] } }, (em, x) => em.op('Identity', [em.op('Cast', [x.a!], { to: 1 })])],
  ['MultiHeadAttention (lowered) with causal bias', { q: { dims: [2, 3, 4] }, k: { dims: [2, 3, 4] }, v: { dims: [2, 3, 4] } }, (em, x) => {
    const m = new Float64Array(9);
    for (let i = 0; i < 3; i++) for (let j = i + 1; j < 3; j++) m[i * 3 + j] = -Infinity;
    const bias = em.floats(m, [1, 1, 3, 3]);
    const out = em.fresh('mha');
    appendLowered(em, [{ op: 'MultiHeadAttention', domain: 'com.microsoft', inputs: [x.q!, x.k!, x.v!, '', '', bias], outputs: [out], attrs: { num_heads: { kind: 'int', value: 2 } } }]);
    return out;
  }],
  ['MultiHeadAttention (lowered) with projection bias', { q: { dims: [2, 3, 4] }, k: { dims: [2, 3, 4] }, v: { dims: [2, 3, 4] }, b: { dims: [12] } }, (em, x) => {
    const out = em.fresh('mha');
    appendLowered(em, [{ op: 'MultiHeadAttention', domain: 'com.microsoft', inputs: [x.q!, x.k!, x.v!, x.b!], outputs: [out], attrs: { num_heads: { kind: 'int', value: 2 } } }]);
    return out;
  }],
  ['MultiHeadAttention (lowered) unidirectional', { q: { dims: [2, 3, 4] }, k: { dims: [2, 3, 4] }, v: { dims: [2, 3, 4] } }, (em, x) => {
    const out = em.fresh('mha');
    appendLowered(em, [{ op: 'MultiHeadAttention', domain: 'com.microsoft', inputs: [x.q!, x.k!, x.v!], outputs: [out], attrs: { num_heads: { kind: 'int', value: 2 }, unidirectional: { kind: 'int', value: 1 } } }]);
    return out;
  }],
  ['Conv patch embedding (lowered)', { x: { dims: [2, 3, 4, 4] }, w: { dims: [5, 3, 2, 2] } }, (em, x) => {
    const out = em.fresh('conv');
    appendLowered(em, [{ op: 'Conv', domain: '', inputs: [x.x!, x.w!], outputs: [out], attrs: { kernel_shape: { kind: 'ints', value: [2, 2] }, strides: { kind: 'ints', value: [2, 2] } } }]);
    return out;
  }],
  ['chain: value used twice', { a: { dims: [2, 3] } }, (em, x) => em.mul(em.op('Sigmoid', [x.a!]), em.op('Exp', [x.a!]))],
];

for (const [name, inputs, body, float] of cases) {
  test(`gradient rule: ${name}`, async () => check(name, inputs, body, float));
}
