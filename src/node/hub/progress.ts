// A cli-progress bar per downloaded file, on stderr, for the `onProgress` callback of resolveHubSource. Only on a
// terminal: in a log file or a pipe the bars' cursor movements would be noise, so there it draws nothing.
import cliProgress from 'cli-progress';
import type { HubProgress } from './settings.ts';

export interface HubProgressBars {
  onProgress(p: HubProgress): void;
  /** finish drawing (call once the resolve is done or failed) */
  stop(): void;
}

/**
 * Byte counts as people read them (powers of 1000, as the hub's pages show sizes).
 * @example formatBytes(7073323) // '7.1 MB'
 */
export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

/**
 * Progress bars for hub downloads on `stream` (stderr by default) when it is a terminal; a no-op otherwise.
 * @example const bars = hubProgressBars(); try { await resolveHubSource(spec, { onProgress: bars.onProgress }); } finally { bars.stop(); }
 */
export function hubProgressBars(stream: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr): HubProgressBars {
  if (!stream.isTTY) return { onProgress() {}, stop() {} };
  const multi = new cliProgress.MultiBar(
    {
      stream,
      format: '{file} [{bar}] {percentage}% {doneText}/{totalText} {eta_formatted}',
      hideCursor: true,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  const bars = new Map<string, cliProgress.SingleBar>();
  return {
    onProgress(p: HubProgress) {
      // An unknown size shows as the bytes so far, so that the bar still moves.
      const total = p.total ?? p.done;
      const payload = { file: p.file, doneText: formatBytes(p.done), totalText: p.total === undefined ? '?' : formatBytes(p.total) };
      let bar = bars.get(p.file);
      if (!bar) {
        bar = multi.create(total, p.done, payload);
        bars.set(p.file, bar);
      } else {
        if (bar.getTotal() !== total) bar.setTotal(total);
        bar.update(p.done, payload);
      }
    },
    stop() {
      multi.stop();
    },
  };
}
