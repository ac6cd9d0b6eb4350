// clipmed explain: explainable zero-shot diagnosis after Xplainer: each disease scored through observable
// descriptors, with the descriptors that carried the decision.
import type { Command } from 'commander';
import { CXR_DESCRIPTORS, cxrDescriptorPrompts, embedDescriptorPrompts, explainZeroShot } from '../../index.ts';
import { INPUT_HELP, loadImages } from '../images.ts';
import { withProgress } from '../progress-model.ts';
import { Failures, loadModel, MODEL_HELP, PROTOCOL_HELP, type ModelOptions } from '../shared.ts';
import { printJson, say } from '../output.ts';

interface ExplainOptions extends ModelOptions {
  diseases: string;
  logitScale?: string;
  window?: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('explain')
    .description('explainable zero-shot diagnosis (Xplainer): per-descriptor probabilities and the diagnosis as their geometric mean')
    .argument('<inputs...>', INPUT_HELP)
    .requiredOption('-m, --model <source>', MODEL_HELP)
    .option('--protocol <name>', PROTOCOL_HELP)
    .option('-d, --diseases <a,b>', `diseases with descriptor sets: ${Object.keys(CXR_DESCRIPTORS).join(', ')}`, Object.keys(CXR_DESCRIPTORS).join(','))
    .option('--logit-scale <x>', "scale of the cosine similarities before each pair's softmax (default: the model's)")
    .option('--window <preset|C,W>', 'display window for DICOM/NIfTI/16-bit inputs')
    .option('--json', 'print {"model", "results": [{"input", "diagnoses": [{"disease", "probability", "descriptors"}]}]}')
    .action(async (inputs: string[], opts: ExplainOptions) => {
      const diseases = opts.diseases.split(',').map((d) => d.trim());
      const sets = cxrDescriptorPrompts(diseases);
      const failures = new Failures();
      const model = await loadModel(opts);
      const embedded = await embedDescriptorPrompts(model, sets);
      const scale = opts.logitScale ? Number(opts.logitScale) : model.meta.score.logitScale;
      const { images } = await loadImages(inputs, opts, failures);
      const img = await withProgress(model, 'explaining').embedRasters(images.map((i) => i.raster), { normalize: true });
      const results = images.map((im, i) => ({
        input: im.source,
        diagnoses: explainZeroShot(img.embeddings.subarray(i * img.dim, (i + 1) * img.dim), embedded, scale).sort((a, b) => b.probability - a.probability),
      }));
      if (opts.json) printJson({ model: model.source.name, results, failures: failures.items });
      else {
        for (const r of results) {
          say(r.input);
          for (const d of r.diagnoses) {
            say(`  ${d.disease} ${(d.probability * 100).toFixed(1)}%`);
            for (const x of d.descriptors) say(`    ${(x.probability * 100).toFixed(1).padStart(5)}%  ${x.descriptor}`);
          }
        }
      }
      failures.report();
      await model.release();
    });
}
