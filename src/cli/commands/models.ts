// clipmed models: the pretrained models clipmed knows by name, and which of them are in the local
// Hugging Face hub cache.
import type { Command } from 'commander';
import { cachedRelease, cachedSnapshot, getSpec, hubCacheDir, listModels } from '../../index.ts';
import { printJson, say } from '../output.ts';

export function register(program: Command): void {
  program
    .command('models')
    .description('list the known pretrained models: family, size, licence, gating and whether they are in the Hugging Face cache (release downloads such as the MedCLIP zips: in the clipmed cache)')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => {
      const cache = hubCacheDir();
      const rows = listModels().map((name) => {
        const s = getSpec(name);
        const cached = s.source.kind === 'hub' ? (cachedSnapshot(s.source.repo, cache) ?? null) : s.source.kind === 'release' ? (cachedRelease(s.source.url) ?? null) : null;
        return {
          name,
          title: s.title,
          family: s.family,
          supported: s.supported,
          source: s.source,
          sizeMB: s.sizeMB,
          license: s.license,
          gated: s.gated,
          scoring: s.scoring,
          templates: s.templates,
          cached,
          ...(s.unverified ? { unverified: true, note: s.note } : {}),
        };
      });
      if (opts.json) {
        printJson({ hubCache: cache, models: rows }, 2);
        return;
      }
      const table = rows.map((r) => [
        r.name,
        r.supported ? r.family : `${r.family} (not built)`,
        r.sizeMB >= 1000 ? `${(r.sizeMB / 1000).toFixed(1)} GB` : `${r.sizeMB} MB`,
        r.license.length > 40 ? `${r.license.slice(0, 37)}...` : r.license,
        r.gated ? 'gated' : '-',
        r.cached ? 'cached' : r.source.kind === 'manual' ? 'manual download' : '-',
      ]);
      const head = ['name', 'family', 'size', 'licence', 'gated', 'local'];
      const widths = head.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
      for (const row of [head, ...table]) say(row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
      say(`\nHugging Face cache: ${cache}`);
    });
}
