// The /v1 endpoints. Each reads the request (inputs.ts), waits for a slot in the queue, and answers with the
// JSON of the CLI command of the same name (tasks.ts).
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { CXR_DESCRIPTORS, ConfigError, embedCorpus, heatmaps, modelSpec, openIndex, readCorpus, tokenizerFilesOf, writeNpy, type ClipIndex, type ClipModel, type TextCorpus } from '../index.ts';
import { overlayOnOriginal, placement } from '../cli/overlay.ts';
import type { ServerContext } from './app.ts';
import { decodeImages, field, flag, HttpError, numberField, readRequest, type RequestInput } from './inputs.ts';
import { classifyImages, embedImages, explainImages, reportImages } from './tasks.ts';

const CONSUMES = ['multipart/form-data', 'application/octet-stream', 'application/dicom', 'image/png', 'image/jpeg', 'image/tiff', 'application/json'];

/** Request fields, documented as query parameters; each may also be sent as a multipart or JSON field. */
function fields(extra: Record<string, { type: string; description: string; items?: { type: string } }>) {
  return {
    type: 'object',
    additionalProperties: true,
    properties: {
      model: { type: 'string', description: 'which loaded model (default: the first)' },
      window: { type: 'string', description: 'display window for DICOM/NIfTI/16-bit inputs: lung, mediastinum, bone, brain, abdomen, or center,width' },
      frame: { type: 'string', description: 'frame of multi-frame DICOM (default 0)' },
      url: { type: 'array', items: { type: 'string' }, description: 'dicomweb+http(s):// URL of a study, series or instance (origin allowed with --dicomweb-origin); repeatable' },
      filename: { type: 'string', description: 'name of a raw-body image in the results' },
      ...extra,
    },
  };
}

const DESCRIPTION = "Images: multipart/form-data with one or more parts in the field `file`, or the raw bytes of one image (application/octet-stream, application/dicom, image/*), or DICOMweb URLs (`url` fields, or application/json {\"urls\": [...]}). Other fields as multipart fields, JSON keys or query parameters.";

function schema(summary: string, extra: Parameters<typeof fields>[0]) {
  return { summary, description: DESCRIPTION, tags: ['models'], consumes: CONSUMES, querystring: fields(extra) };
}

/** The file a model's tokenizer is read from (none for CLIP BPE, which ships with clipmed). */
function tokenizerFile(model: ClipModel): string | undefined {
  const t = model.meta.text.tokenizer;
  return t.kind === 'wordpiece' ? t.vocabFile : t.kind === 'sentencepiece' || t.kind === 'byte-level-bpe' ? t.file : undefined;
}

export async function registerRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const { queue, limits } = ctx;

  /** Read the request, then decode and compute inside a queue slot. */
  const withImages = async <T>(input: RequestInput, work: (model: ClipModel, d: Awaited<ReturnType<typeof decodeImages>>) => Promise<T>): Promise<T> => {
    const model = ctx.model(field(input, 'model'));
    return queue.run(async () => work(model, await decodeImages(input, limits)));
  };

  app.get('/v1/models', { schema: { summary: 'the loaded models', tags: ['models'] } }, async () => ({
    models: ctx.options.models.map((m, i) => ({
      name: m.source.name,
      default: i === 0,
      family: m.meta.family,
      embedDim: m.meta.embedDim,
      score: m.meta.score,
      preprocess: m.meta.preprocess,
      text: m.meta.text,
      patchTokens: m.meta.patchTokens,
      // what the browser's local mode needs to preprocess and score as this server does
      protocol: ctx.options.protocol ?? m.pretrained?.preprocess?.protocol,
      pretrained: m.pretrained ? { scoring: m.pretrained.scoring, templates: m.pretrained.templates } : undefined,
      files: ['meta.json', 'vision.onnx', 'vision.onnx.data', 'text.onnx', 'text.onnx.data'],
      tokenizerFile: tokenizerFile(m),
    })),
  }));

  // The compiled graphs (weights, never images) for the browser app's local mode.
  app.get<{ Params: { name: string; file: string } }>('/v1/models/:name/files/:file', {
    schema: { summary: "a file of a model's compiled ONNX graphs, for running it in a browser", tags: ['models'], params: { type: 'object', properties: { name: { type: 'string' }, file: { type: 'string', enum: ['meta.json', 'vision.onnx', 'vision.onnx.data', 'text.onnx', 'text.onnx.data'] } } } },
  }, async (req, reply) => {
    const model = ctx.model(req.params.name);
    const path = join(model.compiled.dir, basename(req.params.file));
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch {
      throw new HttpError(`model '${req.params.name}' has no file ${req.params.file}`, 404);
    }
    reply.header('content-length', size).header('cache-control', 'private, max-age=3600');
    return reply.type(req.params.file.endsWith('.json') ? 'application/json' : 'application/octet-stream').send(createReadStream(path));
  });

  // The tokenizer file a model's text spec names (WordPiece vocabulary, SentencePiece model), for local mode;
  // CLIP BPE ships with the browser app.
  app.get<{ Params: { name: string; file: string } }>('/v1/models/:name/tokenizer/:file', {
    schema: { summary: "the model's tokenizer file, for running it in a browser", tags: ['models'] },
  }, async (req, reply) => {
    const model = ctx.model(req.params.name);
    const file = tokenizerFile(model);
    if (!file || req.params.file !== file) throw new HttpError(`model '${req.params.name}' has no tokenizer file ${req.params.file}${file ? ` (it has ${file})` : ''}`, 404);
    const src = model.source;
    const files = tokenizerFilesOf(model.meta.text, src);
    const bytes = files?.read(file);
    if (!bytes) throw new HttpError(`model '${req.params.name}': its tokenizer file ${file} is not at hand`, 404);
    return reply.type('application/octet-stream').header('cache-control', 'private, max-age=3600').send(Buffer.from(bytes));
  });

  app.post('/v1/classify', {
    schema: schema('zero-shot classification; answers what `clipmed classify --json` prints', {
      labels: { type: 'string', description: 'class names, comma-separated' },
      label_set: { type: 'string', description: 'a named label set (chexpert-5, chexpert-14, crc100k)' },
      templates: { type: 'array', items: { type: 'string' }, description: 'prompt templates with {} for the label; repeatable' },
      template_set: { type: 'string', description: 'a named template set' },
      multilabel: { type: 'string', description: "CheXzero's positive/negative pair per label (true/false)" },
      logit_scale: { type: 'string', description: "override the model's logit scale" },
    }),
  }, async (req) => {
    const input = await readRequest(req, limits);
    const templates = [...(input.fields.templates ?? []), ...(input.fields.template ?? [])];
    const params = {
      // comma-separated, or one label per field / JSON array element
      labels: input.fields.labels?.join(','),
      labelSet: field(input, 'label_set'),
      templates,
      templateSet: field(input, 'template_set'),
      // absent: the model's registry entry decides (as the CLI without --multilabel)
      multilabel: field(input, 'multilabel') === undefined ? undefined : flag(input, 'multilabel'),
      logitScale: numberField(input, 'logit_scale', undefined, 0),
    };
    return withImages(input, (model, d) => classifyImages(model, d.images, d.failures, params, ctx.classifiers));
  });

  app.post('/v1/embed', {
    schema: schema('image (and text) embeddings; answers what `clipmed embed --json` prints', {
      text: { type: 'array', items: { type: 'string' }, description: 'texts to embed; repeatable' },
      normalize: { type: 'string', description: 'L2-normalise (true/false)' },
    }),
  }, async (req) => {
    const input = await readRequest(req, limits);
    const texts = input.fields.text ?? [];
    const normalize = flag(input, 'normalize');
    if (input.files.length === 0 && input.urls.length === 0) {
      if (texts.length === 0) throw new ConfigError("give images or 'text' fields to embed");
      const model = ctx.model(field(input, 'model'));
      return queue.run(() => embedImages(model, [], [], texts, normalize));
    }
    return withImages(input, (model, d) => embedImages(model, d.images, d.failures, texts, normalize));
  });

  app.post('/v1/explain', {
    schema: schema('descriptor-based diagnosis (Xplainer); answers what `clipmed explain --json` prints', {
      diseases: { type: 'string', description: `comma-separated, from: ${Object.keys(CXR_DESCRIPTORS).join(', ')}` },
      logit_scale: { type: 'string', description: "scale before each pair's softmax (default: the model's)" },
    }),
  }, async (req) => {
    const input = await readRequest(req, limits);
    const diseases = (input.fields.diseases?.join(',') ?? Object.keys(CXR_DESCRIPTORS).join(',')).split(',').map((d) => d.trim());
    const scale = numberField(input, 'logit_scale', undefined, 0);
    return withImages(input, (model, d) => explainImages(model, d.images, d.failures, diseases, scale));
  });

  app.post('/v1/heatmap', {
    schema: schema('zero-shot localization of a prompt in the first image: a PNG overlay on the image (as `clipmed heatmap` writes it), or the float map over the model input', {
      prompt: { type: 'array', items: { type: 'string' }, description: 'prompt(s) to localize; the map returned is for the first (one prompt: neutral reference prompts are added)' },
      format: { type: 'string', description: 'png (overlay, default), npy (float32 [H, W] in [0, 1]) or json (every prompt\'s map)' },
      alpha: { type: 'string', description: 'overlay opacity (default 0.5)' },
    }),
  }, async (req, reply) => {
    const input = await readRequest(req, limits);
    const prompts = [...(input.fields.prompt ?? []), ...(input.fields.text ?? [])];
    if (prompts.length === 0) throw new ConfigError("give at least one 'prompt'");
    const format = field(input, 'format') ?? 'png';
    if (!['png', 'npy', 'json'].includes(format)) throw new ConfigError(`field 'format': expected png, npy or json, got ${JSON.stringify(format)}`);
    const alpha = numberField(input, 'alpha', 0.5, 0, 1)!;
    const { model, image, r } = await withImages(input, async (model, d) => ({ model, image: d.images[0]!, r: await heatmaps(model, d.images[0]!.raster, prompts, alpha) }));
    const first = r.heatmaps[0]!;
    reply.header('x-clipmed-flat', String(first.flat));
    const source = image.source;
    if (format === 'png') {
      // over the original image at its size, as `clipmed heatmap` writes it (a protocol fits the longest side and pads)
      const protocol = ctx.options.protocol ?? model.pretrained?.preprocess?.protocol;
      const where = placement(image.raster.width, image.raster.height, r.width, r.height, protocol ? 'longest' : model.meta.preprocess.resizeMode);
      const overlay = overlayOnOriginal(image.raster, first.map, r.width, r.height, where, alpha);
      const png = await sharp(Buffer.from(overlay), { raw: { width: image.raster.width, height: image.raster.height, channels: 3 } }).png().toBuffer();
      return reply.type('image/png').send(png);
    }
    if (format === 'npy') return reply.type('application/x-npy').send(Buffer.from(writeNpy(first.map, [r.height, r.width])));
    return { model: model.source.name, input: source, width: r.width, height: r.height, prompts: r.prompts, heatmaps: r.heatmaps.map((h) => ({ prompt: h.prompt, flat: h.flat, map: Array.from(h.map) })) };
  });

  // report corpora, embedded once per model and mode
  const corpora = new Map<string, Promise<TextCorpus>>();
  app.post('/v1/report', {
    schema: schema('retrieval-based report (CXR-RePaiR) from the corpus given to `clipmed serve --corpus`; answers what `clipmed report --json` prints', {
      k: { type: 'string', description: 'how many reports or sentences (default 5)' },
      sentences: { type: 'string', description: 'retrieve sentences and compose a report (true/false)' },
    }),
  }, async (req) => {
    const corpus = ctx.options.corpus;
    if (!corpus) throw new HttpError('no report corpus: start the server with --corpus FILE', 501);
    const input = await readRequest(req, limits);
    const k = numberField(input, 'k', 5, 1, 1000)!;
    if (!Number.isInteger(k)) throw new ConfigError(`field 'k': expected a whole number, got ${k}`);
    const sentences = flag(input, 'sentences');
    return withImages(input, async (model, d) => {
      const key = `${model.source.name}\0${sentences}`;
      let c = corpora.get(key);
      if (!c) {
        c = readCorpus(corpus.file, { columns: corpus.columns, sentences }).then((texts) => embedCorpus(model, texts));
        c.catch(() => corpora.delete(key));
        corpora.set(key, c);
      }
      return reportImages(model, d.images, d.failures, await c, corpus.file, k, sentences);
    });
  });

  // the search index (`clipmed index`), opened on first use
  let opened: Promise<ClipIndex> | undefined;
  const openDb = (dir: string) => {
    if (!opened) {
      opened = openIndex(dir);
      opened.catch(() => (opened = undefined));
    }
    return opened;
  };
  app.addHook('onClose', async () => {
    if (opened) (await opened.catch(() => undefined))?.close();
  });
  app.post('/v1/search', {
    schema: schema('search the archive given to `clipmed serve --db` (made by `clipmed index`) by text or by image; answers what `clipmed search --json` prints', {
      text: { type: 'string', description: 'query text (else the first image is the query)' },
      k: { type: 'string', description: 'how many hits (default 10)' },
      where: { type: 'string', description: "SQL filter over the scalar columns, e.g. label = 'pneumonia'" },
      exact: { type: 'string', description: 'brute-force cosine over every row instead of the vector index (true/false)' },
      hybrid: { type: 'string', description: "rank rows whose report matches the text's words higher (true/false)" },
    }),
  }, async (req) => {
    const db = ctx.options.db;
    if (!db) throw new HttpError('no search index: start the server with --db DIR (an archive made by `clipmed index`)', 501);
    const input = await readRequest(req, limits);
    const text = field(input, 'text');
    const k = numberField(input, 'k', 10, 1, 10_000)!;
    if (!Number.isInteger(k)) throw new ConfigError(`field 'k': expected a whole number, got ${k}`);
    const options = { k, where: field(input, 'where'), exact: flag(input, 'exact'), hybrid: flag(input, 'hybrid') };
    const hasImage = input.files.length + input.urls.length > 0;
    if ((text === undefined) === !hasImage) throw new ConfigError("give exactly one query: a 'text' field or an image");
    const model = ctx.model(field(input, 'model'));
    const index = await openDb(db);
    // the table of this model with the preprocessing this server applies (image queries must be embedded alike)
    const protocol = ctx.options.protocol ?? model.pretrained?.preprocess?.protocol;
    const want = modelSpec(model, model.source.name, protocol).specHash;
    const table = (await index.tables()).find((t) => t.spec.specHash === want);
    if (!table) throw new HttpError(`the index has no table for model '${model.source.name}'${protocol ? ` with protocol ${protocol}` : ''} (run clipmed index --model ... first)`, 404);
    const o = { ...options, modelSource: table.spec.model, protocol: table.spec.protocol };
    if (text !== undefined) return queue.run(() => index.search(model, { text }, o));
    return withImages(input, async (m, d) => {
      const vector = (await m.embedRasters([d.images[0]!.raster], { normalize: true })).embeddings;
      return index.search(m, { vector }, o);
    });
  });
}
