// Scale-out on BullMQ (Redis): `clipmed index --queue` lists the inputs, makes the model's table, cuts the
// inputs into shards and enqueues one job per shard; `clipmed worker` processes shards on any machine that
// sees the same database folder. A shard is the same `addToTable` as a local run, so a worker killed mid-shard
// loses nothing: BullMQ hands the stalled shard to another worker, which skips the batches already committed.
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import type { ConnectionOptions, Job, Queue, Worker } from 'bullmq';
import { ConfigError } from '../../errors.ts';
import { isDicomWebUrl } from '../../io/dicomweb.ts';
import { ClipModel } from '../clip-model.ts';
import { addToTable, modelSpec, type AddOptions, type AddReport, type InputItem } from './ingest.ts';
import { openIndex, type ClipIndex } from './store.ts';

export const QUEUE_NAME = 'clipmed-index';

/** What one job carries: where to write, with which model, and the shard's inputs. */
export interface ShardJob {
  db: string;
  /** model source as `ClipModel.load` takes it (an absolute path for local models) */
  model: string;
  protocol?: string;
  specHash: string;
  options: Pick<AddOptions, 'frames' | 'phi' | 'window' | 'batchSize'>;
  items: InputItem[];
}

/**
 * BullMQ connection options from redis://[:password@]host:port[/db].
 * @example redisConnection('redis://127.0.0.1:6390/2') // { host: '127.0.0.1', port: 6390, db: 2, maxRetriesPerRequest: null }
 */
export function redisConnection(url: string): ConnectionOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch (err) {
    throw new ConfigError(`--queue: not a URL: '${url}' (expected redis://HOST:PORT)`, { cause: err });
  }
  if (u.protocol !== 'redis:') throw new ConfigError(`--queue: expected redis://HOST:PORT, got '${url}'`);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new ConfigError(`--queue: database '${u.pathname.slice(1)}' is not a number`);
  return {
    host: u.hostname,
    port: u.port ? Number(u.port) : 6379,
    db,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    maxRetriesPerRequest: null, // BullMQ workers block on Redis; a retry limit would make them fail instead
  };
}

export interface EnqueueResult {
  jobIds: string[];
  /** shards of an earlier run with the same content still waiting or running: waited for, not added again */
  joined: number;
}

/**
 * A shard's job id: a hash of the model spec, the options and the shard's inputs with their size and mtime.
 * The same shard enqueued again while its job is still waiting or running (a coordinator restarted) joins
 * that job instead of adding a second one, which could write its rows a second time.
 */
async function shardId(base: Omit<ShardJob, 'items'>, items: InputItem[]): Promise<string> {
  const h = createHash('sha256').update(`${base.specHash}\n${base.db}\n${JSON.stringify(base.options)}\n`);
  for (const it of items) {
    const st = isDicomWebUrl(it.source) ? undefined : await stat(it.source).catch(() => undefined);
    h.update(`${JSON.stringify(it)}\t${st?.size ?? ''}\t${st?.mtimeMs ?? ''}\n`);
  }
  return `${base.specHash.slice(0, 16)}-${h.digest('hex').slice(0, 24)}`;
}

/** Cut items into shards and enqueue one job each (finished jobs of the same shard are replaced). */
export async function enqueueShards(queue: Queue, base: Omit<ShardJob, 'items'>, items: InputItem[], shardSize = 256): Promise<EnqueueResult> {
  const jobs = [];
  const jobIds: string[] = [];
  let joined = 0;
  for (let i = 0; i < items.length; i += shardSize) {
    const shard = items.slice(i, i + shardSize);
    const id = await shardId(base, shard);
    jobIds.push(id);
    const state = await queue.getJobState(id);
    if (state === 'completed' || state === 'failed') await queue.remove(id); // a finished run: do it again (it skips what is there)
    else if (state !== 'unknown') {
      joined++;
      continue;
    }
    jobs.push({
      name: 'shard',
      data: { ...base, items: shard } satisfies ShardJob,
      opts: { jobId: id, attempts: 5, backoff: { type: 'exponential' as const, delay: 500 }, removeOnComplete: { age: 24 * 3600 }, removeOnFail: { age: 7 * 24 * 3600 } },
    });
  }
  await queue.addBulk(jobs);
  return { jobIds, joined };
}

export interface ShardOutcome {
  id: string;
  state: 'completed' | 'failed';
  result?: AddReport;
  error?: string;
}

/** Wait until every job is completed or failed (after its retries), reporting inputs done as they go. */
export async function waitForShards(queue: Queue, jobIds: string[], onProgress?: (done: number) => void, pollMs = 250): Promise<ShardOutcome[]> {
  const outcomes = new Map<string, ShardOutcome>();
  const sizes = new Map<string, number>();
  for (;;) {
    let done = 0;
    for (const id of jobIds) {
      const known = outcomes.get(id);
      if (known) {
        done += sizes.get(id) ?? 0;
        continue;
      }
      // the state first, then the job: a job read while active and found completed a moment later has no result yet
      const state = await queue.getJobState(id);
      const job = (await queue.getJob(id)) as Job<ShardJob, AddReport> | undefined;
      if (!job) throw new ConfigError(`job ${id} vanished from the queue (was the queue obliterated?)`);
      sizes.set(id, job.data.items.length);
      if (state === 'completed') {
        outcomes.set(id, { id, state, result: job.returnvalue });
        done += job.data.items.length;
      } else if (state === 'failed' && job.attemptsMade >= (job.opts.attempts ?? 1)) {
        outcomes.set(id, { id, state, error: job.failedReason });
        done += job.data.items.length;
      } else if (typeof job.progress === 'number') {
        done += job.progress;
      }
    }
    onProgress?.(done);
    if (outcomes.size === jobIds.length) return jobIds.map((id) => outcomes.get(id)!);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** Job counts by state and the number of connected workers. */
export async function queueStatus(queue: Queue): Promise<{ counts: Record<string, number>; workers: number }> {
  const counts = await queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized');
  const workers = (await queue.getWorkers()).length;
  return { counts, workers };
}

export interface WorkerOptions {
  threads?: number;
  /** decode threads per shard (AddOptions.decodeThreads; default: half the cores, 1 to 4) */
  decodeThreads?: number;
  /** shards processed at once by this process (default 1) */
  concurrency?: number;
  /** ms a shard's lock lives without renewal before another worker may take it (default 30000) */
  lockDuration?: number;
  log?: (message: string) => void;
}

/**
 * A worker that embeds shards into their database. Models and databases stay open between shards.
 * @example const w = await startWorker('redis://127.0.0.1:6379'); process.on('SIGTERM', () => w.close());
 */
export async function startWorker(url: string, o: WorkerOptions = {}): Promise<Worker<ShardJob, AddReport>> {
  const { Worker } = await import('bullmq');
  const models = new Map<string, Promise<ClipModel>>();
  const indexes = new Map<string, Promise<ClipIndex>>();
  const log = o.log ?? (() => {});
  const worker = new Worker<ShardJob, AddReport>(
    QUEUE_NAME,
    async (job) => {
      const d = job.data;
      const key = `${d.model}\n${d.protocol ?? ''}`;
      if (!models.has(key)) models.set(key, ClipModel.load(d.model, { threads: o.threads, protocol: d.protocol, log }));
      if (!indexes.has(d.db)) indexes.set(d.db, openIndex(d.db));
      const model = await models.get(key)!;
      const index = await indexes.get(d.db)!;
      const spec = modelSpec(model, d.model, d.protocol);
      if (spec.specHash !== d.specHash) throw new ConfigError(`model ${d.model} here has spec ${spec.specHash.slice(0, 12)}, the job wants ${d.specHash.slice(0, 12)} (different files on this machine?)`);
      const table = await index.tableFor(spec);
      const report = await addToTable(table, model, index.salt, d.items, {
        ...d.options,
        decodeThreads: o.decodeThreads,
        onProgress: (p) => void job.updateProgress(p.done),
      });
      log(`shard ${job.id}: ${report.written} rows written, ${report.unchanged} unchanged, ${report.failures.length} failed`);
      return report;
    },
    // a dead worker's shard is found stalled within one lock duration and handed to another worker
    { connection: redisConnection(url), concurrency: o.concurrency ?? 1, lockDuration: o.lockDuration ?? 30_000, stalledInterval: o.lockDuration ?? 30_000, maxStalledCount: 10 },
  );
  worker.on('error', (err) => log(`worker error: ${err.message}`));
  return worker;
}

/** The queue the coordinator and `--status` use. */
export async function openQueue(url: string): Promise<Queue<ShardJob, AddReport>> {
  const { Queue } = await import('bullmq'); // loaded on first use, not with every clipmed command
  return new Queue<ShardJob, AddReport>(QUEUE_NAME, { connection: redisConnection(url) });
}
