// The decode pool's worker thread: takes one planned entry at a time from the pool (src/node/decode-pool.ts),
// decodes and preprocesses it with `decodeTask` (an index input's bytes with `decodeIngest`), and posts back the
// rasters and model inputs (their buffers transferred, not copied) and the failures as plain data.
import { parentPort, workerData } from 'node:worker_threads';
import { decodeTask, errorToWire, type DecodeTaskOptions, type WireEntry } from './decode-task.ts';
import { decodeIngest, type IngestJob } from './index/ingest-decode.ts';

/** One planned entry (`entry`) or one index input's bytes (`ingest`). */
export type WorkerRequest = { id: number; entry: WireEntry; ingest?: undefined } | { id: number; ingest: IngestJob; entry?: undefined };

const port = parentPort;
if (!port) throw new Error('decode-worker.ts runs as a worker thread of the decode pool');
const options = workerData as DecodeTaskOptions;

// one entry at a time, in the order they came: the pool may send several while the main thread is busy
let chain: Promise<void> = Promise.resolve();
port.on('message', (request: WorkerRequest) => {
  chain = chain.then(() => answer(request));
});

async function answer({ id, entry, ingest }: WorkerRequest): Promise<void> {
  try {
    const transfer: ArrayBuffer[] = [];
    const own = (a: Uint8Array | Float32Array): void => {
      // only a buffer the array has to itself can move; a view into a shared one is copied by the clone
      if (a.byteOffset === 0 && a.byteLength === a.buffer.byteLength && a.buffer instanceof ArrayBuffer && !transfer.includes(a.buffer)) transfer.push(a.buffer);
    };
    if (ingest) {
      const r = await decodeIngest(ingest, options.input);
      for (const im of r.images) {
        own(im.raster.data);
        if (im.pixels) own(im.pixels);
      }
      const wire = (e: Error | undefined) => (e ? errorToWire(e) : undefined);
      port!.postMessage({ id, images: r.images, failure: wire(r.failure), skipped: r.skipped, fatal: wire(r.fatal) }, transfer);
      return;
    }
    const r = await decodeTask(entry, options);
    for (const im of r.images) {
      own(im.raster.data);
      if (im.pixels) own(im.pixels);
    }
    port!.postMessage({
      id,
      images: r.images,
      failures: r.failures.map((f) => ({ input: f.input, error: errorToWire(f.error) })),
      fatal: r.fatal ? errorToWire(r.fatal) : undefined,
    }, transfer);
  } catch (err) {
    // decodeTask collects file errors; anything else is a bug in this thread, sent back rather than lost
    port!.postMessage({ id, crash: errorToWire(err instanceof Error ? err : new Error(String(err))) });
  }
}
