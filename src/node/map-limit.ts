// Bounded concurrency for work that runs in native code (sharp decodes, file reads): Promise.all over thousands of
// paths would start them all at once, holding every file's bytes and every decoder's buffers together.

/**
 * `fn` over `items` with at most `limit` calls in flight; results in the order of `items`. The first error rejects,
 * and no new call starts after it.
 * @example await mapLimit(['a.png', 'b.png', 'c.png'], 2, decodeImageFile) // three rasters, never more than two decodes at a time
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!, i);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}
