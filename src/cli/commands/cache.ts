// clipmed cache ls|rm|prune: what clipmed's cache (compiled graphs, embedded corpora) and the Hugging Face hub
// cache hold, and freeing them, as huggingface_hub's scan-cache / delete-cache do for the hub.
import type { Command } from 'commander';
import { cacheRoot, ConfigError, formatBytes, GRAPH_VERSION, hubCacheDir } from '../../index.ts';
import {
  applyRemovals, blobSize, blobsOnlyIn, parseAge, parseSize, scanClipmedCache, scanHubCache, snapshotLinks,
  type ClipmedCacheEntry, type HubRepo, type Removal,
} from '../cache.ts';
import { printJson, say } from '../output.ts';

type Which = 'clipmed' | 'hub' | 'both';

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => `  ${r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}`);
}

const when = (isoTime: string) => isoTime.slice(0, 16).replace('T', ' ');

function graphDetail(e: ClipmedCacheEntry): string {
  if (e.kind !== 'graph') return '';
  if (!e.complete) return 'incomplete (an interrupted compile)';
  const stale = e.graphVersion !== GRAPH_VERSION ? `, stale: graph v${e.graphVersion}, this clipmed builds v${GRAPH_VERSION}` : '';
  return `${e.family ?? '?'}, checkpoint sha256 ${(e.checkpointSha256 ?? '?').slice(0, 12)}${stale}`;
}

function which(text: string): Which {
  if (text !== 'clipmed' && text !== 'hub' && text !== 'both') throw new ConfigError(`--cache '${text}': expected clipmed, hub or both`);
  return text;
}

function printRemovals(plan: Removal[], dryRun: boolean, json: boolean | undefined): void {
  const freed = plan.reduce((s, r) => s + r.size, 0);
  if (json) {
    printJson({ dryRun, removed: plan, freed });
    return;
  }
  for (const r of plan) say(`${dryRun ? 'would remove' : 'removed'} ${r.path} (${formatBytes(r.size)}, ${r.reason})`);
  say(`${dryRun ? 'would free' : 'freed'} ${formatBytes(freed)}${plan.length === 0 ? ' (nothing to remove)' : ''}`);
}

/** The removal of whole revisions of a hub repository, with the blobs only they use. */
async function revisionRemovals(repo: HubRepo, commits: string[], reason: string): Promise<Removal[]> {
  const links = await snapshotLinks(repo);
  const plan: Removal[] = commits.map((c) => ({ kind: 'hub-revision', path: `${repo.path}/snapshots/${c}`, size: 0, reason }));
  for (const b of blobsOnlyIn(repo, new Set(commits), links)) {
    plan.push({ kind: 'hub-blob', path: `${repo.path}/blobs/${b}`, size: await blobSize(repo, b), reason: `only used by ${reason}` });
  }
  return plan;
}

export function register(program: Command): void {
  const cache = program
    .command('cache')
    .description("show and free clipmed's cache ($CLIPMED_CACHE: compiled graphs, embedded corpora) and the Hugging Face hub cache");

  cache
    .command('ls')
    .description('list the cache entries: compiled graphs and corpora, hub repositories and their revisions, with sizes')
    .option('--json', 'print {"clipmed": {"dir", "size", "entries"}, "hub": {"dir", "size", "repos"}}')
    .action(async (opts: { json?: boolean }) => {
      const root = cacheRoot();
      const hub = hubCacheDir();
      const entries = await scanClipmedCache(root);
      const repos = await scanHubCache(hub);
      const total = (xs: Array<{ size: number }>) => xs.reduce((s, x) => s + x.size, 0);
      if (opts.json) {
        printJson({ clipmed: { dir: root, size: total(entries), entries }, hub: { dir: hub, size: total(repos), repos } });
        return;
      }
      say(`clipmed cache ${root}: ${formatBytes(total(entries))} in ${entries.length} entries`);
      if (entries.length) {
        const rows = entries.map((e) => [e.kind, e.key, formatBytes(e.size), when(e.lastUsed), graphDetail(e)]);
        for (const line of table([['KIND', 'KEY', 'SIZE', 'LAST USED', 'DETAIL'], ...rows])) say(line);
      }
      say(`Hugging Face hub cache ${hub}: ${formatBytes(total(repos))} in ${repos.length} repositories`);
      if (repos.length) {
        const rows = repos.map((r) => [r.repo, r.type, formatBytes(r.size), String(r.revisions.length), r.revisions.flatMap((v) => v.refs).join(', ') || '-', when(r.lastModified)]);
        for (const line of table([['REPO', 'TYPE', 'SIZE', 'REVISIONS', 'REFS', 'LAST MODIFIED'], ...rows])) say(line);
        for (const r of repos) {
          for (const v of r.revisions) say(`  ${r.repo}@${v.commit.slice(0, 12)}  ${formatBytes(v.size)}  ${v.files} files  ${v.refs.length ? v.refs.join(', ') : '(detached)'}`);
        }
      }
    });

  cache
    .command('rm')
    .description('remove cache entries: a graph or corpus key (or a unique prefix), `graphs`, `corpora`, a hub repository (ORG/NAME or hf-hub:ORG/NAME) or one revision (ORG/NAME@REVISION)')
    .argument('<targets...>', 'what to remove (see `clipmed cache ls`)')
    .option('--dry-run', 'say what would be removed, remove nothing')
    .option('--json', 'print {"dryRun", "removed": [{"kind", "path", "size", "reason"}], "freed"}')
    .action(async (targets: string[], opts: { dryRun?: boolean; json?: boolean }) => {
      const root = cacheRoot();
      const hub = hubCacheDir();
      const entries = await scanClipmedCache(root);
      const repos = await scanHubCache(hub);
      const plan: Removal[] = [];
      // every target is resolved before anything is removed: one unknown name removes nothing
      for (const t of targets) {
        if (t === 'graphs' || t === 'corpora') {
          const kind = t === 'graphs' ? 'graph' : 'corpus';
          for (const e of entries.filter((x) => x.kind === kind)) plan.push({ kind: e.kind, path: e.path, size: e.size, reason: `all ${t}` });
          continue;
        }
        const local = entries.filter((e) => e.key === t || (t.length >= 4 && e.key.startsWith(t)));
        if (local.length > 1) throw new ConfigError(`'${t}' matches ${local.length} cache entries (${local.map((e) => e.key).join(', ')}): give more of the key`);
        if (local.length === 1) {
          plan.push({ kind: local[0]!.kind, path: local[0]!.path, size: local[0]!.size, reason: `asked for ${t}` });
          continue;
        }
        const [id, revision] = t.replace(/^hf-hub:/, '').replace(/^(models|datasets|spaces)--/, '').split('@');
        const repo = repos.find((r) => r.repo.toLowerCase() === id!.replace(/--/g, '/').toLowerCase());
        if (!repo) throw new ConfigError(`'${t}': no such graph, corpus or hub repository in the caches (see \`clipmed cache ls\`)`);
        if (revision === undefined) {
          plan.push({ kind: 'hub-repo', path: repo.path, size: repo.size, reason: `asked for ${repo.repo}` });
          continue;
        }
        const revs = repo.revisions.filter((v) => v.refs.includes(revision) || (revision.length >= 4 && v.commit.startsWith(revision)));
        if (revs.length !== 1) throw new ConfigError(`'${t}': ${revs.length ? 'more than one' : 'no'} revision of ${repo.repo} matches '${revision}' (${repo.revisions.map((v) => v.commit.slice(0, 12)).join(', ') || 'none cached'})`);
        plan.push(...await revisionRemovals(repo, [revs[0]!.commit], `${repo.repo}@${revs[0]!.commit.slice(0, 12)}`));
        // a ref naming the removed revision would point at nothing
        for (const ref of revs[0]!.refs) plan.push({ kind: 'hub-ref', path: `${repo.path}/refs/${ref}`, size: 0, reason: `points to ${revs[0]!.commit.slice(0, 12)}` });
      }
      await applyRemovals(plan, [root, hub], Boolean(opts.dryRun));
      printRemovals(plan, Boolean(opts.dryRun), opts.json);
    });

  cache
    .command('prune')
    .description('free what will not be used again: interrupted writes, graphs of an older graph version, hub revisions no ref points to and blobs no snapshot uses; with --older-than or --max-size also graphs and corpora least recently used')
    .option('--older-than <age>', 'also remove graphs and corpora not used for this long: 30d, 12h, 2w')
    .option('--max-size <size>', "then remove the least recently used graphs and corpora until clipmed's cache is at most this big: 500MB, 2GB")
    .option('--cache <which>', 'clipmed, hub or both', 'both')
    .option('--dry-run', 'say what would be removed, remove nothing')
    .option('--json', 'print {"dryRun", "removed": [{"kind", "path", "size", "reason"}], "freed"}')
    .action(async (opts: { olderThan?: string; maxSize?: string; cache: string; dryRun?: boolean; json?: boolean }) => {
      const scope = which(opts.cache);
      const maxAgeDays = opts.olderThan !== undefined ? parseAge(opts.olderThan) : undefined;
      const maxSize = opts.maxSize !== undefined ? parseSize(opts.maxSize) : undefined;
      const root = cacheRoot();
      const hub = hubCacheDir();
      const plan: Removal[] = [];
      if (scope !== 'hub') {
        const entries = await scanClipmedCache(root);
        const now = Date.now();
        const kept: ClipmedCacheEntry[] = [];
        for (const e of entries) {
          const age = (now - Date.parse(e.lastUsed)) / 86_400_000;
          const reason = e.kind === 'tmp' ? 'left by an interrupted write'
            : e.kind === 'graph' && !e.complete ? 'an interrupted compile'
            : e.kind === 'graph' && e.graphVersion !== GRAPH_VERSION ? `graph v${e.graphVersion}, this clipmed builds v${GRAPH_VERSION}`
            : (e.kind === 'graph' || e.kind === 'corpus') && maxAgeDays !== undefined && age > maxAgeDays ? `not used for ${age.toFixed(1)} days`
            : undefined;
          if (reason) plan.push({ kind: e.kind, path: e.path, size: e.size, reason });
          else kept.push(e);
        }
        if (maxSize !== undefined) {
          let size = kept.reduce((s, e) => s + e.size, 0);
          const lru = kept.filter((e) => e.kind === 'graph' || e.kind === 'corpus').sort((a, b) => Date.parse(a.lastUsed) - Date.parse(b.lastUsed));
          for (const e of lru) {
            if (size <= maxSize) break;
            plan.push({ kind: e.kind, path: e.path, size: e.size, reason: `least recently used, the cache is over ${formatBytes(maxSize)}` });
            size -= e.size;
          }
        }
      }
      if (scope !== 'clipmed') {
        for (const repo of await scanHubCache(hub)) {
          const detached = repo.revisions.filter((v) => v.refs.length === 0).map((v) => v.commit);
          if (detached.length) plan.push(...await revisionRemovals(repo, detached, `detached revisions of ${repo.repo}`));
          for (const b of repo.orphanBlobs) plan.push({ kind: 'hub-blob', path: `${repo.path}/blobs/${b}`, size: await blobSize(repo, b), reason: `no snapshot of ${repo.repo} uses it` });
        }
      }
      await applyRemovals(plan, [root, hub], Boolean(opts.dryRun));
      printRemovals(plan, Boolean(opts.dryRun), opts.json);
    });
}
