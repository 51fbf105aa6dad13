/**
 * Progress of many files for the CLI: on a terminal one bar redrawn in place (on stderr, so
 * stdout stays clean for pipes); elsewhere (logs, CI, pipes) one plain line per file.
 */
export interface Progress {
  /** One file finished: `line` is what a non-terminal prints for it. */
  item(failed: boolean, line: string): void;
  /** Sets the total when it becomes known (a queued batch learns it from the worker). */
  total(n: number): void;
  /** For a queued job: counts read back from the worker. */
  set(done: number, failed: number): void;
  end(): void;
}

/** `[#########-----------]  45/100  3 failed  12.5 files/s` */
export function renderBar(done: number, total: number, failed: number, perSecond: number, width = 30): string {
  const filled = total > 0 ? Math.round((done / total) * width) : 0;
  const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`;
  const n = String(total).length;
  return `[${bar}] ${String(done).padStart(n)}/${total}${failed > 0 ? `  ${failed} failed` : ''}  ${perSecond.toFixed(1)} files/s`;
}

export function progress(options: { tty: boolean; out: NodeJS.WritableStream; err: NodeJS.WritableStream; total?: number }): Progress {
  const started = performance.now();
  let done = 0;
  let failed = 0;
  let total = options.total ?? 0;
  let lastDraw = 0;
  const rate = (): number => done / Math.max(0.001, (performance.now() - started) / 1000);
  const draw = (force: boolean): void => {
    const now = performance.now();
    if (!force && now - lastDraw < 100) return;
    lastDraw = now;
    options.err.write(`\r${renderBar(done, total, failed, rate())}\x1b[K`);
  };
  return {
    item(isFailed, line) {
      done++;
      if (isFailed) failed++;
      if (options.tty) {
        // Failures stay on screen above the bar; successes only move it.
        if (isFailed) options.err.write(`\r\x1b[K${line}\n`);
        draw(isFailed);
      } else options.out.write(`${line}\n`);
    },
    total(n) {
      total = n;
      if (options.tty) draw(true);
    },
    set(d, f) {
      done = d;
      failed = f;
      if (options.tty) draw(false);
    },
    end() {
      if (options.tty) {
        draw(true);
        options.err.write('\n');
      }
    },
  };
}
