// clipmed info: what a model is, as clipmed understands it.
import type { Command } from 'commander';
import { loadModel, MODEL_HELP, type ModelOptions } from '../shared.ts';

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
        architecture: m.config,
        parameters: { ...m.parameters, total: m.parameters.vision + m.parameters.text },
        preprocess: m.preprocess,
        logitScale: m.logitScale,
        graphCache: model.compiled.dir,
      };
      if (opts.json) {
        console.log(JSON.stringify(info, null, 2));
        return;
      }
      const v = m.config.vision;
      const t = m.config.text;
      console.log(`${info.model} (${m.format} format)`);
      console.log(`  weights      ${info.weights} (sha256 ${m.checkpointSha256.slice(0, 16)}...)`);
      console.log(`  vision       ViT ${v.imageSize}px, patch ${v.patchSize}, width ${v.width}, ${v.layers} layers, ${v.width / v.headWidth} heads, pool ${v.poolType}`);
      console.log(`  text         width ${t.width}, ${t.layers} layers, ${t.heads} heads, context ${t.contextLength}, vocab ${t.vocabSize}, pool ${t.poolType}`);
      console.log(`  embedding    ${m.config.embedDim}, activation ${m.config.act}, logit scale ${m.logitScale.toFixed(4)}`);
      console.log(`  parameters   ${(info.parameters.total / 1e6).toFixed(2)}M (vision ${(m.parameters.vision / 1e6).toFixed(2)}M, text ${(m.parameters.text / 1e6).toFixed(2)}M)`);
      const p = m.preprocess;
      console.log(`  preprocess   resize ${p.resizeMode} to ${p.size} (${p.interpolation}), mean [${p.mean.join(', ')}], std [${p.std.join(', ')}]`);
      console.log(`  graph cache  ${info.graphCache}`);
    });
}
