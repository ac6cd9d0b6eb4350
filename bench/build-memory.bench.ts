// npm run bench:build-memory — peak resident memory of turning a checkpoint into graphs, and of loading them:
//  1. random-weight checkpoints at real sizes, written tensor by tensor in a temporary folder: ViT-B/16 as an
//     open_clip folder, and a SigLIP so400m-patch14-384 transformers folder (MedSigLIP's layout and size, about
//     1.6 GB of float32 per tower);
//  2. each compiled into the graph cache in a child process of its own (resolveModelSource + compileModel),
//     its peak RSS against the checkpoint's size; the goal is under 1.5x;
//  3. each loaded from the cache and a batch of 8 noise images embedded in another child, its peak RSS against
//     the weights plus the batch (pixels in, embeddings out); the goal is under 1.5x. Embedding images starts
//     only the image tower's session, so the ratio to that tower's weights is printed too.
// A child that only imports the library gives Node's baseline, printed beside the ratios.
// Options: --json, --skip-siglip, --keep (leave the temporary folder)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vitB } from '../src/index.ts';
import { SO400M, measure, writeOpenClipFolder, writeSiglipFolder } from '../test/helpers/build-memory.ts';

const args = process.argv.slice(2);
const asJson = args.includes('--json');
const work = mkdtempSync(join(tmpdir(), 'clipmed-build-memory-'));
const MiB = 2 ** 20;
const log = (m: string) => { if (!asJson) process.stderr.write(`${m}\n`); };

interface Row { model: string; checkpointMiB: number; buildRssMiB: number; buildRatio: number; embedRssMiB: number; batchMiB: number; embedRatio: number; visionMiB: number; visionRatio: number }
const rows: Row[] = [];

function run(model: string, folder: string, bytes: number): void {
  const cache = join(work, `cache-${rows.length}`);
  log(`${model}: building (${(bytes / MiB).toFixed(0)} MiB checkpoint)`);
  const build = measure('build', folder, cache);
  log(`${model}: loading and embedding a batch of 8`);
  const embed = measure('embed', folder, cache, 8);
  const batch = Number(embed.report.batchBytes);
  // embedding images starts only the image tower's session: its float32 parameters are the weights it loads
  const vision = 4 * Number((build.report.parameters as { vision: number }).vision);
  rows.push({
    model, checkpointMiB: bytes / MiB,
    buildRssMiB: build.maxRss / MiB, buildRatio: build.maxRss / bytes,
    embedRssMiB: embed.maxRss / MiB, batchMiB: batch / MiB, embedRatio: embed.maxRss / (bytes + batch),
    visionMiB: vision / MiB, visionRatio: embed.maxRss / (vision + batch),
  });
  rmSync(cache, { recursive: true, force: true });
}

try {
  const baseline = measure('baseline', work, join(work, 'cache-baseline'));
  log(`writing ViT-B/16 (open_clip, random weights)`);
  const vit = join(work, 'vit-b-16');
  run('ViT-B/16 (open_clip)', vit, writeOpenClipFolder(vit, vitB(16)));
  rmSync(vit, { recursive: true, force: true });
  if (!args.includes('--skip-siglip')) {
    log('writing SigLIP so400m-patch14-384 (transformers, random weights)');
    const sig = join(work, 'siglip-so400m');
    const s = writeSiglipFolder(sig, SO400M);
    log(`  vision ${(s.vision / MiB).toFixed(0)} MiB, text ${(s.text / MiB).toFixed(0)} MiB`);
    run('SigLIP so400m/14-384 (transformers)', sig, s.bytes);
  }
  const baselineMiB = baseline.maxRss / MiB;
  if (asJson) console.log(JSON.stringify({ baselineMiB, rows }, null, 2));
  else {
    console.log(`Peak RSS of building graphs from a checkpoint, and of loading them and embedding 8 images; each in its own process (Node + library baseline ${baselineMiB.toFixed(0)} MiB, included)`);
    console.log('| model | checkpoint MiB | build peak RSS MiB | build / checkpoint | load+embed peak RSS MiB | batch MiB | load+embed / (weights + batch) | image tower MiB | load+embed / (image tower + batch) |');
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of rows) {
      console.log(`| ${r.model} | ${r.checkpointMiB.toFixed(0)} | ${r.buildRssMiB.toFixed(0)} | ${r.buildRatio.toFixed(2)} | ${r.embedRssMiB.toFixed(0)} | ${r.batchMiB.toFixed(1)} | ${r.embedRatio.toFixed(2)} | ${r.visionMiB.toFixed(0)} | ${r.visionRatio.toFixed(2)} |`);
    }
  }
} finally {
  if (!args.includes('--keep')) rmSync(work, { recursive: true, force: true });
  else log(`kept ${work}`);
}
