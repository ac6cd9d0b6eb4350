// Decoding and preprocessing in worker threads (node:worker_threads), so that a command's images are read,
// decoded, windowed and turned into the model's input while the model runs on the ones before them.
//
// - `DecodePool` runs `decodeTask` (src/node/decode-task.ts) for one planned entry at a time in each of N
//   workers, started when first needed; with 0 threads it runs it on the calling thread instead (same code,
//   same bytes).
// - `decodeInOrder` streams a list of entries through a pool in their order, with at most `lookahead` entries
//   decoding or decoded ahead of the caller: memory is bounded by the lookahead, not by the number of inputs.
// - `ingest` does the same for the index's inputs (src/node/index/ingest-decode.ts), whose bytes the ingest has
//   already read and hashed: the bytes are moved to the worker, rows' rasters, model inputs and metadata come back.
// - A file that fails gives a failure naming it, of the same error class with the same message as on the
//   calling thread; the stream goes on. A worker that dies fails the entry it held and is replaced.
// The worker entry is this folder's decode-worker.ts under tsx (a checkout, the tests) and decode-worker.js in
// the built dist/; under tsx the worker is given tsx's loader when the process was not started with it.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ConfigError, DecodeError } from '../errors.ts';
import type { InputEntry } from './io/inputs.ts';
import { decodeTask, errorFromWire, errorToWire, type DecodedImageItem, type DecodeTaskOptions, type DecodeTaskResult, type WireError } from './decode-task.ts';
import type { WorkerRequest } from './decode-worker.ts';
import { decodeIngest, type IngestImage, type IngestJob, type IngestResult } from './index/ingest-decode.ts';

export type { DecodeTaskOptions, DecodeTaskResult, DecodedImageItem } from './decode-task.ts';

/**
 * Decode threads when the user does not say: half the cores (the model's session takes the rest), 1 to 4.
 * @example defaultDecodeThreads() // 1 on a 2-core machine, 4 on a 16-core one
 */
export function defaultDecodeThreads(): number {
  return Math.max(1, Math.min(4, Math.floor(availableParallelism() / 2)));
}

/**
 * A `--decode-threads` value: a whole number from 0 (decode on the main thread) to 64, or undefined for the default.
 * @example parseDecodeThreads('2') // 2
 */
export function parseDecodeThreads(v: string | number | undefined): number {
  if (v === undefined || v === '') return defaultDecodeThreads();
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 64) throw new ConfigError(`--decode-threads must be a whole number from 0 to 64, got '${v}'`);
  return n;
}

/**
 * Threads for a pool over `entries` inputs, with `asked` as the user gave it (undefined: the default). One input
 * is decoded in place. Left to the default, inputs that fit in the first chunk get workers only when two or more can
 * decode side by side: those inputs are all decoded before the model first runs, so nothing overlaps, and a single
 * worker would only add its start-up and about 40 MiB.
 * @example poolThreads(undefined, 8, 32) // 0 on a 2-core machine (default 1), 2 on a 4-core one
 */
export function poolThreads(asked: string | number | undefined, entries: number, firstChunk: number): number {
  const n = parseDecodeThreads(asked);
  if (entries <= 1) return 0;
  if ((asked === undefined || asked === '') && entries <= firstChunk && n < 2) return 0;
  return Math.min(n, entries);
}

export interface WorkerReply {
  id: number;
  /** an entry's images, or an ingest job's */
  images?: DecodedImageItem[] | IngestImage[];
  failures?: Array<{ input: string; error: WireError }>;
  /** an ingest job's failure and skip */
  failure?: WireError;
  skipped?: string;
  fatal?: WireError;
  crash?: WireError;
  /** the worker stopped before answering (set by the pool) */
  lost?: WireError;
}

interface Task {
  id: number;
  request: WorkerRequest;
  /** the file or URL, for the failure when the worker dies */
  source: string;
  /** buffers moved to the worker with the request */
  transfer: ArrayBuffer[];
  resolve: (r: WorkerReply) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  /** entries sent and not yet answered, in the order the worker takes them */
  tasks: Map<number, Task>;
}

const HERE = import.meta.url;
const UNDER_TSX = HERE.endsWith('.ts');
const WORKER_URL = new URL(UNDER_TSX ? './decode-worker.ts' : './decode-worker.js', HERE);

/**
 * The worker: decode-worker.js as it is in dist/; under tsx a small bootstrap that registers tsx's loader in the
 * new thread first (Node 20 gives a worker neither the hooks of `--import tsx` nor those of tsx's register()).
 */
function newWorker(workerData: DecodeTaskOptions): Worker {
  if (!UNDER_TSX) return new Worker(WORKER_URL, { workerData });
  const api = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER_URL.href)}); });`;
  return new Worker(boot, { eval: true, workerData });
}

export class DecodePool {
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private nextId = 0;
  private closed = false;

  /**
   * @param threads worker threads; 0 decodes on the calling thread
   * @example const pool = new DecodePool(2, { input: model.imageInput }); const r = await pool.decode(entry); await pool.close();
   */
  constructor(readonly threads: number, private readonly options: DecodeTaskOptions = {}) {
    if (!Number.isInteger(threads) || threads < 0) throw new ConfigError(`decode threads must be a whole number >= 0, got ${threads}`);
  }

  /** Start every worker now (loading its modules takes a moment), so that they are ready when the first entry comes. */
  warm(): this {
    while (!this.closed && this.slots.length < this.threads) this.start();
    return this;
  }

  /** Decode one planned entry; resolves (never rejects) with its images and failures, unless the pool is closed. */
  decode(entry: InputEntry): Promise<DecodeTaskResult> {
    if (this.closed) return Promise.reject(new ConfigError('the decode pool is closed'));
    // an input that cannot be read at all carries its error from planning: nothing to decode
    if (this.threads === 0 || entry.kind === 'failed') return decodeTask(entry, this.options);
    const { error: _planned, ...wire } = entry;
    return this.submit({ id: 0, entry: wire }, entry.source, []).then(fromReply);
  }

  /**
   * Decode one index input from its bytes (moved to the worker when they own their buffer: the caller must not use
   * them afterwards); resolves (never rejects) with its rows' images, or its failure or skip, unless the pool is closed.
   */
  ingest(job: IngestJob): Promise<IngestResult> {
    if (this.closed) return Promise.reject(new ConfigError('the decode pool is closed'));
    if (this.threads === 0) return decodeIngest(job, this.options.input);
    const b = job.bytes;
    const owned = b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer;
    return this.submit({ id: 0, ingest: job }, job.source, owned ? [b.buffer] : []).then(fromIngestReply);
  }

  private submit(request: WorkerRequest, source: string, transfer: ArrayBuffer[]): Promise<WorkerReply> {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.queue.push({ id, request: { ...request, id }, source, transfer, resolve, reject });
      this.dispatch();
    });
  }

  /** Stop the workers; entries not yet answered are rejected. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const error = new ConfigError('the decode pool was closed');
    for (const t of this.queue.splice(0)) t.reject(error);
    const slots = this.slots.splice(0);
    for (const s of slots) for (const t of s.tasks.values()) t.reject(error);
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  /**
   * Every waiting entry goes to a worker at once (the least busy; the callers bound how many wait): onnxruntime-node
   * runs a session on the main thread, so a worker handed one entry at a time would wait out each inference
   * for its next one, instead of working through its queue meanwhile.
   */
  private dispatch(): void {
    while (this.queue.length > 0) {
      if (this.slots.length < this.threads && this.slots.every((s) => s.tasks.size > 0)) this.start();
      const slot = this.slots.reduce<Slot | undefined>((best, s) => (!best || s.tasks.size < best.tasks.size ? s : best), undefined);
      if (!slot) return;
      const task = this.queue.shift()!;
      slot.tasks.set(task.id, task);
      slot.worker.ref(); // answers are awaited: keep the process alive for them
      slot.worker.postMessage(task.request, task.transfer);
    }
  }

  private start(): Slot {
    const worker = newWorker(this.options);
    const slot: Slot = { worker, tasks: new Map() };
    this.slots.push(slot);
    worker.unref(); // an idle worker does not keep the process alive
    worker.on('message', (m: WorkerReply) => {
      const task = slot.tasks.get(m.id);
      if (!task) return;
      slot.tasks.delete(m.id);
      if (slot.tasks.size === 0) worker.unref();
      task.resolve(m);
      this.dispatch();
    });
    const lost = (why: string) => {
      const i = this.slots.indexOf(slot);
      if (i < 0) return; // closed, or already handled
      this.slots.splice(i, 1);
      // the files it held fail with the reason; the next entries go to a new worker
      for (const task of slot.tasks.values()) task.resolve({ id: task.id, lost: errorToWire(new DecodeError(`the decoding worker stopped: ${why}`, { file: task.source })) });
      slot.tasks.clear();
      if (!this.closed) this.dispatch();
    };
    worker.on('error', (err) => lost(err.message));
    worker.on('exit', (code) => lost(`exit code ${code}`));
    return slot;
  }
}

function fromReply(m: WorkerReply): DecodeTaskResult {
  // a throw outside the per-file handling is a bug, stopped as it would stop the command on the main thread
  if (m.crash) return { images: [], failures: [], fatal: errorFromWire(m.crash) };
  if (m.lost) return { images: [], failures: [{ input: m.lost.file ?? '', error: errorFromWire(m.lost) }] };
  return {
    images: (m.images ?? []) as DecodedImageItem[],
    failures: (m.failures ?? []).map((f) => ({ input: f.input, error: errorFromWire(f.error) })),
    fatal: m.fatal ? errorFromWire(m.fatal) : undefined,
  };
}

function fromIngestReply(m: WorkerReply): IngestResult {
  if (m.crash) return { images: [], fatal: errorFromWire(m.crash) };
  if (m.lost) return { images: [], failure: errorFromWire(m.lost) };
  return {
    images: (m.images ?? []) as IngestImage[],
    failure: m.failure ? errorFromWire(m.failure) : undefined,
    skipped: m.skipped,
    fatal: m.fatal ? errorFromWire(m.fatal) : undefined,
  };
}

/**
 * Each entry's result in the entries' order, decoding at most `lookahead` entries ahead of the caller.
 * @example for await (const r of decodeInOrder(pool, plan.entries, 64)) for (const im of r.images) use(im);
 */
export function decodeInOrder(pool: DecodePool, entries: readonly InputEntry[], lookahead: number): AsyncGenerator<DecodeTaskResult> {
  return inOrder(entries, lookahead, (e) => pool.decode(e));
}

/**
 * `start(item)` for each item, at most `lookahead` started and not yet taken by the caller, the results in the
 * items' order.
 * @example for await (const r of inOrder(jobs, 32, (j) => pool.ingest(j))) rows.push(...r.images);
 */
export async function* inOrder<T, R>(items: readonly T[], lookahead: number, start: (item: T) => Promise<R>): AsyncGenerator<R> {
  const ahead = Math.max(1, Math.floor(lookahead));
  const pending: Array<Promise<R>> = [];
  let next = 0;
  const fill = () => {
    while (next < items.length && pending.length < ahead) {
      const p = start(items[next++]!);
      p.catch(() => {}); // awaited in turn below; not an unhandled rejection meanwhile
      pending.push(p);
    }
  };
  fill();
  while (pending.length > 0) {
    const r = await pending.shift()!;
    fill();
    yield r;
  }
}
