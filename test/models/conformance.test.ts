// One conformance suite over every fixture model (as open_clip's tests/test_inference.py runs every entry of
// list_models()): each is loaded through the same path and compared with its reference implementation's
// numbers. A new model family is a new row here, not a new test file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClipModel } from '../../src/index.ts';
import { DATA, FIXTURES, isolateCache, logitsPerImage, maxRelError, minCosine, referenceImages } from '../helpers/reference.ts';

isolateCache();
const HERE = new URL('../fixtures/', import.meta.url).pathname;
const json = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Record<string, any>;

interface Row {
  name: string;
  dir: string;
  /** reference.json: texts, tokens, pixel_values (+ _shape), text_features, logit_scale ... */
  ref: Record<string, any>;
  family: string;
  towers: [vision: string, text: string];
  /** where the features of `pixel_values` / of the texts are in the reference (default image_features / text_features) */
  imageKey?: (r: Record<string, any>) => number[];
  textKey?: (r: Record<string, any>) => number[];
  /** the reference has logits_per_image for these features */
  logits: boolean;
  /** exp(logit_scale) when the reference does not record it for these weights */
  logitScale?: number;
  /** the reference's patch tokens belong to these weights (random_patch_* or patch_*) */
  patches: boolean;
  /** the image files the reference embedded end to end (preprocessing + image tower) */
  files?: (r: Record<string, any>) => string[];
}

const flat = (x: number[] | number[][]) => (x as number[]).flat() as number[];
const biomed = json(join(HERE, 'biomedclip/reference.json'));
const underData = (r: Record<string, any>) => (r.images as string[]).map((p) => join(DATA, p));
const sharedImages = (r: Record<string, any>) => referenceImages(r as never);

const ROWS: Row[] = [
  { name: 'open_clip tiny-quickgelu (torch zip)', dir: join(FIXTURES, 'tiny-quickgelu'), ref: json(join(FIXTURES, 'tiny-quickgelu/reference.json')), family: 'open_clip', towers: ['open_clip-vit', 'open_clip-text'], logits: true, patches: true, files: sharedImages },
  { name: 'open_clip tiny-gelu (safetensors)', dir: join(FIXTURES, 'tiny-gelu-safetensors'), ref: json(join(FIXTURES, 'tiny-gelu-safetensors/reference.json')), family: 'open_clip', towers: ['open_clip-vit', 'open_clip-text'], logits: true, patches: true, files: sharedImages },
  { name: 'transformers CLIP', dir: join(HERE, 'hf-clip/tiny'), ref: json(join(HERE, 'hf-clip/reference.json')), family: 'hf_clip', towers: ['hf-clip-vision', 'hf-clip-text'], logits: true, patches: true, files: underData },
  { name: 'transformers SigLIP', dir: join(HERE, 'siglip/tiny'), ref: json(join(HERE, 'siglip/reference.json')), family: 'siglip', towers: ['siglip-vision', 'siglip-text'], logits: true, patches: true, files: underData },
  { name: 'BiomedCLIP layout (timm ViT + BERT)', dir: join(HERE, 'biomedclip/tiny'), ref: biomed, family: 'open_clip_custom_text', towers: ['timm-vit', 'hf-bert'], logits: true, patches: true },
  {
    name: 'UniMed-CLIP layout (open_clip ViT + BERT)', dir: join(HERE, 'biomedclip/tiny-native-vision'), ref: biomed, family: 'open_clip_custom_text', towers: ['open_clip-vit', 'hf-bert'],
    imageKey: (r) => r.native_vision.image_features, textKey: (r) => r.native_vision.text_features, logits: false, patches: false,
    // make_reference.py leaves this model's logit_scale at open_clip's init, ln(1/0.07)
    logitScale: 1 / 0.07,
  },
  { name: 'mixed towers (timm ViT + open_clip text)', dir: join(HERE, 'mixed-towers/tiny'), ref: json(join(HERE, 'mixed-towers/reference.json')), family: 'open_clip', towers: ['timm-vit', 'open_clip-text'], logits: false, patches: true },
];

for (const row of ROWS) {
  test(`conformance: ${row.name}`, async () => {
    const { ref } = row;
    const model = await ClipModel.load(row.dir, { threads: 1 });
    let first: Float32Array | undefined;
    try {
      assert.equal(model.compiled.cached, false);
      const spec = model.meta.spec!;
      assert.equal(model.meta.family, row.family);
      assert.deepEqual([spec.vision.kind, spec.text.kind], row.towers);
      assert.deepEqual(JSON.parse(JSON.stringify(spec)), spec, 'the spec is plain JSON');

      // tokens: identical to the reference tokenizer's
      assert.deepEqual(Array.from(model.tokenize(ref.texts)), flat(ref.tokens));

      // image tower on the reference's own pixel values
      const n = ref.pixel_values_shape[0] as number;
      const wantImage = flat(row.imageKey ? row.imageKey(ref) : ref.image_features);
      const E = wantImage.length / n;
      assert.equal(model.embedDim, E);
      const img = await model.embedPixels(Float32Array.from(ref.pixel_values), n);
      first = img.embeddings;
      const ie = maxRelError(img.embeddings, wantImage, E);
      assert.ok(ie < 1e-4, `image features: max relative error ${ie}`);

      // patch tokens (after the final norm) and patch embeddings (through the projection): from the random
      // pixels where the reference has them, else from pixel_values
      if (row.patches) {
        const pixels = flat(ref.random_pixel_values ?? ref.pixel_values);
        const shape = (ref.random_patch_tokens_shape ?? ref.patch_tokens_shape) as [number, number, number];
        const r = await model.embedPixels(Float32Array.from(pixels), shape[0], { patchTokens: true, patchEmbeds: true });
        assert.ok(maxRelError(r.embeddings, flat(ref.random_image_features ?? ref.image_features), E) < 1e-4, 'image features of the patch pixels');
        assert.deepEqual(model.meta.patchTokens, { grid: Math.sqrt(shape[1]), width: shape[2] });
        const pe = maxRelError(r.patchTokens!, flat(ref.random_patch_tokens ?? ref.patch_tokens), shape[2]);
        assert.ok(pe < 1e-4, `patch tokens: max relative error ${pe}`);
        const embeds = ref.random_patch_embeds ?? ref.patch_embeds;
        if (embeds) assert.ok(maxRelError(r.patchEmbeds!, flat(embeds), E) < 1e-4, 'patch embeds');
      }

      // end to end from the image files: decoding, the checkpoint's preprocessing, the image tower
      if (row.files) {
        const files = await model.embedImageFiles(row.files(ref));
        const cos = minCosine(files.embeddings, wantImage, E);
        assert.ok(cos >= 0.9999, `end-to-end cosine ${cos}`);
      }

      // text tower
      const txt = await model.embedTexts(ref.texts);
      const te = maxRelError(txt.embeddings, flat(row.textKey ? row.textKey(ref) : ref.text_features), E);
      assert.ok(te < 1e-4, `text features: max relative error ${te}`);

      // scores as the model's spec says (softmax scale, or sigmoid scale and bias)
      const s = model.meta.score;
      assert.equal(s.kind, row.family === 'siglip' ? 'sigmoid' : 'softmax');
      const scale = row.logitScale ?? ref.logit_scale;
      assert.ok(Math.abs(s.logitScale - scale) < 1e-4 * scale, `logit scale ${s.logitScale} vs ${scale}`);
      if (s.kind === 'sigmoid') assert.ok(Math.abs(s.logitBias - ref.logit_bias) < 1e-4 * Math.abs(ref.logit_bias));
      if (row.logits) {
        const logits = logitsPerImage(img.embeddings, txt.embeddings, E, s.logitScale, s.kind === 'sigmoid' ? s.logitBias : 0);
        const le = maxRelError(logits, flat(ref.logits_per_image), ref.texts.length);
        assert.ok(le < 1e-4, `logits_per_image: max relative error ${le}`);
      }
    } finally {
      await model.release();
    }
    // the second load finds the compiled graphs in the cache and gives the same numbers
    const again = await ClipModel.load(row.dir, { threads: 1 });
    assert.equal(again.compiled.cached, true);
    assert.deepEqual(Array.from((await again.embedPixels(Float32Array.from(ref.pixel_values), ref.pixel_values_shape[0])).embeddings), Array.from(first!));
    await again.release();
  });
}

test('conformance: normalized embeddings have unit norm', async () => {
  const model = await ClipModel.load(join(FIXTURES, 'tiny-quickgelu'), { threads: 1 });
  const r = await model.embedTexts(['a chest x-ray', 'no pneumothorax'], { normalize: true });
  for (let i = 0; i < 2; i++) {
    const norm = Math.hypot(...r.embeddings.subarray(i * 32, (i + 1) * 32));
    assert.ok(Math.abs(norm - 1) < 1e-6);
  }
  await model.release();
});
