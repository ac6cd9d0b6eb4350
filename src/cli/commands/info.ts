// clipmed info: what a model is, as clipmed understands it.
import type { Command } from 'commander';
import { loadModel, MODEL_HELP, type ModelOptions } from '../shared.ts';
import { printJson, say } from '../output.ts';

export function register(program: Command): void {
  program
    .command('info')
    .description('architecture, parameter count, preprocessing and the cached graph location of a model')
    .requiredOption('-m, --model <source>', MODEL_HELP)
    .option('--json', 'print JSON')
    .action(async (opts: ModelOptions & { json?: boolean }) => {
      const model = await loadModel(opts);
      const m = model.meta;
      const info = {
        model: model.source.name,
        format: m.format,
        weights: model.source.weightsFile,
        checkpointSha256: m.checkpointSha256,
        family: m.family,
        embedDim: m.embedDim,
        architecture: m.architecture,
        text: m.text,
        score: m.score,
        parameters: { ...m.parameters, total: m.parameters.vision + m.parameters.text },
        preprocess: m.preprocess,
        graphCache: model.compiled.dir,
        // the model spec: towers (kind, config, key prefix), tokenizer, preprocessing, scoring, files
        spec: m.spec,
      };
      if (opts.json) {
        printJson(info, 2);
        return;
      }
      say(`${info.model} (${m.family} family, ${m.format} format)`);
      say(`  weights      ${info.weights} (sha256 ${m.checkpointSha256.slice(0, 16)}...)`);
      for (const line of describeArchitecture(m.architecture)) say(`  ${line}`);
      if (m.spec) say(`  towers       vision ${m.spec.vision.kind} (keys ${m.spec.vision.prefix || 'at the top level'}), text ${m.spec.text.kind} (keys ${m.spec.text.prefix || 'at the top level'})`);
      const s = m.score;
      const score = s.kind === 'softmax' ? `softmax, logit scale ${s.logitScale.toFixed(4)}`
        : s.kind === 'sigmoid' ? `sigmoid, logit scale ${s.logitScale.toFixed(4)}, bias ${s.logitBias.toFixed(4)}`
        : `global + local (GLoRIA: attention temperature ${s.attentionTemp}, word temperature ${s.wordTemp}), softmax at scale ${s.logitScale}`;
      say(`  embedding    ${m.embedDim}; scoring ${score}`);
      say(`  tokenizer    ${m.text.tokenizer.kind}, context ${m.text.contextLength}, pad id ${m.text.padId}`);
      say(`  parameters   ${(info.parameters.total / 1e6).toFixed(2)}M (vision ${(m.parameters.vision / 1e6).toFixed(2)}M, text ${(m.parameters.text / 1e6).toFixed(2)}M)`);
      const p = m.preprocess;
      say(`  preprocess   resize ${p.resizeMode} to ${p.size} (${p.interpolation}), mean [${p.mean.join(', ')}], std [${p.std.join(', ')}]`);
      say(`  graph cache  ${info.graphCache}`);
    });
}

/** One line per tower for the architectures clipmed knows how to describe; JSON for the rest. */
function describeArchitecture(a: Record<string, unknown>): string[] {
  const v = a.vision as Record<string, number | string> | undefined;
  const t = a.text as Record<string, number | string> | undefined;
  if (!v || !t) return [`architecture ${JSON.stringify(a)}`];
  const heads = typeof v.headWidth === 'number' ? Number(v.width) / v.headWidth : v.heads;
  // a tower without patches (a CNN: torchvision-resnet) is described by its kind, input size and stages
  const cnn = v.patchSize === undefined && typeof v.tower === 'string';
  const stages = Array.isArray(v.layers) ? ` stages [${(v.layers as unknown as number[]).join(', ')}]` : '';
  return [
    cnn
      ? `vision       ${v.tower} ${v.imageSize}px${v.inputSize ? ` (resized to ${v.inputSize} in the graph)` : ''},${stages}`
      : `vision       ViT ${v.imageSize}px, patch ${v.patchSize}, width ${v.width}, ${v.layers} layers, ${heads} heads, pool ${v.poolType}${a.act ? `, ${a.act}` : ''}`,
    `text         width ${t.width}, ${t.layers} layers, ${t.heads} heads, context ${t.contextLength}, vocab ${t.vocabSize}, pool ${t.poolType ?? t.tower}`,
  ];
}
