/**
 * Turns at the pacing script, per bucket: one job of a worker at a time asks Redis for a slot and
 * the others wait here in arrival order. Without it, every job in hand wakes at the same moment
 * for the same slot: hundreds of scripts for one start, and the winner's originate waits behind
 * them (jitter FreeSWITCH would see as bursts).
 */
export class Turns {
  private readonly held = new Set<string>();
  private readonly queues = new Map<string, Array<() => void>>();

  /** Resolves true when it is this caller's turn (then call give), false after timeoutMs or on abort. */
  take(key: string, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    if (!this.held.has(key)) {
      this.held.add(key);
      return Promise.resolve(true);
    }
    if (signal.aborted || timeoutMs <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const queue = this.queues.get(key) ?? [];
      this.queues.set(key, queue);
      const leave = (): void => {
        const i = queue.indexOf(wake);
        if (i >= 0) queue.splice(i, 1);
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      };
      const wake = (): void => {
        leave();
        resolve(true);
      };
      const onAbort = (): void => {
        leave();
        resolve(false);
      };
      const timer = Number.isFinite(timeoutMs) ? setTimeout(onAbort, timeoutMs) : undefined;
      signal.addEventListener('abort', onAbort, { once: true });
      queue.push(wake);
    });
  }

  /** Ends the caller's turn: the next waiter's begins. */
  give(key: string): void {
    const next = this.queues.get(key)?.[0];
    if (next) next();
    else {
      this.held.delete(key);
      this.queues.delete(key);
    }
  }
}
