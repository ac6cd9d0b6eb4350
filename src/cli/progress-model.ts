// Progress for the long embeddings that happen inside library calls (a few-shot fit, a report corpus): the
// model handed to them embeds in batches and moves a bar on stderr (a terminal only, never with --quiet).
import type { ClipModel, ImageEmbeddings, TextEmbeddings } from '../index.ts';
import { progress } from './shared.ts';

const concat = <T extends Float32Array | Int32Array>(parts: T[], make: (n: number) => T): T => {
  const out = make(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

/** `model`, whose `embedRasters` and `embedTexts` show a bar labelled `label` over the images or texts. */
export function withProgress(model: ClipModel, label: string): ClipModel {
  const embedRasters: ClipModel['embedRasters'] = async (images, opts = {}) => {
    const bs = opts.batchSize ?? 8;
    if (opts.patchTokens || opts.patchEmbeds || images.length <= bs) return model.embedRasters(images, opts);
    const bar = progress(images.length, `${label}: images`);
    const parts: ImageEmbeddings[] = [];
    try {
      for (let i = 0; i < images.length; i += bs) {
        const chunk = images.slice(i, i + bs);
        parts.push(await model.embedRasters(chunk, opts));
        bar.tick(chunk.length);
      }
    } finally {
      bar.stop();
    }
    return { embeddings: concat(parts.map((p) => p.embeddings), (n) => new Float32Array(n)), dim: parts[0]!.dim };
  };
  const embedTexts: ClipModel['embedTexts'] = async (texts, opts = {}) => {
    const bs = opts.batchSize ?? 64;
    if (texts.length <= bs) return model.embedTexts(texts, opts);
    const bar = progress(texts.length, `${label}: texts`);
    const parts: TextEmbeddings[] = [];
    try {
      for (let i = 0; i < texts.length; i += bs) {
        const chunk = texts.slice(i, i + bs);
        parts.push(await model.embedTexts(chunk, opts));
        bar.tick(chunk.length);
      }
    } finally {
      bar.stop();
    }
    return {
      embeddings: concat(parts.map((p) => p.embeddings), (n) => new Float32Array(n)),
      tokens: concat(parts.map((p) => p.tokens), (n) => new Int32Array(n)),
      dim: parts[0]!.dim,
    };
  };
  return new Proxy(model, {
    get(target, key) {
      if (key === 'embedRasters') return embedRasters;
      if (key === 'embedTexts') return embedTexts;
      const v = Reflect.get(target, key, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}
