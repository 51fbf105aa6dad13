/**
 * How the long-running commands (start, worker, audio-worker) stop: SIGTERM or SIGINT starts an
 * orderly close (calls and jobs in hand finish or are handed back); if that has not ended within
 * the shutdown deadline — Redis or FreeSWITCH unreachable, so nothing can be handed back — the
 * process says so and exits 1 anyway, and a second signal exits at once. Jobs it held return to
 * their queues as stalled, where another worker takes them.
 */
import type { Logger } from '../log.ts';

export function stopOnSignals(log: Logger, what: string, close: () => Promise<void>, timeoutMs: number): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal while stopping: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal, timeoutMs }, `stopping: ${what}`);
    const deadline = setTimeout(() => {
      log.error({ timeoutMs }, 'could not stop within the shutdown deadline (is Redis or FreeSWITCH unreachable?); exiting, jobs in hand return to their queues as stalled');
      process.exit(1);
    }, timeoutMs);
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        clearTimeout(deadline);
        log.error({ err: (err as Error).message }, 'stopping failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
