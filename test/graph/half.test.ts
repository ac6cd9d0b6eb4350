// fp16 compute (src/graph/half.ts), the graphs `--dtype fp16` runs on GPU devices: float16 weights and activations,
// float32 at the boundary. No half-precision GPU here (Chromium's SwiftShader has no shader-f16), so the graphs run
// on ONNX Runtime's CPU provider, which computes what it has no half kernel for in float32 between casts: every
// intermediate is still rounded to half precision, so the cosine to fp32 measures the rewrite's accuracy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { ClipModel } from '../../src/index.ts';
import { halfComputeModel } from '../../src/graph/half.ts';
import { nodeBackend } from '../../src/node/ort-backend.ts';
import { inlineExternalData } from '../../src/node/quantized.ts';
import type { Backend } from '../../src/runtime/session.ts';
import { FIXTURES, isolateCache, loadReference, minCosine, referenceImages } from '../helpers/reference.ts';

isolateCache();
const { onnx } = onnxProto;
const ROOT = new URL('../../', import.meta.url).pathname;

/** Sessions of the half-compute rewrite of each graph clipmed asks for, on ONNX Runtime's CPU provider. */
const halfBackend: Backend = {
  name: 'fp16 compute on onnxruntime-node (cpu)',
  async create(model, options) {
    const bytes = typeof model === 'string' ? await inlineExternalData(model) : model;
    return nodeBackend.create(halfComputeModel(bytes).bytes, options);
  },
};

const MODELS = [join(FIXTURES, 'tiny-quickgelu'), join(FIXTURES, 'tiny-gelu-safetensors'), join(ROOT, 'test/fixtures/biomedclip/tiny'), join(ROOT, 'test/fixtures/hf-clip/tiny')];
const TEXTS = ['a chest x-ray showing pneumonia', 'no acute cardiopulmonary process', 'right pleural effusion', 'cardiomegaly'];

for (const model of MODELS) {
  test(`fp16 compute: ${model.split('/').slice(-2).join('/')} image and text embeddings within cosine 0.999 of fp32`, async () => {
    const images = referenceImages(loadReference('tiny-quickgelu'));
    const fp32 = await ClipModel.load(model, { threads: 1 });
    const half = await ClipModel.load(model, { threads: 1, backend: halfBackend });
    const [a, b] = [await fp32.embedImageFiles(images), await half.embedImageFiles(images)];
    const [c, d] = [await fp32.embedTexts(TEXTS), await half.embedTexts(TEXTS)];
    const dim = fp32.embedDim;
    const image = minCosine(b.embeddings, a.embeddings, dim);
    const text = minCosine(d.embeddings, c.embeddings, dim);
    assert.ok(image > 0.999, `image cosine ${image}`);
    assert.ok(text > 0.999, `text cosine ${text}`);
    assert.ok(image < 1 || text < 1, 'identical to fp32: the graphs did not compute in half precision');
    await fp32.release();
    await half.release();
  });
}

test('fp16 compute: the rewrite leaves no float32 weight, casts at the boundary and keeps the end-token ArgMax exact', async () => {
  const m = await ClipModel.load(join(FIXTURES, 'tiny-quickgelu'), { threads: 1 });
  for (const path of [m.compiled.visionPath, m.compiled.textPath]) {
    const { bytes, report } = halfComputeModel(await inlineExternalData(path));
    const g = onnx.ModelProto.decode(bytes).graph!;
    const FLOAT = onnx.TensorProto.DataType.FLOAT, FLOAT16 = onnx.TensorProto.DataType.FLOAT16;
    assert.deepEqual(g.initializer!.filter((t) => t.dataType === FLOAT).map((t) => t.name), []);
    assert.ok(report.tensors > 10 && g.initializer!.some((t) => t.dataType === FLOAT16));
    for (const o of g.output!) if (o.type!.tensorType!.elemType === FLOAT) assert.ok(g.node!.some((n) => n.opType === 'Cast' && n.output![0] === o.name), `${o.name} has no Cast to float32`);
    assert.equal(report.outputs, g.output!.filter((o) => o.type!.tensorType!.elemType === FLOAT).length);
    if (path === m.compiled.textPath) {
      // input_ids -> Cast(float) -> ArgMax: kept in float32 (49407 and 49406 are the same number in half precision)
      assert.equal(report.keptCasts, 1);
      const argmax = g.node!.find((n) => n.opType === 'ArgMax')!;
      const cast = g.node!.find((n) => n.output![0] === argmax.input![0])!;
      assert.equal(Number(cast.attribute!.find((a) => a.name === 'to')!.i), FLOAT);
      assert.equal(report.inputs, 0); // token ids are integers
    } else assert.equal(report.inputs, 1);
  }
  await m.release();
});
