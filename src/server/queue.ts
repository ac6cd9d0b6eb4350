// A bounded work queue: at most `concurrency` jobs run at once and at most `maxQueued` wait. When the queue
// is full a job is refused at once (the server answers 503 with Retry-After) instead of piling up memory.
import { ClipmedError } from '../errors.ts';

/** The server is at capacity; the client should retry after `retryAfter` seconds. */
export class BusyError extends ClipmedError {
  constructor(
    message: string,
    readonly retryAfter: number,
  ) {
    super(message);
  }
}

export class WorkQueue {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    readonly concurrency: number,
    readonly maxQueued: number,
  ) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency: expected a positive integer, got ${concurrency}`);
    if (!Number.isInteger(maxQueued) || maxQueued < 0) throw new RangeError(`maxQueued: expected a non-negative integer, got ${maxQueued}`);
  }

  /** jobs running now */
  get active(): number {
    return this.running;
  }

  /** jobs waiting for a slot */
  get queued(): number {
    return this.waiting.length;
  }

  /** Run `job` when a slot is free; throws BusyError at once when the queue is full. */
  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.maxQueued) {
        throw new BusyError(`server busy: ${this.running} running and ${this.waiting.length} queued (limit ${this.maxQueued})`, 1);
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await job();
    } finally {
      const next = this.waiting.shift();
      // hand the slot straight to the next job (running stays the same), or free it
      if (next) next();
      else this.running--;
    }
  }
}
